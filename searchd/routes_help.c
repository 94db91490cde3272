/*
 * routes_help.c — POST /api/help-requests: the support desk files what an agent asked them.
 *
 * Each request is classified at once by searching the knowledge base for the question: when the
 * searcher is confident the top hit answers it, the request "should not have been asked"
 * (kb_answerable, with the document the agent should have found); otherwise it is a content
 * gap. The answer is 201 only after the store committed the request (synchronous write), so an
 * acknowledged request survives a crash.
 *
 * Whose request it is decides whom the leads' report charges, so the "agent" field is not taken
 * on trust: an agent's token files only in its own name (the field may be left out and then is
 * the token's NAME); the support desk (lead, admin) may name another agent, by an agent id (the
 * agents list's rule, which also keeps customer data out of the field) that must be in the
 * agents list when there is one.
 *
 * The request keeps a snapshot of its answering document (issue 19): its title, and whether it
 * is must-know for the asking agent's team (from the agents list; an agent not in it counts
 * only documents that are must-know for every team), so the leads' must-know misses are those
 * of the moment the verdict was made, whatever happens to the document later.
 *
 * While a PostgreSQL store's database cannot be reached, help requests are still answered 201:
 * the verdict needs only the index, the id comes from the block the node reserved for its spool
 * (503 "event store unreachable" when none is left), and the agents list is the one the node
 * last read (agents_known.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_known.h"
#include "kb/review.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "searchd.h"
#include "store_state.h"

#define HELP_ANSWER_MAX_BYTES (16 * 1024)
#define HELP_CLASSIFY_LIMIT 3

/* The agents list's answer for agent (searchd_agents_lookup: the store, or the list this node
 * last read while its database cannot be reached). 0, or -1 after answering 500 or 503 when
 * neither can be read. */
static int agents_lookup(searchd_request *req, const char *agent, int *listed, int *have_list,
                         char **team) {
    if (searchd_agents_lookup(agent, listed, have_list, team) == 0) return 0;
    searchd_store_respond_failure(req, KB_ERROR, "cannot read the agents list, try again");
    return -1;
}

int searchd_routes_check_agent(searchd_request *req, const char *field, const char *agent) {
    const char *problem = kb_agent_id_problem(agent);
    if (problem) {
        searchd_http_respond_error(req, 400, "%s %s", field, problem);
        return -1;
    }
    int listed = 0, have_list = 0;
    char *team = NULL;
    if (agents_lookup(req, agent, &listed, &have_list, &team) != 0) return -1;
    free(team);
    if (have_list && !listed) {
        searchd_http_respond_error(req, 400, "%s %s is not in the agents list: check the id "
                                             "(GET /api/agents), or add the agent to the list "
                                             "first", field, agent);
        return -1;
    }
    return 0;
}

/* Who asked: *agent becomes the token's NAME or `given`. 0, or -1 after answering 400/403/500. */
static int resolve_agent(searchd_request *req, const char *given, const char **agent) {
    const char *own = req->identity.name;
    *agent = own;
    if (!given || strcmp(given, own) == 0) return 0;
    if (!(req->identity.role & (SEARCHD_ROLE_LEAD | SEARCHD_ROLE_ADMIN))) {
        searchd_http_respond_error(req, 403, "an agent files help requests in its own name (%s): "
                                             "leave out \"agent\", or ask the support desk to file "
                                             "for another agent", own);
        return -1;
    }
    if (searchd_routes_check_agent(req, "agent", given) != 0) return -1;
    *agent = given;
    return 0;
}

/* The agent's team from the agents list into *team (NULL when not listed). 0, or -1 after
 * answering 500 or 503. */
static int agent_team(searchd_request *req, const char *agent, char **team) {
    int listed, have_list;
    return agents_lookup(req, agent, &listed, &have_list, team);
}

void searchd_route_help_requests(searchd_request *req) {
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const char *given, *agent, *question, *answer, *answer_doc;
    if (searchd_http_body_string(req, body, "agent", 0, KB_AGENT_FIELD_MAX, &given) ||
        searchd_http_body_string(req, body, "question", 1, KB_SEARCH_MAX_QUERY_BYTES, &question) ||
        searchd_http_body_string(req, body, "answer", 0, HELP_ANSWER_MAX_BYTES, &answer) ||
        searchd_http_body_string(req, body, "answer_doc_id", 0, KB_DOC_ID_MAX, &answer_doc) ||
        resolve_agent(req, given, &agent) != 0) {
        cJSON_Delete(body);
        return;
    }
    /* The document the support desk answered with: one of the index, as for feedback. */
    char *team = NULL;
    if ((answer_doc && searchd_routes_check_document(req, "answer_doc_id", answer_doc) != 0) ||
        agent_team(req, agent, &team) != 0) {
        cJSON_Delete(body);
        return;
    }

    kb_search_request sreq = {.text = question, .limit = HELP_CLASSIFY_LIMIT};
    kb_search_result res;
    if (searchd_routes_run_search(req, &sreq, &res) != 0) {
        free(team);
        cJSON_Delete(body);
        return;
    }
    const kb_hit *top = res.n_hits > 0 ? &res.hits[0] : NULL;
    int answerable = !res.unresolved && top != NULL;
    int must_know = answerable && kb_hit_must_know_for(top, team);
    free(team);

    kb_help_request hr = {
        .agent = agent,
        .filed_by = req->identity.name,
        .question = question,
        .answer = answer,
        .time_ms = searchd_now_unix_ms(),
        .kb_answerable = answerable,
        .doc_id = answerable ? top->id : NULL,
        .confidence = res.confidence,
        .must_know = must_know,
        .doc_title = answerable ? top->title : NULL,
        /* The desk's answer names a document: the question teaches it, in the request's own
         * transaction (and spool record), taught by the filer with its role. */
        .answer_doc_id = answer_doc,
        .filed_by_role = searchd_auth_role_name(req->identity.role),
    };
    int64_t id = 0;
    int rc = kb_store_log_help_request(searchd_ctx.store, &hr, &id);
    if (rc != KB_OK) {
        searchd_log_error("cannot store a help request: %s", kb_store_errmsg(searchd_ctx.store));
        /* KB_UNAVAILABLE: cut off from the database with no reserved id left to give. */
        if (rc == KB_UNAVAILABLE) searchd_store_respond_failure(req, rc, "");
        else searchd_http_respond_error(req, 500, "cannot store the help request, try again");
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
    cJSON_AddBoolToObject(out, "must_know", must_know);
    cJSON_AddNumberToObject(out, "confidence", searchd_routes_round(res.confidence, 4));
    kb_search_result_free(&res);
    cJSON_Delete(body);
    searchd_http_respond_json(req, 201, out);
}
