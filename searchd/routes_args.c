/*
 * routes_args.c — query-string arguments of the editors' and leads' endpoints (see
 * routes_args.h).
 */
#include "routes_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/review.h"

int searchd_args_number(searchd_request *req, const char *name, long min, long max, long fallback,
                        long *out)
{
    const char *text = searchd_http_arg(req, name, NULL);
    *out = fallback;
    if (!text) return 0;
    long v = 0;
    int ok = *text != '\0';
    for (const char *p = text; ok && *p; p++) {
        if (*p < '0' || *p > '9' || v > max) ok = 0;
        else v = v * 10 + (*p - '0');
    }
    if (!ok || v < min || v > max) {
        searchd_http_respond_error(req, 400, "%s must be a whole number from %ld to %ld", name,
                                   min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int searchd_args_share(searchd_request *req, const char *name, double fallback, double *out)
{
    const char *text = searchd_http_arg(req, name, NULL);
    *out = fallback;
    if (!text) return 0;
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v >= 0 && v <= 1)) {
        searchd_http_respond_error(req, 400, "%s must be a number from 0 to 1", name);
        return -1;
    }
    *out = v;
    return 0;
}

int searchd_args_date(searchd_request *req, const char *name, int end, int64_t *out)
{
    const char *text = searchd_http_arg(req, name, NULL);
    *out = 0;
    if (!text || !*text) return 0;
    int64_t ms;
    if (kb_review_parse_date(text, &ms) != 0) {
        searchd_http_respond_error(req, 400, "%s must be a date YYYY-MM-DD", name);
        return -1;
    }
    if (end) {
        /* The next local day: the date one day later, or, when the month has no such day
         * (kb_review_parse_date refuses it), the first of the next month. */
        int y = atoi(text), m = atoi(text + 5), d = atoi(text + 8);
        char next[16];
        snprintf(next, sizeof next, "%04d-%02d-%02d", y % 10000, m % 100, (d + 1) % 100);
        if (kb_review_parse_date(next, &ms) != 0) {
            /* the last day of a month: the first of the next */
            int64_t start, stop;
            kb_review_month_bounds(y, m, &start, &stop);
            ms = stop;
        }
    }
    *out = ms;
    return 0;
}

int searchd_args_window(searchd_request *req)
{
    if (!kb_review_window_reversed(searchd_http_arg(req, "from", NULL), searchd_http_arg(req, "to", NULL)))
        return 0;
    searchd_http_respond_error(req, 400, "from is after to");
    return -1;
}

int searchd_args_month(searchd_request *req, const char *name, int *year, int *month)
{
    const char *text = searchd_http_arg(req, name, NULL);
    if (!text || !*text) return 1;
    if (kb_review_parse_month(text, year, month) != 0) {
        searchd_http_respond_error(req, 400, "%s must be a month YYYY-MM", name);
        return -1;
    }
    return 0;
}

int searchd_args_path_id(searchd_request *req, const char *param, int64_t *id, const char **rest)
{
    int64_t v = 0;
    const char *p = param;
    while (*p >= '0' && *p <= '9' && v < (int64_t)1e15) v = v * 10 + (*p++ - '0');
    if (p == param || v <= 0 || (*p && *p != '/')) {
        searchd_http_respond_error(req, 404, "no such endpoint: see docs/API.md");
        return -1;
    }
    *id = v;
    *rest = p;
    return 0;
}
