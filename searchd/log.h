/*
 * log.h — one-line stderr logging for kb-searchd.
 *
 * Every event is one line "TIME LEVEL message" written with a single write(2), so lines from
 * concurrent threads never interleave and a log shipper can split on newlines. Nothing that a
 * customer said may reach these lines: callers log paths without query strings and token NAMEs,
 * never tokens or query text.
 */
#ifndef SEARCHD_LOG_H
#define SEARCHD_LOG_H

#include <stdarg.h>
#include <stddef.h>

void searchd_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void searchd_log_vwrite(const char *level, const char *fmt, va_list ap);

/* The access line of one finished request. path must not hold the query string; it is
 * sanitized here (control bytes, spaces and non-ASCII are %-escaped, long paths cut). */
void searchd_log_access(const char *method, const char *path, int status, double duration_ms,
                        const char *role, const char *name);

/* Copy src into dst (size dst_len) with bytes outside printable ASCII, '%' and '"' escaped
 * as %XX, cut to fit; always NUL-terminates. */
void searchd_log_sanitize(char *dst, size_t dst_len, const char *src);

#endif
