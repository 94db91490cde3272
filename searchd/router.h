/*
 * router.h — the table of endpoints: path, methods, roles, handler.
 *
 * Keeping every endpoint in one table makes the security rules reviewable in one place (who may
 * call what) and lets http.c answer 401/403/404/405 uniformly before any handler runs.
 */
#ifndef SEARCHD_ROUTER_H
#define SEARCHD_ROUTER_H

#include "auth.h"

typedef enum {
    SEARCHD_ROUTE_HEALTHZ,
    SEARCHD_ROUTE_METRICS,
    SEARCHD_ROUTE_SEARCH,
    SEARCHD_ROUTE_SUGGEST,
    SEARCHD_ROUTE_DOCUMENT,
    SEARCHD_ROUTE_FEEDBACK,
    SEARCHD_ROUTE_HELP_REQUESTS,
    SEARCHD_ROUTE_ADMIN_RELOAD,
    SEARCHD_ROUTE_ME,
    SEARCHD_ROUTE_STATIC,  /* the web pages and their assets (static.c) */
    SEARCHD_ROUTE_GAPS,           /* the editors' queue and its items (routes_gaps.c) */
    SEARCHD_ROUTE_CONTENT_HEALTH,
    SEARCHD_ROUTE_HELP_REQUEST,   /* one help request and its review (routes_review.c) */
    SEARCHD_ROUTE_REPORTS,
    SEARCHD_ROUTE_AGENTS,
    SEARCHD_ROUTE_LEARNED,        /* a document's learned phrasings (routes_learned.c) */
    SEARCHD_ROUTE_MY_STUDY,       /* the caller's study list (routes_coaching.c) */
    SEARCHD_ROUTE_AGENT_STUDY,    /* an agent's study list, for leads */
    SEARCHD_ROUTE_COACHING,       /* coaching sessions */
    SEARCHD_ROUTE_COACHING_REPORT,
    SEARCHD_ROUTE_UNKNOWN, /* no such path: 404 */
    SEARCHD_ROUTE_COUNT
} searchd_route_id;

/* Methods as bits, for the Allow header. */
enum { SEARCHD_METHOD_GET = 1, SEARCHD_METHOD_HEAD = 2, SEARCHD_METHOD_POST = 4, SEARCHD_METHOD_PUT = 8,
       SEARCHD_METHOD_DELETE = 16 };

struct searchd_request;
typedef void (*searchd_handler)(struct searchd_request *req);

typedef struct {
    searchd_route_id id;
    const char *path;      /* exact path, or the prefix when is_prefix */
    int is_prefix;         /* the rest of the path is the handler's parameter */
    unsigned methods;      /* SEARCHD_METHOD_* bits */
    int needs_token;       /* every /api/ route */
    unsigned roles;        /* searchd_role bits that may call it (admin is always added) */
    searchd_handler handler;
    const char *suffix;    /* a prefix route matches only paths ending so (NULL: any) */
} searchd_route;

/* The route for a path (never NULL: unknown paths get the SEARCHD_ROUTE_UNKNOWN entry).
 * *param receives the part after a prefix route's path ("" otherwise). */
const searchd_route *searchd_router_match(const char *path, const char **param);

/* Label of a route in metrics and logs ("search", "help_requests", ...). */
const char *searchd_router_name(searchd_route_id id);

/* The roles that may call a route with this method: its roles, except for the few routes whose
 * GET and HEAD are for other roles than their writes (router.c). Admin is added by the caller. */
unsigned searchd_router_roles(const searchd_route *r, unsigned method);

/* "GET, HEAD" etc. for an Allow header. */
const char *searchd_router_allow(unsigned methods);

/* Handlers (routes_*.c, http.c). */
void searchd_route_healthz(struct searchd_request *req);
void searchd_route_metrics(struct searchd_request *req);
void searchd_route_search(struct searchd_request *req);
void searchd_route_suggest(struct searchd_request *req);
void searchd_route_document(struct searchd_request *req);
void searchd_route_feedback(struct searchd_request *req);
void searchd_route_help_requests(struct searchd_request *req);
void searchd_route_admin_reload(struct searchd_request *req);
void searchd_route_me(struct searchd_request *req);
void searchd_route_static(struct searchd_request *req);
void searchd_route_not_found(struct searchd_request *req);
/* Editors' and leads' endpoints (routes_gaps.c, routes_review.c). */
void searchd_route_gaps(struct searchd_request *req);
void searchd_route_gap_item(struct searchd_request *req);
void searchd_route_content_health(struct searchd_request *req);
void searchd_route_help_requests_any(struct searchd_request *req);
void searchd_route_help_request_item(struct searchd_request *req);
void searchd_route_reports(struct searchd_request *req);
/* Editors' view of what documents learned (routes_learned.c). */
void searchd_route_learned(struct searchd_request *req);
void searchd_route_agents(struct searchd_request *req);
void searchd_route_my_study(struct searchd_request *req);
void searchd_route_agent_study(struct searchd_request *req);
void searchd_route_coaching(struct searchd_request *req);
void searchd_route_coaching_report(struct searchd_request *req);

#endif
