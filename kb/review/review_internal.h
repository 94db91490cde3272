/*
 * review_internal.h — what review.c, review_report.c and agents.c share: the kb_review handle
 * and small helpers.
 */
#ifndef KB_REVIEW_INTERNAL_H
#define KB_REVIEW_INTERNAL_H


#include "events/store_conn.h"
#include "kb/review.h"

struct kb_review {
    kb_store_conn conn; /* the store connection and the last failure */
};

/* Errors go through the connection: kb_store_conn_fail(&r->conn, ...), kb_store_conn_sql_fail
 * (events/store_conn.h); kb_db_column_dup copies a text column. */

#endif
