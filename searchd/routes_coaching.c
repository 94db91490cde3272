/*
 * routes_coaching.c — study lists, coaching sessions and the coaching-effect report (issue 19,
 * docs/API.md, docs/COACHING.md):
 *   GET  /api/me/study                 an agent's own study list        (agent)
 *   POST /api/me/study/{doc_id}        mark a document of it studied    (agent)
 *   GET  /api/agents/{id}/study        any agent's study list           (lead)
 *   POST /api/coaching                 record a coaching session        (lead)
 *   GET  /api/coaching                 list sessions                    (lead)
 *   GET  /api/reports/coaching         whether coaching worked          (lead)
 * Admins may call all of them (router.c adds admin everywhere). Who may see whose list is the
 * router's table plus one rule here: /api/me/ takes the agent from the token, never from the
 * request, so an agent reads and marks only their own list. The logic is in libkb
 * (kb/coaching.h), the JSON in json_coaching.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_coaching.h"
#include "kb/coaching.h"
#include "kb/review.h"
#include "log.h"
#include "routes.h"
#include "routes_args.h"
#include "searchd.h"
#include "store_state.h"

#define COACHING_MAX_LIMIT 500

static kb_coaching *open_coaching(searchd_request *req, int readonly)
{
    char err[512] = "";
    if (searchd_store_gate(req) != 0) return NULL;
    kb_coaching *c = kb_coaching_open(searchd_ctx.data_dir, readonly, err, sizeof err);
    if (!c) {
        searchd_log_error("cannot open the event store for coaching: %s", err);
        searchd_store_respond_failure(req, KB_ERROR, "cannot read the event store, try again");
    }
    return c;
}

static void respond_error(searchd_request *req, kb_coaching *c)
{
    int code = kb_coaching_last_code(c);
    if (code == KB_NOT_FOUND) searchd_http_respond_error(req, 404, "%s", kb_coaching_errmsg(c));
    else if (code == KB_INVALID) searchd_http_respond_error(req, 400, "%s", kb_coaching_errmsg(c));
    else {
        searchd_log_error("coaching: %s", kb_coaching_errmsg(c));
        searchd_store_respond_failure(req, code, "cannot read or change the coaching records, try again");
    }
}

/* A day argument "YYYY-MM-DD" into *day (NULL when absent). 0, or -1 after answering 400. */
static int day_arg(searchd_request *req, const char *name, const char **day)
{
    const char *v = searchd_http_arg(req, name, NULL);
    int64_t ms;
    *day = v && *v ? v : NULL;
    if (*day && kb_review_parse_date(*day, &ms) != 0) {
        searchd_http_respond_error(req, 400, "%s must be a day, YYYY-MM-DD", name);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- study lists */

static void respond_study_list(searchd_request *req, const char *agent)
{
    kb_coaching *c = open_coaching(req, 1);
    if (!c) return;
    kb_study_list l;
    if (kb_coaching_study_list(c, agent, &l) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_study_list(agent, &l));
    else respond_error(req, c);
    kb_study_list_free(&l);
    kb_coaching_close(c);
}

static void mark_studied(searchd_request *req, const char *doc_id)
{
    if (!searchd_routes_valid_doc_id(doc_id)) {
        searchd_http_respond_error(req, 404, "no such document on your study list");
        return;
    }
    const char *agent = req->identity.name;
    kb_coaching *c = open_coaching(req, 0);
    if (!c) return;
    int64_t when;
    kb_study_list l = {0};
    if (kb_coaching_mark_studied(c, agent, doc_id, searchd_now_unix_ms(), &when) != KB_OK ||
        kb_coaching_study_list(c, agent, &l) != KB_OK) {
        respond_error(req, c);
    } else {
        const kb_study_item *it = NULL;
        for (size_t i = 0; i < l.n && !it; i++)
            if (!strcmp(l.items[i].doc_id, doc_id)) it = &l.items[i];
        if (it) {
            searchd_log_info("%s marked %s studied", agent, doc_id);
            searchd_http_respond_json(req, 200, searchd_json_study_item(it));
        } else {
            searchd_http_respond_error(req, 500, "the mark was stored but cannot be read back");
        }
    }
    kb_study_list_free(&l);
    kb_coaching_close(c);
}

/* GET /api/me/study and POST /api/me/study/{doc_id} (router.c gives each its methods): the
 * caller's own list, whoever names what. */
void searchd_route_my_study(searchd_request *req)
{
    if (req->method & SEARCHD_METHOD_POST) mark_studied(req, req->param);
    else respond_study_list(req, req->identity.name);
}

/* /api/agents/{id}/study: a lead reads any agent's list. */
void searchd_route_agent_study(searchd_request *req)
{
    size_t len = strlen(req->param) - strlen("/study");
    char agent[KB_AGENT_FIELD_MAX + 1];
    if (len == 0 || len > KB_AGENT_FIELD_MAX) {
        searchd_http_respond_error(req, 404, "no such agent");
        return;
    }
    memcpy(agent, req->param, len);
    agent[len] = '\0';
    if (kb_agent_id_problem(agent)) {
        searchd_http_respond_error(req, 404, "no such agent");
        return;
    }
    respond_study_list(req, agent);
}

/* ---------------------------------------------------------------- sessions */

/* The documents covered: each one of the index, its title kept. 0, or -1 after answering. */
static int covered_docs(searchd_request *req, const cJSON *array, const char **ids,
                        char **titles, size_t *n)
{
    *n = 0;
    if (!array || cJSON_IsNull(array)) return 0;
    if (!cJSON_IsArray(array)) {
        searchd_http_respond_error(req, 400, "doc_ids must be an array of document ids");
        return -1;
    }
    for (const cJSON *d = array->child; d; d = d->next) {
        if (*n == KB_COACHING_MAX_DOCS) {
            searchd_http_respond_error(req, 400, "at most %d documents per session",
                                       KB_COACHING_MAX_DOCS);
            return -1;
        }
        char field[32];
        snprintf(field, sizeof field, "doc_ids[%zu]", *n);
        if (!cJSON_IsString(d)) {
            searchd_http_respond_error(req, 400, "%s must be a string", field);
            return -1;
        }
        kb_document *doc = NULL;
        if (searchd_routes_fetch_document(req, field, d->valuestring, &doc) != 0) return -1;
        ids[*n] = d->valuestring;
        titles[*n] = doc->title ? strdup(doc->title) : NULL;
        (*n)++;
        kb_searcher_document_free(doc);
    }
    return 0;
}

static void record_session(searchd_request *req)
{
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const char *agent, *day, *note;
    const char *ids[KB_COACHING_MAX_DOCS];
    char *titles[KB_COACHING_MAX_DOCS];
    size_t n = 0;
    int64_t ms;
    if (searchd_http_body_string(req, body, "agent", 1, KB_AGENT_FIELD_MAX, &agent) ||
        searchd_http_body_string(req, body, "date", 1, 10, &day) ||
        searchd_http_body_string(req, body, "note", 0, KB_COACHING_NOTE_MAX_BYTES, &note))
        goto out;
    if (kb_review_parse_date(day, &ms) != 0) {
        searchd_http_respond_error(req, 400, "date must be a day, YYYY-MM-DD");
        goto out;
    }
    if (searchd_routes_check_agent(req, "agent", agent) != 0 ||
        covered_docs(req, cJSON_GetObjectItemCaseSensitive(body, "doc_ids"), ids, titles, &n) != 0)
        goto out;
    kb_coaching *c = open_coaching(req, 0);
    if (!c) goto out;
    kb_coaching_new s = {.agent = agent, .lead = req->identity.name, .day = day, .note = note,
                         .doc_ids = ids, .titles = (const char *const *)titles, .n_docs = n,
                         .now_ms = searchd_now_unix_ms()};
    int64_t id;
    kb_coaching_session stored;
    if (kb_coaching_record(c, &s, &id) == KB_OK && kb_coaching_get(c, id, &stored) == KB_OK) {
        searchd_log_info("coaching session %lld recorded by %s for %s", (long long)id,
                         req->identity.name, agent);
        searchd_http_respond_json(req, 201, searchd_json_coaching_session(&stored));
        kb_coaching_session_free(&stored);
    } else {
        respond_error(req, c);
    }
    kb_coaching_close(c);
out:
    for (size_t i = 0; i < n; i++) free(titles[i]);
    cJSON_Delete(body);
}

static void list_sessions(searchd_request *req)
{
    kb_coaching_filter f = {0};
    long limit, offset;
    if (day_arg(req, "from", &f.from) || day_arg(req, "to", &f.to) || searchd_args_window(req) ||
        searchd_args_number(req, "limit", 1, COACHING_MAX_LIMIT, 50, &limit) ||
        searchd_args_number(req, "offset", 0, 1000000, 0, &offset))
        return;
    f.limit = (size_t)limit;
    f.offset = (size_t)offset;
    const char *agent = searchd_http_arg(req, "agent", NULL), *team = searchd_http_arg(req, "team", NULL);
    if (agent && *agent) f.agent = agent;
    if (team) f.team = team;
    kb_coaching *c = open_coaching(req, 1);
    if (!c) return;
    kb_coaching_page page;
    if (kb_coaching_list(c, &f, &page) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_coaching_page(&page));
    else respond_error(req, c);
    kb_coaching_page_free(&page);
    kb_coaching_close(c);
}

void searchd_route_coaching(searchd_request *req)
{
    if (req->method & SEARCHD_METHOD_POST) record_session(req);
    else list_sessions(req);
}

/* ---------------------------------------------------------------- the report */

void searchd_route_coaching_report(searchd_request *req)
{
    kb_effect_params p = {.now_ms = searchd_now_unix_ms()};
    long weeks;
    if (day_arg(req, "from", &p.from) || day_arg(req, "to", &p.to) || searchd_args_window(req) ||
        searchd_args_number(req, "weeks", 1, KB_COACHING_MAX_WEEKS, 4, &weeks))
        return;
    p.weeks = (int)weeks;
    p.team = searchd_http_arg(req, "team", NULL);
    kb_coaching *c = open_coaching(req, 1);
    if (!c) return;
    kb_effect_report rep;
    if (kb_coaching_effect(c, &p, &rep) == KB_OK)
        searchd_http_respond_json(req, 200, searchd_json_effect_report(&rep));
    else respond_error(req, c);
    kb_effect_report_free(&rep);
    kb_coaching_close(c);
}
