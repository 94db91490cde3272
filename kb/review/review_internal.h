/*
 * review_internal.h — what review.c, review_report.c and agents.c share: the kb_review handle
 * and small helpers.
 */
#ifndef KB_REVIEW_INTERNAL_H
#define KB_REVIEW_INTERNAL_H

#include <sqlite3.h>

#include "kb/review.h"

struct kb_review {
    sqlite3 *db;
    int readonly;
    int code; /* KB_REVIEW_* of the last failure */
    char err[512];
};

/* Set the error (message and code); returns code. */
int kb_review_fail(kb_review *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_REVIEW_ERROR with "what: SQLite's message". */
int kb_review_sql_fail(kb_review *r, const char *what);
/* A column as an ISO time string or null / as a string or null. */
void kb_review_add_time(cJSON *o, const char *key, sqlite3_stmt *s, int col);
void kb_review_add_text(cJSON *o, const char *key, sqlite3_stmt *s, int col);

#endif
