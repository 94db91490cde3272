/*
 * searchers.c — per-thread kb_searchers and the index watcher thread (see searchers.h).
 *
 * Why a generation counter instead of having each worker poll the index: refreshing touches the
 * disk, and 500 searches a second would mean 500 checks a second for a change that happens a
 * few times a day. The watcher checks once a second; workers compare one atomic integer.
 *
 * The watcher also reads the metadata key "published_at" (unix seconds, written by kb-indexer
 * with each commit) so /metrics can say how old the served index is.
 */
#include "searchers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "learned.h"
#include "log.h"
#include "searchd.h"

#define WATCH_INTERVAL_MS 1000

typedef struct {
    kb_searcher *searcher;
    uint64_t generation;        /* the watcher generation this searcher reflects */
    uint64_t failed_generation; /* last generation whose refresh failed (log once) */
    uint64_t learned_generation; /* the learned phrasings it has (learned.h) */
} worker_state;

static pthread_key_t worker_key;
static const char *index_path;

static atomic_ullong index_generation;
static atomic_uint index_documents;
static atomic_ullong index_revision;
static atomic_llong index_published_ms;

static kb_searcher *watcher_searcher;

/* Searchers opened at start-up, one per HTTP thread (the gap worker opens its own), handed to
 * threads on their first search. Opening lazily instead would make a thread's first search
 * depend on the index directory being readable at that moment: with the index broken or made
 * unreadable after start-up, threads that had not searched yet answered 503 while the others
 * served the revision they had open. */
static kb_searcher **spares;
static size_t n_spares;
static pthread_mutex_t spares_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_t watcher_thread;
static int watcher_running;
static pthread_mutex_t watcher_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watcher_wake;  /* stop or check-now requested */
static pthread_cond_t watcher_done;  /* a check finished */
static int watcher_stop, watcher_check_requested, watcher_busy, watcher_failing;
static unsigned long watcher_checks;

static void worker_state_free(void *p) {
    worker_state *w = p;
    if (!w) return;
    if (w->searcher) kb_searcher_close(w->searcher);
    free(w);
}

/* When the served revision was published: the indexer's "published_at" metadata, or now. */
static int64_t read_published_ms(void) {
    int64_t when = kb_searcher_published_ms(watcher_searcher);
    return when ? when : searchd_now_unix_ms();
}

static void publish_status(void) {
    atomic_store(&index_documents, kb_searcher_doccount(watcher_searcher));
    atomic_store(&index_revision, kb_searcher_revision(watcher_searcher));
    atomic_store(&index_published_ms, read_published_ms());
}

static void watcher_check(void) {
    uint64_t old_revision = atomic_load(&index_revision);
    int changed = kb_searcher_refresh(watcher_searcher);
    if (changed < 0) {
        /* Keep serving the old revision; say so once, not every second. */
        if (!watcher_failing)
            searchd_log_error("index watcher: cannot refresh %s: %s (still serving revision %llu)",
                              index_path, kb_searcher_errmsg(watcher_searcher),
                              (unsigned long long)old_revision);
        watcher_failing = 1;
        return;
    }
    if (watcher_failing) searchd_log_info("index watcher: %s readable again", index_path);
    watcher_failing = 0;
    if (changed == 0) return;
    publish_status();
    atomic_fetch_add(&index_generation, 1);
    searchd_log_info("index reloaded: revision %llu -> %llu, %u documents",
                     (unsigned long long)old_revision,
                     (unsigned long long)atomic_load(&index_revision), atomic_load(&index_documents));
}

static void *watcher_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&watcher_mutex);
    while (!watcher_stop) {
        if (!watcher_check_requested) {
            struct timespec deadline;
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_sec += WATCH_INTERVAL_MS / 1000;
            pthread_cond_timedwait(&watcher_wake, &watcher_mutex, &deadline);
        }
        if (watcher_stop) break;
        watcher_check_requested = 0;
        watcher_busy = 1;
        pthread_mutex_unlock(&watcher_mutex);
        watcher_check();
        pthread_mutex_lock(&watcher_mutex);
        watcher_busy = 0;
        watcher_checks++;
        pthread_cond_broadcast(&watcher_done);
    }
    pthread_mutex_unlock(&watcher_mutex);
    return NULL;
}

int searchd_searchers_start(const char *index_dir, char *err, size_t err_len) {
    index_path = index_dir;
    struct stat st;
    if (stat(index_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "no index at %s: run kb-indexer --index %s PATH... first", index_dir,
                 index_dir);
        return -1;
    }
    char why[512] = "";
    watcher_searcher = kb_searcher_open(index_dir, why, sizeof why);
    if (!watcher_searcher) {
        /* The searcher's message already names the directory and the kb-indexer command; but
         * an index that is there and unreadable needs permissions, not a new kb-indexer run. */
        if (strstr(why, "Permission denied")) {
            /* keep Xapian's detail (which file), drop the searcher's kb-indexer advice */
            const char *from = strstr(why, " ("), *to = strstr(why, "): run kb-indexer");
            int n = from && to && to > from ? (int)(to - from - 2) : (int)strlen(why);
            snprintf(err, err_len,
                     "cannot read the index at %s: permission denied; let the user kb-searchd "
                     "runs as read the directory and its files (%.*s)",
                     index_dir, n, from && to && to > from ? from + 2 : why);
        } else if (strstr(why, "kb-indexer"))
            snprintf(err, err_len, "%s", why);
        else
            snprintf(err, err_len, "no index at %s: run kb-indexer --index %s PATH... first (%s)",
                     index_dir, index_dir, why[0] ? why : "cannot open it");
        return -1;
    }
    if (pthread_key_create(&worker_key, worker_state_free) != 0) {
        snprintf(err, err_len, "cannot create the per-thread searcher key");
        kb_searcher_close(watcher_searcher);
        watcher_searcher = NULL;
        return -1;
    }
    publish_status();
    size_t want = searchd_ctx.threads ? searchd_ctx.threads : 1;
    spares = calloc(want, sizeof *spares);
    for (size_t i = 0; spares && i < want; i++) {
        spares[n_spares] = kb_searcher_open(index_dir, why, sizeof why);
        if (!spares[n_spares]) break; /* threads without one open their own later */
        n_spares++;
    }

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&watcher_wake, &attr);
    pthread_cond_init(&watcher_done, &attr);
    pthread_condattr_destroy(&attr);
    watcher_stop = 0;
    if (pthread_create(&watcher_thread, NULL, watcher_main, NULL) != 0) {
        snprintf(err, err_len, "cannot start the index watcher thread");
        kb_searcher_close(watcher_searcher);
        watcher_searcher = NULL;
        return -1;
    }
    watcher_running = 1;
    return 0;
}

void searchd_searchers_stop(void) {
    if (watcher_running) {
        pthread_mutex_lock(&watcher_mutex);
        watcher_stop = 1;
        pthread_cond_broadcast(&watcher_wake);
        pthread_cond_broadcast(&watcher_done);
        pthread_mutex_unlock(&watcher_mutex);
        pthread_join(watcher_thread, NULL);
        watcher_running = 0;
    }
    if (watcher_searcher) kb_searcher_close(watcher_searcher);
    watcher_searcher = NULL;
    pthread_mutex_lock(&spares_mutex);
    while (n_spares > 0) kb_searcher_close(spares[--n_spares]);
    free(spares);
    spares = NULL;
    pthread_mutex_unlock(&spares_mutex);
}

static kb_searcher *take_spare(void) {
    pthread_mutex_lock(&spares_mutex);
    kb_searcher *s = n_spares > 0 ? spares[--n_spares] : NULL;
    pthread_mutex_unlock(&spares_mutex);
    return s;
}

static worker_state *worker_get(void) {
    worker_state *w = pthread_getspecific(worker_key);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        if (pthread_setspecific(worker_key, w) != 0) {
            free(w);
            return NULL;
        }
    }
    return w;
}

kb_searcher *searchd_searchers_acquire(char *err, size_t err_len) {
    worker_state *w = worker_get();
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    /* Read the generation before opening or refreshing: a revision published meanwhile then
     * shows up as a newer generation at the next request rather than being missed. */
    uint64_t generation = atomic_load(&index_generation);
    if (!w->searcher && (w->searcher = take_spare()) != NULL) {
        /* Opened at start-up: refresh it below like any searcher of an older generation. */
        w->generation = (uint64_t)-1;
    } else if (!w->searcher) {
        w->searcher = kb_searcher_open(index_path, err, err_len);
        if (!w->searcher) return NULL;
        w->generation = generation;
        searchd_learned_apply(w->searcher, &w->learned_generation);
        return w->searcher;
    }
    if (generation != w->generation) {
        if (kb_searcher_refresh(w->searcher) >= 0) {
            w->generation = generation;
        } else if (w->failed_generation != generation) {
            w->failed_generation = generation;
            searchd_log_error("worker searcher: cannot refresh to revision %llu: %s (serving the "
                              "previous one)",
                              (unsigned long long)atomic_load(&index_revision),
                              kb_searcher_errmsg(w->searcher));
        }
    }
    searchd_learned_apply(w->searcher, &w->learned_generation);
    return w->searcher;
}

void searchd_searchers_recover(void) {
    worker_state *w = pthread_getspecific(worker_key);
    if (w && w->searcher) kb_searcher_refresh(w->searcher);
}

void searchd_searchers_status(searchd_index_status *out) {
    out->documents = atomic_load(&index_documents);
    out->revision = atomic_load(&index_revision);
    out->generation = atomic_load(&index_generation);
    int64_t published = atomic_load(&index_published_ms);
    int64_t now = searchd_now_unix_ms();
    out->published_ms = published;
    out->age_seconds = published > 0 && now > published ? (double)(now - published) / 1000.0 : 0;
}

void searchd_searchers_check_now(int timeout_ms) {
    if (!watcher_running) return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&watcher_mutex);
    /* Wait for a check that starts after this call: one running now may predate it. */
    unsigned long target = watcher_checks + (watcher_busy ? 2 : 1);
    watcher_check_requested = 1;
    pthread_cond_broadcast(&watcher_wake);
    while (!watcher_stop && (long)(watcher_checks - target) < 0) {
        if (pthread_cond_timedwait(&watcher_done, &watcher_mutex, &deadline) != 0) break;
    }
    pthread_mutex_unlock(&watcher_mutex);
}
