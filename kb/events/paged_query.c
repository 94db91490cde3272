/*
 * paged_query.c — one page of a filtered list and the count of the whole list (see
 * paged_query.h).
 */
#include "events/paged_query.h"

#include <string.h>

/* Prepare sql (from sqlite3_mprintf, freed here) and bind the filter's parameters. */
static int prepare(sqlite3 *db, char *sql, kb_paged_bind bind, const void *arg, sqlite3_stmt **s)
{
    *s = NULL;
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK && bind) bind(*s, arg);
    return rc;
}

int kb_paged_query_open(sqlite3 *db, const char *columns, const char *from, const char *where,
                        const char *order_by, size_t limit, size_t offset, kb_paged_bind bind,
                        const void *arg, kb_paged_query *q)
{
    memset(q, 0, sizeof *q);
    sqlite3_stmt *count;
    int rc = prepare(db, sqlite3_mprintf("SELECT count(*) FROM %s WHERE %s", from, where), bind,
                     arg, &count);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(count);
    if (rc == SQLITE_ROW) q->total = sqlite3_column_int64(count, 0);
    sqlite3_finalize(count);
    if (rc != SQLITE_ROW) return rc;
    rc = prepare(db,
                 sqlite3_mprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT :page_limit "
                                 "OFFSET :page_offset",
                                 columns, from, where, order_by),
                 bind, arg, &q->rows);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(q->rows, sqlite3_bind_parameter_index(q->rows, ":page_limit"),
                       (int64_t)limit);
    sqlite3_bind_int64(q->rows, sqlite3_bind_parameter_index(q->rows, ":page_offset"),
                       (int64_t)offset);
    return SQLITE_OK;
}

void kb_paged_query_close(kb_paged_query *q)
{
    sqlite3_finalize(q->rows);
    q->rows = NULL;
}
