/*
 * events/paged_query.h — one page of a filtered list from the event store, and how many rows the
 * whole list has: what the API's lists answer ({"total", "offset", "limit", "items"}), for the
 * leads' help requests and (later) the editors' queue.
 *
 * The page and the count are built from one FROM and one WHERE clause, and the caller's bind
 * function binds the filter's parameters to both, so the total always describes the rows the
 * pages come from. The page's LIMIT and OFFSET are the named parameters :page_limit and
 * :page_offset, which cannot collide with the caller's numbered ones.
 */
#ifndef KB_PAGED_QUERY_H
#define KB_PAGED_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct {
    sqlite3_stmt *rows; /* the page: step it for the items */
    int64_t total;      /* rows of the whole list */
} kb_paged_query;

/* Binds a filter's parameters (numbered ?1, ?2, ...) to a statement. */
typedef void (*kb_paged_bind)(sqlite3_stmt *s, const void *arg);

/* Count "SELECT count(*) FROM from WHERE where" and prepare "SELECT columns FROM from WHERE
 * where ORDER BY order_by LIMIT limit OFFSET offset" into *q; bind (may be NULL) binds arg's
 * parameters to both. SQLITE_OK, or the SQLite error code with sqlite3_errmsg(db) saying why and
 * nothing left to close. */
int kb_paged_query_open(sqlite3 *db, const char *columns, const char *from, const char *where,
                        const char *order_by, size_t limit, size_t offset, kb_paged_bind bind,
                        const void *arg, kb_paged_query *q);

/* Finalize the page's statement. */
void kb_paged_query_close(kb_paged_query *q);

#endif
