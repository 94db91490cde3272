/*
 * paged_query.c — one page of a filtered list and the count of the whole list, on kb_db (see
 * paged_query.h).
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
