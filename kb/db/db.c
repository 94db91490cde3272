/*
 * db.c — the handle: open by --data value, errors that name the database and never its
 * password, and the calls that both backends share or that dispatch to db_sqlite.c and
 * db_pg.c (see db/db.h).
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kb_db_is_uri(const char *data)
{
    return data && (strncasecmp(data, "postgresql://", 13) == 0 ||
                    strncasecmp(data, "postgres://", 11) == 0);
}

/* ---------------------------------------------------------------- errors */

void kb_db_scrub(const kb_db *db, char *text, size_t len)
{
    for (int k = 0; k < KB_DB_MAX_SECRETS; k++) {
        const char *secret = db->secrets[k];
        if (!secret || !*secret) continue;
        size_t sl = strlen(secret);
        for (char *p; (p = strstr(text, secret));) {
            /* "***" is never longer than a secret of 3+ bytes; shorter ones grow the text. */
            size_t tail = strlen(p + sl);
            if ((size_t)(p - text) + 3 + tail + 1 > len) {
                *p = '\0'; /* no room: cut the message before it */
                break;
            }
            memmove(p + 3, p + sl, tail + 1);
            memcpy(p, "***", 3);
        }
    }
}

int kb_db_fail(kb_db *db, int code, const char *sqlstate, const char *fmt, ...)
{
    char msg[sizeof db->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* libpq's messages end with a newline and may run over several lines: one line here. */
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    /* Scrubbed before the cut below, so that no cut leaves part of a password unrecognised. */
    kb_db_scrub(db, msg, sizeof msg);
    n = strlen(msg);
    /* "NAME: message", cut at the buffer's end when long (what went wrong comes first). */
    int at = snprintf(db->err, sizeof db->err, "%s: ", db->name ? db->name : "event store");
    size_t used = at < 0 ? 0 : (size_t)at >= sizeof db->err ? sizeof db->err - 1 : (size_t)at;
    size_t room = sizeof db->err - 1 - used;
    if (n > room) n = room;
    memcpy(db->err + used, msg, n);
    db->err[used + n] = '\0';
    kb_db_scrub(db, db->err, sizeof db->err);
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", sqlstate ? sqlstate : "");
    db->code = code;
    return code;
}

int kb_db_ok(kb_db *db)
{
    db->code = KB_DB_OK;
    db->err[0] = '\0';
    db->sqlstate[0] = '\0';
    return KB_DB_OK;
}

const char *kb_db_errmsg(const kb_db *db) { return db ? db->err : "no database handle"; }
int kb_db_errcode(const kb_db *db) { return db ? db->code : KB_DB_MISUSE; }
const char *kb_db_sqlstate(const kb_db *db) { return db ? db->sqlstate : ""; }
const char *kb_db_name(const kb_db *db) { return db->name; }
kb_db_dialect kb_db_dialect_of(const kb_db *db) { return db->dialect; }
uint64_t kb_db_generation(const kb_db *db) { return db->generation; }
int64_t kb_db_changes(kb_db *db) { return db->changes; }
int kb_db_in_transaction(const kb_db *db) { return db->tx != 0; }
struct sqlite3 *kb_db_sqlite_handle(kb_db *db) { return db->sq; }

/* ---------------------------------------------------------------- open and close */

static void db_free(kb_db *db)
{
    free(db->name);
    for (int k = 0; k < KB_DB_MAX_SECRETS; k++) free(db->secrets[k]);
    for (size_t i = 0; i < db->n_dealloc; i++) free(db->dealloc[i]);
    free(db->dealloc);
    free(db);
}

kb_db *kb_db_open(const char *data, int flags, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    if (!data || !*data) {
        snprintf(err, err_len, "no data directory or postgresql:// URI given");
        return NULL;
    }
    kb_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    db->flags = flags;
    db->busy_ms = KB_DB_BUSY_TIMEOUT_MS;
    db->durable = 1;
    int rc;
    if (kb_db_is_uri(data)) {
        db->dialect = KB_DB_POSTGRESQL;
        if (kb_db_uri_parse(data, &db->name, db->secrets, err, err_len) != 0) {
            db_free(db);
            return NULL;
        }
        rc = kb_db_pg_open(db, data, err, err_len);
        if (rc == KB_DB_LOST && (flags & KB_DB_ALLOW_OFFLINE)) return db;
    } else {
        db->dialect = KB_DB_SQLITE;
        rc = kb_db_sqlite_open(db, data, err, err_len);
    }
    if (rc != KB_DB_OK) {
        kb_db_close(db);
        return NULL;
    }
    return db;
}

void kb_db_close(kb_db *db)
{
    if (!db) return;
    if (db->dialect == KB_DB_POSTGRESQL) kb_db_pg_close(db);
    else kb_db_sqlite_close(db);
    db_free(db);
}

int kb_db_reconnect(kb_db *db)
{
    return db->dialect == KB_DB_POSTGRESQL ? kb_db_pg_reconnect(db) : kb_db_ok(db);
}

int kb_db_reconnect_start(kb_db *db)
{
    return db->dialect == KB_DB_POSTGRESQL ? kb_db_pg_reconnect_start(db) : kb_db_ok(db);
}

int kb_db_reconnect_poll(kb_db *db, int *done)
{
    if (db->dialect == KB_DB_POSTGRESQL) return kb_db_pg_reconnect_poll(db, done);
    *done = 1;
    return kb_db_ok(db);
}

int kb_db_ping(kb_db *db)
{
    if (db->dialect == KB_DB_SQLITE) return kb_db_exec(db, "SELECT 1");
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK)
        return kb_db_fail(db, KB_DB_LOST, NULL, "not connected");
    return kb_db_pg_exec(db, "SELECT 1");
}

int kb_db_set_busy_timeout(kb_db *db, int ms)
{
    db->busy_ms = ms < 0 ? 0 : ms;
    if (db->dialect == KB_DB_SQLITE) {
        sqlite3_busy_timeout(db->sq, db->busy_ms);
        return kb_db_ok(db);
    }
    return kb_db_pg_session_settings(db);
}

int kb_db_set_durable(kb_db *db, int durable)
{
    durable = durable != 0;
    if (durable == db->durable) return kb_db_ok(db);
    int rc = db->dialect == KB_DB_SQLITE
                 ? kb_db_exec(db, durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                 : kb_db_exec(db, durable ? "SET synchronous_commit = on" : "SET synchronous_commit = off");
    if (rc == KB_DB_OK) db->durable = durable;
    return rc;
}

/* ---------------------------------------------------------------- statements */

int kb_db_exec(kb_db *db, const char *sql)
{
    return db->dialect == KB_DB_SQLITE ? kb_db_sqlite_exec(db, sql) : kb_db_pg_exec(db, sql);
}

int kb_db_prepare(kb_db *db, const char *sql, kb_db_stmt **out)
{
    *out = NULL;
    kb_db_stmt *s = calloc(1, sizeof *s);
    if (!s) return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    s->db = db;
    int rc = db->dialect == KB_DB_SQLITE ? kb_db_sqlite_prepare(db, sql, s)
                                          : kb_db_pg_prepare(db, sql, s);
    if (rc != KB_DB_OK) {
        kb_db_finalize(s);
        return rc;
    }
    *out = s;
    return kb_db_ok(db);
}

void kb_db_finalize(kb_db_stmt *s)
{
    if (!s) return;
    if (s->sq) sqlite3_finalize(s->sq);
    kb_db_pg_stmt_free(s);
    free(s);
}

int kb_db_param_count(kb_db_stmt *s)
{
    return s->sq ? sqlite3_bind_parameter_count(s->sq) : s->nparams;
}

int kb_db_param_index(kb_db_stmt *s, const char *name)
{
    if (s->sq) return sqlite3_bind_parameter_index(s->sq, name);
    for (int i = 0; i < s->nparams; i++)
        if (s->param_names[i] && strcmp(s->param_names[i], name) == 0) return i + 1;
    return 0;
}

/* SQLite: the bind's result code in ours. */
static int sqlite_bound(kb_db_stmt *s, int i, int rc)
{
    if (rc == SQLITE_OK) return KB_DB_OK;
    if (rc == SQLITE_RANGE)
        return kb_db_fail(s->db, KB_DB_MISUSE, NULL, "parameter %d out of range (1..%d)", i,
                          sqlite3_bind_parameter_count(s->sq));
    return kb_db_sqlite_fail(s->db, rc);
}

/* PostgreSQL: keep the value's text form and type for the next run, in the parameter's own
 * buffer (grown when needed, never freed until finalize: no malloc per bind). */
static int pg_bind(kb_db_stmt *s, int i, int type, const char *text, size_t n)
{
    if (i < 1 || i > s->nparams)
        return kb_db_fail(s->db, KB_DB_MISUSE, NULL, "parameter %d out of range (1..%d)", i,
                          s->nparams);
    i--;
    if (text) {
        if (n > s->caps[i]) {
            size_t cap = n < 32 ? 32 : n;
            char *p = realloc(s->values[i], cap);
            if (!p) return kb_db_fail(s->db, KB_DB_ERROR, NULL, "out of memory");
            s->values[i] = p;
            s->caps[i] = cap;
        }
        memcpy(s->values[i], text, n);
    }
    s->types[i] = type;
    return KB_DB_OK;
}

int kb_db_bind_text(kb_db_stmt *s, int i, const char *v)
{
    if (s->sq)
        return sqlite_bound(s, i, v ? sqlite3_bind_text(s->sq, i, v, -1, SQLITE_TRANSIENT)
                                    : sqlite3_bind_null(s->sq, i));
    return pg_bind(s, i, v ? DBV_TEXT : DBV_NULL, v, v ? strlen(v) + 1 : 0);
}

/* 64 bits in network byte order: PostgreSQL's binary form of bigint and double precision,
 * which spares formatting and parsing a number per bind (a tenth of the client's time). */
static void big_endian64(uint64_t v, char out[8])
{
    for (int k = 7; k >= 0; k--, v >>= 8) out[k] = (char)(v & 0xff);
}

int kb_db_bind_int64(kb_db_stmt *s, int i, int64_t v)
{
    if (s->sq) return sqlite_bound(s, i, sqlite3_bind_int64(s->sq, i, v));
    char bin[8];
    big_endian64((uint64_t)v, bin);
    return pg_bind(s, i, DBV_INT, bin, 8);
}

int kb_db_bind_double(kb_db_stmt *s, int i, double v)
{
    if (s->sq) return sqlite_bound(s, i, sqlite3_bind_double(s->sq, i, v));
    uint64_t bits;
    char bin[8];
    memcpy(&bits, &v, 8);
    big_endian64(bits, bin);
    return pg_bind(s, i, DBV_DOUBLE, bin, 8);
}

int kb_db_bind_null(kb_db_stmt *s, int i)
{
    if (s->sq) return sqlite_bound(s, i, sqlite3_bind_null(s->sq, i));
    return pg_bind(s, i, DBV_NULL, NULL, 0);
}

void kb_db_clear_bindings(kb_db_stmt *s)
{
    if (s->sq) {
        sqlite3_clear_bindings(s->sq);
        return;
    }
    for (int i = 0; i < s->nparams; i++) s->types[i] = DBV_NULL;
}

int kb_db_step(kb_db_stmt *s)
{
    if (!s->sq) return kb_db_pg_step(s);
    kb_db *db = s->db;
    int rc = sqlite3_step(s->sq);
    if (rc == SQLITE_ROW) return KB_DB_ROW;
    if (rc == SQLITE_DONE) {
        if (!sqlite3_stmt_readonly(s->sq)) db->changes = sqlite3_changes64(db->sq);
        /* Ready to bind and run again at once, as on PostgreSQL (SQLite would refuse binds
         * until a reset). */
        sqlite3_reset(s->sq);
        kb_db_ok(db);
        return KB_DB_DONE;
    }
    /* The error is also returned by reset; keep the statement reusable as SQLite does. */
    int fail = kb_db_sqlite_fail(db, rc);
    sqlite3_reset(s->sq);
    return fail;
}

int kb_db_reset(kb_db_stmt *s)
{
    if (s->sq) {
        sqlite3_reset(s->sq); /* its code repeats the last step's, already reported */
        return KB_DB_OK;
    }
    PQclear(s->res);
    s->res = NULL;
    s->row = s->nrows = 0;
    s->finished = 0;
    return KB_DB_OK;
}

/* ---------------------------------------------------------------- columns */

/* Whether col is a column of the current row (PostgreSQL). */
static int pg_cell(kb_db_stmt *s, int col)
{
    return s->res && s->row > 0 && s->row <= s->nrows && col >= 0 && col < PQnfields(s->res);
}

int kb_db_column_count(kb_db_stmt *s)
{
    if (s->sq) return sqlite3_column_count(s->sq);
    return s->res ? PQnfields(s->res) : 0;
}

const char *kb_db_column_name(kb_db_stmt *s, int col)
{
    if (s->sq) return sqlite3_column_name(s->sq, col);
    return s->res && col >= 0 && col < PQnfields(s->res) ? PQfname(s->res, col) : NULL;
}

const char *kb_db_column_text(kb_db_stmt *s, int col)
{
    if (s->sq) return (const char *)sqlite3_column_text(s->sq, col);
    if (!pg_cell(s, col) || PQgetisnull(s->res, s->row - 1, col)) return NULL;
    return PQgetvalue(s->res, s->row - 1, col);
}

int kb_db_column_is_null(kb_db_stmt *s, int col)
{
    if (s->sq) return sqlite3_column_type(s->sq, col) == SQLITE_NULL;
    return !pg_cell(s, col) || PQgetisnull(s->res, s->row - 1, col);
}

int64_t kb_db_column_int64(kb_db_stmt *s, int col)
{
    if (s->sq) return sqlite3_column_int64(s->sq, col);
    const char *t = kb_db_column_text(s, col);
    if (!t) return 0;
    if (PQftype(s->res, col) == 16 /* bool */) return t[0] == 't';
    if (strpbrk(t, ".eE")) return (int64_t)strtod(t, NULL); /* numeric: truncate, as SQLite */
    return strtoll(t, NULL, 10);
}

double kb_db_column_double(kb_db_stmt *s, int col)
{
    if (s->sq) return sqlite3_column_double(s->sq, col);
    const char *t = kb_db_column_text(s, col);
    if (!t) return 0;
    if (PQftype(s->res, col) == 16) return t[0] == 't';
    return strtod(t, NULL);
}

int kb_db_column_dup(kb_db_stmt *s, int col, char **out)
{
    const char *t = kb_db_column_text(s, col);
    *out = t ? strdup(t) : NULL;
    return t && !*out ? -1 : 0;
}

/* ---------------------------------------------------------------- transactions */

int kb_db_begin(kb_db *db, kb_db_tx mode)
{
    if (db->tx) return kb_db_fail(db, KB_DB_MISUSE, NULL, "a transaction is already open");
    if (db->dialect == KB_DB_POSTGRESQL) return kb_db_pg_begin(db, mode);
    /* A read transaction refuses writes on SQLite too (query_only), so code that writes in one
     * fails on both databases alike rather than only on PostgreSQL. */
    int rc = kb_db_exec(db, mode == KB_DB_TX_WRITE ? "BEGIN IMMEDIATE"
                                                   : "BEGIN; PRAGMA query_only = 1");
    if (rc == KB_DB_OK) db->tx = mode;
    else if (!sqlite3_get_autocommit(db->sq)) sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* SQLite: end the transaction with COMMIT or ROLLBACK and lift query_only. */
static int sqlite_end(kb_db *db, int commit)
{
    int was_read = db->tx == KB_DB_TX_READ;
    int rc = KB_DB_OK;
    if (!sqlite3_get_autocommit(db->sq)) {
        rc = kb_db_exec(db, commit ? "COMMIT" : "ROLLBACK");
        if (rc != KB_DB_OK && commit && !sqlite3_get_autocommit(db->sq)) {
            /* A failed COMMIT (SQLITE_BUSY) leaves the transaction open: roll it back so the
             * handle is usable, and report the commit's error. */
            char saved[sizeof db->err];
            snprintf(saved, sizeof saved, "%s", db->err);
            int code = db->code;
            sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
            snprintf(db->err, sizeof db->err, "%s", saved);
            db->code = code;
        }
    } else if (commit) {
        rc = kb_db_fail(db, KB_DB_ERROR, NULL,
                        "the transaction was rolled back after an earlier error");
    }
    if (was_read && !(db->flags & KB_DB_READONLY))
        sqlite3_exec(db->sq, "PRAGMA query_only = 0", NULL, NULL, NULL);
    db->tx = 0;
    return rc;
}

int kb_db_commit(kb_db *db)
{
    if (!db->tx) return kb_db_fail(db, KB_DB_MISUSE, NULL, "no transaction to commit");
    return db->dialect == KB_DB_POSTGRESQL ? kb_db_pg_end(db, 1) : sqlite_end(db, 1);
}

int kb_db_rollback(kb_db *db)
{
    if (!db->tx) return KB_DB_OK;
    /* Called after a failure: a rollback that works keeps that failure's message and code. */
    char err[sizeof db->err], state[sizeof db->sqlstate];
    int code = db->code;
    memcpy(err, db->err, sizeof err);
    memcpy(state, db->sqlstate, sizeof state);
    int rc = db->dialect == KB_DB_POSTGRESQL ? kb_db_pg_end(db, 0) : sqlite_end(db, 0);
    if (rc == KB_DB_OK && code != KB_DB_OK) {
        db->code = code;
        memcpy(db->err, err, sizeof err);
        memcpy(db->sqlstate, state, sizeof state);
    }
    return rc;
}

/* ---------------------------------------------------------------- advisory locks */

uint32_t kb_db_lock_key(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a, 32 bits */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
    return h;
}

int kb_db_try_lock(kb_db *db, const char *name, int *got)
{
    *got = 0;
    if (db->dialect == KB_DB_SQLITE) {
        *got = 1;
        return kb_db_ok(db);
    }
    return kb_db_pg_try_lock(db, kb_db_lock_key(name), got);
}

int kb_db_unlock(kb_db *db, const char *name)
{
    if (db->dialect == KB_DB_SQLITE) return kb_db_ok(db);
    return kb_db_pg_unlock(db, kb_db_lock_key(name));
}

int kb_db_lock_held(kb_db *db, const char *name, int *held)
{
    *held = 0;
    if (db->dialect == KB_DB_SQLITE) {
        *held = 1;
        return kb_db_ok(db);
    }
    return kb_db_pg_lock_held(db, kb_db_lock_key(name), held);
}

/* ---------------------------------------------------------------- schema version */

int kb_db_schema_version(kb_db *db, int *version)
{
    *version = -1;
    if (db->dialect == KB_DB_POSTGRESQL) return kb_db_pg_schema_version(db, version);
    kb_db_stmt *q;
    int rc = kb_db_prepare(db, "PRAGMA user_version", &q);
    if (rc != KB_DB_OK) return rc;
    rc = kb_db_step(q);
    if (rc == KB_DB_ROW) *version = (int)kb_db_column_int64(q, 0);
    kb_db_finalize(q);
    return rc == KB_DB_ROW ? kb_db_ok(db) : rc;
}

int kb_db_set_schema_version(kb_db *db, int version)
{
    if (db->dialect == KB_DB_POSTGRESQL) return kb_db_pg_set_schema_version(db, version);
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    return kb_db_exec(db, sql);
}
