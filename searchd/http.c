/*
 * http.c — libmicrohttpd set-up, request reading within limits, the uniform 4xx answers,
 * response helpers, access log and request metrics.
 *
 * Threading: MHD runs an internal pool of epoll threads (one per core by default). Searches are
 * CPU-bound and take about a millisecond, so handlers run directly in the pool threads; nothing
 * here creates a thread or a large buffer per request. Connections are accepted by a thread of
 * their own (acceptor.c) and handed to MHD, which has no listening socket. A request costs one small struct (freed
 * when MHD reports the request complete, which is also when the access line is written, so its
 * duration includes sending the answer).
 *
 * Order of checks for every request (so answers are predictable and cheap ones come first):
 * token (401) -> path (404) -> method (405) -> role (403) -> body size (413) -> request target
 * size or number of query arguments (414) -> %00 in a query argument (400) -> the handler.
 *
 * Requests are answered on MHD's last handler call for them, after the body was read, even
 * for errors: MHD treats an answer queued on the first call as "body refused" and closes the
 * connection (no keep-alive), and closing a socket with unread data makes the kernel send a
 * reset that can destroy the answer before the client reads it. Only bodies declared larger
 * than 1 MiB are refused at once.
 */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "acceptor.h"
#include "deadline.h"
#include "kb/analyzer.h"
#include "log.h"
#include "metrics.h"
#include "searchd.h"

static struct MHD_Daemon *http_daemon;
static int http_listen_fd = -1;
static atomic_int http_in_flight;

int searchd_http_in_flight(void) { return atomic_load(&http_in_flight); }

/* ---------------------------------------------------------------- responses */

/* Queue resp as the answer to req and release our reference to it. */
static void send_response(searchd_request *req, int status, struct MHD_Response *resp) {
    /* While shutting down, close kept-alive connections after this answer so clients move to
     * another instance instead of sending more requests here. */
    if (atomic_load(&searchd_ctx.shutting_down))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    /* Clients that hang up early can cause this at any rate: counted, not logged each time. */
    static const char cannot_queue[] = "cannot queue the %d answer to %s %s";
    if (MHD_queue_response(req->connection, (unsigned)status, resp) != MHD_YES)
        searchd_log_repeating("error", cannot_queue, cannot_queue, status, req->log_method,
                              req->log_path);
    MHD_destroy_response(resp);
    req->status = status;
}

static void queue(searchd_request *req, int status, const char *content_type, char *body,
                  size_t len, const char *extra_name, const char *extra_value) {
    if (req->status) { /* a handler answered twice: keep the first answer */
        free(body);
        searchd_log_error("internal: second answer %d to %s %s ignored", status, req->log_method,
                          req->log_path);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        req->status = 500;
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* Answers hold agents' searches and help requests: no cache may keep them. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (extra_name) MHD_add_response_header(resp, extra_name, extra_value);
    send_response(req, status, resp);
}

void searchd_http_respond_text(searchd_request *req, int status, const char *content_type,
                               char *body, size_t len) {
    queue(req, status, content_type, body, len, NULL, NULL);
}

/* Embedded web assets: the bytes live as long as the process, so MHD sends them without a
 * copy. They hold no customer data, so instead of "no-store" the caller's headers (ETag,
 * Cache-Control, Content-Security-Policy, ...) let browsers revalidate them cheaply. */
void searchd_http_respond_static(searchd_request *req, int status, const char *content_type,
                                 const void *data, size_t len, const char *const *headers) {
    if (req->status) {
        searchd_log_error("internal: second answer %d to %s %s ignored", status, req->log_method,
                          req->log_path);
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        req->status = 500;
        return;
    }
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    send_response(req, status, resp);
}

const char *searchd_http_header(searchd_request *req, const char *name) {
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

/* Write <, > and & inside JSON as \u003c, \u003e, \u0026. Clients decode the same strings,
 * but the bytes can never be taken for HTML, whatever a browser or a careless page does with
 * them (document text and snippets are editor- and agent-supplied). Outside strings these
 * characters cannot occur in JSON, so a plain byte rewrite is safe. text ends with a NUL at len. */
static char *escape_html_in_json(char *text, size_t *len) {
    /* Runs between the characters are found and copied with strcspn and memcpy (vectorized in
     * libc): a search's answer holds a <mark> every few dozen bytes, and a byte-by-byte loop was
     * a tenth of the cost of answering outside the search itself. */
    static const char special[] = "<>&";
    size_t extra = 0;
    for (size_t i = strcspn(text, special); i < *len; i += 1 + strcspn(text + i + 1, special))
        extra += text[i] ? 5 : 0; /* a NUL (none in JSON) only ends a run */
    if (extra == 0) return text;
    char *out = malloc(*len + extra + 1);
    if (!out) {
        free(text);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < *len;) {
        size_t run = strcspn(text + i, special);
        memcpy(out + o, text + i, run);
        o += run;
        i += run;
        if (i >= *len) break;
        char c = text[i++];
        const char *esc = c == '<' ? "\\u003c" : c == '>' ? "\\u003e" : c == '&' ? "\\u0026" : NULL;
        if (esc) {
            memcpy(out + o, esc, 6);
            o += 6;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    free(text);
    *len = o;
    return out;
}

void searchd_http_respond_json_text(searchd_request *req, int status, char *text, size_t len) {
    text = escape_html_in_json(text, &len);
    if (!text) {
        searchd_http_respond_error(req, 500, "out of memory");
        return;
    }
    queue(req, status, "application/json; charset=utf-8", text, len, NULL, NULL);
}

void searchd_http_respond_json(searchd_request *req, int status, cJSON *body) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        char *copy = strdup(oom);
        queue(req, 500, "application/json; charset=utf-8", copy, copy ? strlen(copy) : 0, NULL,
              NULL);
        return;
    }
    searchd_http_respond_json_text(req, status, text, strlen(text));
}

static char *error_json(const char *message) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", message)) {
        cJSON_Delete(o);
        return NULL;
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void respond_error_with(searchd_request *req, int status, const char *header,
                               const char *value, const char *fmt, va_list ap) {
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    char *text = error_json(message);
    size_t len = text ? strlen(text) : 0;
    if (text) text = escape_html_in_json(text, &len);
    if (!text) {
        text = strdup("{\"error\":\"out of memory\"}");
        len = text ? strlen(text) : 0;
    }
    queue(req, status, "application/json; charset=utf-8", text, len, header, value);
}

void searchd_http_respond_error(searchd_request *req, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    respond_error_with(req, status, NULL, NULL, fmt, ap);
    va_end(ap);
}

static void respond_error_header(searchd_request *req, int status, const char *header,
                                 const char *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void respond_error_header(searchd_request *req, int status, const char *header,
                                 const char *value, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    respond_error_with(req, status, header, value, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- arguments */

const char *searchd_http_arg(searchd_request *req, const char *name, size_t *len) {
    const char *value = NULL;
    size_t size = 0;
    if (MHD_lookup_connection_value_n(req->connection, MHD_GET_ARGUMENT_KIND, name, strlen(name),
                                      &value, &size) != MHD_YES ||
        !value)
        return NULL;
    if (len) *len = size;
    return value;
}

typedef struct {
    const char *name;
    const char **values;
    size_t max, n;
    int has_nul; /* a decoded key or value holds %00 */
} args_walk;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    (void)key_size;
    (void)value_size;
    args_walk *w = cls;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) w->has_nul = 1;
    if (w->name && value && strcmp(key, w->name) == 0 && w->n < w->max) w->values[w->n++] = value;
    return MHD_YES;
}

size_t searchd_http_args(searchd_request *req, const char *name, const char **values, size_t max) {
    args_walk w = {name, values, max, 0, 0};
    MHD_get_connection_values_n(req->connection, MHD_GET_ARGUMENT_KIND, collect_arg, &w);
    return w.n;
}

/* Whether a query argument holds %00 (handlers read arguments as C strings, which would end at
 * it: "q=a%00b" would search for "a"). */
static int query_has_nul(searchd_request *req) {
    args_walk w = {NULL, NULL, 0, 0, 0};
    MHD_get_connection_values_n(req->connection, MHD_GET_ARGUMENT_KIND, collect_arg, &w);
    return w.has_nul;
}

/* ---------------------------------------------------------------- JSON bodies */

/* cJSON recurses per nesting level; refuse deep documents before it sees them. */
static int json_depth_ok(const char *s, size_t len, int max_depth) {
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

/* Offset of the first NUL character of a JSON text, raw or written \u0000 inside a string, or
 * len when there is none. cJSON decodes \u0000 into a NUL byte and the C string ends there:
 * "a\u0000b" would reach the handler (and the store) as "a", silently cut. No text field of the
 * API has a use for NUL, so bodies holding one are refused rather than cut. */
static size_t json_nul_at(const char *s, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0') return i;
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '"') {
            in_string = 0;
        } else if (c == '\\') {
            if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) return i;
            i++; /* the escaped character, so that "\\" followed by "u0000" stays text */
        }
    }
    return len;
}

/* Offset of the first byte of s that is not part of valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len when all of it is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) n = 1;
        else if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else return i;
        if (i + n > len) return i;
        for (size_t k = 1; k < n; k++) {
            unsigned b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
        }
        i += n;
    }
    return len;
}

cJSON *searchd_http_body_object(searchd_request *req) {
    if (!req->body || req->body_len == 0) {
        searchd_http_respond_error(req, 400, "request body is empty: send a JSON object");
        return NULL;
    }
    /* JSON is UTF-8 (RFC 8259), and cJSON passes any bytes through. Fields such as a help
     * request's agent are stored as sent and later sent to leads inside JSON answers: refuse
     * broken text here rather than store it and send clients invalid UTF-8 later. */
    size_t bad = utf8_invalid_at((const unsigned char *)req->body, req->body_len);
    if (bad < req->body_len) {
        searchd_http_respond_error(req, 400, "request body is not valid UTF-8 (byte %zu)", bad);
        return NULL;
    }
    size_t nul = json_nul_at(req->body, req->body_len);
    if (nul < req->body_len) {
        searchd_http_respond_error(req, 400, "JSON holds a NUL character (\\u0000) at byte %zu: "
                                             "text fields may not contain it", nul);
        return NULL;
    }
    if (!json_depth_ok(req->body, req->body_len, SEARCHD_MAX_JSON_DEPTH)) {
        searchd_http_respond_error(req, 400, "JSON nested too deeply: at most %d levels",
                                   SEARCHD_MAX_JSON_DEPTH);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (!root) {
        size_t at = end && end >= req->body ? (size_t)(end - req->body) : 0;
        searchd_http_respond_error(req, 400, "invalid JSON at byte %zu", at);
        return NULL;
    }
    size_t at = end ? (size_t)(end - req->body) : req->body_len;
    while (at < req->body_len && isspace((unsigned char)req->body[at])) at++;
    if (at < req->body_len) {
        cJSON_Delete(root);
        searchd_http_respond_error(req, 400, "invalid JSON at byte %zu: unexpected data after the value",
                                   at);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        searchd_http_respond_error(req, 400, "request body must be a JSON object");
        return NULL;
    }
    return root;
}

int searchd_http_body_string(searchd_request *req, const cJSON *obj, const char *field,
                             int required, size_t max_bytes, const char **out) {
    *out = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!item || cJSON_IsNull(item)) {
        if (!required) return 0;
        searchd_http_respond_error(req, 400, "%s is required", field);
        return -1;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        searchd_http_respond_error(req, 400, "%s must be a string", field);
        return -1;
    }
    if (kb_text_is_blank(item->valuestring)) {
        searchd_http_respond_error(req, 400, "%s is empty", field);
        return -1;
    }
    if (strlen(item->valuestring) > max_bytes) {
        searchd_http_respond_error(req, 400, "%s too long: at most %zu bytes", field, max_bytes);
        return -1;
    }
    *out = item->valuestring;
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

static unsigned method_bit(const char *method) {
    if (strcmp(method, "GET") == 0) return SEARCHD_METHOD_GET;
    if (strcmp(method, "HEAD") == 0) return SEARCHD_METHOD_HEAD;
    if (strcmp(method, "POST") == 0) return SEARCHD_METHOD_POST;
    if (strcmp(method, "PUT") == 0) return SEARCHD_METHOD_PUT;
    if (strcmp(method, "DELETE") == 0) return SEARCHD_METHOD_DELETE;
    return 0;
}

static void dispatch(searchd_request *req, const char *url) {
    req->dispatched = 1;
    const searchd_route *route = req->route = searchd_router_match(url, &req->param);
    if (req->path_has_nul) {
        searchd_http_respond_error(req, 400, "bad path: %%00 is not allowed");
        return;
    }
    if (route->needs_token) {
        const char *authorization =
            MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
        int rc = searchd_auth_check(authorization, &req->identity);
        if (rc == SEARCHD_AUTH_MISSING) {
            respond_error_header(req, 401, "WWW-Authenticate", "Bearer realm=\"kb\"",
                                 "missing token: send the header Authorization: Bearer TOKEN");
            return;
        }
        if (rc != SEARCHD_AUTH_OK) {
            respond_error_header(req, 401, "WWW-Authenticate",
                                 "Bearer realm=\"kb\", error=\"invalid_token\"", "unknown token");
            return;
        }
    }
    if (route->id == SEARCHD_ROUTE_UNKNOWN) {
        route->handler(req);
        return;
    }
    if (!(route->methods & req->method)) {
        respond_error_header(req, 405, MHD_HTTP_HEADER_ALLOW, searchd_router_allow(route->methods),
                             "method %s not allowed here: use %s", req->log_method,
                             searchd_router_allow(route->methods));
        return;
    }
    if (route->needs_token &&
        !((searchd_router_roles(route, req->method) | SEARCHD_ROLE_ADMIN) & req->identity.role)) {
        searchd_http_respond_error(req, 403, "role %s may not call %s %s",
                                   searchd_auth_role_name(req->identity.role), req->log_method,
                                   route->path);
        return;
    }
    if (req->body_too_large) {
        searchd_http_respond_error(req, 413, "request body too large: at most %d bytes",
                                   SEARCHD_MAX_BODY_BYTES);
        return;
    }
    if (req->target_refused) {
        if (req->target_bytes > SEARCHD_MAX_TARGET_BYTES)
            searchd_http_respond_error(req, 414, "request target too long: %zu bytes of path and "
                                       "query string, at most %d", req->target_bytes,
                                       SEARCHD_MAX_TARGET_BYTES);
        else
            searchd_http_respond_error(req, 414, "too many query arguments: %zu, at most %d",
                                       req->target_args, SEARCHD_MAX_QUERY_ARGS);
        return;
    }
    if (query_has_nul(req)) {
        searchd_http_respond_error(req, 400, "bad query string: %%00 (a NUL character) is not "
                                             "allowed in an argument");
        return;
    }
    route->handler(req);
    if (!req->status) {
        searchd_log_error("internal: %s %s gave no answer", req->log_method, req->log_path);
        searchd_http_respond_error(req, 500, "internal error");
    }
}

void searchd_route_not_found(searchd_request *req) {
    searchd_http_respond_error(req, 404, "no such endpoint: see docs/API.md");
}

static int append_body(searchd_request *req, const char *data, size_t size) {
    if (req->body_too_large || req->body_len + size > SEARCHD_MAX_BODY_BYTES) {
        req->body_too_large = 1;
        free(req->body);
        req->body = NULL;
        req->body_cap = 0;
        req->body_len += size; /* keep counting what we discard */
        return req->body_len <= SEARCHD_DISCARD_BODY_BYTES;
    }
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap < req->body_len + size + 1) cap *= 2;
        char *grown = realloc(req->body, cap);
        if (!grown) return 0;
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return 1;
}

static searchd_request *new_request(const char *uri) {
    searchd_request *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    atomic_fetch_add(&http_in_flight, 1);
    req->start_ms = searchd_now_mono_ms();
    /* The path without the query string, identifiers redacted: the log must never hold query
     * text or a customer's number. */
    size_t path_len = strcspn(uri, "?");
    searchd_log_path(req->log_path, sizeof req->log_path, uri, path_len);
    for (size_t i = 0; i + 2 < path_len; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0') req->path_has_nul = 1;
    return req;
}

/* Measure the request target before libmicrohttpd parses its query string, and keep it from
 * parsing one we refuse. MHD keeps a record per argument in the connection's memory pool (~48
 * bytes for as little as one '&'), and when the pool runs out 0.9.75 logs the 431 it meant to
 * send but ignores the failure and goes on waiting for the request, which then hangs until the
 * 30 s time-out and is closed without an answer (issue 15: 1,300 '&' in a 1.3 KB target did it).
 * With at most SEARCHD_MAX_QUERY_ARGS arguments in at most SEARCHD_MAX_TARGET_BYTES, what MHD
 * keeps fits the pool with room to spare; beyond either, the query string is cut off at the '?'
 * so MHD parses no argument, and dispatch() answers 414 once the request is read. */
static void check_target(searchd_request *req, const char *uri) {
    const char *query = strchr(uri, '?');
    req->target_bytes = strlen(uri);
    req->target_args = 0;
    if (query) {
        req->target_args = 1; /* MHD splits at '&' only */
        for (const char *p = query + 1; *p; p++) req->target_args += *p == '&';
    }
    if (req->target_bytes <= SEARCHD_MAX_TARGET_BYTES && req->target_args <= SEARCHD_MAX_QUERY_ARGS)
        return;
    req->target_refused = 1;
    /* uri points into MHD's own (writable) read buffer, where MHD parses the arguments in place
     * right after this callback: an empty string after the '?' is a query string without any.
     * (A later libmicrohttpd that passed a copy would parse them; the 414 is answered anyway.) */
    if (query) ((char *)query)[1] = '\0';
}

/* Called by MHD with the raw request URI before it decodes it. The request's state starts here
 * so its duration covers header parsing, and MHD then reports completion for every request,
 * including those it refuses itself (logged with status 0). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    (void)connection;
    searchd_request *req = new_request(uri);
    if (req) check_target(req, uri);
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls;
    (void)version;
    searchd_request *req = *con_cls;
    if (!req) { /* on_uri found no memory: try once more */
        req = new_request(url);
        if (!req) return MHD_NO;
        *con_cls = req;
    }
    if (!req->started) {
        req->started = 1;
        req->connection = connection;
        req->method = method_bit(method);
        snprintf(req->log_method, sizeof req->log_method, "%s", method);

        const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = length ? strtoull(length, NULL, 10) : 0;
        if (declared > SEARCHD_DISCARD_BODY_BYTES) {
            /* Too large to be worth reading: answer now, MHD closes the connection after it. */
            req->route = searchd_router_match(url, &req->param);
            req->dispatched = 1;
            searchd_deadline_received(connection);
            searchd_http_respond_error(req, 413, "request body too large: at most %d bytes",
                                       SEARCHD_MAX_BODY_BYTES);
            return MHD_YES;
        }
        /* Even without a body, answer on the next call: MHD treats an answer queued this
         * early as "body refused" and closes the connection, which would defeat keep-alive. */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (req->dispatched) return MHD_YES; /* answered already; MHD discards the rest */
        if (!append_body(req, upload_data, size)) {
            req->status = req->body_too_large ? 413 : 500;
            return MHD_NO; /* endless chunked body or out of memory: drop the connection */
        }
        return MHD_YES;
    }
    if (!req->dispatched) {
        searchd_deadline_received(connection);
        dispatch(req, url);
    } else if (!req->status) searchd_http_respond_error(req, 500, "internal error");
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    searchd_deadline_rearm(connection);
    searchd_request *req = *con_cls;
    if (!req) return;
    *con_cls = NULL;
    double ms = searchd_now_mono_ms() - req->start_ms;
    /* A request that ended without an answer (client gone, timeout) is logged with status 0. */
    int status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || req->status ? req->status : 0;
    searchd_route_id route = req->route ? req->route->id : SEARCHD_ROUTE_UNKNOWN;
    searchd_metrics_count_request(route, status);
    searchd_log_access(req->log_method, req->log_path, status, ms,
                       req->identity.role ? searchd_auth_role_name(req->identity.role) : "-",
                       req->identity.name);
    free(req->body);
    free(req);
    atomic_fetch_sub(&http_in_flight, 1);
}

/* MHD's own messages (e.g. "Failed to send data") go through our one-line format. Clients
 * trigger most of them at will (one per connection refused beyond a limit: ~11,400 lines in
 * 10 s under wrk -c1000 from one address), so each kind, told apart by MHD's format string, is
 * written once per SEARCHD_LOG_REPEAT_S with a count (log.h). */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    searchd_log_repeating("warn", fmt, "http: %s", message);
}

/* ---------------------------------------------------------------- start and stop */

/* MHD's connection notifications: the receive deadline tracks connections, and the accepting
 * thread learns that a slot is free. */
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    searchd_deadline_notify(cls, connection, socket_context, code);
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) searchd_acceptor_closed();
}

int searchd_http_start(int listen_fd, unsigned threads, char *err, size_t err_len) {
    unsigned limit = searchd_ctx.max_connections ? searchd_ctx.max_connections
                                                 : SEARCHD_CONNECTION_LIMIT;
    unsigned per_ip = searchd_ctx.max_connections_per_ip ? searchd_ctx.max_connections_per_ip
                                                         : SEARCHD_PER_IP_CONNECTION_LIMIT;
    if (searchd_deadline_start(err, err_len) != 0) return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    /* The total is kept by the accepting thread. MHD splits its own limit evenly over the pool
     * threads and refuses a connection handed to a thread at its share; twice the total leaves
     * room for an uneven split, so MHD never refuses one the acceptor let in. The per-address
     * limit is MHD's, applied when a connection is handed over. */
    http_daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, 2 * limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SEARCHD_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SEARCHD_CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_END);
    if (!http_daemon) {
        searchd_deadline_stop();
        snprintf(err, err_len, "cannot start the HTTP server (libmicrohttpd refused the options)");
        return -1;
    }
    if (searchd_acceptor_start(http_daemon, listen_fd, limit, err, err_len) != 0) {
        MHD_stop_daemon(http_daemon);
        http_daemon = NULL;
        searchd_deadline_stop();
        return -1;
    }
    http_listen_fd = listen_fd;
    return 0;
}

void searchd_http_shutdown(int grace_ms) {
    if (!http_daemon) return;
    searchd_acceptor_stop();
    /* Nothing accepts any more, but the kernel would still complete handshakes into the backlog
     * and leave those clients hanging. Shutting down the receive side of a listening socket
     * makes Linux stop listening (new connections are refused at once). */
    if (http_listen_fd >= 0) shutdown(http_listen_fd, SHUT_RD);
    double deadline = searchd_now_mono_ms() + grace_ms;
    while (atomic_load(&http_in_flight) > 0 && searchd_now_mono_ms() < deadline) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    int left = atomic_load(&http_in_flight);
    if (left > 0) searchd_log_warn("shutdown: %d requests still running after %d ms", left, grace_ms);
    MHD_stop_daemon(http_daemon);
    http_daemon = NULL;
    searchd_deadline_stop();
    if (http_listen_fd >= 0) close(http_listen_fd);
    http_listen_fd = -1;
}
