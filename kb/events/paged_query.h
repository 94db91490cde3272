/*
 * events/paged_query.h — one page of a filtered list from the event store, and how many rows the
 * whole list has: what the API's lists answer ({"total", "offset", "limit", "items"}), for the
 * leads' help requests, coaching sessions and the editors' queue.
 *
 * The page and the count are built from one FROM and one WHERE clause, and the caller's bind
 * function binds the filter's parameters to both, so the total always describes the rows the
 * pages come from. The page's LIMIT and OFFSET are the named parameters :page_limit and
 * :page_offset, which cannot collide with the caller's numbered ones.
 *
 * It runs on kb_db, so on either database (docs/CLUSTER.md).
 */
#ifndef KB_PAGED_QUERY_H
#define KB_PAGED_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

typedef struct {
    kb_db_stmt *rows; /* the page: step it for the items */
    int64_t total;    /* rows of the whole list */
} kb_page;

/* Binds a filter's parameters (numbered ?1, ?2, ...) to a statement. */
typedef void (*kb_page_bind)(kb_db_stmt *s, const void *arg);

/* Count "SELECT count(*) FROM from WHERE where" and prepare "SELECT columns FROM from WHERE
 * where ORDER BY order_by LIMIT limit OFFSET offset" into *q; bind (may be NULL) binds arg's
 * parameters to both. KB_DB_OK, or the kb_db code with kb_db_errmsg(db) saying why and nothing
 * left to close. */
int kb_page_open(kb_db *db, const char *columns, const char *from, const char *where,
                 const char *order_by, size_t limit, size_t offset, kb_page_bind bind,
                 const void *arg, kb_page *q);

/* Finalize the page's statement. */
void kb_page_close(kb_page *q);

#endif
