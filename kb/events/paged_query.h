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
 * kb_page_open runs on kb_db (either database, docs/CLUSTER.md); kb_paged_query_open is the same
 * on a raw SQLite connection, for kb/gaps until it is ported onto kb_db (porting step 4), when it
 * goes.
 */
#ifndef KB_PAGED_QUERY_H
#define KB_PAGED_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

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

/* The same on SQLite's own API (kb/gaps). */
typedef struct {
    sqlite3_stmt *rows; /* the page: step it for the items */
    int64_t total;      /* rows of the whole list */
} kb_paged_query;

typedef void (*kb_paged_bind)(sqlite3_stmt *s, const void *arg);

/* SQLITE_OK, or the SQLite error code with sqlite3_errmsg(db) saying why. */
int kb_paged_query_open(sqlite3 *db, const char *columns, const char *from, const char *where,
                        const char *order_by, size_t limit, size_t offset, kb_paged_bind bind,
                        const void *arg, kb_paged_query *q);

void kb_paged_query_close(kb_paged_query *q);

#endif
