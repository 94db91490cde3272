/*
 * router.c — which path goes to which handler, with which methods and roles.
 *
 * The whole access policy of the service is the table below. /healthz and /metrics carry no
 * token: load balancers and Prometheus call them, and they hold counts, never customer data.
 */
#include "router.h"

#include <string.h>

#include "static.h"

#define ANY SEARCHD_ROLES_ANY
#define FILERS (SEARCHD_ROLE_AGENT | SEARCHD_ROLE_LEAD | SEARCHD_ROLE_ADMIN)
#define GET_HEAD (SEARCHD_METHOD_GET | SEARCHD_METHOD_HEAD)
#define WRITE (SEARCHD_METHOD_POST | SEARCHD_METHOD_PUT)
#define EDITORS SEARCHD_ROLE_EDITOR
#define LEADS SEARCHD_ROLE_LEAD

static const searchd_route routes[] = {
    {SEARCHD_ROUTE_HEALTHZ, "/healthz", 0, GET_HEAD, 0, 0, searchd_route_healthz, NULL},
    {SEARCHD_ROUTE_METRICS, "/metrics", 0, GET_HEAD, 0, 0, searchd_route_metrics, NULL},
    {SEARCHD_ROUTE_SEARCH, "/api/search", 0, GET_HEAD, 1, ANY, searchd_route_search, NULL},
    {SEARCHD_ROUTE_SUGGEST, "/api/suggest", 0, GET_HEAD, 1, ANY, searchd_route_suggest, NULL},
    /* /api/documents/{id}/learned: before the document route, which would take it as an id */
    {SEARCHD_ROUTE_LEARNED, "/api/documents/", 1, GET_HEAD | SEARCHD_METHOD_POST |
     SEARCHD_METHOD_DELETE, 1, EDITORS, searchd_route_learned, "/learned"},
    {SEARCHD_ROUTE_DOCUMENT, "/api/documents/", 1, GET_HEAD, 1, ANY, searchd_route_document, NULL},
    {SEARCHD_ROUTE_FEEDBACK, "/api/feedback", 0, SEARCHD_METHOD_POST, 1, FILERS,
     searchd_route_feedback, NULL},
    {SEARCHD_ROUTE_HELP_REQUESTS, "/api/help-requests", 0, GET_HEAD | SEARCHD_METHOD_POST, 1,
     FILERS, searchd_route_help_requests_any, NULL}, /* GET: leads (read_roles below) */
    {SEARCHD_ROUTE_HELP_REQUEST, "/api/help-requests/", 1, GET_HEAD | WRITE, 1, LEADS,
     searchd_route_help_request_item, NULL},
    {SEARCHD_ROUTE_GAPS, "/api/gaps", 0, GET_HEAD, 1, EDITORS, searchd_route_gaps, NULL},
    {SEARCHD_ROUTE_GAPS, "/api/gaps/", 1, GET_HEAD | WRITE, 1, EDITORS, searchd_route_gap_item, NULL},
    {SEARCHD_ROUTE_CONTENT_HEALTH, "/api/content-health", 0, GET_HEAD, 1, EDITORS,
     searchd_route_content_health, NULL},
    {SEARCHD_ROUTE_REPORTS, "/api/reports/help-requests", 0, GET_HEAD, 1, LEADS,
     searchd_route_reports, NULL},
    {SEARCHD_ROUTE_AGENTS, "/api/agents", 0, GET_HEAD | SEARCHD_METHOD_PUT, 1, SEARCHD_ROLE_ADMIN,
     searchd_route_agents, NULL}, /* GET: leads too (read_roles below) */
    {SEARCHD_ROUTE_ADMIN_RELOAD, "/api/admin/reload", 0, SEARCHD_METHOD_POST, 1,
     SEARCHD_ROLE_ADMIN, searchd_route_admin_reload, NULL},
    {SEARCHD_ROUTE_ME, "/api/me", 0, GET_HEAD, 1, ANY, searchd_route_me, NULL},
    /* Study lists and coaching (issue 19): an agent's own list under /api/me/ (the agent is the
     * token's NAME, so nobody reads or marks another's), any agent's for leads. */
    {SEARCHD_ROUTE_MY_STUDY, "/api/me/study", 0, GET_HEAD, 1, SEARCHD_ROLE_AGENT,
     searchd_route_my_study, NULL},
    {SEARCHD_ROUTE_MY_STUDY, "/api/me/study/", 1, SEARCHD_METHOD_POST, 1, SEARCHD_ROLE_AGENT,
     searchd_route_my_study, NULL},
    {SEARCHD_ROUTE_AGENT_STUDY, "/api/agents/", 1, GET_HEAD, 1, LEADS, searchd_route_agent_study,
     "/study"},
    {SEARCHD_ROUTE_COACHING, "/api/coaching", 0, GET_HEAD | SEARCHD_METHOD_POST, 1, LEADS,
     searchd_route_coaching, NULL},
    {SEARCHD_ROUTE_COACHING_REPORT, "/api/reports/coaching", 0, GET_HEAD, 1, LEADS,
     searchd_route_coaching_report, NULL},
};

/* Routes whose GET and HEAD are for other roles than their writes: agents file help requests
 * but only leads read them back; only admins replace the agents list, leads may read it. */
static const struct {
    searchd_route_id id;
    unsigned roles;
} read_roles[] = {
    {SEARCHD_ROUTE_HELP_REQUESTS, SEARCHD_ROLE_LEAD},
    {SEARCHD_ROUTE_AGENTS, SEARCHD_ROLE_LEAD},
};

unsigned searchd_router_roles(const searchd_route *r, unsigned method) {
    if (method & (SEARCHD_METHOD_GET | SEARCHD_METHOD_HEAD))
        for (size_t i = 0; i < sizeof read_roles / sizeof read_roles[0]; i++)
            if (read_roles[i].id == r->id) return read_roles[i].roles;
    return r->roles;
}

/* The web pages (static.c) carry no token: they hold no data, and the login page must load
 * before anyone has pasted one. Only paths naming an embedded file match; others stay 404. */
static const searchd_route static_files = {SEARCHD_ROUTE_STATIC, "", 1, GET_HEAD, 0, 0,
                                           searchd_route_static, NULL};

/* Unknown paths under /api/ still need a token, so that probing without one learns nothing
 * about which paths exist. */
static const searchd_route unknown_api = {SEARCHD_ROUTE_UNKNOWN, "/api/", 1, 0, 1, ANY,
                                          searchd_route_not_found, NULL};
static const searchd_route unknown = {SEARCHD_ROUTE_UNKNOWN, "", 1, 0, 0, 0,
                                      searchd_route_not_found, NULL};

const searchd_route *searchd_router_match(const char *path, const char **param) {
    *param = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const searchd_route *r = &routes[i];
        if (r->is_prefix) {
            size_t n = strlen(r->path), len = strlen(path);
            if (r->suffix && (len < n + strlen(r->suffix) ||
                              strcmp(path + len - strlen(r->suffix), r->suffix) != 0))
                continue;
            if (strncmp(path, r->path, n) == 0) {
                *param = path + n;
                return r;
            }
        } else if (strcmp(path, r->path) == 0) {
            return r;
        }
    }
    if (strncmp(path, "/api/", 5) == 0) return &unknown_api;
    if (searchd_static_find(path)) {
        *param = path;
        return &static_files;
    }
    return &unknown;
}

const char *searchd_router_name(searchd_route_id id) {
    switch (id) {
    case SEARCHD_ROUTE_HEALTHZ: return "healthz";
    case SEARCHD_ROUTE_METRICS: return "metrics";
    case SEARCHD_ROUTE_SEARCH: return "search";
    case SEARCHD_ROUTE_SUGGEST: return "suggest";
    case SEARCHD_ROUTE_DOCUMENT: return "documents";
    case SEARCHD_ROUTE_FEEDBACK: return "feedback";
    case SEARCHD_ROUTE_HELP_REQUESTS: return "help_requests";
    case SEARCHD_ROUTE_ADMIN_RELOAD: return "admin_reload";
    case SEARCHD_ROUTE_ME: return "me";
    case SEARCHD_ROUTE_STATIC: return "static";
    case SEARCHD_ROUTE_GAPS: return "gaps";
    case SEARCHD_ROUTE_CONTENT_HEALTH: return "content_health";
    case SEARCHD_ROUTE_HELP_REQUEST: return "help_request";
    case SEARCHD_ROUTE_REPORTS: return "reports";
    case SEARCHD_ROUTE_AGENTS: return "agents";
    case SEARCHD_ROUTE_LEARNED: return "learned";
    case SEARCHD_ROUTE_MY_STUDY: return "my_study";
    case SEARCHD_ROUTE_AGENT_STUDY: return "agent_study";
    case SEARCHD_ROUTE_COACHING: return "coaching";
    case SEARCHD_ROUTE_COACHING_REPORT: return "coaching_report";
    default: return "unknown";
    }
}

const char *searchd_router_allow(unsigned methods) {
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    static _Thread_local char out[64];
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (methods & (1u << i)) {
            if (out[0]) strcat(out, ", ");
            strcat(out, names[i]);
        }
    return out;
}
