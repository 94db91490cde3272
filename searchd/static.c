/*
 * static.c — serves the web pages compiled into the binary, and GET /api/me, the one call the
 * pages need to learn who is logged in.
 *
 * Pages and assets come from the generated table in $(BUILD)/gen/web_assets.c (see static.h):
 * a path is looked up by exact name, so nothing a client sends can reach the file system.
 *
 * Headers. Every page and asset carries a strict Content-Security-Policy (scripts and styles
 * only from this origin, no inline code, no plugins, no framing, forms only to this origin),
 * X-Frame-Options DENY, Referrer-Policy no-referrer and nosniff: the pages show text written by
 * editors and typed by agents, and the policy is the second line of defence should a page ever
 * mishandle it. Assets hold no customer data, so they are cacheable but always revalidated
 * ("no-cache" with a strong ETag, 304 when unchanged): a new binary's pages show at once, and a
 * revalidation costs one small round trip.
 *
 * GET /api/me also says the caller's team from the agents list: the agents' page shows the
 * 应知应会 badge of a team's must-know document only to that team's agents.
 */
#include "static.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_known.h"
#include "http.h"
#include "router.h"

/* Trusted Types ('script' sinks need a policy, and none may be made) make the browser itself
 * refuse innerHTML, document.write and string-built scripts: the pages build text nodes only. */
#define CSP                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "        \
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "        \
    "require-trusted-types-for 'script'; trusted-types 'none'"

#define ETAG_LEN 19 /* '"' + 16 hex digits + '"' + NUL */

static char (*etags)[ETAG_LEN];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

/* A strong ETag per asset: FNV-1a 64 of its bytes, computed once on first use. */
static void compute_etags(void) {
    etags = calloc(searchd_web_assets_count ? searchd_web_assets_count : 1, sizeof *etags);
    if (!etags) return;
    for (size_t i = 0; i < searchd_web_assets_count; i++) {
        uint64_t h = 1469598103934665603ULL;
        for (size_t j = 0; j < searchd_web_assets[i].len; j++)
            h = (h ^ searchd_web_assets[i].data[j]) * 1099511628211ULL;
        snprintf(etags[i], ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
    }
}

static const searchd_web_asset *by_name(const char *name, size_t n) {
    /* A handful of files: a linear scan costs less than anything cleverer. */
    for (size_t i = 0; i < searchd_web_assets_count; i++) {
        const char *a = searchd_web_assets[i].name;
        if (strlen(a) == n && memcmp(a, name, n) == 0) return &searchd_web_assets[i];
    }
    return NULL;
}

const searchd_web_asset *searchd_static_find(const char *path) {
    if (strcmp(path, "/") == 0) return by_name("index.html", 10);
    if (strncmp(path, "/static/", 8) == 0) {
        const char *name = path + 8;
        return *name ? by_name(name, strlen(name)) : NULL;
    }
    /* "/agent" -> "agent.html": pages at the top level, names without dots or slashes. */
    const char *name = path + 1;
    size_t n = strlen(name);
    if (path[0] != '/' || n == 0 || n > 64 || strpbrk(name, "./")) return NULL;
    char file[80];
    snprintf(file, sizeof file, "%s.html", name);
    return by_name(file, n + 5);
}

static const char *content_type(const char *name) {
    const char *dot = strrchr(name, '.');
    const char *ext = dot ? dot + 1 : "";
    if (!strcmp(ext, "html")) return "text/html; charset=utf-8";
    if (!strcmp(ext, "css")) return "text/css; charset=utf-8";
    if (!strcmp(ext, "js") || !strcmp(ext, "mjs")) return "text/javascript; charset=utf-8";
    if (!strcmp(ext, "json") || !strcmp(ext, "map")) return "application/json; charset=utf-8";
    if (!strcmp(ext, "svg")) return "image/svg+xml";
    if (!strcmp(ext, "png")) return "image/png";
    if (!strcmp(ext, "ico")) return "image/x-icon";
    if (!strcmp(ext, "txt") || !strcmp(ext, "md")) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* Does an If-None-Match header list this ETag (or "*")? */
static int etag_matches(const char *header, const char *etag) {
    if (!header) return 0;
    if (strcmp(header, "*") == 0) return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ' || after == '\t') return 1;
    }
    return 0;
}

void searchd_route_static(searchd_request *req) {
    const searchd_web_asset *a = searchd_static_find(req->param);
    if (!a) { /* the router only sends known paths here */
        searchd_route_not_found(req);
        return;
    }
    pthread_once(&etags_once, compute_etags);
    const char *etag = etags ? etags[a - searchd_web_assets] : NULL;
    const char *headers[] = {
        "Cache-Control", "no-cache",
        "Content-Security-Policy", CSP,
        "X-Frame-Options", "DENY",
        "Referrer-Policy", "no-referrer",
        "Cross-Origin-Opener-Policy", "same-origin",
        etag ? "ETag" : NULL, etag,
        NULL,
    };
    if (etag && etag_matches(searchd_http_header(req, "If-None-Match"), etag)) {
        searchd_http_respond_static(req, 304, NULL, "", 0, headers);
        return;
    }
    searchd_http_respond_static(req, 200, content_type(a->name), a->data, a->len, headers);
}

/* GET /api/me: who the token belongs to, so the pages show only what the role may see (the API
 * checks the role again on every call), and the token NAME's team in the agents list (null: no
 * list, not listed, listed without a team).
 *
 * When the list cannot be read at all (the event store's database away and no list ever read
 * by this node, or a failed read, logged) the team is null too, not an error: a page that could
 * not load would stop the agents' searches, which work without the store; the page then shows
 * only the every-team badges, as for an agent without a team. */
void searchd_route_me(searchd_request *req) {
    int listed, have_list;
    char *team = NULL;
    if (searchd_agents_lookup(req->identity.name, &listed, &have_list, &team) != 0) team = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", req->identity.name);
    cJSON_AddStringToObject(o, "role", searchd_auth_role_name(req->identity.role));
    if (team && team[0]) cJSON_AddStringToObject(o, "team", team);
    else cJSON_AddNullToObject(o, "team");
    free(team);
    searchd_http_respond_json(req, 200, o);
}
