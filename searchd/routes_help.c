/*
 * routes_help.c — POST /api/help-requests: the support desk files what an agent asked them.
 *
 * Each request is classified at once by searching the knowledge base for the question: when the
 * searcher is confident the top hit answers it, the request "should not have been asked"
 * (kb_answerable, with the document the agent should have found); otherwise it is a content
 * gap. The answer is 201 only after the store committed the request (synchronous write), so an
 * acknowledged request survives a crash.
 */
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "searchd.h"

#define HELP_AGENT_MAX_BYTES 128
#define HELP_ANSWER_MAX_BYTES (16 * 1024)
#define HELP_CLASSIFY_LIMIT 3

void searchd_route_help_requests(searchd_request *req) {
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const char *agent, *question, *answer;
    if (searchd_http_body_string(req, body, "agent", 1, HELP_AGENT_MAX_BYTES, &agent) ||
        searchd_http_body_string(req, body, "question", 1, KB_SEARCH_MAX_QUERY_BYTES, &question) ||
        searchd_http_body_string(req, body, "answer", 0, HELP_ANSWER_MAX_BYTES, &answer)) {
        cJSON_Delete(body);
        return;
    }

    kb_search_request sreq = {.text = question, .limit = HELP_CLASSIFY_LIMIT};
    kb_search_result res;
    if (searchd_routes_run_search(req, &sreq, &res) != 0) {
        cJSON_Delete(body);
        return;
    }
    const kb_hit *top = res.n_hits > 0 ? &res.hits[0] : NULL;
    int answerable = !res.unresolved && top != NULL;

    kb_help_request hr = {
        .agent = agent,
        .filed_by = req->identity.name,
        .question = question,
        .answer = answer,
        .time_ms = searchd_now_unix_ms(),
        .kb_answerable = answerable,
        .doc_id = answerable ? top->id : NULL,
        .confidence = res.confidence,
    };
    int64_t id = 0;
    if (kb_store_log_help_request(searchd_ctx.store, &hr, &id) != KB_STORE_OK) {
        searchd_log_error("cannot store a help request: %s", kb_store_errmsg(searchd_ctx.store));
        searchd_http_respond_error(req, 500, "cannot store the help request, try again");
        kb_search_result_free(&res);
        cJSON_Delete(body);
        return;
    }
    searchd_metrics_count_help_request(answerable);

    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "id", (double)id);
    cJSON_AddBoolToObject(out, "kb_answerable", answerable);
    if (answerable) {
        cJSON_AddStringToObject(out, "doc_id", top->id ? top->id : "");
        cJSON_AddStringToObject(out, "title", top->title ? top->title : "");
        cJSON_AddStringToObject(out, "snippet", top->snippet ? top->snippet : "");
    } else {
        cJSON_AddNullToObject(out, "doc_id");
        cJSON_AddNullToObject(out, "title");
        cJSON_AddNullToObject(out, "snippet");
    }
    cJSON_AddNumberToObject(out, "confidence", searchd_routes_round(res.confidence, 4));
    kb_search_result_free(&res);
    cJSON_Delete(body);
    searchd_http_respond_json(req, 201, out);
}
