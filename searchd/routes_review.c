/*
 * routes_review.c — the support leads' endpoints: the help-request review list
 * (GET /api/help-requests), one request (GET /api/help-requests/{id}), confirming or overriding
 * its classification (PUT or POST /api/help-requests/{id}/review), the report by agent or team
 * and month (GET /api/reports/help-requests), and the agents list (GET, PUT /api/agents).
 * See docs/API.md; the logic is in libkb (kb/review.h), the JSON in json_review.c.
 *
 * POST /api/help-requests (filing, routes_help.c) shares its path with the leads' list, so the
 * route's handler here picks by method; router.c gives GET its own roles.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_known.h"
#include "json_review.h"
#include "kb/learn.h"
#include "kb/review.h"
#include "learned.h"
#include "log.h"
#include "routes.h"
#include "routes_args.h"
#include "routes_review.h"
#include "searchd.h"
#include "store_state.h"

#define REVIEW_MAX_LIMIT 500
#define REVIEW_NOTE_MAX_BYTES 2000

static kb_review *open_review(searchd_request *req, int readonly)
{
    char err[512] = "";
    if (searchd_store_gate(req) != 0) return NULL;
    kb_review *r = kb_review_open(searchd_ctx.data_dir, readonly, err, sizeof err);
    if (!r) {
        searchd_log_error("cannot open the event store for reviews: %s", err);
        searchd_store_respond_failure(req, KB_ERROR, "cannot read the event store, try again");
    }
    return r;
}

static void respond_review_error(searchd_request *req, kb_review *r)
{
    int code = kb_review_last_code(r);
    if (code == KB_NOT_FOUND) searchd_http_respond_error(req, 404, "%s", kb_review_errmsg(r));
    else if (code == KB_INVALID) searchd_http_respond_error(req, 400, "%s", kb_review_errmsg(r));
    else {
        searchd_log_error("reviews: %s", kb_review_errmsg(r));
        searchd_store_respond_failure(req, code, "cannot read or change help requests, try again");
    }
}

/* ---------------------------------------------------------------- the list */

static void list_help_requests(searchd_request *req)
{
    kb_review_filter f = {.verdict = -1, .reviewed = -1};
    int year, month;
    int has_month = searchd_args_month(req, "month", &year, &month);
    if (has_month < 0) return;
    if (has_month == 0) {
        kb_review_month_bounds(year, month, &f.from_ms, &f.to_ms);
    } else if (searchd_args_date(req, "from", 0, &f.from_ms) ||
               searchd_args_date(req, "to", 1, &f.to_ms) || searchd_args_window(req)) {
        return;
    }
    const char *verdict = searchd_http_arg(req, "verdict", NULL);
    if (verdict && !strcmp(verdict, "answerable")) f.verdict = 1;
    else if (verdict && !strcmp(verdict, "gap")) f.verdict = 0;
    else if (verdict && *verdict) {
        searchd_http_respond_error(req, 400, "verdict must be answerable or gap");
        return;
    }
    const char *reviewed = searchd_http_arg(req, "reviewed", NULL);
    if (reviewed && (!strcmp(reviewed, "1") || !strcmp(reviewed, "true"))) f.reviewed = 1;
    else if (reviewed && (!strcmp(reviewed, "0") || !strcmp(reviewed, "false"))) f.reviewed = 0;
    else if (reviewed && *reviewed) {
        searchd_http_respond_error(req, 400, "reviewed must be 1 or 0");
        return;
    }
    long limit, offset;
    if (searchd_args_number(req, "limit", 1, REVIEW_MAX_LIMIT, 50, &limit) ||
        searchd_args_number(req, "offset", 0, 1000000, 0, &offset))
        return;
    f.limit = (size_t)limit;
    f.offset = (size_t)offset;
    const char *agent = searchd_http_arg(req, "agent", NULL), *team = searchd_http_arg(req, "team", NULL);
    if (agent && *agent) f.agent = agent;
    if (team) f.team = team;
    kb_review *r = open_review(req, 1);
    if (!r) return;
    kb_help_request_page page;
    if (kb_review_list(r, &f, &page) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_help_request_page(&page));
    else respond_review_error(req, r);
    kb_help_request_page_free(&page);
    kb_review_close(r);
}

void searchd_route_help_requests_any(searchd_request *req)
{
    if (req->method & (SEARCHD_METHOD_GET | SEARCHD_METHOD_HEAD)) list_help_requests(req);
    else searchd_route_help_requests(req);
}

/* ---------------------------------------------------------------- one request, its review */

static void review(searchd_request *req, int64_t id)
{
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(body, "kb_answerable");
    const char *doc_id, *note;
    if (!cJSON_IsBool(verdict)) {
        searchd_http_respond_error(req, 400, "kb_answerable is required: true or false");
        cJSON_Delete(body);
        return;
    }
    if (searchd_http_body_string(req, body, "doc_id", 0, KB_DOC_ID_MAX, &doc_id) ||
        searchd_http_body_string(req, body, "note", 0, REVIEW_NOTE_MAX_BYTES, &note)) {
        cJSON_Delete(body);
        return;
    }
    /* As for the editors' answers (routes_gaps.c): the document the agent should have studied
     * must be one the index holds, or the leads' report would send agents to nothing. The
     * request's must-know mark and title follow it (for the team of the agent who asked). */
    kb_document *doc = NULL;
    if (doc_id && searchd_routes_fetch_document(req, "doc_id", doc_id, &doc) != 0) {
        cJSON_Delete(body);
        return;
    }
    kb_review *r = open_review(req, 0);
    if (r) {
        kb_help_request_record asked;
        char *team = NULL;
        int rc = KB_OK;
        if (doc && (rc = kb_review_item(r, id, &asked)) == KB_OK) {
            rc = kb_review_agent_team(r, asked.agent, &team);
            kb_help_request_record_free(&asked);
        }
        kb_review_doc_snapshot snap = {.must_know = doc && kb_document_must_know_for(doc, team),
                                       .title = doc ? doc->title : NULL};
        free(team);
        if (rc == KB_OK)
            rc = kb_review_set_doc(r, id, cJSON_IsTrue(verdict), doc_id, note, req->identity.name,
                                   searchd_now_unix_ms(), doc ? &snap : NULL);
        if (rc == KB_OK) {
            kb_help_request_record item;
            searchd_log_info("help request %lld reviewed by %s: %s", (long long)id,
                             req->identity.name, cJSON_IsTrue(verdict) ? "answerable" : "gap");
            int read = kb_review_item(r, id, &item) == KB_OK;
            if (read && cJSON_IsTrue(verdict) && doc_id && item.question) {
                /* The lead says which document answered: its question teaches that document. */
                char ref[32];
                snprintf(ref, sizeof ref, "%lld", (long long)id);
                searchd_learned_teach(doc_id, item.question, KB_LEARN_REVIEW, req->identity.name,
                                      searchd_auth_role_name(req->identity.role), ref);
            }
            if (read)
                searchd_http_respond_json(req, 200, searchd_json_help_request(&item));
            else
                searchd_http_respond_error(req, 500,
                                           "the review was stored but cannot be read back");
            kb_help_request_record_free(&item);
        } else {
            respond_review_error(req, r);
        }
        kb_review_close(r);
    }
    kb_searcher_document_free(doc);
    cJSON_Delete(body);
}

void searchd_route_help_request_item(searchd_request *req)
{
    int64_t id;
    const char *rest;
    if (searchd_args_path_id(req, req->param, &id, &rest) != 0) return;
    int is_write = (req->method & (SEARCHD_METHOD_POST | SEARCHD_METHOD_PUT)) != 0;
    if (!strcmp(rest, "/review") && is_write) {
        review(req, id);
        return;
    }
    if (*rest || is_write) {
        if (!strcmp(rest, "/review"))
            searchd_http_respond_error(req, 405, "use PUT or POST to review a help request");
        else if (!*rest)
            searchd_http_respond_error(req, 405, "use GET; reviews go to /api/help-requests/%lld/review",
                                       (long long)id);
        else searchd_http_respond_error(req, 404, "no such endpoint: see docs/API.md");
        return;
    }
    kb_review *r = open_review(req, 1);
    if (!r) return;
    kb_help_request_record item;
    if (kb_review_item(r, id, &item) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_help_request(&item));
    else respond_review_error(req, r);
    kb_help_request_record_free(&item);
    kb_review_close(r);
}

/* ---------------------------------------------------------------- the report */

void searchd_route_reports(searchd_request *req)
{
    kb_report_params p;
    kb_report_defaults(&p);
    const char *by = searchd_http_arg(req, "by", NULL);
    if (by && !strcmp(by, "team")) p.by_team = 1;
    else if (by && *by && strcmp(by, "agent")) {
        searchd_http_respond_error(req, 400, "by must be agent or team");
        return;
    }
    long months, min_requests, persist, must_know_min;
    if (searchd_args_month(req, "month", &p.year, &p.month) < 0 ||
        searchd_args_number(req, "months", 1, KB_REPORT_MAX_MONTHS, 6, &months) ||
        searchd_args_share(req, "threshold", 0.5, &p.threshold) ||
        searchd_args_number(req, "min_requests", 1, 100000, 3, &min_requests) ||
        searchd_args_number(req, "persist", 1, KB_REPORT_MAX_MONTHS, 3, &persist) ||
        searchd_args_number(req, "must_know_min", 1, 100000, 1, &must_know_min))
        return;
    p.must_know_min = (int)must_know_min;
    p.months = (int)months;
    p.min_requests = (int)min_requests;
    p.persist = (int)persist;
    kb_review *r = open_review(req, 1);
    if (!r) return;
    kb_report rep;
    if (kb_review_report(r, &p, &rep) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_report(&rep));
    else respond_review_error(req, r);
    kb_report_free(&rep);
    kb_review_close(r);
}

/* ---------------------------------------------------------------- agents */

/* PUT /api/agents and SIGHUP both replace the list: one at a time. */
static pthread_mutex_t agents_mutex = PTHREAD_MUTEX_INITIALIZER;

int searchd_agents_load(char *err, size_t err_len)
{
    if (!searchd_ctx.agents_path) return 0;
    kb_agent_list l;
    if (kb_agents_parse_file(searchd_ctx.agents_path, &l, err, err_len) != 0) return -1;
    pthread_mutex_lock(&agents_mutex);
    size_t n = l.n;
    int rc = -1;
    if (searchd_store_unreachable()) {
        /* The database (PostgreSQL) is away: help requests use the file's list meanwhile, and
         * it is written there once the database is back (agents_known.h). */
        searchd_log_warn("agents list read from %s (%zu agents); the event store's database "
                         "cannot be reached: it is written there once it is back",
                         searchd_ctx.agents_path, n);
        searchd_agents_known_take(&l, 1);
        pthread_mutex_unlock(&agents_mutex);
        return 0;
    }
    kb_review *r = kb_review_open(searchd_ctx.data_dir, 0, err, err_len);
    if (r) {
        rc = kb_review_set_agents(r, &l) == KB_OK ? 0 : -1;
        if (rc) snprintf(err, err_len, "%s", kb_review_errmsg(r));
        kb_review_close(r);
    }
    if (rc == 0) searchd_agents_known_take(&l, 0);
    pthread_mutex_unlock(&agents_mutex);
    if (rc == 0)
        searchd_log_info("agents list loaded from %s: %zu agents", searchd_ctx.agents_path, n);
    kb_agent_list_free(&l);
    return rc;
}

static void put_agents(searchd_request *req)
{
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    char err[512] = "";
    kb_agent_list l;
    if (searchd_json_parse_agents(cJSON_GetObjectItemCaseSensitive(body, "agents"), &l, err,
                                  sizeof err) != 0) {
        searchd_http_respond_error(req, 400, "%s", err);
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(body);
    if (searchd_store_gate(req) != 0) { /* the list is the cluster's: not changed offline */
        kb_agent_list_free(&l);
        return;
    }
    pthread_mutex_lock(&agents_mutex);
    /* The file first: if it cannot be written, nothing changes (a restart would otherwise bring
     * the old list back). */
    int rc = 0;
    if (searchd_ctx.agents_path &&
        kb_agents_write_file(searchd_ctx.agents_path, &l, err, sizeof err) != 0)
        rc = -1;
    kb_review *r = rc == 0 ? kb_review_open(searchd_ctx.data_dir, 0, err, sizeof err) : NULL;
    int code = KB_ERROR;
    if (rc == 0 && (!r || (code = kb_review_set_agents(r, &l)) != KB_OK)) {
        if (r) snprintf(err, sizeof err, "%s", kb_review_errmsg(r));
        rc = -1;
    }
    kb_review_close(r);
    size_t n = l.n;
    if (rc == 0) searchd_agents_known_take(&l, 0);
    pthread_mutex_unlock(&agents_mutex);
    if (rc != 0) {
        searchd_log_error("agents list not replaced: %s", err);
        if (code == KB_UNAVAILABLE || searchd_store_unreachable())
            searchd_store_respond_failure(req, KB_UNAVAILABLE, "");
        else
            searchd_http_respond_error(req, 500, "agents list not replaced: %s", err);
    } else {
        searchd_log_info("agents list replaced by %s: %zu agents", req->identity.name, n);
        cJSON *ok = cJSON_CreateObject();
        cJSON_AddBoolToObject(ok, "ok", 1);
        cJSON_AddNumberToObject(ok, "agents", (double)n);
        searchd_http_respond_json(req, 200, ok);
    }
    kb_agent_list_free(&l);
}

void searchd_route_agents(searchd_request *req)
{
    if (req->method & SEARCHD_METHOD_PUT) {
        put_agents(req);
        return;
    }
    kb_review *r = open_review(req, 1);
    if (!r) return;
    kb_agent_list l;
    if (kb_review_agents(r, &l) == KB_OK) {
        cJSON *out = searchd_json_agents(&l);
        if (out && searchd_ctx.agents_path)
            cJSON_AddStringToObject(out, "file", searchd_ctx.agents_path);
        else if (out)
            cJSON_AddNullToObject(out, "file");
        searchd_http_respond_json(req, 200, out); /* NULL (out of memory): 500 */
    } else {
        respond_review_error(req, r);
    }
    kb_agent_list_free(&l);
    kb_review_close(r);
}
