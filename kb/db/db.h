/*
 * db/db.h — one SQL interface over the two databases the event store can live in: SQLite, a file
 * in the --data directory (the default, one machine), and PostgreSQL, a postgresql:// URI given
 * as --data (several search nodes sharing one store, docs/CLUSTER.md).
 *
 * The modules that keep their tables in the event store (kb/events, kb/gaps, kb/review,
 * kb/learn) write each statement once, in the SQL both databases accept, and run it through
 * this layer; the few statements that must differ ask kb_db_dialect() or use the fragments
 * below. Its shape is SQLite's (prepare, bind, step, column, reset, finalize), because the
 * modules are written that way and that shape maps onto libpq without loss:
 *
 *   - Placeholders are SQLite's: `?`, `?N` and `:name`. For PostgreSQL they become $1.. (string
 *     literals, quoted names and comments are left alone; `::` casts are not names).
 *   - Binds are typed (text, int64, double, NULL) and copied. On PostgreSQL an int64 is sent as
 *     bigint, a double as double precision, text and NULL as "unknown" so that the server infers
 *     the column's type, as it does for a quoted literal. A parameter whose type cannot be
 *     inferred from its context (`SELECT ?` into a bigint column) needs CAST(? AS BIGINT).
 *   - kb_db_step answers KB_DB_ROW or KB_DB_DONE. PostgreSQL runs the statement at the first
 *     step and holds its whole result (page large lists: events/paged_query.h); a statement
 *     run a second time is prepared on the server and reused from then on.
 *   - Write transactions behave as under SQLite's one writer on both: kb_db_begin(KB_DB_WRITE)
 *     is BEGIN IMMEDIATE on SQLite and, on PostgreSQL, a READ COMMITTED transaction that first
 *     takes one cluster-wide transaction lock (pg_advisory_xact_lock), so write transactions of
 *     every node run one at a time, wait at most the busy timeout (KB_DB_BUSY), and commit in
 *     the order they began (identity values are therefore in commit order, which the gap
 *     queue's "rows after the last one taken in" relies on). A lone INSERT, UPDATE or DELETE
 *     outside a transaction takes the same lock, as SQLite's autocommit does. docs/CLUSTER.md
 *     says why this and not SERIALIZABLE.
 *   - Advisory locks (kb_db_try_lock) let one node of several do work that must run once; a
 *     session holds them, so a node that dies frees them. On SQLite they always succeed.
 *   - A lost PostgreSQL connection is KB_DB_LOST, distinct from other errors, so the store's
 *     writer can spool its events to disk; kb_db_reconnect brings the handle back, statements
 *     included (they are prepared again on first use).
 *   - Every message names the database: the file's path, or the URI without its password.
 *
 * A handle (and its statements) is used by one thread at a time, like an SQLite connection
 * opened with SQLITE_OPEN_NOMUTEX. Codes are this layer's own (KB_DB_*): it sits in layer 0,
 * below the modules that turn them into kb_status.
 */
#ifndef KB_DB_H
#define KB_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct kb_db kb_db;
typedef struct kb_db_stmt kb_db_stmt;

typedef enum { KB_DB_SQLITE = 1, KB_DB_POSTGRESQL = 2 } kb_db_dialect;

/* Result codes. */
enum {
    KB_DB_OK = 0,
    KB_DB_ROW = 1,        /* kb_db_step: a row is ready */
    KB_DB_DONE = 2,       /* kb_db_step: the statement has finished */
    KB_DB_ERROR = 3,      /* anything else (SQL error, I/O, memory); the message says what */
    KB_DB_CONSTRAINT = 4, /* a UNIQUE, CHECK or NOT NULL constraint refused the statement; on
                           * PostgreSQL the open transaction is then aborted (roll it back) */
    KB_DB_BUSY = 5,       /* another writer held the lock past the busy timeout, or PostgreSQL
                           * cancelled a deadlock or serialization conflict: try again later */
    KB_DB_LOST = 6,       /* PostgreSQL only: the connection is gone (server down, network);
                           * the transaction and every advisory lock are lost; kb_db_reconnect */
    KB_DB_MISUSE = 7      /* a wrong call: bad parameter index, no such column, ... */
};

/* kb_db_open flags. */
enum {
    KB_DB_READONLY = 1,       /* refuse writes (SQLITE_OPEN_READONLY; default_transaction_read_only) */
    KB_DB_CREATE = 2,         /* SQLite: create the data directory (0700) and events.sqlite3 (0600)
                               * when missing, switch to WAL; what the store's writer opens with */
    KB_DB_ALLOW_OFFLINE = 4   /* PostgreSQL: when the server cannot be reached, still return a
                               * handle (kb_db_errcode says KB_DB_LOST) to kb_db_reconnect later */
};

#define KB_DB_BUSY_TIMEOUT_MS 5000 /* how long a writer waits for another's transaction */
#define KB_DB_FILE "events.sqlite3"

/* ---------------------------------------------------------------- connections */

/* Whether a --data value names a PostgreSQL database (postgresql:// or postgres://) rather than
 * a directory. */
int kb_db_is_uri(const char *data);

/* Open the event store's database: DATA/events.sqlite3 for a directory, the server for a URI.
 * NULL with the reason in err (naming the file or the URI without its password) on failure,
 * except as KB_DB_ALLOW_OFFLINE says. */
kb_db *kb_db_open(const char *data, int flags, char *err, size_t err_len);

/* Close the handle, finalizing nothing: finalize its statements first. A PostgreSQL session's
 * advisory locks are released by the server. NULL is fine. */
void kb_db_close(kb_db *db);

kb_db_dialect kb_db_dialect_of(const kb_db *db);

/* The database for messages and logs: the SQLite file's path, or the URI with its password and
 * password parameters removed. */
const char *kb_db_name(const kb_db *db);

/* The last failure's message (naming the database) and code; "" and KB_DB_OK after success. */
const char *kb_db_errmsg(const kb_db *db);
int kb_db_errcode(const kb_db *db);

/* PostgreSQL: connect again after KB_DB_LOST (or an offline open). KB_DB_OK, or KB_DB_LOST while
 * the server is still unreachable. Statements stay valid; advisory locks are not taken again.
 * SQLite: KB_DB_OK. */
int kb_db_reconnect(kb_db *db);

/* kb_db_reconnect without waiting, for a thread that must go on meanwhile (the store's writer:
 * callers wait on it for their acknowledgements, and a connect to a host that does not answer
 * waits out the whole connect timeout). kb_db_reconnect_start begins: KB_DB_OK, or KB_DB_LOST
 * when it cannot. Then kb_db_reconnect_poll, as often as wanted, never waits: *done = 0 while
 * it is under way; *done = 1 with KB_DB_OK once connected (a new session, as after
 * kb_db_reconnect), or with KB_DB_LOST when it failed or ran past the connect timeout
 * (connect_timeout, 3 s unless the URI says otherwise). Nothing else may use the handle in
 * between. SQLite: KB_DB_OK at once. */
int kb_db_reconnect_start(kb_db *db);
int kb_db_reconnect_poll(kb_db *db, int *done);

/* Run a cheap query: KB_DB_OK, or KB_DB_LOST when the connection turns out to be gone (what a
 * health check asks). */
int kb_db_ping(kb_db *db);

/* Counts (re)connections: it changes when kb_db_reconnect has replaced the session, so a caller
 * can tell that its advisory locks and session settings are gone. */
uint64_t kb_db_generation(const kb_db *db);

/* How long a write waits for another writer before KB_DB_BUSY (sqlite3_busy_timeout;
 * PostgreSQL's lock_timeout). Default KB_DB_BUSY_TIMEOUT_MS. */
int kb_db_set_busy_timeout(kb_db *db, int ms);

/* Whether the next commits wait for stable storage: 1 (the default) = SQLite synchronous=FULL,
 * PostgreSQL synchronous_commit=on; 0 = synchronous=NORMAL in WAL mode, synchronous_commit=off
 * (a crash of the machine, or of the server, may lose the last moments of commits, never
 * corrupts). The store's writer uses 0 for batches of searches only. */
int kb_db_set_durable(kb_db *db, int durable);

/* ---------------------------------------------------------------- statements */

/* Run SQL without parameters or rows, one or more statements separated by ';'. */
int kb_db_exec(kb_db *db, const char *sql);

/* Prepare one statement. KB_DB_OK with *out set, or an error with *out NULL. SQLite reports an
 * SQL error here, PostgreSQL at the first kb_db_step. */
int kb_db_prepare(kb_db *db, const char *sql, kb_db_stmt **out);

/* Bind parameter i (1-based, as SQLite numbers them; kb_db_param_index for :name). The value is
 * copied. A NULL text binds SQL NULL. KB_DB_OK or KB_DB_MISUSE for an index out of range. */
int kb_db_bind_text(kb_db_stmt *s, int i, const char *v);
int kb_db_bind_int64(kb_db_stmt *s, int i, int64_t v);
int kb_db_bind_double(kb_db_stmt *s, int i, double v);
int kb_db_bind_null(kb_db_stmt *s, int i);
/* The index of a :name parameter, 0 when the statement has none of that name. */
int kb_db_param_index(kb_db_stmt *s, const char *name);
int kb_db_param_count(kb_db_stmt *s);

/* Run the statement or move to its next row: KB_DB_ROW, KB_DB_DONE or an error code. After
 * KB_DB_DONE the next step runs it again, as SQLite does. */
int kb_db_step(kb_db_stmt *s);

/* The current row's columns (0-based). Text stays valid until the next step, reset or finalize;
 * NULL for SQL NULL. Numbers from text are parsed; PostgreSQL's booleans read as 1 and 0 as
 * numbers (their text is "t" and "f": read a comparison's result as a number). */
int kb_db_column_count(kb_db_stmt *s);
const char *kb_db_column_name(kb_db_stmt *s, int col);
const char *kb_db_column_text(kb_db_stmt *s, int col);
int64_t kb_db_column_int64(kb_db_stmt *s, int col);
double kb_db_column_double(kb_db_stmt *s, int col);
int kb_db_column_is_null(kb_db_stmt *s, int col);
/* The column's text, malloc'd, into *out (NULL for SQL NULL). 0, or -1 when out of memory. */
int kb_db_column_dup(kb_db_stmt *s, int col, char **out);

/* Make the statement ready to run again, keeping its bindings. */
int kb_db_reset(kb_db_stmt *s);
/* Set every parameter back to NULL. */
void kb_db_clear_bindings(kb_db_stmt *s);
/* Free the statement. NULL is fine. */
void kb_db_finalize(kb_db_stmt *s);

/* Rows inserted, updated or deleted by the last INSERT, UPDATE or DELETE that finished on this
 * handle (sqlite3_changes; PostgreSQL's command tag). With RETURNING, once it stepped to DONE. */
int64_t kb_db_changes(kb_db *db);

/* The database's own error code of the last failure, for logs: SQLite's extended result code,
 * or PostgreSQL's SQLSTATE ("" when there is none). */
const char *kb_db_sqlstate(const kb_db *db);

/* ---------------------------------------------------------------- transactions */

typedef enum {
    KB_DB_TX_READ = 1,  /* a consistent snapshot for several reads; writes are refused */
    KB_DB_TX_WRITE = 2  /* the one writer: BEGIN IMMEDIATE, or the cluster-wide write lock */
} kb_db_tx;

/* Begin a transaction. KB_DB_BUSY when another writer held the lock past the busy timeout. */
int kb_db_begin(kb_db *db, kb_db_tx mode);
/* Commit. On PostgreSQL a transaction that an error aborted is rolled back instead, and this
 * answers KB_DB_ERROR saying so. */
int kb_db_commit(kb_db *db);
/* Roll back the open transaction, if any. */
int kb_db_rollback(kb_db *db);
int kb_db_in_transaction(const kb_db *db);

/* ---------------------------------------------------------------- work that runs on one node */

/* Try to take the advisory lock `name` for this handle's session, without waiting: *got = 1
 * when this handle now holds it (or already did), 0 when another session does. PostgreSQL:
 * pg_try_advisory_lock; the server frees it when the session ends, so when the node holding
 * it dies, another takes the work over. SQLite: one machine runs one daemon, *got = 1. */
int kb_db_try_lock(kb_db *db, const char *name, int *got);
/* Release a lock taken by kb_db_try_lock. */
int kb_db_unlock(kb_db *db, const char *name);
/* Ask the server whether this session still holds `name` (*held 0 or 1); KB_DB_LOST when the
 * session itself is gone. Work done under a lock should check before each step of work and do
 * it in transactions on this same handle, so nothing commits after the lock was lost. */
int kb_db_lock_held(kb_db *db, const char *name, int *held);

/* ---------------------------------------------------------------- dialect */

/* The schema version: PRAGMA user_version on SQLite; the one row of table kb_schema on
 * PostgreSQL (0 when the table does not exist yet). Set it inside the migration's write
 * transaction. */
int kb_db_schema_version(kb_db *db, int *version);
int kb_db_set_schema_version(kb_db *db, int version);

/* DDL written for SQLite in the dialect's form, malloc'd (NULL when out of memory). For
 * PostgreSQL: INTEGER is BIGINT (SQLite's integers are 64-bit), REAL is DOUBLE PRECISION,
 * `INTEGER PRIMARY KEY [AUTOINCREMENT]` is `BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY
 * KEY`, WITHOUT ROWID is dropped, and a column's REFERENCES clause is dropped (SQLite does not
 * enforce foreign keys here: same behaviour). For SQLite: a copy. */
char *kb_db_ddl(kb_db_dialect d, const char *sqlite_ddl);

/* The same for a migration step that mixes DDL with data statements: only its schema
 * statements (every INSERT, UPDATE, DELETE or WITH ... statement left out), for a new store that
 * has no data for them to change (docs/CLUSTER.md, "Schema and migrations"). */
char *kb_db_ddl_only(kb_db_dialect d, const char *sqlite_sql);

/* A FROM item over the elements of a JSON array held in a text column, with SQLite json_each's
 * columns `value` (text), `key` (0-based position) and `type` ('text' for strings), named
 * alias: `json_each(expr) AS alias` or, on PostgreSQL, a LATERAL subquery over
 * jsonb_array_elements. 0, or -1 when out is too small. */
int kb_db_sql_json_each(kb_db_dialect d, const char *expr, const char *alias, char *out,
                        size_t len);
/* An aggregate joining the values of expr with ',' (order unspecified), DISTINCT ones when
 * distinct: group_concat or string_agg. 0, or -1 when out is too small. */
int kb_db_sql_group_concat(kb_db_dialect d, int distinct, const char *expr, char *out,
                           size_t len);

/* The SQLite connection, for what only SQLite has (registering an SQL function for a released
 * migration step, integrity_check); NULL on PostgreSQL. */
struct sqlite3 *kb_db_sqlite_handle(kb_db *db);

#endif
