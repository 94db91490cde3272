/*
 * events/store_conn.h — a second connection to the event store, for modules that read or update it
 * outside the store's writer queue (kb/gaps.h, kb/review.h, kb-report).
 *
 * The connection has a 5 s busy timeout (in WAL mode a reader can briefly see SQLITE_BUSY while
 * the writer restarts the WAL; a writer waits for the store's batch to commit) and is refused
 * when the database's schema version is not the one this program writes, so a report never
 * misreads an older or newer layout.
 */
#ifndef KB_STORE_CONN_H
#define KB_STORE_CONN_H

#include <stddef.h>

#include <sqlite3.h>

#define KB_STORE_BUSY_TIMEOUT_MS 5000

/* Open DATA_DIR/events.sqlite3 read-only or read-write. NULL with a message for the operator in
 * err when there is no store there, it cannot be opened, or its schema version differs. */
sqlite3 *kb_store_connect(const char *data_dir, int readonly, char *err, size_t err_len);

/* Run BEGIN IMMEDIATE (waiting up to the busy timeout). SQLITE_OK or the error code. */
int kb_store_begin_immediate(sqlite3 *db);

/* A connection that remembers why its last call failed: the kb_gaps and kb_review handles are
 * built on it, so both report errors the same way (a kb_status and a message, the
 * sqlite3_errmsg pattern). */
typedef struct {
    sqlite3 *db;
    int readonly;
    int code;      /* kb_status of the last failure */
    char err[512]; /* what went wrong, for kb_gaps_errmsg / kb_review_errmsg */
} kb_store_conn;

/* Connect c (kb_store_connect). 0, or -1 with the reason in err. */
int kb_store_conn_open(kb_store_conn *c, const char *data_dir, int readonly, char *err,
                       size_t err_len);
void kb_store_conn_close(kb_store_conn *c);
/* Set the error (message and code); returns code. */
int kb_store_conn_fail(kb_store_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_ERROR with "what: SQLite's message". */
int kb_store_conn_sql_fail(kb_store_conn *c, const char *what);
/* Roll back an open transaction, if any. */
void kb_store_conn_rollback(kb_store_conn *c);
/* A column's text, malloc'd, into *out (NULL for SQL NULL). 0, or -1 when out of memory. */
int kb_store_column_text(sqlite3_stmt *s, int col, char **out);

#endif
