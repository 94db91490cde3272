/*
 * routes_learned.c — editors manage what a document learned from the people who use it
 * (issue 17; kb/learn.h): GET, POST and DELETE /api/documents/{id}/learned, roles editor and
 * admin (router.c).
 *
 *   GET     every phrasing taught to the document, most recently taught first, removed ones
 *           flagged: teachers, sources, how often, first and last time, pinned, counted.
 *   POST    {"phrasing": "…", "pinned": true|false}: pin (it counts whoever taught it; an
 *           editor's own phrasing is taught by pinning it) or unpin.
 *   DELETE  ?phrasing=…: remove (a tombstone: never learned again, from old or new events).
 *
 * A change is in the searchers' index when the call returns (searchd_learned_refresh_now).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/gaps.h"
#include "kb/learn.h"
#include "learned.h"
#include "log.h"
#include "routes.h"
#include "searchd.h"
#include "store_state.h"
#include "searchers.h"

/* The document id of "ID/learned" into id. -1 after answering 400 when it is not one. */
static int read_id(searchd_request *req, char id[KB_DOC_ID_MAX + 1]) {
    const char *slash = strchr(req->param, '/');
    size_t n = slash ? (size_t)(slash - req->param) : strlen(req->param);
    if (n == 0 || n > KB_DOC_ID_MAX || strcmp(req->param + n, "/learned") != 0) {
        searchd_http_respond_error(req, 400, "bad document id: " KB_DOC_ID_RULE);
        return -1;
    }
    memcpy(id, req->param, n);
    id[n] = '\0';
    if (!searchd_routes_valid_doc_id(id)) {
        searchd_http_respond_error(req, 400, "bad document id: " KB_DOC_ID_RULE);
        return -1;
    }
    return 0;
}

/* 1 when the index holds the document, 0 when not, -1 after answering 503/500. */
static int in_index(searchd_request *req, const char *id) {
    char err[512] = "";
    kb_searcher *s = searchd_searchers_acquire(err, sizeof err);
    if (!s) {
        searchd_log_error("cannot open a searcher: %s", err);
        searchd_http_respond_error(req, 503, "index unavailable, try again shortly");
        return -1;
    }
    kb_document *doc = NULL;
    int rc = kb_searcher_get_document(s, id, &doc);
    kb_searcher_document_free(doc);
    if (rc == KB_OK) return 1;
    if (rc == KB_NOT_FOUND) return 0;
    searchd_log_error("cannot read document %s: %s", id, kb_searcher_errmsg(s));
    searchd_http_respond_error(req, 500, "cannot read the index");
    return -1;
}

static kb_learn *open_learn(searchd_request *req) {
    char err[512] = "";
    if (searchd_store_gate(req) != 0) return NULL;
    kb_learn *l = kb_learn_open(searchd_ctx.data_dir, err, sizeof err);
    if (!l) {
        searchd_log_error("cannot open the learned phrasings: %s", err);
        searchd_http_respond_error(req, 503, "the event store is unavailable, try again shortly");
    }
    return l;
}

static void add_time(cJSON *o, const char *key, int64_t ms) {
    char buf[32];
    kb_gaps_iso_time(ms, buf);
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *phrasing_json(const kb_learned_phrasing *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "phrasing", p->phrasing);
    cJSON_AddStringToObject(o, "text", p->text);
    cJSON_AddNumberToObject(o, "teachers", p->teachers);
    cJSON_AddNumberToObject(o, "strong_teachers", p->strong_teachers);
    cJSON_AddNumberToObject(o, "taught", p->events);
    cJSON *sources = cJSON_AddArrayToObject(o, "sources");
    for (unsigned bit = 1; sources && bit <= KB_LEARN_EDITOR; bit <<= 1)
        if (p->sources & bit) cJSON_AddItemToArray(sources, cJSON_CreateString(kb_learn_source_name(bit)));
    add_time(o, "first_time", p->first_ms);
    add_time(o, "last_time", p->last_ms);
    cJSON_AddBoolToObject(o, "pinned", p->pinned != 0);
    cJSON_AddBoolToObject(o, "removed", p->removed != 0);
    cJSON_AddBoolToObject(o, "counted", p->counted != 0);
    return o;
}

/* kb_learn's status as an HTTP answer. */
static void respond_learn_error(searchd_request *req, kb_learn *l, int rc) {
    switch (rc) {
    case KB_INVALID: searchd_http_respond_error(req, 400, "%s", kb_learn_errmsg(l)); break;
    case KB_NOT_FOUND: searchd_http_respond_error(req, 404, "%s", kb_learn_errmsg(l)); break;
    case KB_CONFLICT: searchd_http_respond_error(req, 409, "%s", kb_learn_errmsg(l)); break;
    default:
        searchd_log_error("learned phrasings: %s", kb_learn_errmsg(l));
        searchd_store_respond_failure(req, rc, "cannot read or change the learned phrasings");
    }
}

static void list_learned(searchd_request *req, kb_learn *l, const char *id, int indexed) {
    kb_learned_list list;
    int rc = kb_learn_of_document(l, id, &list);
    if (rc != KB_OK) {
        respond_learn_error(req, l, rc);
        return;
    }
    if (!indexed && list.n == 0) {
        kb_learned_list_free(&list);
        searchd_http_respond_error(req, 404, "no document with id %s", id);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "doc_id", id);
    cJSON_AddBoolToObject(root, "in_index", indexed != 0);
    cJSON *items = cJSON_AddArrayToObject(root, "phrasings");
    for (size_t i = 0; items && i < list.n; i++) cJSON_AddItemToArray(items, phrasing_json(&list.items[i]));
    kb_learned_list_free(&list);
    searchd_http_respond_json(req, 200, root);
}

/* The changed phrasing, after the searchers got the change. */
static void respond_changed(searchd_request *req, kb_learn *l, const char *id, const char *phrasing) {
    searchd_learned_refresh_now();
    char *key = kb_learn_normalize(l, phrasing);
    kb_learned_phrasing p;
    int rc = key ? kb_learn_get(l, id, key, &p) : KB_ERROR;
    free(key);
    if (rc != KB_OK) {
        respond_learn_error(req, l, rc);
        return;
    }
    searchd_http_respond_json(req, 200, phrasing_json(&p));
    kb_learned_phrasing_free(&p);
}

static void pin_learned(searchd_request *req, kb_learn *l, const char *id) {
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const char *phrasing;
    if (searchd_http_body_string(req, body, "phrasing", 1, KB_LEARN_MAX_PHRASING, &phrasing)) {
        cJSON_Delete(body);
        return;
    }
    const cJSON *pinned = cJSON_GetObjectItemCaseSensitive(body, "pinned");
    if (!cJSON_IsBool(pinned)) {
        cJSON_Delete(body);
        searchd_http_respond_error(req, 400, "pinned is required: true to pin the phrasing, false "
                                             "to unpin it (DELETE removes it)");
        return;
    }
    int rc = kb_learn_pin(l, id, phrasing, cJSON_IsTrue(pinned), req->identity.name,
                          searchd_auth_role_name(req->identity.role), searchd_now_unix_ms());
    if (rc == KB_OK) respond_changed(req, l, id, phrasing);
    else respond_learn_error(req, l, rc);
    cJSON_Delete(body);
}

static void remove_learned(searchd_request *req, kb_learn *l, const char *id) {
    size_t len = 0;
    const char *phrasing = searchd_http_arg(req, "phrasing", &len);
    if (!phrasing || kb_text_is_blank(phrasing)) {
        searchd_http_respond_error(req, 400, "phrasing is required: DELETE "
                                             "/api/documents/ID/learned?phrasing=TEXT");
        return;
    }
    if (len > KB_LEARN_MAX_PHRASING) {
        searchd_http_respond_error(req, 400, "phrasing too long: at most %d bytes", KB_LEARN_MAX_PHRASING);
        return;
    }
    int rc = kb_learn_remove(l, id, phrasing, req->identity.name, searchd_now_unix_ms());
    if (rc == KB_OK) respond_changed(req, l, id, phrasing);
    else respond_learn_error(req, l, rc);
}

void searchd_route_learned(searchd_request *req) {
    char id[KB_DOC_ID_MAX + 1];
    if (read_id(req, id) != 0) return;
    int indexed = in_index(req, id);
    if (indexed < 0) return;
    if (!indexed && req->method == SEARCHD_METHOD_POST) {
        /* pinning teaches: only a document of the index may learn */
        searchd_http_respond_error(req, 404, "no document with id %s", id);
        return;
    }
    kb_learn *l = open_learn(req);
    if (!l) return;
    if (req->method == SEARCHD_METHOD_POST) pin_learned(req, l, id);
    else if (req->method == SEARCHD_METHOD_DELETE) remove_learned(req, l, id);
    else list_learned(req, l, id, indexed);
    kb_learn_close(l);
}
