/*
 * metrics.c — request counters, search latency histogram and the /metrics exposition.
 *
 * Latency is kept as a fixed-bucket histogram (1 ms .. 1 s) rather than a summary: buckets can
 * be aggregated across instances and p99 <= 20 ms is a bucket boundary. The sum is kept in
 * microseconds as an integer so it can be an atomic add.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "kb/store.h"
#include "searchd.h"
#include "searchers.h"

/* Status codes the service answers; anything else lands in "other". */
static const int known_statuses[] = {200, 201, 400, 401, 403, 404, 405, 413, 414, 500, 503};
#define N_STATUSES (sizeof known_statuses / sizeof known_statuses[0] + 1)

static const double bucket_ms[] = {1, 2, 5, 10, 20, 50, 100, 250, 500, 1000};
static const char *const bucket_label[] = {"0.001", "0.002", "0.005", "0.01", "0.02",
                                           "0.05",  "0.1",   "0.25",  "0.5",  "1"};
#define N_BUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

static atomic_ullong requests[SEARCHD_ROUTE_COUNT][N_STATUSES];
static atomic_ullong search_buckets[N_BUCKETS]; /* non-cumulative; summed when rendered */
static atomic_ullong search_count, search_sum_us, searches_unresolved, search_errors;
static atomic_ullong help_requests[2];
static atomic_ullong feedback[3];

static size_t status_index(int status) {
    for (size_t i = 0; i < N_STATUSES - 1; i++)
        if (known_statuses[i] == status) return i;
    return N_STATUSES - 1;
}

void searchd_metrics_count_request(searchd_route_id route, int status) {
    if ((unsigned)route >= SEARCHD_ROUTE_COUNT) route = SEARCHD_ROUTE_UNKNOWN;
    atomic_fetch_add_explicit(&requests[route][status_index(status)], 1, memory_order_relaxed);
}

void searchd_metrics_observe_search(double duration_ms, int unresolved) {
    size_t b = 0;
    while (b < N_BUCKETS && duration_ms > bucket_ms[b]) b++;
    if (b < N_BUCKETS) atomic_fetch_add_explicit(&search_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&search_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&search_sum_us, (unsigned long long)(duration_ms * 1000.0),
                              memory_order_relaxed);
    if (unresolved) atomic_fetch_add_explicit(&searches_unresolved, 1, memory_order_relaxed);
}

void searchd_metrics_count_help_request(int kb_answerable) {
    atomic_fetch_add_explicit(&help_requests[kb_answerable ? 1 : 0], 1, memory_order_relaxed);
}

void searchd_metrics_count_feedback(const char *kind) {
    int i = strcmp(kind, "click") == 0 ? 0 : strcmp(kind, "helpful") == 0 ? 1 : 2;
    atomic_fetch_add_explicit(&feedback[i], 1, memory_order_relaxed);
}

void searchd_metrics_count_search_error(void) {
    atomic_fetch_add_explicit(&search_errors, 1, memory_order_relaxed);
}

unsigned long long searchd_metrics_requests_total(void) {
    unsigned long long n = 0;
    for (size_t r = 0; r < SEARCHD_ROUTE_COUNT; r++)
        for (size_t s = 0; s < N_STATUSES; s++)
            n += atomic_load_explicit(&requests[r][s], memory_order_relaxed);
    return n;
}

unsigned long long searchd_metrics_searches_total(void) {
    return atomic_load_explicit(&search_count, memory_order_relaxed);
}

static unsigned long long load(atomic_ullong *a) {
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void help_type(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *searchd_metrics_render(size_t *len) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return NULL;

    help_type(f, "kb_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (size_t r = 0; r < SEARCHD_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < N_STATUSES; s++) {
            unsigned long long n = load(&requests[r][s]);
            if (n == 0) continue; /* keep the scrape small: absent means zero */
            if (s < N_STATUSES - 1)
                fprintf(f, "kb_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                        searchd_router_name((searchd_route_id)r), known_statuses[s], n);
            else
                fprintf(f, "kb_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                        searchd_router_name((searchd_route_id)r), n);
        }
    }

    help_type(f, "kb_search_duration_seconds", "histogram",
              "Time to answer GET /api/search, from request to response queued.");
    unsigned long long cumulative = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cumulative += load(&search_buckets[b]);
        fprintf(f, "kb_search_duration_seconds_bucket{le=\"%s\"} %llu\n", bucket_label[b], cumulative);
    }
    unsigned long long count = load(&search_count);
    fprintf(f, "kb_search_duration_seconds_bucket{le=\"+Inf\"} %llu\n", count);
    fprintf(f, "kb_search_duration_seconds_sum %.6f\n", (double)load(&search_sum_us) / 1e6);
    fprintf(f, "kb_search_duration_seconds_count %llu\n", count);

    help_type(f, "kb_searches_total", "counter", "Searches answered (GET /api/search).");
    fprintf(f, "kb_searches_total %llu\n", count);
    help_type(f, "kb_searches_unresolved_total", "counter",
              "Searches the knowledge base most likely cannot answer (unresolved=true).");
    fprintf(f, "kb_searches_unresolved_total %llu\n", load(&searches_unresolved));
    help_type(f, "kb_search_errors_total", "counter", "Searches that failed inside the searcher.");
    fprintf(f, "kb_search_errors_total %llu\n", load(&search_errors));

    help_type(f, "kb_help_requests_total", "counter", "Help requests filed, by classification.");
    fprintf(f, "kb_help_requests_total{kb_answerable=\"true\"} %llu\n", load(&help_requests[1]));
    fprintf(f, "kb_help_requests_total{kb_answerable=\"false\"} %llu\n", load(&help_requests[0]));
    help_type(f, "kb_feedback_total", "counter", "Feedback on searches, by kind.");
    fprintf(f, "kb_feedback_total{kind=\"click\"} %llu\n", load(&feedback[0]));
    fprintf(f, "kb_feedback_total{kind=\"helpful\"} %llu\n", load(&feedback[1]));
    fprintf(f, "kb_feedback_total{kind=\"not_found\"} %llu\n", load(&feedback[2]));

    searchd_index_status idx;
    searchd_searchers_status(&idx);
    help_type(f, "kb_index_documents", "gauge", "Documents in the index revision being served.");
    fprintf(f, "kb_index_documents %u\n", idx.documents);
    help_type(f, "kb_index_revision", "gauge", "Revision of the index being served.");
    fprintf(f, "kb_index_revision %llu\n", (unsigned long long)idx.revision);
    help_type(f, "kb_index_age_seconds", "gauge",
              "Seconds since the served index revision was published by kb-indexer.");
    fprintf(f, "kb_index_age_seconds %.0f\n", idx.age_seconds);
    help_type(f, "kb_index_reloads_total", "counter", "New index revisions picked up while running.");
    fprintf(f, "kb_index_reloads_total %llu\n", (unsigned long long)idx.generation);

    kb_store_stats_t st;
    memset(&st, 0, sizeof st);
    if (searchd_ctx.store) kb_store_stats(searchd_ctx.store, &st);
    help_type(f, "kb_store_searches_logged_total", "counter", "Search events written to the event store.");
    fprintf(f, "kb_store_searches_logged_total %llu\n", (unsigned long long)st.searches_logged);
    help_type(f, "kb_store_searches_dropped_total", "counter",
              "Search events dropped because the event store queue was full.");
    fprintf(f, "kb_store_searches_dropped_total %llu\n", (unsigned long long)st.searches_dropped);
    help_type(f, "kb_store_write_errors_total", "counter", "Failed event store transactions.");
    fprintf(f, "kb_store_write_errors_total %llu\n", (unsigned long long)st.write_errors);
    help_type(f, "kb_store_failing", "gauge",
              "1 while event store writes fail (e.g. disk full), 0 once one commits again.");
    fprintf(f, "kb_store_failing %d\n", st.failing ? 1 : 0);
    help_type(f, "kb_store_unreachable", "gauge",
              "1 while the event store's PostgreSQL database cannot be reached from this node.");
    fprintf(f, "kb_store_unreachable %d\n", st.unreachable ? 1 : 0);
    /* The spool (a PostgreSQL store, docs/CLUSTER.md): 0 without one. */
    help_type(f, "kb_store_spool_events", "gauge",
              "Events waiting in the spool to be delivered to the database.");
    fprintf(f, "kb_store_spool_events %llu\n", (unsigned long long)st.spool_events);
    help_type(f, "kb_store_events_spooled_total", "counter",
              "Events kept in the spool while the database could not be reached.");
    fprintf(f, "kb_store_events_spooled_total %llu\n", (unsigned long long)st.events_spooled);
    help_type(f, "kb_store_events_delivered_total", "counter",
              "Spooled events delivered to the database.");
    fprintf(f, "kb_store_events_delivered_total %llu\n", (unsigned long long)st.events_delivered);
    help_type(f, "kb_store_help_ids_left", "gauge",
              "Help-request ids reserved for the spool and not yet given out.");
    fprintf(f, "kb_store_help_ids_left %lld\n", (long long)st.help_ids_left);
    help_type(f, "kb_store_feedback_parked_total", "counter",
              "Delivered feedback parked until its search (from another node) arrives.");
    fprintf(f, "kb_store_feedback_parked_total %llu\n", (unsigned long long)st.feedback_parked);
    help_type(f, "kb_store_parked_dropped_total", "counter",
              "Parked feedback dropped after 7 days without its search.");
    fprintf(f, "kb_store_parked_dropped_total %llu\n", (unsigned long long)st.parked_dropped);

    help_type(f, "kb_auth_tokens", "gauge", "Tokens in the active tokens file.");
    fprintf(f, "kb_auth_tokens %zu\n", searchd_auth_count());
    help_type(f, "kb_uptime_seconds", "gauge", "Seconds since kb-searchd started.");
    fprintf(f, "kb_uptime_seconds %.0f\n",
            (double)(searchd_now_unix_ms() - searchd_ctx.started_ms) / 1000.0);

    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}
