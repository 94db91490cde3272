/*
 * events/store_conn.h — a second connection to the event store, for modules that read or update it
 * outside the store's writer queue (kb/gaps.h, kb/review.h, kb/learn.h, kb/coaching.h, kb-report).
 *
 * The store is the SQLite file DATA_DIR/events.sqlite3 or a PostgreSQL database (a
 * postgresql:// URI as --data, docs/CLUSTER.md); the connection is a kb_db (db/db.h) either
 * way. It has a 5 s busy timeout (in WAL mode a reader can briefly see SQLITE_BUSY while the
 * writer restarts the WAL; a writer waits for the store's batch to commit) and is refused when
 * the database's schema version is not the one this program writes, so a report never misreads
 * an older or newer layout.
 *
 * Connections to PostgreSQL are kept per thread: a session costs 5-15 ms to open where an SQLite
 * open costs 0.03 ms, and kb-searchd opens a module handle per request. kb_store_conn_open_any
 * borrows one of the calling thread's sessions (opening it the first time, reconnecting it when
 * the server dropped it) and kb_store_conn_close gives it back; a thread's sessions close when
 * it exits. SQLite connections are opened and closed as before.
 */
#ifndef KB_STORE_CONN_H
#define KB_STORE_CONN_H

#include <stddef.h>

#include "db/db.h"

#define KB_STORE_BUSY_TIMEOUT_MS 5000

/* A connection that remembers why its last call failed: the kb_gaps, kb_review, kb_learn and
 * kb_coaching handles are built on it, so all report errors the same way (a kb_status and a
 * message, the sqlite3_errmsg pattern). */
typedef struct {
    kb_db *kdb;    /* the connection, on either database */
    int borrowed;  /* kdb is one of this thread's PostgreSQL sessions: given back, not closed */
    int readonly;
    int code;      /* kb_status of the last failure */
    char err[512]; /* what went wrong, for kb_gaps_errmsg / kb_review_errmsg */
} kb_store_conn;

/* Connect c to the store under data_dir or at a postgresql:// URI. 0, or -1 with the reason in
 * err (no store there, cannot connect, another schema version). */
int kb_store_conn_open_any(kb_store_conn *c, const char *data, int readonly, char *err,
                           size_t err_len);
void kb_store_conn_close(kb_store_conn *c);
/* For a handle kept open across many calls (kb-searchd's learned-phrasings reload): when the
 * last call found the PostgreSQL session lost (the server restarted), connect again. 0, or -1
 * while the server is still unreachable (the next call then fails and says so). */
int kb_store_conn_revive(kb_store_conn *c);
/* Set the error (message and code); returns code. */
int kb_store_conn_fail(kb_store_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_ERROR with "what: the database's message". */
int kb_store_conn_sql_fail(kb_store_conn *c, const char *what);
/* Roll back an open transaction, if any. */
void kb_store_conn_rollback(kb_store_conn *c);
/* kb_db_errmsg without the database's name in front (the modules' messages say what failed;
 * the name is in the daemon's start-up line). */
const char *kb_store_db_message(kb_db *db);

/* Check the schema version of an open connection: 0, or -1 with the reason in err. */
int kb_store_check_version(kb_db *db, char *err, size_t err_len);

#endif
