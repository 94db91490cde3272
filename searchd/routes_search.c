/*
 * routes_search.c — what agents call during a live call: search, suggest, open a document,
 * and say whether a result helped (feedback).
 *
 * Every search gets a random 128-bit id and is queued to the event store under the caller's
 * token NAME (the store redacts the query before writing it); feedback refers to that id. The
 * suggest endpoint runs the same search with a small limit but logs nothing: as-you-type
 * prefixes are not questions and would flood the editors' queue of unanswered searches.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "document_json.h"
#include "kb/analyzer.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "searchd.h"
#include "searchers.h"

#define SEARCH_DEFAULT_LIMIT 10
#define SUGGEST_DEFAULT_LIMIT 8
#define SUGGEST_MAX_LIMIT 20
#define SEARCH_MAX_CATEGORIES 16
#define SEARCH_ID_MAX_BYTES 64

/* ---------------------------------------------------------------- shared helpers */

int searchd_routes_valid_doc_id(const char *id) { return kb_document_id_is_valid(id, strlen(id)); }

/* This thread's searcher, or NULL after logging why and answering 503. */
static kb_searcher *searcher_or_503(searchd_request *req) {
    char err[512] = "";
    kb_searcher *s = searchd_searchers_acquire(err, sizeof err);
    if (!s) {
        searchd_log_error("cannot open a searcher: %s", err);
        searchd_http_respond_error(req, 503, "index unavailable, try again shortly");
    }
    return s;
}

/* The document with this id from this thread's searcher, once more after the searcher recovers
 * when the index moved on under it. KB_OK (*doc set), KB_NOT_FOUND or KB_ERROR. */
static int get_document(kb_searcher *s, const char *id, kb_document **doc) {
    int rc = kb_searcher_get_document(s, id, doc);
    if (rc != KB_OK && rc != KB_NOT_FOUND) {
        searchd_searchers_recover();
        rc = kb_searcher_get_document(s, id, doc);
    }
    return rc;
}

int searchd_routes_check_document(searchd_request *req, const char *field, const char *id) {
    kb_document *doc = NULL;
    int rc = searchd_routes_fetch_document(req, field, id, &doc);
    kb_searcher_document_free(doc);
    return rc;
}

int searchd_routes_fetch_document(searchd_request *req, const char *field, const char *id,
                                  kb_document **out) {
    *out = NULL;
    if (!searchd_routes_valid_doc_id(id)) {
        searchd_http_respond_error(req, 400, "%s is not a document id: " KB_DOC_ID_RULE, field);
        return -1;
    }
    kb_searcher *s = searcher_or_503(req);
    if (!s) return -1;
    kb_document *doc = NULL;
    int rc = get_document(s, id, &doc);
    if (rc != KB_OK) kb_searcher_document_free(doc);
    if (rc == KB_NOT_FOUND) {
        searchd_http_respond_error(req, 400, "no document with id %s in the index: %s must name "
                                             "a document of the knowledge base", id, field);
        return -1;
    }
    if (rc != KB_OK) {
        /* Not the id: it is the client's, and id-shaped text may be a customer's number. */
        searchd_log_error("cannot read a document to check %s: %s", field, kb_searcher_errmsg(s));
        searchd_http_respond_error(req, 500, "cannot read the index");
        return -1;
    }
    *out = doc;
    return 0;
}

void searchd_routes_new_search_id(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)n;
    }
    if (got < sizeof raw) { /* no getrandom (old kernel): the device gives the same bytes */
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, raw, sizeof raw);
            (void)n;
            close(fd);
        }
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

double searchd_routes_round(double v, int decimals) {
    if (!isfinite(v)) return 0;
    double scale = pow(10, decimals);
    return round(v * scale) / scale;
}

int searchd_routes_run_search(searchd_request *req, const kb_search_request *sreq,
                              kb_search_result *res) {
    kb_searcher *s = searcher_or_503(req);
    if (!s) return -1;
    memset(res, 0, sizeof *res);
    if (kb_search(s, sreq, res) == KB_OK) return 0;
    /* Most likely the index moved on twice under this searcher: refresh and try once more. */
    searchd_searchers_recover();
    memset(res, 0, sizeof *res);
    if (kb_search(s, sreq, res) == KB_OK) return 0;
    searchd_metrics_count_search_error();
    searchd_log_error("search failed: %s", kb_searcher_errmsg(s));
    searchd_http_respond_error(req, 500, "search failed");
    return -1;
}

/* Parse a whole non-negative number no larger than max; -1 when not one. */
static long parse_count(const char *text, long max) {
    if (!text || !*text) return -1;
    long v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > max) return -1;
    }
    return v;
}

/* The q argument: 0 and *q set; 1 when blank (caller decides); -1 after answering 400. */
static int read_q(searchd_request *req, const char **q) {
    size_t len = 0;
    *q = searchd_http_arg(req, "q", &len);
    if (!*q) {
        searchd_http_respond_error(req, 400, "q is required");
        return -1;
    }
    if (len > KB_SEARCH_MAX_QUERY_BYTES) {
        searchd_http_respond_error(req, 400, "query too long: at most %d bytes",
                                   KB_SEARCH_MAX_QUERY_BYTES);
        return -1;
    }
    return kb_text_is_blank(*q) ? 1 : 0;
}

/* limit: default when absent, 1..max otherwise. -1 after answering 400. */
static long read_limit(searchd_request *req, long fallback, long max) {
    const char *text = searchd_http_arg(req, "limit", NULL);
    if (!text) return fallback;
    long v = parse_count(text, max);
    if (v < 1) {
        searchd_http_respond_error(req, 400, "limit must be a whole number from 1 to %ld", max);
        return -1;
    }
    return v;
}


static cJSON *string_or_null(const char *s) {
    return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* ---------------------------------------------------------------- GET /api/search */

/* Why a hit ranked (explain=1): score = bm25 × structure_boost + learned. */
static cJSON *explain_json(const kb_hit_explain *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "bm25", searchd_routes_round(e->bm25, 4));
    cJSON_AddNumberToObject(o, "learned", searchd_routes_round(e->learned, 4));
    cJSON_AddNumberToObject(o, "learned_similarity", searchd_routes_round(e->learned_sim, 4));
    cJSON_AddItemToObject(o, "learned_phrasing", string_or_null(e->learned_phrasing));
    cJSON_AddNumberToObject(o, "structure_boost", searchd_routes_round(e->structure_boost, 4));
    return o;
}

static cJSON *hit_json(const kb_hit *h, int explain) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", h->id ? h->id : "");
    cJSON_AddStringToObject(o, "title", h->title ? h->title : "");
    cJSON_AddNumberToObject(o, "score", searchd_routes_round(h->score, 4));
    cJSON_AddStringToObject(o, "snippet", h->snippet ? h->snippet : "");
    cJSON_AddStringToObject(o, "section_id", h->section_id ? h->section_id : "");
    cJSON_AddStringToObject(o, "section_title", h->section_title ? h->section_title : "");
    cJSON *cats = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; cats && i < h->n_categories; i++)
        cJSON_AddItemToArray(cats, cJSON_CreateString(h->categories[i] ? h->categories[i] : ""));
    cJSON_AddItemToObject(o, "updated", string_or_null(h->updated));
    cJSON_AddItemToObject(o, "valid_until", string_or_null(h->valid_until));
    cJSON_AddBoolToObject(o, "expired", h->expired != 0);
    cJSON_AddBoolToObject(o, "good_match", h->good != 0);
    searchd_must_know_json(o, h->must_know, h->must_know_teams, h->n_must_know_teams);
    if (explain) cJSON_AddItemToObject(o, "explain", explain_json(&h->explain));
    return o;
}

/* A blank question is not an error (a query never fails on odd input) but it asks nothing: no
 * hits, unresolved, and nothing logged, so it never reaches the editors' queue of unanswered
 * questions. */
static void respond_blank_search(searchd_request *req) {
    char search_id[33];
    searchd_routes_new_search_id(search_id);
    cJSON *root = cJSON_CreateObject();
    if (root) {
        cJSON_AddStringToObject(root, "search_id", search_id);
        cJSON_AddNumberToObject(root, "took_ms", 0);
        cJSON_AddBoolToObject(root, "unresolved", 1);
        cJSON_AddNumberToObject(root, "confidence", 0);
        cJSON_AddNumberToObject(root, "total", 0);
        cJSON_AddNumberToObject(root, "good_matches", 0);
        cJSON_AddArrayToObject(root, "hits");
    }
    searchd_http_respond_json(req, 200, root);
}

/* The category arguments into categories[] (empty ones from a form skipped), at most
 * SEARCH_MAX_CATEGORIES. Their count, or -1 after answering 400. */
static long read_categories(searchd_request *req, const char **categories) {
    size_t n_found = searchd_http_args(req, "category", categories, SEARCH_MAX_CATEGORIES + 1);
    if (n_found > SEARCH_MAX_CATEGORIES) {
        searchd_http_respond_error(req, 400, "at most %d category arguments",
                                   SEARCH_MAX_CATEGORIES);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_found; i++) {
        if (!categories[i][0]) continue; /* category= from an empty form field */
        if (strlen(categories[i]) > KB_CATEGORY_MAX) {
            searchd_http_respond_error(req, 400, "category too long: at most %d bytes",
                                       KB_CATEGORY_MAX);
            return -1;
        }
        categories[n++] = categories[i];
    }
    return (long)n;
}

/* include_expired: 1/true/yes or 0/false/no/empty. 0 or 1, or -1 after answering 400. */
static int read_include_expired(searchd_request *req) {
    const char *text = searchd_http_arg(req, "include_expired", NULL);
    if (!text || !*text) return 0;
    if (!strcmp(text, "1") || !strcmp(text, "true") || !strcmp(text, "yes")) return 1;
    if (!strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no")) return 0;
    searchd_http_respond_error(req, 400, "include_expired must be 1 or 0");
    return -1;
}

/* explain: 1/true/yes or 0/false/no/empty; for editors and admins, who tune the knowledge base
 * (it shows the phrasings agents taught). 0 or 1, or -1 after answering 400 or 403. */
static int read_explain(searchd_request *req) {
    const char *text = searchd_http_arg(req, "explain", NULL);
    if (!text || !*text || !strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no"))
        return 0;
    if (strcmp(text, "1") && strcmp(text, "true") && strcmp(text, "yes")) {
        searchd_http_respond_error(req, 400, "explain must be 1 or 0");
        return -1;
    }
    if (!(req->identity.role & (SEARCHD_ROLE_EDITOR | SEARCHD_ROLE_ADMIN))) {
        searchd_http_respond_error(req, 403, "explain=1 is for the roles editor and admin; role %s "
                                             "may search without it",
                                   searchd_auth_role_name(req->identity.role));
        return -1;
    }
    return 1;
}

/* The search's answer: {search_id, took_ms, unresolved, confidence, total, good_matches,
 * hits}. */
static cJSON *search_json(const char *search_id, const kb_search_result *res, int explain) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "search_id", search_id);
    cJSON_AddNumberToObject(root, "took_ms", searchd_routes_round(res->took_ms, 3));
    cJSON_AddBoolToObject(root, "unresolved", res->unresolved != 0);
    cJSON_AddNumberToObject(root, "confidence", searchd_routes_round(res->confidence, 4));
    cJSON_AddNumberToObject(root, "total", res->total_estimated);
    cJSON_AddNumberToObject(root, "good_matches", res->good_matches);
    cJSON *hits = cJSON_AddArrayToObject(root, "hits");
    for (size_t i = 0; hits && i < res->n_hits; i++)
        cJSON_AddItemToArray(hits, hit_json(&res->hits[i], explain));
    return root;
}

/* Queued, not written: a full queue drops the event (counted) rather than slow the agent. */
static void log_search(searchd_request *req, const char *search_id, const char *q,
                       const kb_search_result *res) {
    const char *top_ids[10];
    size_t n_top = 0;
    for (size_t i = 0; i < res->n_hits && n_top < 10; i++)
        if (res->hits[i].id) top_ids[n_top++] = res->hits[i].id;
    kb_search_event ev = {
        .search_id = search_id,
        .agent = req->identity.name,
        .query = q,
        .time_ms = searchd_now_unix_ms(),
        .top_ids = top_ids,
        .n_top = n_top,
        .confidence = res->confidence,
        .unresolved = res->unresolved,
        .took_ms = res->took_ms,
    };
    kb_store_log_search(searchd_ctx.store, &ev);
}

void searchd_route_search(searchd_request *req) {
    const char *q;
    int blank = read_q(req, &q);
    if (blank < 0) return;
    if (blank) {
        respond_blank_search(req);
        return;
    }
    long limit = read_limit(req, SEARCH_DEFAULT_LIMIT, KB_SEARCH_MAX_LIMIT);
    if (limit < 0) return;
    long offset = 0;
    const char *offset_text = searchd_http_arg(req, "offset", NULL);
    if (offset_text && (offset = parse_count(offset_text, KB_SEARCH_MAX_OFFSET)) < 0) {
        searchd_http_respond_error(req, 400, "offset must be a whole number from 0 to %d",
                                   KB_SEARCH_MAX_OFFSET);
        return;
    }
    const char *categories[SEARCH_MAX_CATEGORIES + 1];
    long n_categories = read_categories(req, categories);
    if (n_categories < 0) return;
    int include_expired = read_include_expired(req);
    if (include_expired < 0) return;
    int explain = read_explain(req);
    if (explain < 0) return;

    kb_search_request sreq = {
        .text = q,
        .offset = (uint32_t)offset,
        .limit = (uint32_t)limit,
        .categories = n_categories ? categories : NULL,
        .n_categories = (size_t)n_categories,
        .include_expired = include_expired,
        .today = NULL,
        .explain = explain,
    };
    kb_search_result res;
    if (searchd_routes_run_search(req, &sreq, &res) != 0) return;
    char search_id[33];
    searchd_routes_new_search_id(search_id);
    cJSON *root = search_json(search_id, &res, explain);
    /* A HEAD answers as GET without the body (HTTP): its client never sees the search_id, so it
     * is no search an agent made. Logged, it would count in the reports and could reach the
     * editors' queue of unanswered questions; it is neither logged nor counted. */
    int head = req->method == SEARCHD_METHOD_HEAD;
    if (!head) log_search(req, search_id, q, &res);
    int unresolved = res.unresolved;
    kb_search_result_free(&res);
    searchd_http_respond_json(req, 200, root);
    if (!head) searchd_metrics_observe_search(searchd_now_mono_ms() - req->start_ms, unresolved);
}

/* ---------------------------------------------------------------- GET /api/suggest */

void searchd_route_suggest(searchd_request *req) {
    const char *q;
    int blank = read_q(req, &q);
    if (blank < 0) return;
    long limit = read_limit(req, SUGGEST_DEFAULT_LIMIT, SUGGEST_MAX_LIMIT);
    if (limit < 0) return;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = root ? cJSON_AddArrayToObject(root, "suggestions") : NULL;
    if (!blank) { /* an emptied search box simply has no suggestions */
        kb_search_request sreq = {.text = q, .limit = (uint32_t)limit};
        kb_search_result res;
        if (searchd_routes_run_search(req, &sreq, &res) != 0) {
            cJSON_Delete(root);
            return;
        }
        for (size_t i = 0; list && i < res.n_hits; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", res.hits[i].id ? res.hits[i].id : "");
            cJSON_AddStringToObject(o, "title", res.hits[i].title ? res.hits[i].title : "");
            cJSON_AddItemToArray(list, o);
        }
        kb_search_result_free(&res);
    }
    searchd_http_respond_json(req, 200, root);
}

/* ---------------------------------------------------------------- GET /api/documents/{id} */

void searchd_route_document(searchd_request *req) {
    const char *id = req->param;
    /* The id rule also rejects "../", "%2F" (decoded to "/") and every other path trick. */
    if (!searchd_routes_valid_doc_id(id)) {
        searchd_http_respond_error(req, 400, "bad document id: " KB_DOC_ID_RULE);
        return;
    }
    kb_searcher *s = searcher_or_503(req);
    if (!s) return;
    kb_document *doc = NULL;
    int rc = get_document(s, id, &doc);
    if (rc == KB_NOT_FOUND) {
        searchd_http_respond_error(req, 404, "no document with id %s", id);
        return;
    }
    if (rc != KB_OK) {
        /* The id helps the operator; every log line is redacted (log.c), so an id shaped like a
         * customer's number is logged as its placeholder. */
        searchd_log_error("cannot read document %s: %s", id, kb_searcher_errmsg(s));
        searchd_http_respond_error(req, 500, "cannot read the document");
        return;
    }
    char *json = searchd_document_json(doc);
    kb_searcher_document_free(doc);
    if (!json) {
        searchd_http_respond_error(req, 500, "out of memory");
        return;
    }
    searchd_http_respond_json_text(req, 200, json, strlen(json));
}

/* ---------------------------------------------------------------- POST /api/feedback */

static int valid_search_id(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
            return 0;
    }
    return n > 0 && n <= SEARCH_ID_MAX_BYTES;
}

void searchd_route_feedback(searchd_request *req) {
    cJSON *body = searchd_http_body_object(req);
    if (!body) return;
    const char *search_id, *kind_text, *doc_id;
    if (searchd_http_body_string(req, body, "search_id", 1, SEARCH_ID_MAX_BYTES, &search_id) ||
        searchd_http_body_string(req, body, "kind", 1, 32, &kind_text) ||
        searchd_http_body_string(req, body, "doc_id", 0, KB_DOC_ID_MAX, &doc_id)) {
        cJSON_Delete(body);
        return;
    }
    kb_feedback_kind kind;
    if (strcmp(kind_text, "click") == 0) kind = KB_FEEDBACK_CLICK;
    else if (strcmp(kind_text, "helpful") == 0) kind = KB_FEEDBACK_HELPFUL;
    else if (strcmp(kind_text, "not_found") == 0) kind = KB_FEEDBACK_NOT_FOUND;
    else {
        cJSON_Delete(body);
        searchd_http_respond_error(req, 400, "kind must be one of click, helpful, not_found");
        return;
    }
    if (!valid_search_id(search_id)) {
        cJSON_Delete(body);
        searchd_http_respond_error(req, 400, "search_id is not a search id from /api/search");
        return;
    }
    if (!doc_id && kind != KB_FEEDBACK_NOT_FOUND) {
        searchd_http_respond_error(req, 400, "doc_id is required for kind %s", kind_text);
        cJSON_Delete(body); /* kind_text points into it */
        return;
    }
    /* Any document of the index, not only the search's hits (the agent may have found the
     * answer by other means); but a document: nothing else may reach the store. */
    if (doc_id && searchd_routes_check_document(req, "doc_id", doc_id) != 0) {
        cJSON_Delete(body);
        return;
    }
    /* helpful and click teach: the search's question becomes a phrasing of doc_id (kb/learn.h
     * decides whether it counts, by the teachers and their roles). */
    int rc = kb_store_log_feedback_as(searchd_ctx.store, search_id, req->identity.name,
                                      searchd_auth_role_name(req->identity.role), kind, doc_id,
                                      searchd_now_unix_ms());
    if (rc == KB_NOT_FOUND) {
        searchd_http_respond_error(req, 404, "unknown search_id");
    } else if (rc != KB_OK && rc != KB_DUPLICATE) {
        searchd_log_error("cannot store feedback: %s", kb_store_errmsg(searchd_ctx.store));
        searchd_http_respond_error(req, 500, "cannot store the feedback, try again");
    } else {
        /* A repeat is stored already: the same success (a client retrying after a lost answer
         * must not see an error), marked, and counted once like the event itself. */
        if (rc == KB_OK) searchd_metrics_count_feedback(kind_text);
        cJSON *ok = cJSON_CreateObject();
        cJSON_AddBoolToObject(ok, "ok", 1);
        if (rc == KB_DUPLICATE) cJSON_AddBoolToObject(ok, "duplicate", 1);
        searchd_http_respond_json(req, 201, ok);
    }
    cJSON_Delete(body);
}
