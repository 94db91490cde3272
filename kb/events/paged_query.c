/*
 * paged_query.c — one page of a filtered list and the count of the whole list, on kb_db and (for
 * kb/gaps until it is ported) on SQLite's own API (see paged_query.h).
 */
#include "events/paged_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "SELECT count(*) ..." and "SELECT columns ... LIMIT :page_limit OFFSET :page_offset",
 * malloc'd into count and page. 0, or -1 when out of memory. */
static int page_sql(const char *columns, const char *from, const char *where, const char *order_by,
                    char **count, char **page)
{
    *page = NULL;
    if (asprintf(count, "SELECT count(*) FROM %s WHERE %s", from, where) < 0) {
        *count = NULL;
        return -1;
    }
    if (asprintf(page, "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT :page_limit OFFSET :page_offset",
                 columns, from, where, order_by) < 0) {
        free(*count);
        *count = *page = NULL;
        return -1;
    }
    return 0;
}

int kb_page_open(kb_db *db, const char *columns, const char *from, const char *where,
                 const char *order_by, size_t limit, size_t offset, kb_page_bind bind,
                 const void *arg, kb_page *q)
{
    memset(q, 0, sizeof *q);
    char *count_sql, *rows_sql;
    if (page_sql(columns, from, where, order_by, &count_sql, &rows_sql) != 0) return KB_DB_ERROR;
    kb_db_stmt *count = NULL;
    int rc = kb_db_prepare(db, count_sql, &count);
    if (rc == KB_DB_OK) {
        if (bind) bind(count, arg);
        rc = kb_db_step(count);
        if (rc == KB_DB_ROW) q->total = kb_db_column_int64(count, 0);
        rc = rc == KB_DB_ROW ? KB_DB_OK : rc == KB_DB_DONE ? KB_DB_ERROR : rc;
    }
    kb_db_finalize(count);
    if (rc == KB_DB_OK) rc = kb_db_prepare(db, rows_sql, &q->rows);
    free(count_sql);
    free(rows_sql);
    if (rc != KB_DB_OK) return rc;
    if (bind) bind(q->rows, arg);
    kb_db_bind_int64(q->rows, kb_db_param_index(q->rows, ":page_limit"), (int64_t)limit);
    kb_db_bind_int64(q->rows, kb_db_param_index(q->rows, ":page_offset"), (int64_t)offset);
    return KB_DB_OK;
}

void kb_page_close(kb_page *q)
{
    kb_db_finalize(q->rows);
    q->rows = NULL;
}

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
