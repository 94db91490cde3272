/*
 * log.c — one-line stderr logging (see log.h) and the process clocks.
 *
 * Lines are formatted into a stack buffer and written with one write(2): stdio's stderr is
 * unbuffered and would split a line into several writes that other threads could interleave.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void write_line(char *line, size_t n) {
    if (n >= LOG_LINE_MAX - 1) n = LOG_LINE_MAX - 2;
    /* Messages from libraries may end with their own newline; keep exactly one. */
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    line[n++] = '\n';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report it */
        }
        off += (size_t)w;
    }
}

void searchd_log_vwrite(const char *level, const char *fmt, va_list ap) {
    char line[LOG_LINE_MAX];
    size_t n = format_time(line, sizeof line);
    int m = snprintf(line + n, sizeof line - n, " %s ", level);
    if (m > 0) n += (size_t)m;
    if (n < sizeof line) {
        m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (m > 0) n += (size_t)m;
    }
    if (n > sizeof line - 2) n = sizeof line - 2;
    /* A message must stay one line even when it quotes text holding newlines. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    write_line(line, n);
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

void searchd_log_sanitize(char *dst, size_t dst_len, const char *src) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (dst_len == 0) return;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p; p++) {
        int plain = *p > 0x20 && *p < 0x7f && *p != '%' && *p != '"';
        size_t need = plain ? 1 : 3;
        if (o + need + 1 > dst_len) {
            /* Mark the cut so nobody mistakes a shortened path for the real one. */
            if (dst_len >= 4) {
                if (o + 3 >= dst_len) o = dst_len - 4;
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (plain) {
            dst[o++] = (char)*p;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[*p >> 4];
            dst[o++] = hex[*p & 15];
        }
    }
    dst[o] = '\0';
}

void searchd_log_access(const char *method, const char *path, int status, double duration_ms,
                        const char *role, const char *name) {
    char safe_method[32], safe_path[300], safe_name[140];
    searchd_log_sanitize(safe_method, sizeof safe_method, method && *method ? method : "-");
    searchd_log_sanitize(safe_path, sizeof safe_path, path);
    searchd_log_sanitize(safe_name, sizeof safe_name, name && *name ? name : "-");
    searchd_log_info("access method=%s path=%s status=%d ms=%.2f role=%s name=%s", safe_method,
                     safe_path, status, duration_ms, role && *role ? role : "-", safe_name);
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
