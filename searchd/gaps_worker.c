/*
 * gaps_worker.c — keeps the editors' queue current (see gaps_worker.h).
 *
 * Why a thread that reads the store back rather than queueing from the request handlers: the
 * questions in the queue must be the redacted ones, and the store holds exactly those; reading
 * by watermark makes the queue crash-safe and lets it catch up on events logged while the
 * service ran an older version; and agents' searches never wait for grouping.
 */
#include "gaps_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "background.h"
#include "kb/gaps.h"
#include "log.h"
#include "searchd.h"
#include "searchers.h"

#define WORKER_INTERVAL_MS 1000
#define INGEST_BATCH 1000
#define INGEST_ROUNDS 50 /* batches per wake-up before re-checking and sleeping */

static pthread_t worker;
static int running, stop_requested;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;

typedef struct {
    kb_analyzer *analyzer;
    kb_searcher *searcher;
    kb_gaps *gaps;
    uint64_t generation;
    int need_recheck;
    int failing;
    double last_regroup_ms; /* searchd_now_mono_ms() */
} state;

static void ingest(state *st)
{
    kb_gaps_kb kb = {st->analyzer, st->searcher};
    for (int round = 0; round < INGEST_ROUNDS; round++) {
        long waiting = kb_gaps_ingest(st->gaps, &kb, INGEST_BATCH);
        if (waiting < 0) {
            if (!st->failing)
                searchd_log_error("gap queue: cannot take in new questions: %s (will retry)",
                                  kb_gaps_errmsg(st->gaps));
            st->failing = 1;
            return;
        }
        if (st->failing) searchd_log_info("gap queue: taking in questions again");
        st->failing = 0;
        if (waiting == 0) return;
    }
}

static void regroup(state *st)
{
    double now = searchd_now_mono_ms();
    int64_t interval = searchd_ctx.regroup_interval_ms;
    if (st->failing || interval <= 0 || now - st->last_regroup_ms < interval) return;
    st->last_regroup_ms = now;
    kb_gaps_kb kb = {st->analyzer, st->searcher};
    long moved = kb_gaps_regroup(st->gaps, &kb, KB_GAPS_REGROUP_MAX);
    if (moved < 0)
        searchd_log_error("gap queue: regrouping failed: %s (will retry)",
                          kb_gaps_errmsg(st->gaps));
    else if (moved > 0)
        searchd_log_info("gap queue: regrouped, %ld questions moved to a closer item", moved);
}

static void follow_index(state *st)
{
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    if (idx.generation != st->generation) {
        if (kb_searcher_refresh(st->searcher) >= 0) {
            st->generation = idx.generation;
            st->need_recheck = 1;
        }
    }
    if (!st->need_recheck) return;
    uint64_t revision = kb_searcher_revision(st->searcher);
    long n = kb_gaps_recheck(st->gaps, st->searcher, revision);
    if (n < 0) {
        searchd_log_error("gap queue: re-check after re-index failed: %s (will retry)",
                          kb_gaps_errmsg(st->gaps));
        return;
    }
    st->need_recheck = 0;
    if (n > 0)
        searchd_log_info("gap queue: %ld open items now have a suggested answer (index revision "
                         "%llu)", n, (unsigned long long)revision);
}

static void *worker_main(void *arg)
{
    state *st = arg;
    searchd_background_thread("kb-gaps");
    pthread_mutex_lock(&mu);
    while (!stop_requested) {
        pthread_mutex_unlock(&mu);
        ingest(st);
        follow_index(st);
        regroup(st);
        pthread_mutex_lock(&mu);
        if (stop_requested) break;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += WORKER_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&wake, &mu, &dl);
    }
    pthread_mutex_unlock(&mu);
    ingest(st); /* what the store flushed last */
    return NULL;
}

static state st;

int searchd_gaps_worker_start(char *err, size_t err_len)
{
    memset(&st, 0, sizeof st);
    char why[512] = "";
    st.analyzer = kb_analyzer_new(why, sizeof why);
    if (st.analyzer) st.searcher = kb_searcher_open(searchd_ctx.index_dir, why, sizeof why);
    if (st.searcher)
        st.gaps = kb_gaps_open(searchd_ctx.data_dir, 0, why, sizeof why);
    kb_gaps_set_typing_window(st.gaps, searchd_ctx.typing_window_ms);
    if (!st.gaps) {
        snprintf(err, err_len, "cannot start the gap queue: %s", why[0] ? why : "out of memory");
        kb_searcher_close(st.searcher);
        kb_analyzer_free(st.analyzer);
        return -1;
    }
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    st.generation = idx.generation;
    st.need_recheck = 1; /* the index may have changed while the service was down */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    stop_requested = 0;
    if (pthread_create(&worker, NULL, worker_main, &st) != 0) {
        snprintf(err, err_len, "cannot start the gap queue thread");
        kb_gaps_close(st.gaps);
        kb_searcher_close(st.searcher);
        kb_analyzer_free(st.analyzer);
        return -1;
    }
    running = 1;
    return 0;
}

void searchd_gaps_worker_stop(void)
{
    if (!running) return;
    pthread_mutex_lock(&mu);
    stop_requested = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    pthread_join(worker, NULL);
    running = 0;
    kb_gaps_close(st.gaps);
    kb_searcher_close(st.searcher);
    kb_analyzer_free(st.analyzer);
}
