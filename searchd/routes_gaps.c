/*
 * routes_gaps.c — the editors' endpoints: the queue of unanswered questions (GET /api/gaps),
 * one item (GET /api/gaps/{id}), its life cycle and category (PUT or POST /api/gaps/{id}) and
 * content health (GET /api/content-health). See docs/API.md; the logic is in libkb (kb/gaps.h),
 * which answers in structs; json_gaps.c turns them into the API's JSON.
 * An id the regroup pass merged into another item reaches that item (kb_gaps_item,
 * kb_gaps_update): the answer carries "merged_from".
 *
 * Each request opens its own handle on the event store (a fraction of a millisecond on SQLite; on
 * PostgreSQL it borrows one of the HTTP thread's kept sessions, events/store_conn.h): kb_gaps
 * handles are not thread-safe, and editors' calls are rare next to agents' searches. Any node of
 * several on one PostgreSQL store answers these, whichever node does the queue's work.
 * The document list that content health needs is read once per index revision and cached.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/doc_list.h"
#include "kb/gaps.h"
#include "json_gaps.h"
#include "learned.h"
#include "log.h"
#include "routes.h"
#include "routes_args.h"
#include "searchd.h"
#include "searchers.h"
#include "store_state.h"

#define GAPS_MAX_LIMIT 500
#define GAPS_NOTE_MAX_BYTES 2000
#define GAPS_DETAIL_ROWS 200

static kb_gaps *open_gaps(searchd_request *req, int readonly)
{
    char err[512] = "";
    if (searchd_store_gate(req) != 0) return NULL; /* PostgreSQL away: 503 (store_state.h) */
    kb_gaps *g = kb_gaps_open(searchd_ctx.data_dir, readonly, err, sizeof err);
    if (!g) {
        searchd_log_error("cannot open the gap queue: %s", err);
        searchd_store_respond_failure(req, KB_ERROR, "cannot read the event store, try again");
    }
    return g;
}

static void respond_gaps_error(searchd_request *req, kb_gaps *g)
{
    int code = kb_gaps_last_code(g);
    if (code == KB_NOT_FOUND) searchd_http_respond_error(req, 404, "%s", kb_gaps_errmsg(g));
    else if (code == KB_CONFLICT) searchd_http_respond_error(req, 409, "%s", kb_gaps_errmsg(g));
    else if (code == KB_INVALID) searchd_http_respond_error(req, 400, "%s", kb_gaps_errmsg(g));
    else {
        searchd_log_error("gap queue: %s", kb_gaps_errmsg(g));
        searchd_store_respond_failure(req, code, "cannot read or change the gap queue, try again");
    }
}

/* ---------------------------------------------------------------- GET /api/gaps */

void searchd_route_gaps(searchd_request *req)
{
    kb_gaps_filter f = {0};
    const char *statuses[8];
    size_t n = searchd_http_args(req, "status", statuses, 8);
    for (size_t i = 0; i < n; i++) {
        unsigned bit = kb_gaps_status_bit(statuses[i]);
        if (!bit) {
            searchd_http_respond_error(req, 400, "status must be open, in_progress, answered, "
                                                 "dismissed or all");
            return;
        }
        f.statuses |= bit;
    }
    const char *sort = searchd_http_arg(req, "sort", NULL);
    if (sort && !strcmp(sort, "recent")) f.sort = KB_GAPS_SORT_RECENT;
    else if (sort && !strcmp(sort, "count")) f.sort = KB_GAPS_SORT_COUNT;
    else if (sort && *sort && strcmp(sort, "impact")) {
        searchd_http_respond_error(req, 400, "sort must be impact, recent or count");
        return;
    }
    long limit, offset;
    if (searchd_args_date(req, "from", 0, &f.from_ms) || searchd_args_date(req, "to", 1, &f.to_ms) ||
        searchd_args_window(req) ||
        searchd_args_number(req, "limit", 1, GAPS_MAX_LIMIT, 50, &limit) ||
        searchd_args_number(req, "offset", 0, 1000000, 0, &offset))
        return;
    if (f.from_ms && !f.to_ms) f.to_ms = INT64_MAX;
    if (f.to_ms && !f.from_ms) f.from_ms = INT64_MIN + 1;
    f.limit = (size_t)limit;
    f.offset = (size_t)offset;
    const char *category = searchd_http_arg(req, "category", NULL);
    if (category && *category) f.category = category;
    kb_gaps *g = open_gaps(req, 1);
    if (!g) return;
    kb_gap_page page;
    if (kb_gaps_list(g, &f, &page) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_gap_page(&page));
    else respond_gaps_error(req, g);
    kb_gap_page_free(&page);
    kb_gaps_close(g);
}

/* ---------------------------------------------------------------- /api/gaps/{id} */

/* The body's "category": absent (*set = 0), null or blank (*set = 1, *out NULL: back to the
 * derived category) or a string. 0, or -1 after answering 400. */
static int body_category(searchd_request *req, const cJSON *body, int *set, const char **out)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "category");
    *set = c != NULL;
    *out = NULL;
    if (!c || cJSON_IsNull(c)) return 0;
    if (!cJSON_IsString(c) || !c->valuestring) {
        searchd_http_respond_error(req, 400, "category must be a string, or null to clear it");
        return -1;
    }
    if (strlen(c->valuestring) > KB_CATEGORY_MAX) {
        searchd_http_respond_error(req, 400, "category too long: at most %d bytes",
                                   KB_CATEGORY_MAX);
        return -1;
    }
    *out = c->valuestring;
    return 0;
}

static void change_item(searchd_request *req, int64_t id)
{
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    kb_gaps_change ch = {0};
    if (searchd_http_body_string(req, body, "status", 0, 32, &ch.status) ||
        searchd_http_body_string(req, body, "doc_id", 0, KB_DOC_ID_MAX, &ch.doc_id) ||
        searchd_http_body_string(req, body, "note", 0, GAPS_NOTE_MAX_BYTES, &ch.note) ||
        body_category(req, body, &ch.set_category, &ch.category)) {
        cJSON_Delete(body);
        return;
    }
    if (!ch.status && !ch.set_category) {
        searchd_http_respond_error(req, 400, "give a status (open, in_progress, answered, "
                                             "dismissed), a category, or both");
        cJSON_Delete(body);
        return;
    }
    if (ch.doc_id && searchd_routes_check_document(req, "doc_id", ch.doc_id) != 0) {
        cJSON_Delete(body);
        return;
    }
    kb_gaps *g = open_gaps(req, 0);
    if (g) {
        kb_gap_item item;
        int rc = kb_gaps_update(g, id, &ch, req->identity.name, searchd_now_unix_ms(), &item);
        if (rc == KB_OK && item.id) {
            long long target = (long long)item.id;
            /* The category's text stays out of the log: it is the editor's free text. */
            char merged[48] = "";
            if (target != (long long)id)
                snprintf(merged, sizeof merged, " (merged into %lld)", target);
            searchd_log_info("gap %lld%s changed by %s:%s%s%s%s", (long long)id, merged,
                             req->identity.name, ch.status ? " status " : "",
                             ch.status ? ch.status : "", ch.set_category ? " category " : "",
                             !ch.set_category ? "" : ch.category ? "set" : "cleared");
            /* "Answered by document X" teaches X every question of the item. */
            if (ch.status && !strcmp(ch.status, "answered") && ch.doc_id)
                searchd_learned_teach_gap(item.id, ch.doc_id, req->identity.name,
                                          searchd_auth_role_name(req->identity.role));
            searchd_http_respond_json(req, 200, searchd_json_gap_item(&item));
        } else if (rc == KB_OK) {
            searchd_http_respond_error(req, 500, "the change was stored but cannot be read back");
        } else {
            respond_gaps_error(req, g);
        }
        kb_gap_item_free(&item);
        kb_gaps_close(g);
    }
    cJSON_Delete(body);
}

void searchd_route_gap_item(searchd_request *req)
{
    int64_t id;
    const char *rest;
    if (searchd_args_path_id(req, req->param, &id, &rest) != 0) return;
    if (*rest) {
        searchd_http_respond_error(req, 404, "no such endpoint: see docs/API.md");
        return;
    }
    if (req->method & (SEARCHD_METHOD_POST | SEARCHD_METHOD_PUT)) {
        change_item(req, id);
        return;
    }
    kb_gaps *g = open_gaps(req, 1);
    if (!g) return;
    kb_gap_item item;
    if (kb_gaps_item(g, id, GAPS_DETAIL_ROWS, &item) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_gap_detail(&item));
    else respond_gaps_error(req, g);
    kb_gap_item_free(&item);
    kb_gaps_close(g);
}

/* ---------------------------------------------------------------- GET /api/content-health */

static pthread_mutex_t docs_mutex = PTHREAD_MUTEX_INITIALIZER;
static kb_doc_list docs_cache;
static int docs_cached;

void searchd_route_content_health(searchd_request *req)
{
    long days, limit;
    if (searchd_args_number(req, "days", 1, 3650, 30, &days) ||
        searchd_args_number(req, "limit", 1, 1000, 100, &limit))
        return;
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    char err[512] = "";
    pthread_mutex_lock(&docs_mutex);
    if (!docs_cached || docs_cache.revision != idx.revision) {
        kb_doc_list fresh;
        if (kb_doc_list_read(searchd_ctx.index_dir, &fresh, err, sizeof err) != 0) {
            pthread_mutex_unlock(&docs_mutex);
            searchd_log_error("content health: %s", err);
            searchd_http_respond_error(req, 503, "index unavailable, try again shortly");
            return;
        }
        kb_doc_list_free(&docs_cache);
        docs_cache = fresh;
        docs_cached = 1;
    }
    kb_gaps *g = open_gaps(req, 1);
    if (g) {
        char today[16];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        kb_content_health health; /* copies: the cache may change once the lock is released */
        int rc = kb_gaps_health(g, &docs_cache, (int)days, (size_t)limit, searchd_now_unix_ms(),
                                today, &health);
        pthread_mutex_unlock(&docs_mutex);
        if (rc == KB_OK)
            searchd_http_respond_json(req, 200, searchd_json_content_health(&health));
        else respond_gaps_error(req, g);
        kb_content_health_free(&health);
        kb_gaps_close(g);
        return;
    }
    pthread_mutex_unlock(&docs_mutex);
}

void searchd_routes_gaps_free(void)
{
    pthread_mutex_lock(&docs_mutex);
    kb_doc_list_free(&docs_cache);
    docs_cached = 0;
    pthread_mutex_unlock(&docs_mutex);
}
