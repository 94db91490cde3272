/*
 * gaps_worker.c — keeps the editors' queue current (see gaps_worker.h).
 *
 * Why a thread that reads the store back rather than queueing from the request handlers: the
 * questions in the queue must be the redacted ones, and the store holds exactly those; reading
 * by watermark makes the queue crash-safe and lets it catch up on events logged while the
 * service ran an older version; and agents' searches never wait for grouping.
 *
 * With a PostgreSQL store several kb-searchd may share one queue, and its work must run on one
 * of them at a time (kb_gaps_role, docs/CLUSTER.md "Work that runs on one node at a time"). Every
 * node runs this thread; once a second it asks for the role on its own queue handle, and works
 * only while it holds it, on that handle. The node that takes the role and the node that loses
 * it say so in the log (priority info): which node works is otherwise invisible, since any node
 * answers the editors. On SQLite one machine runs one daemon: the role is always this node's,
 * and nothing is logged about it.
 */
#include "gaps_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "background.h"
#include "kb/gaps.h"
#include "kb/store.h"
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
    kb_gaps *gaps;       /* NULL until open: a PostgreSQL store's is opened by the thread */
    int shared;          /* a PostgreSQL store, which other nodes may share */
    int role;            /* this node does the queue's work (holds KB_GAPS_ROLE_LOCK) */
    int open_failing, role_failing;
    uint64_t generation;
    int need_recheck;
    int failing;
    double last_regroup_ms; /* searchd_now_mono_ms() */
} state;

/* The queue's handle, opened in this thread for a PostgreSQL store: its session is one of this
 * thread's (events/store_conn.h) and holds the role's lock, so it must not be opened and closed
 * by another thread. Retried every second while the database cannot be reached. 0, or -1. */
static int open_queue(state *st)
{
    if (st->gaps) return 0;
    char why[512] = "";
    st->gaps = kb_gaps_open(searchd_ctx.data_dir, 0, why, sizeof why);
    if (!st->gaps) {
        if (!st->open_failing)
            searchd_log_error("gap queue: cannot open the event store: %s (will retry every "
                              "second)", why[0] ? why : "out of memory");
        st->open_failing = 1;
        return -1;
    }
    if (st->open_failing) searchd_log_info("gap queue: the event store is open again");
    st->open_failing = 0;
    kb_gaps_set_typing_window(st->gaps, searchd_ctx.typing_window_ms);
    return 0;
}

/* Take or keep the role; 1 while this node holds it. */
static int hold_role(state *st)
{
    if (open_queue(st) != 0) return st->role = 0;
    int held = 0, lost = 0;
    int rc = kb_gaps_role(st->gaps, &held, &lost);
    const char *where = searchd_ctx.store ? kb_store_path(searchd_ctx.store) : "the event store";
    if (lost)
        searchd_log_info("gap queue: this node no longer does the queue's work: %s; %s",
                         kb_gaps_errmsg(st->gaps),
                         rc == KB_OK ? "the node that takes the lock " KB_GAPS_ROLE_LOCK
                                       " takes it over"
                                     : "it asks again every second");
    if (rc != KB_OK) {
        if (!st->role_failing && !lost) /* a lost role said why just above */
            searchd_log_error("gap queue: cannot ask for the queue's work: %s (will retry every "
                              "second)", kb_gaps_errmsg(st->gaps));
        st->role_failing = 1;
    } else if (st->role_failing) {
        searchd_log_info("gap queue: the database answers again");
        st->role_failing = 0;
    }
    if (held && (!st->role || lost)) {
        if (st->shared)
            searchd_log_info("gap queue: this node now does the queue's work (it holds the lock "
                             "%s on %s)", KB_GAPS_ROLE_LOCK, where);
        /* The previous holder may have died before checking the newest index revision. */
        st->need_recheck = 1;
        st->failing = 0;
    }
    return st->role = held;
}

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

/* Keep the worker's searcher on the index the service serves: on every node, so that one
 * taking the role over groups with the current IDF and categories from its first batch. */
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
}

/* After a re-index (or on taking the role): search the open items again. */
static void recheck(state *st)
{
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
        follow_index(st);
        if (hold_role(st)) {
            ingest(st);
            recheck(st);
            regroup(st);
        }
        pthread_mutex_lock(&mu);
        if (stop_requested) break;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += WORKER_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&wake, &mu, &dl);
    }
    pthread_mutex_unlock(&mu);
    if (hold_role(st)) ingest(st); /* what the store flushed last */
    /* Closed here, by the thread whose session it is: the lock goes with it, so another node
     * can take the role at once rather than when this process exits. */
    kb_gaps_close(st->gaps);
    st->gaps = NULL;
    return NULL;
}

static state st;

static void free_state(void)
{
    kb_gaps_close(st.gaps);
    st.gaps = NULL;
    kb_searcher_close(st.searcher);
    kb_analyzer_free(st.analyzer);
}

int searchd_gaps_worker_start(char *err, size_t err_len)
{
    memset(&st, 0, sizeof st);
    st.shared = kb_store_data_is_uri(searchd_ctx.data_dir);
    char why[512] = "";
    st.analyzer = kb_analyzer_new(why, sizeof why);
    if (st.analyzer) st.searcher = kb_searcher_open(searchd_ctx.index_dir, why, sizeof why);
    /* SQLite: open now, so a store the queue cannot use stops the start with the reason. A
     * PostgreSQL store's handle is the thread's own (open_queue). */
    if (st.searcher && !st.shared) {
        st.gaps = kb_gaps_open(searchd_ctx.data_dir, 0, why, sizeof why);
        kb_gaps_set_typing_window(st.gaps, searchd_ctx.typing_window_ms);
    }
    if (!st.searcher || (!st.shared && !st.gaps)) {
        snprintf(err, err_len, "cannot start the gap queue: %s", why[0] ? why : "out of memory");
        free_state();
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
        free_state();
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
    free_state();
}
