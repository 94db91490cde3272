/*
 * routes_args.h — query-string arguments of the editors' and leads' endpoints (routes_gaps.c,
 * routes_review.c): whole numbers in a range, dates, months, ids in a path.
 *
 * Each reader answers 400 itself (naming the argument and what it accepts) and returns -1, so a
 * handler simply returns; 0 means the value (or the default, when the argument is absent) is in
 * *out.
 */
#ifndef SEARCHD_ROUTES_ARGS_H
#define SEARCHD_ROUTES_ARGS_H

#include <stdint.h>

#include "http.h"

/* A whole number min..max, default fallback. */
int searchd_args_number(searchd_request *req, const char *name, long min, long max, long fallback,
                        long *out);
/* A share 0..1 (decimal), default fallback. */
int searchd_args_share(searchd_request *req, const char *name, double fallback, double *out);
/* "YYYY-MM-DD" as the start of that local day (Unix ms); *out = 0 when absent. With end set,
 * the start of the next day (so "to" is inclusive). */
int searchd_args_date(searchd_request *req, const char *name, int end, int64_t *out);
/* "from" and "to", when both are days, in order: -1 after answering 400 "from is after to" when
 * from is the later (kb_review_window_reversed), else 0. */
int searchd_args_window(searchd_request *req);
/* "YYYY-MM" as year and month; 1 when absent (out untouched), 0 when read. */
int searchd_args_month(searchd_request *req, const char *name, int *year, int *month);
/* A positive whole number at the start of a path parameter ("42" or "42/review"); *rest gets
 * what follows it. -1 after answering 404 when it is not one. */
int searchd_args_path_id(searchd_request *req, const char *param, int64_t *id, const char **rest);

#endif
