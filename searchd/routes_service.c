/*
 * routes_service.c — the endpoints for operators and machines: GET /healthz, GET /metrics,
 * POST /api/admin/reload.
 *
 * /healthz answers 503 while shutting down, so a load balancer stops sending traffic before the
 * listening socket closes. It says which index revision is served and how old it is: on a search
 * node that keeps a replica (docs/DEPLOY.md, "Several search nodes") the publication time comes
 * from the index's own metadata, written by kb-indexer on the indexing host and replicated with
 * the index, so every node reports the same time for the same revision. With ?max_age=SECONDS
 * it answers 503 "stale" when the served revision is older than that: a balancer's check for a
 * node cut off from the indexing host, meaningful only where the indexing host publishes at
 * least that often (DEPLOY.md says why it is not the default check).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "kb/gaps.h"
#include "learned.h"
#include "log.h"
#include "metrics.h"
#include "routes_args.h"
#include "routes.h"
#include "searchd.h"
#include "searchers.h"

#define ADMIN_RELOAD_WAIT_MS 5000
/* The largest ?max_age= accepted: a year, in seconds. */
#define HEALTHZ_MAX_AGE_LIMIT 31536000L

void searchd_route_healthz(searchd_request *req) {
    cJSON *o = cJSON_CreateObject();
    if (atomic_load(&searchd_ctx.shutting_down)) {
        cJSON_AddStringToObject(o, "status", "shutting_down");
        searchd_http_respond_json(req, 503, o);
        return;
    }
    if (!atomic_load(&searchd_ctx.ready)) {
        cJSON_AddStringToObject(o, "status", "starting");
        searchd_http_respond_json(req, 503, o);
        return;
    }
    long max_age = -1;
    if (searchd_args_number(req, "max_age", 0, HEALTHZ_MAX_AGE_LIMIT, -1, &max_age) != 0) {
        cJSON_Delete(o);
        return;
    }
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    int stale = max_age >= 0 && idx.age_seconds > (double)max_age;
    cJSON_AddStringToObject(o, "status", stale ? "stale" : "ok");
    cJSON_AddNumberToObject(o, "documents", idx.documents);
    cJSON_AddNumberToObject(o, "index_revision", (double)idx.revision);
    char published[32];
    kb_gaps_iso_time(idx.published_ms, published);
    cJSON_AddStringToObject(o, "index_published_at", published);
    cJSON_AddNumberToObject(o, "index_age_seconds", (double)(int64_t)(idx.age_seconds * 10) / 10);
    /* The event store's state. Still 200 when it fails: searches are answered (their logging
     * is what fails), and a load balancer taking every instance out over a full disk would turn
     * a partial outage into a total one. Monitoring reads "store". */
    kb_store_stats_t st;
    memset(&st, 0, sizeof st);
    if (searchd_ctx.store) kb_store_stats(searchd_ctx.store, &st);
    /* "unreachable": a PostgreSQL store whose server this node cannot reach (the writer checks
     * every second while idle); searches are still answered, and with a spool (the default
     * there) searches, feedback and help requests are kept on local disk until it is back
     * (docs/CLUSTER.md). */
    cJSON_AddStringToObject(o, "store", st.unreachable ? "unreachable" : st.failing ? "failing" : "ok");
    if (st.failing || st.unreachable) cJSON_AddStringToObject(o, "store_error", st.last_error);
    /* With a spool (a PostgreSQL store): the events this node holds for the database, so an
     * operator sees a backlog drain after an outage (docs/OPERATIONS.md). */
    if (searchd_ctx.spool_dir) cJSON_AddNumberToObject(o, "spool_events", (double)st.spool_events);
    searchd_http_respond_json(req, stale ? 503 : 200, o);
}

void searchd_route_metrics(searchd_request *req) {
    size_t len = 0;
    char *text = searchd_metrics_render(&len);
    if (!text) {
        searchd_http_respond_error(req, 500, "out of memory");
        return;
    }
    searchd_http_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Reload the tokens file, pick up a new index revision now rather than within a second, and
 * what agents taught so far rather than within SEARCHD_LEARN_REFRESH_MS (learned.h). */
void searchd_route_admin_reload(searchd_request *req) {
    char err[600] = "";
    int tokens_ok = searchd_auth_load(searchd_ctx.tokens_path, err, sizeof err) == 0;
    if (tokens_ok)
        searchd_log_info("tokens reloaded by %s: %zu tokens", req->identity.name,
                         searchd_auth_count());
    else
        searchd_log_error("tokens reload failed, keeping the previous tokens: %s", err);
    searchd_searchers_check_now(ADMIN_RELOAD_WAIT_MS);
    int learned_ok = searchd_learned_refresh_now() == 0;

    if (!tokens_ok) {
        searchd_http_respond_error(req, 500, "tokens file not reloaded, the previous tokens stay in "
                                   "force: %s", err);
        return;
    }
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddNumberToObject(o, "tokens", (double)searchd_auth_count());
    cJSON_AddNumberToObject(o, "documents", idx.documents);
    cJSON_AddNumberToObject(o, "index_revision", (double)idx.revision);
    cJSON_AddNumberToObject(o, "learned_phrasings", (double)searchd_learned_count());
    if (!learned_ok) /* searches go on with what was learned before; the log says why */
        cJSON_AddStringToObject(o, "learned_error", "cannot read the teaching records: see the log");
    searchd_http_respond_json(req, 200, o);
}
