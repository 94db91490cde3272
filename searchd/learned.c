/*
 * learned.c — keeps the searchers' learned-phrasing index current (see learned.h).
 */
#include "learned.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "background.h"
#include "kb/learn.h"
#include "log.h"
#include "searchd.h"
#include "store_state.h"

static kb_learn *learn;               /* used under build_mu only; NULL until the store is
                                       * first reached (a node started while its PostgreSQL
                                       * database was away) */
static char *learn_data;              /* the store, to open it late */
static int64_t built_version = -1;
static int failing;
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;

static kb_learned_index *current;     /* under current_mu */
static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong generation = 1;  /* workers start at 0: the first search applies it */
static atomic_size_t in_use;

static pthread_t thread;
static int running, stop_requested;
static pthread_mutex_t thread_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thread_wake;

/* Open the teaching records when that has not happened yet. 0, or -1 (logged once). Called
 * with build_mu held. */
static int open_locked(void)
{
    if (learn) return 0;
    char err[512] = "";
    learn = kb_learn_open(learn_data, err, sizeof err);
    if (learn) {
        searchd_log_info("learned phrasings: the store is readable now");
        return 0;
    }
    if (!failing) searchd_log_warn("learned phrasings: cannot open the store yet: %s", err);
    failing = 1;
    return -1;
}

/* Rebuild when the teaching records changed. Called with build_mu held. */
static int refresh_locked(void)
{
    if (open_locked() != 0) return -1;
    int64_t v = kb_learn_version(learn);
    if (v < 0) goto fail;
    if (v == built_version) return 0;
    kb_learned_list list;
    if (kb_learn_counted(learn, &list) != KB_OK) goto fail;
    double start = searchd_now_mono_ms();
    kb_learned_entry *e = calloc(list.n ? list.n : 1, sizeof *e);
    char err[256] = "out of memory";
    kb_learned_index *idx = NULL;
    if (e) {
        for (size_t i = 0; i < list.n; i++) e[i] = (kb_learned_entry){list.items[i].doc_id, list.items[i].text};
        /* From the index before: only what was taught since is analyzed. */
        pthread_mutex_lock(&current_mu);
        kb_learned_index *before = kb_learned_index_retain(current);
        pthread_mutex_unlock(&current_mu);
        idx = kb_learned_index_rebuild(before, e, list.n, err, sizeof err);
        kb_learned_index_release(before);
    }
    free(e);
    size_t n = list.n;
    kb_learned_list_free(&list);
    if (!idx) {
        searchd_log_error("learned phrasings: cannot build the index: %s", err);
        return -1;
    }
    pthread_mutex_lock(&current_mu);
    kb_learned_index *old = current;
    current = idx;
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&current_mu);
    kb_learned_index_release(old);
    atomic_store(&in_use, n);
    built_version = v;
    if (failing) searchd_log_info("learned phrasings: the store is readable again");
    failing = 0;
    searchd_log_info("learned phrasings: %zu counted, index built in %.0f ms", n,
                     searchd_now_mono_ms() - start);
    return 0;
fail:
    if (!failing)
        searchd_log_error("learned phrasings: cannot read the teaching records: %s (keeping the "
                          "phrasings learned before)", kb_learn_errmsg(learn));
    failing = 1;
    return -1;
}

int searchd_learned_refresh_now(void)
{
    if (!learn_data) return -1;
    pthread_mutex_lock(&build_mu);
    int rc = refresh_locked();
    pthread_mutex_unlock(&build_mu);
    return rc;
}

static void *refresh_main(void *arg)
{
    (void)arg;
    searchd_background_thread("kb-learned");
    pthread_mutex_lock(&thread_mu);
    while (!stop_requested) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += SEARCHD_LEARN_REFRESH_MS / 1000;
        pthread_cond_timedwait(&thread_wake, &thread_mu, &dl);
        if (stop_requested) break;
        pthread_mutex_unlock(&thread_mu);
        searchd_learned_refresh_now();
        pthread_mutex_lock(&thread_mu);
    }
    pthread_mutex_unlock(&thread_mu);
    return NULL;
}

int searchd_learned_start(const char *data_dir, char *err, size_t err_len)
{
    if (!(learn_data = strdup(data_dir))) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    learn = kb_learn_open(data_dir, err, err_len);
    /* A PostgreSQL store whose database is away at start: searches go on without what was
     * learned, and the refresh thread opens the store once it answers. */
    if (!learn && !searchd_store_unreachable()) {
        free(learn_data);
        learn_data = NULL;
        return -1;
    }
    searchd_learned_refresh_now(); /* a failure is logged; searches go on without */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&thread_wake, &attr);
    pthread_condattr_destroy(&attr);
    stop_requested = 0;
    if (pthread_create(&thread, NULL, refresh_main, NULL) != 0) {
        snprintf(err, err_len, "cannot start the learned-phrasings thread");
        kb_learn_close(learn);
        learn = NULL;
        free(learn_data);
        learn_data = NULL;
        return -1;
    }
    running = 1;
    return 0;
}

void searchd_learned_stop(void)
{
    if (running) {
        pthread_mutex_lock(&thread_mu);
        stop_requested = 1;
        pthread_cond_broadcast(&thread_wake);
        pthread_mutex_unlock(&thread_mu);
        pthread_join(thread, NULL);
        running = 0;
    }
    pthread_mutex_lock(&build_mu);
    kb_learn_close(learn);
    learn = NULL;
    free(learn_data);
    learn_data = NULL;
    built_version = -1;
    pthread_mutex_unlock(&build_mu);
    pthread_mutex_lock(&current_mu);
    kb_learned_index_release(current);
    current = NULL;
    pthread_mutex_unlock(&current_mu);
}

void searchd_learned_apply(kb_searcher *s, uint64_t *have)
{
    uint64_t g = atomic_load(&generation);
    if (*have == g) return;
    pthread_mutex_lock(&current_mu);
    kb_searcher_set_learned(s, current);
    *have = atomic_load(&generation);
    pthread_mutex_unlock(&current_mu);
}

int searchd_learned_teach(const char *doc_id, const char *question, unsigned source,
                          const char *teacher, const char *role, const char *ref)
{
    if (!learn_data) return -1;
    pthread_mutex_lock(&build_mu);
    if (open_locked() != 0) {
        pthread_mutex_unlock(&build_mu);
        searchd_log_error("cannot store a teaching (%s): the store cannot be opened",
                          kb_learn_source_name(source));
        return -1;
    }
    int rc = kb_learn_teach(learn, doc_id, question, source, teacher, role, ref,
                            searchd_now_unix_ms());
    if (rc != KB_OK) searchd_log_error("cannot store a teaching (%s): %s",
                                       kb_learn_source_name(source), kb_learn_errmsg(learn));
    pthread_mutex_unlock(&build_mu);
    return rc == KB_OK ? 0 : -1;
}

int searchd_learned_teach_gap(int64_t gap_id, const char *doc_id, const char *teacher,
                              const char *role)
{
    if (!learn_data) return -1;
    pthread_mutex_lock(&build_mu);
    if (open_locked() != 0) {
        pthread_mutex_unlock(&build_mu);
        searchd_log_error("cannot teach the questions of gap %lld: the store cannot be opened",
                          (long long)gap_id);
        return -1;
    }
    size_t n = 0;
    int rc = kb_learn_teach_gap(learn, gap_id, doc_id, teacher, role, searchd_now_unix_ms(), &n);
    if (rc != KB_OK) searchd_log_error("cannot teach the questions of gap %lld: %s",
                                       (long long)gap_id, kb_learn_errmsg(learn));
    else if (n) searchd_log_info("gap %lld answered: %zu questions taught", (long long)gap_id, n);
    pthread_mutex_unlock(&build_mu);
    return rc == KB_OK ? 0 : -1;
}

size_t searchd_learned_count(void) { return atomic_load(&in_use); }
