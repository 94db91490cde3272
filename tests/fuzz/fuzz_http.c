/*
 * fuzz_http.c — libFuzzer harness for kb-searchd's request handling: searchd/http.c (limits,
 * auth header, JSON bodies, dispatch), router.c, routes_*.c (argument parsing in
 * routes_args.c, /api/documents/{id}, help requests, gaps, reviews, agents) and static.c.
 *
 * The seam: handlers read arguments and headers and answer through the libmicrohttpd connection
 * (searchd_http_arg, searchd_http_header, searchd_http_respond_*), so the harness runs the real
 * server: searchd_http_start on a loopback socket with one worker thread, set up like main.c
 * (tokens, index, event store, agents list, gaps worker), and each input becomes one HTTP
 * request on a fresh connection. Nothing is re-implemented for the test, and libmicrohttpd's
 * own parsing sits in front of our code exactly as in production.
 *
 * Input framing:
 *   byte 0   who calls: 1 agent, 2 editor, 3 lead, 4 admin, anything else no token (unless
 *            the input sends its own Authorization header)
 *   then     METHOD '\n' TARGET '\n' (Header ':' value '\n')* '\n' BODY
 * The method keeps only token characters (empty: GET); the target gets a leading '/' and has
 * bytes that cannot appear in a request line percent-encoded; header names keep token
 * characters, values lose control characters; Host, Connection, Content-Length,
 * Transfer-Encoding and Expect are the harness's (each request is one whole exchange).
 *
 * Invariants: the answer arrives; its status is one a client can handle and never 5xx (any
 * input is the client's mistake at worst); a JSON answer parses and carries no raw < > &
 * (http.c escapes them); an error answer is an object with an "error" string; HEAD answers
 * have no body. ASan/UBSan watch the daemon's threads; LeakSanitizer checks at exit.
 *
 * Run with -close_fd_mask=2 (tests/fuzz/options.sh does): the daemon writes an access line per
 * request to stderr; broken invariants are reported on a copy of stderr kept at start-up.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_sample_index.h"

#include "auth.h"
#include "gaps_worker.h"
#include "http.h"
#include "kb/gaps.h"
#include "kb/redact.h"
#include "kb/store.h"
#include "routes_review.h"
#include "searchd.h"
#include "searchers.h"

searchd_context searchd_ctx; /* main.c's, which the harness replaces */

static struct sockaddr_in server;
static const char *const tokens[] = {NULL, "fuzz-agent-token-0123456789", "fuzz-editor-token-0123456789",
                                     "fuzz-lead-token-0123456789", "fuzz-admin-token-0123456789"};

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "fuzz_http: cannot write %s\n", path);
        exit(1);
    }
}

static void die(const char *what, const char *err) {
    fprintf(stderr, "fuzz_http: %s: %s\n", what, err);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    int report_fd = dup(STDERR_FILENO);
    fuzz_report_file = report_fd >= 0 ? fdopen(report_fd, "w") : NULL;
    signal(SIGPIPE, SIG_IGN);

    static char tokens_path[4200], agents_path[4200], data_dir[4200];
    const char *index_dir = fuzz_build_sample_index();
    snprintf(tokens_path, sizeof tokens_path, "%s/tokens", fuzz_tmp());
    snprintf(agents_path, sizeof agents_path, "%s/agents.tsv", fuzz_tmp());
    snprintf(data_dir, sizeof data_dir, "%s/data", fuzz_tmp());
    char text[1024];
    snprintf(text, sizeof text, "%s agent a.fuzz\n%s editor e.fuzz\n%s lead l.fuzz\n%s admin root\n",
             tokens[1], tokens[2], tokens[3], tokens[4]);
    write_file(tokens_path, text);
    write_file(agents_path, "# agent_id\tname\tteam\na.fuzz\t张三\t一组\nb.fuzz\tB\tTeam 2\n");

    searchd_ctx.index_dir = index_dir;
    searchd_ctx.data_dir = data_dir;
    searchd_ctx.tokens_path = tokens_path;
    searchd_ctx.agents_path = agents_path;
    searchd_ctx.listen = "127.0.0.1:0";
    searchd_ctx.threads = 1;
    searchd_ctx.typing_window_ms = KB_GAPS_TYPING_WINDOW_MS;
    searchd_ctx.started_ms = searchd_now_unix_ms();

    char err[1024], store_err[512] = "";
    if (kb_redact_global_init(err, sizeof err) != 0) die("redact", err);
    if (searchd_auth_load(tokens_path, err, sizeof err) != 0) die("tokens", err);
    if (searchd_searchers_start(index_dir, err, sizeof err) != 0) die("index", err);
    searchd_ctx.store = kb_store_open(data_dir, store_err, sizeof store_err);
    if (!searchd_ctx.store) die("event store", store_err);
    if (searchd_agents_load(err, sizeof err) != 0) die("agents", err);
    if (searchd_gaps_worker_start(err, sizeof err) != 0) die("gaps worker", err);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof server;
    if (fd < 0 || bind(fd, (struct sockaddr *)&server, sizeof server) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&server, &len) != 0)
        die("listen", strerror(errno));
    if (searchd_http_start(fd, 1, err, sizeof err) != 0) die("http", err);
    atomic_store(&searchd_ctx.ready, 1);
    return 0;
}

/* ---------------------------------------------------------------- building the request */

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        FUZZ_REQUIRE(b->p != NULL, "out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static int is_tchar(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of the input ([*at, '\n') or the rest); advances *at past the '\n'. */
static const uint8_t *next_line(const uint8_t *data, size_t size, size_t *at, size_t *len) {
    const uint8_t *start = data + *at;
    const uint8_t *nl = *at < size ? memchr(start, '\n', size - *at) : NULL;
    *len = nl ? (size_t)(nl - start) : size - *at;
    *at += *len + (nl ? 1 : 0);
    return start;
}

static int header_is_ours(const uint8_t *name, size_t n) {
    static const char *const ours[] = {"host", "connection", "content-length", "transfer-encoding",
                                       "expect", "keep-alive", "upgrade"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strlen(ours[i]) == n && strncasecmp((const char *)name, ours[i], n) == 0) return 1;
    return 0;
}

/* Frame the input as an HTTP/1.1 request (see the top of the file). *is_head is set for HEAD. */
static void build_request(const uint8_t *data, size_t size, buf *out, int *is_head) {
    size_t at = 1, n;
    const uint8_t *line = next_line(data, size, &at, &n);
    char method[32];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof method - 1; i++)
        if (is_tchar(line[i])) method[m++] = (char)line[i];
    method[m] = '\0';
    if (m == 0) strcpy(method, "GET");
    *is_head = strcmp(method, "HEAD") == 0;
    puts_(out, method);
    puts_(out, " ");

    line = next_line(data, size, &at, &n);
    if (n == 0 || line[0] != '/') puts_(out, "/");
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = line[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(out, esc, 3);
        } else {
            put(out, &c, 1);
        }
    }
    puts_(out, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");

    int has_auth = 0;
    for (int headers = 0; at < size;) {
        line = next_line(data, size, &at, &n);
        if (n == 0) break; /* the blank line: the body follows */
        const uint8_t *colon = memchr(line, ':', n);
        if (!colon || colon == line || headers >= 24) continue;
        size_t name_len = (size_t)(colon - line);
        int ok = 1;
        for (size_t i = 0; i < name_len; i++) ok &= is_tchar(line[i]);
        if (!ok || header_is_ours(line, name_len)) continue;
        if (name_len == 13 && strncasecmp((const char *)line, "authorization", 13) == 0) has_auth = 1;
        put(out, line, name_len);
        puts_(out, ":");
        for (const uint8_t *v = colon + 1; v < line + n; v++)
            if (*v >= 0x20 && *v != 0x7f) put(out, v, 1);
        puts_(out, "\r\n");
        headers++;
    }
    if (!has_auth && size > 0 && data[0] >= 1 && data[0] <= 4) {
        puts_(out, "Authorization: Bearer ");
        puts_(out, tokens[data[0]]);
        puts_(out, "\r\n");
    }
    char length[64];
    snprintf(length, sizeof length, "Content-Length: %zu\r\n\r\n", size - (at < size ? at : size));
    puts_(out, length);
    if (at < size) put(out, data + at, size - at);
}

/* ---------------------------------------------------------------- the exchange */

/* Send the request and read the answer until the server closes. 0, or -1 on timeout. */
static int exchange(const buf *req, buf *resp) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_REQUIRE(fd >= 0, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
        /* libFuzzer's timeout timer (SIGALRM) can interrupt a blocking connect, which then
         * goes on in the background: wait for it to finish and take its result. */
        FUZZ_REQUIRE(errno == EINTR, "connect: %s", strerror(errno));
        struct pollfd p = {fd, POLLOUT, 0};
        while (poll(&p, 1, 8000) < 0) FUZZ_REQUIRE(errno == EINTR, "poll: %s", strerror(errno));
        int err = 0;
        socklen_t len = sizeof err;
        FUZZ_REQUIRE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0,
                     "connect (after EINTR): %s", strerror(err));
    }
    size_t off = 0;
    int rc = 0;
    while (off < req->len) {
        ssize_t w = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* the server may answer (413) and close before reading it all */
        off += (size_t)w;
    }
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 8000);
        if (ready == 0) {
            rc = -1;
            break;
        }
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        char chunk[16384];
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        put(resp, chunk, (size_t)r);
    }
    /* Reset instead of a normal close, so a long run does not fill the port range with
     * connections in TIME_WAIT. */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return rc;
}

/* The value of a response header (case-insensitive name), copied into out; 0 when absent. */
static int response_header(const char *head, const char *name, char *out, size_t outsz) {
    size_t n = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n, *e = strstr(v, "\r\n");
            while (*v == ' ') v++;
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= outsz) len = outsz - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    buf req = {0}, resp = {0};
    int is_head;
    build_request(data, size, &req, &is_head);
    int rc = exchange(&req, &resp);
    FUZZ_REQUIRE(rc == 0, "no complete answer within 8 s to:\n%.300s", req.p);
    FUZZ_REQUIRE(resp.len > 12 && strncmp(resp.p, "HTTP/1.1 ", 9) == 0, "no status line: %.100s\n  to: %.300s",
                 resp.p ? resp.p : "(nothing)", req.p);
    int status = atoi(resp.p + 9);
    FUZZ_REQUIRE(status >= 200 && status < 500, "status %d to:\n%.400s\n  answer: %.400s", status,
                 req.p, resp.p);

    char *end_of_head = strstr(resp.p, "\r\n\r\n");
    FUZZ_REQUIRE(end_of_head != NULL, "answer without the end of its header");
    *end_of_head = '\0';
    const char *body = end_of_head + 4;
    size_t body_len = resp.len - (size_t)(body - resp.p);
    char type[128] = "";
    response_header(resp.p, "Content-Type", type, sizeof type);
    if (is_head) FUZZ_REQUIRE(body_len == 0, "HEAD answered with %zu bytes of body", body_len);
    if (!is_head && strncmp(type, "application/json", 16) == 0) {
        cJSON *json = cJSON_ParseWithLength(body, body_len);
        FUZZ_REQUIRE(json != NULL, "status %d: JSON answer does not parse: %.300s\n  to: %.300s",
                     status, body, req.p);
        FUZZ_REQUIRE(strpbrk(body, "<>&") == NULL, "raw < > or & in a JSON answer: %.300s", body);
        if (status >= 400) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
            FUZZ_REQUIRE(cJSON_IsString(e) && *e->valuestring, "status %d without an error message: %.300s",
                         status, body);
        }
        cJSON_Delete(json);
    }
    free(req.p);
    free(resp.p);
    return 0;
}
