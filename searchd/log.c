/*
 * log.c — one-line stderr logging (see log.h) and the process clocks.
 *
 * Lines are formatted into a stack buffer and written with one write(2): stdio's stderr is
 * unbuffered and would split a line into several writes that other threads could interleave.
 *
 * No customer identifier may reach the log (docs/PRIVACY.md). Request fields reach log lines
 * through many callers (the path, the method, a document id, libmicrohttpd's own messages), so
 * every message goes through kb_redact() here, whoever formatted it. The request path gets more:
 * it is %-decoded first (searchd_log_path), because "%31%33%38..." is a phone number too.
 *
 * Under systemd (stderr is the journal's stream, named by $JOURNAL_STREAM) each line starts
 * with its syslog priority, "<6>" info, "<4>" warn, "<3>" error (sd-daemon(3)), so that
 * `journalctl -p warning` finds the warnings; anywhere else the lines are unchanged (whether
 * stderr is the journal, and the prefixes: kb/journal.h, shared with the other programs). The
 * access lines can go to stderr (the default), to a file of their own, or nowhere
 * (--access-log).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kb/journal.h"
#include "kb/redact.h"
#include "searchd.h"

#define LOG_LINE_MAX 2048

int64_t searchd_now_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double searchd_now_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* "2026-03-02T08:15:30.123Z": UTC so lines from several hosts sort together. */
static size_t format_time(char *buf, size_t len) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    return n + (m > 0 ? (size_t)m : 0);
}

/* ---------------------------------------------------------------- where lines go */

/* The priority of a level for the journal (include/kb/journal.h says when it is used). */
static const char *journal_prefix(const char *level) {
    return kb_journal_prefix(!strcmp(level, "error") ? KB_PRIO_ERR
                             : !strcmp(level, "warn") ? KB_PRIO_WARNING : KB_PRIO_INFO);
}

/* The access lines: stderr (the default), off, or a file (access_fd, under access_mu: a SIGHUP
 * reopens it). The kind is set once, before serving. */
enum { ACCESS_STDERR, ACCESS_OFF, ACCESS_FILE };
static int access_kind = ACCESS_STDERR;
static pthread_mutex_t access_mu = PTHREAD_MUTEX_INITIALIZER;
static int access_fd = -1;
static char *access_path; /* the file, for reopening */
static void access_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void write_line_fd(int fd, char *line, size_t n) {
    if (n >= LOG_LINE_MAX - 1) n = LOG_LINE_MAX - 2;
    /* Messages from libraries may end with their own newline; keep exactly one. */
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    line[n++] = '\n';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report it */
        }
        off += (size_t)w;
    }
}

/* Replace every digit of s[0..n) with '*': the fail-safe when redaction itself fails. */
static void mask_digits(char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9') s[i] = '*';
}

/* Append the redacted message to line[n..LOG_LINE_MAX); returns the new length. The whole
 * message is redacted before it is cut to fit, so a cut never leaves the start of an
 * identifier behind. */
static size_t add_redacted(char *line, size_t n, const char *fmt, va_list ap) {
    char stack[LOG_LINE_MAX], *msg = stack;
    va_list again;
    va_copy(again, ap);
    int m = vsnprintf(stack, sizeof stack, fmt, ap);
    size_t len = m > 0 ? (size_t)m : 0;
    int cut = 0;
    if (len >= sizeof stack) {
        msg = malloc(len + 1);
        if (msg) {
            vsnprintf(msg, len + 1, fmt, again);
        } else {
            msg = stack;
            len = sizeof stack - 1;
            cut = 1;
        }
    }
    va_end(again);
    char *clean = cut ? NULL : kb_redact(msg, len, NULL);
    const char *out = clean;
    if (!clean) { /* out of memory: losing the digits is better than logging an identifier */
        mask_digits(msg, len);
        out = msg;
    }
    size_t out_len = strlen(out);
    if (out_len > LOG_LINE_MAX - 2 - n) out_len = LOG_LINE_MAX - 2 - n;
    memcpy(line + n, out, out_len);
    free(clean);
    if (msg != stack) free(msg);
    return n + out_len;
}

/* Format "TIME LEVEL message" (redacted, one line) into line; returns its length. With
 * journal set, the line starts with the level's priority prefix. */
static size_t format_line(char line[LOG_LINE_MAX], int journal, const char *level,
                          const char *fmt, va_list ap) {
    size_t n = 0;
    if (journal) {
        memcpy(line, journal_prefix(level), 3);
        n = 3;
    }
    n += format_time(line + n, LOG_LINE_MAX - n);
    int m = snprintf(line + n, LOG_LINE_MAX - n, " %s ", level);
    if (m > 0) n += (size_t)m;
    if (n < LOG_LINE_MAX - 2) n = add_redacted(line, n, fmt, ap);
    if (n > LOG_LINE_MAX - 2) n = LOG_LINE_MAX - 2;
    /* A message must stay one line even when it quotes text holding newlines. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    return n;
}

void searchd_log_vwrite(const char *level, const char *fmt, va_list ap) {
    char line[LOG_LINE_MAX];
    size_t n = format_line(line, kb_journal_stderr(), level, fmt, ap);
    write_line_fd(STDERR_FILENO, line, n);
}

void searchd_log_info(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    searchd_log_vwrite("info", fmt, ap);
    va_end(ap);
}

void searchd_log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    searchd_log_vwrite("warn", fmt, ap);
    va_end(ap);
}

void searchd_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    searchd_log_vwrite("error", fmt, ap);
    va_end(ap);
}

/* 3 when p starts a CJK unified ideograph (U+4E00..U+9FFF) in UTF-8, else 0. These are kept
 * as they are: the redaction placeholders ("[手机号]") stay readable, and no such character can
 * break a line, forge a field or steer a terminal. */
static size_t cjk_len(const unsigned char *p) {
    if (p[0] < 0xE4 || p[0] > 0xE9 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    unsigned cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return cp >= 0x4E00 && cp <= 0x9FFF ? 3 : 0;
}

void searchd_log_sanitize(char *dst, size_t dst_len, const char *src) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (dst_len == 0) return;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p; p++) {
        size_t cjk = cjk_len(p);
        int plain = *p > 0x20 && *p < 0x7f && *p != '%' && *p != '"';
        size_t need = cjk ? cjk : plain ? 1 : 3;
        if (o + need + 1 > dst_len) {
            /* Mark the cut so nobody mistakes a shortened path for the real one. */
            if (dst_len >= 4) {
                if (o + 3 >= dst_len) o = dst_len - 4;
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (cjk) {
            memcpy(dst + o, p, cjk);
            o += cjk;
            p += cjk - 1;
        } else if (plain) {
            dst[o++] = (char)*p;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[*p >> 4];
            dst[o++] = hex[*p & 15];
        }
    }
    dst[o] = '\0';
}

static int hex_value(char c) {
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void searchd_log_path(char *dst, size_t dst_len, const char *path, size_t len) {
    if (dst_len == 0) return;
    /* Decode as the server does (%XX; '+' is no space in a path), so that an identifier
     * cannot hide behind percent-encoding, then redact the whole path before it is cut. */
    char *decoded = malloc(len + 1), *clean = NULL;
    if (decoded) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            int hi = i + 2 < len && path[i] == '%' ? hex_value(path[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
            if (lo >= 0) {
                decoded[n++] = (char)(hi * 16 + lo);
                i += 2;
            } else {
                decoded[n++] = path[i];
            }
        }
        decoded[n] = '\0';
        clean = kb_redact(decoded, n, NULL); /* NUL and invalid UTF-8 become U+FFFD */
        free(decoded);
    }
    if (clean) {
        searchd_log_sanitize(dst, dst_len, clean);
        free(clean);
        return;
    }
    /* Out of memory: the path's shape, as sent, without a single digit. */
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < dst_len; i++) {
        unsigned char c = (unsigned char)path[i];
        dst[o++] = c >= '0' && c <= '9' ? '*' : c > 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
    }
    dst[o] = '\0';
}

void searchd_log_access(const char *method, const char *path, int status, double duration_ms,
                        const char *role, const char *name) {
    char safe_method[32], safe_name[140];
    searchd_log_sanitize(safe_method, sizeof safe_method, method && *method ? method : "-");
    searchd_log_sanitize(safe_name, sizeof safe_name, name && *name ? name : "-");
    access_line("access method=%s path=%s status=%d ms=%.2f role=%s name=%s", safe_method,
                path && *path ? path : "-", status, duration_ms, role && *role ? role : "-",
                safe_name);
}

/* ---------------------------------------------------------------- the access log (log.h) */

static int open_access_file(const char *path, char *err, size_t err_len) {
    /* Appended to, so that logrotate's copytruncate and several writers both work; 0640 as
     * the access lines name the agents (their token NAMEs). */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) snprintf(err, err_len, "--access-log %s: %s", path, strerror(errno));
    return fd;
}

int searchd_log_set_access(const char *target, char *err, size_t err_len) {
    int fd = -1, kind = ACCESS_STDERR;
    char *path = NULL;
    if (!strcmp(target, "off")) {
        kind = ACCESS_OFF;
    } else if (strcmp(target, "stderr") != 0) {
        if (target[0] != '/') {
            snprintf(err, err_len, "--access-log %s: give off, stderr or an absolute file path",
                     target);
            return -1;
        }
        if (!(path = strdup(target))) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        if ((fd = open_access_file(path, err, err_len)) < 0) {
            free(path);
            return -1;
        }
        kind = ACCESS_FILE;
    }
    pthread_mutex_lock(&access_mu);
    if (access_fd >= 0) close(access_fd);
    free(access_path);
    access_fd = fd;
    access_kind = kind;
    access_path = path;
    pthread_mutex_unlock(&access_mu);
    return 0;
}

int searchd_log_reopen_access(char *err, size_t err_len) {
    pthread_mutex_lock(&access_mu);
    int rc = 0;
    if (access_path) {
        int fd = open_access_file(access_path, err, err_len);
        if (fd >= 0) { /* the old file stays in use when the new one cannot be opened */
            close(access_fd);
            access_fd = fd;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&access_mu);
    return rc;
}

static void access_line(const char *fmt, ...) {
    /* The kind of target is set once at start-up; only a file's descriptor changes later (on
     * reopening), so the line is formatted (and redacted) outside the lock, and only the write
     * is done under it, so that a reopen cannot close the descriptor in mid-write. */
    int kind = access_kind;
    if (kind == ACCESS_OFF) return;
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_line(line, kind == ACCESS_STDERR && kb_journal_stderr(), "info", fmt, ap);
    va_end(ap);
    if (kind == ACCESS_STDERR) {
        write_line_fd(STDERR_FILENO, line, n);
        return;
    }
    pthread_mutex_lock(&access_mu);
    write_line_fd(access_fd, line, n);
    pthread_mutex_unlock(&access_mu);
}

/* ---------------------------------------------------------------- repeats (see log.h) */

typedef struct {
    const void *kind;  /* NULL: free */
    const char *level;
    double since_ms;   /* monotonic: when the current interval began */
    unsigned long counted; /* messages of the kind not written in this interval */
    char text[LOG_LINE_MAX / 2]; /* the last message written, repeated with the count */
} repeat_slot;

static pthread_mutex_t repeats_mu = PTHREAD_MUTEX_INITIALIZER;
static repeat_slot repeats[SEARCHD_LOG_REPEAT_KINDS];

static void log_line(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const char *level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    searchd_log_vwrite(level, fmt, ap);
    va_end(ap);
}

/* The count of r's kind, written with its last message; the interval starts again. */
static void write_count(repeat_slot *r, double now) {
    log_line(r->level, "%s (%lu more like this in the last %.0f s)", r->text, r->counted,
             (now - r->since_ms) / 1000.0);
    r->counted = 0;
    r->since_ms = now;
}

void searchd_log_repeating(const char *level, const void *kind, const char *fmt, ...) {
    double now = searchd_now_mono_ms(), interval = SEARCHD_LOG_REPEAT_S * 1000.0;
    pthread_mutex_lock(&repeats_mu);
    repeat_slot *r = NULL, *oldest = NULL;
    for (size_t i = 0; i < SEARCHD_LOG_REPEAT_KINDS && !r; i++) {
        repeat_slot *c = &repeats[i];
        if (c->kind == kind) r = c;
        else if (!oldest || !c->kind || (oldest->kind && c->since_ms < oldest->since_ms)) oldest = c;
    }
    if (r && now - r->since_ms < interval) { /* within its interval: only counted */
        r->counted++;
        pthread_mutex_unlock(&repeats_mu);
        return;
    }
    unsigned long earlier = 0;
    double earlier_s = 0;
    if (r) {
        earlier = r->counted;
        earlier_s = (now - r->since_ms) / 1000.0;
    } else {
        /* A new kind takes a free slot, or the one whose interval began longest ago (its count,
         * if any, is written first so that nothing goes uncounted). */
        r = oldest;
        if (r->kind && r->counted) write_count(r, now);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
    /* Library messages end with a newline; the count goes on the same line. */
    size_t n = strlen(r->text);
    while (n > 0 && (r->text[n - 1] == '\n' || r->text[n - 1] == '\r' || r->text[n - 1] == ' '))
        r->text[--n] = '\0';
    if (earlier)
        log_line(level, "%s (%lu more like this in the last %.0f s)", r->text, earlier, earlier_s);
    else
        log_line(level, "%s", r->text);
    r->kind = kind;
    r->level = level;
    r->since_ms = now;
    r->counted = 0;
    pthread_mutex_unlock(&repeats_mu);
}

void searchd_log_repeats_flush(int all) {
    double now = searchd_now_mono_ms(), interval = SEARCHD_LOG_REPEAT_S * 1000.0;
    pthread_mutex_lock(&repeats_mu);
    for (size_t i = 0; i < SEARCHD_LOG_REPEAT_KINDS; i++) {
        repeat_slot *r = &repeats[i];
        if (r->kind && r->counted && (all || now - r->since_ms >= interval)) write_count(r, now);
    }
    pthread_mutex_unlock(&repeats_mu);
}
