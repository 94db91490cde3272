/*
 * log.h — one-line stderr logging for kb-searchd.
 *
 * Every event is one line "TIME LEVEL message" written with a single write(2) (under systemd
 * preceded by its journal priority, "<3>" for errors: see log.c), so lines from
 * concurrent threads never interleave and a log shipper can split on newlines. Nothing that a
 * customer said may reach these lines: callers log paths without query strings and token NAMEs,
 * never tokens or query text, and every message is passed through kb_redact() before it is
 * written, so a phone, ID-card or bank-card number in any field becomes a placeholder.
 */
#ifndef SEARCHD_LOG_H
#define SEARCHD_LOG_H

#include <stdarg.h>
#include <stddef.h>

void searchd_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_vwrite(const char *level, const char *fmt, va_list ap);

/* The access line of one finished request. path is the form searchd_log_path made (no query
 * string, identifiers redacted, escaped); method and name are sanitized here. */
void searchd_log_access(const char *method, const char *path, int status, double duration_ms,
                        const char *role, const char *name);

/* Where the access lines go (kb-searchd --access-log): "stderr" (the default, with the other
 * lines), "off", or an absolute file path, appended to (created 0640). Call before serving.
 * 0, or -1 with the reason in err. */
int searchd_log_set_access(const char *target, char *err, size_t err_len);
/* Reopen the access log file (on SIGHUP, after logrotate moved it); nothing for stderr or off.
 * 0, or -1 with the reason in err (the old file stays in use). */
int searchd_log_reopen_access(char *err, size_t err_len);

/* Fill dst (size dst_len) with the request path path[0..len) as log lines show it: %XX decoded,
 * customer identifiers replaced (kb_redact), then escaped as by searchd_log_sanitize and cut
 * to fit. The caller passes the path without the query string. */
void searchd_log_path(char *dst, size_t dst_len, const char *path, size_t len);

/* Copy src into dst (size dst_len) with bytes outside printable ASCII, '%' and '"' escaped
 * as %XX, except CJK ideographs (U+4E00..U+9FFF, so "[手机号]" stays readable); cut to fit
 * with "..."; always NUL-terminates. */
void searchd_log_sanitize(char *dst, size_t dst_len, const char *src);

/* ---- warnings that outsiders can trigger at any rate (log.c, "repeats")
 * A client can make some warnings happen thousands of times a second (libmicrohttpd refusing
 * connections beyond a limit, requests it cannot parse, sockets reset while answering): one
 * line each would flood the log and cost a write(2) each. searchd_log_repeating writes the first
 * message of a kind, then only counts the kind for SEARCHD_LOG_REPEAT_S seconds; the count is
 * written with the message once that time is over ("... (1234 more like this in 10 s)"), by
 * the next message of the kind or by searchd_log_repeats_flush, so a flood costs one line per
 * kind per interval. kind is any pointer that stays the same for one kind of message (e.g. its
 * format string); at most SEARCHD_LOG_REPEAT_KINDS kinds are tracked at once. */
#define SEARCHD_LOG_REPEAT_S 10
#define SEARCHD_LOG_REPEAT_KINDS 64
void searchd_log_repeating(const char *level, const void *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write the counts of the kinds whose interval is over (call about once a second), or of every
 * kind with a count (all != 0: at shutdown). */
void searchd_log_repeats_flush(int all);

#endif
