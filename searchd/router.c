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

static const searchd_route routes[] = {
    {SEARCHD_ROUTE_HEALTHZ, "/healthz", 0, GET_HEAD, 0, 0, searchd_route_healthz},
    {SEARCHD_ROUTE_METRICS, "/metrics", 0, GET_HEAD, 0, 0, searchd_route_metrics},
    {SEARCHD_ROUTE_SEARCH, "/api/search", 0, GET_HEAD, 1, ANY, searchd_route_search},
    {SEARCHD_ROUTE_SUGGEST, "/api/suggest", 0, GET_HEAD, 1, ANY, searchd_route_suggest},
    {SEARCHD_ROUTE_DOCUMENT, "/api/documents/", 1, GET_HEAD, 1, ANY, searchd_route_document},
    {SEARCHD_ROUTE_FEEDBACK, "/api/feedback", 0, SEARCHD_METHOD_POST, 1, FILERS,
     searchd_route_feedback},
    {SEARCHD_ROUTE_HELP_REQUESTS, "/api/help-requests", 0, SEARCHD_METHOD_POST, 1, FILERS,
     searchd_route_help_requests},
    {SEARCHD_ROUTE_ADMIN_RELOAD, "/api/admin/reload", 0, SEARCHD_METHOD_POST, 1,
     SEARCHD_ROLE_ADMIN, searchd_route_admin_reload},
    {SEARCHD_ROUTE_ME, "/api/me", 0, GET_HEAD, 1, ANY, searchd_route_me},
};

/* The web pages (static.c) carry no token: they hold no data, and the login page must load
 * before anyone has pasted one. Only paths naming an embedded file match; others stay 404. */
static const searchd_route static_files = {SEARCHD_ROUTE_STATIC, "", 1, GET_HEAD, 0, 0,
                                           searchd_route_static};

/* Unknown paths under /api/ still need a token, so that probing without one learns nothing
 * about which paths exist. */
static const searchd_route unknown_api = {SEARCHD_ROUTE_UNKNOWN, "/api/", 1, 0, 1, ANY,
                                          searchd_route_not_found};
static const searchd_route unknown = {SEARCHD_ROUTE_UNKNOWN, "", 1, 0, 0, 0,
                                      searchd_route_not_found};

const searchd_route *searchd_router_match(const char *path, const char **param) {
    *param = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const searchd_route *r = &routes[i];
        if (r->is_prefix) {
            size_t n = strlen(r->path);
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
    default: return "unknown";
    }
}

const char *searchd_router_allow(unsigned methods) {
    if (methods == SEARCHD_METHOD_POST) return "POST";
    if (methods == GET_HEAD) return "GET, HEAD";
    if (methods == SEARCHD_METHOD_GET) return "GET";
    return "GET, HEAD, POST";
}
