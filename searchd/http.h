/*
 * http.h — the HTTP server (libmicrohttpd) and the helpers route handlers answer with.
 *
 * http.c owns everything about the wire: the daemon and its thread pool, reading requests
 * within limits, authentication and the 401/403/404/405/413 answers, response headers, access
 * logging and request metrics. Handlers (routes_*.c) only see a searchd_request and answer
 * through searchd_http_respond_*; each must answer exactly once.
 */
#ifndef SEARCHD_HTTP_H
#define SEARCHD_HTTP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "router.h"

struct MHD_Connection;

typedef struct searchd_request {
    struct MHD_Connection *connection;
    const searchd_route *route;
    const char *param;            /* the path after a prefix route, e.g. a document id */
    unsigned method;              /* SEARCHD_METHOD_* bit, 0 for other methods */
    searchd_identity identity;    /* who called (role NONE without a token) */
    double start_ms;              /* monotonic */
    int status;                   /* the status queued, 0 until then */
    int dispatched;
    char *body;                   /* the request body, NUL-terminated, NULL when none */
    size_t body_len, body_cap;
    int body_too_large;
    int started;                  /* the access handler has seen this request */
    int path_has_nul;             /* %00 in the path: C strings would cut it short */
    size_t target_bytes;          /* the request target (path?query) as sent */
    size_t target_args;           /* its number of query arguments */
    int target_refused;           /* beyond SEARCHD_MAX_TARGET_BYTES or _QUERY_ARGS: 414 */
    char log_method[16];          /* copies for the access line after the request ended */
    char log_path[256];
} searchd_request;

/* Start serving on an already listening socket with a pool of `threads` threads. Returns 0, or
 * -1 with the reason in err. */
int searchd_http_start(int listen_fd, unsigned threads, char *err, size_t err_len);

/* Stop accepting new connections, wait up to grace_ms for requests in flight, then stop the
 * daemon (joining its threads) and close the listening socket. */
void searchd_http_shutdown(int grace_ms);

/* A query-string argument (percent-decoded), or NULL when absent. len may be NULL. */
const char *searchd_http_arg(searchd_request *req, const char *name, size_t *len);

/* Every value of a repeatable argument, in order; returns how many (at most max). */
size_t searchd_http_args(searchd_request *req, const char *name, const char **values, size_t max);

/* Answer with a JSON value (which is freed). */
void searchd_http_respond_json(searchd_request *req, int status, cJSON *body);
/* Answer with JSON text already serialized; takes ownership of the malloc'd text. */
void searchd_http_respond_json_text(searchd_request *req, int status, char *text, size_t len);
/* Answer {"error": message}. */
void searchd_http_respond_error(searchd_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer with any content type; takes ownership of the malloc'd body. */
void searchd_http_respond_text(searchd_request *req, int status, const char *content_type,
                               char *body, size_t len);

/* Answer with bytes that outlive the request (embedded web assets; not copied, not freed),
 * with the given extra headers as name, value pairs ending in NULL, and no "no-store". */
void searchd_http_respond_static(searchd_request *req, int status, const char *content_type,
                                 const void *data, size_t len, const char *const *headers);

/* A request header's value, or NULL when absent. */
const char *searchd_http_header(searchd_request *req, const char *name);

/* Parse the request body as a JSON object. On failure answers 400 (saying what is wrong) and
 * returns NULL. The caller frees the result with cJSON_Delete. */
cJSON *searchd_http_body_object(searchd_request *req);

/* Read a string member of a JSON body. Answers 400 naming the field and returns -1 when it is
 * missing (and required), not a string, empty (after trimming spaces) or longer than max_bytes;
 * a JSON null counts as absent. On success *out is the value or NULL when absent. */
int searchd_http_body_string(searchd_request *req, const cJSON *obj, const char *field,
                             int required, size_t max_bytes, const char **out);

/* Requests being processed right now (for the shutdown wait). */
int searchd_http_in_flight(void);

#endif
