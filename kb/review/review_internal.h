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
    int code; /* kb_status of the last failure */
    char err[512];
};

/* Set the error (message and code); returns code. */
int kb_review_fail(kb_review *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_ERROR with "what: SQLite's message". */
int kb_review_sql_fail(kb_review *r, const char *what);
/* A copy of a text column into *out (NULL for SQL NULL). 0, or -1 when out of memory. */
int kb_review_column_text(sqlite3_stmt *s, int col, char **out);

#endif
