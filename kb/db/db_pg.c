/*
 * db_pg.c — the PostgreSQL backend of kb/db, over libpq (see db/db.h and docs/CLUSTER.md).
 *
 * Statements: the first run of a statement is one round trip (PQexecParams: parse, bind and
 * execute together), so the many statements that run once cost no more than on any client; a
 * statement run a second time with the same parameter types is prepared on the server
 * (PQprepare) and run by name from then on, as the store's writer does thousands of times. A
 * statement prepared on a connection that has since been replaced is prepared again.
 * Server-side statements are DEALLOCATEd lazily, with the next command outside a transaction,
 * so kb_db_finalize needs no round trip and works in an aborted transaction too.
 *
 * Locks: two advisory-lock classes (the two-int4 key space, which never meets the one-bigint
 * one other software may use): LOCK_WRITE for the cluster-wide write transaction lock, taken
 * with pg_advisory_xact_lock and released by COMMIT or ROLLBACK; LOCK_NAMED for kb_db_try_lock,
 * session locks released by kb_db_unlock or the end of the session.
 */
#include "db/db_internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCK_NAMED 0x6b62 /* "kb" */
#define LOCK_WRITE 0x6b63
#define OID_INT8 20
#define OID_FLOAT8 701
#define OID_TEXT 25

static int connected(kb_db *db) { return db->pg && PQstatus(db->pg) == CONNECTION_OK; }

/* The session is gone: so are its transaction and its locks. */
static int lost(kb_db *db, const char *what)
{
    db->tx = 0;
    db->n_locks = 0;
    const char *why = db->pg ? PQerrorMessage(db->pg) : "out of memory";
    return kb_db_fail(db, KB_DB_LOST, NULL, "%s: connection lost: %s", what, *why ? why : "not connected");
}

/* Turn a failed result (or none) into the handle's error; frees res. */
static int result_fail(kb_db *db, PGresult *res, const char *what)
{
    if (!connected(db)) {
        PQclear(res);
        return lost(db, what ? what : "cannot run a statement");
    }
    if (!res)
        return kb_db_fail(db, KB_DB_ERROR, NULL, "%s%s%s", what ? what : "", what ? ": " : "",
                          PQerrorMessage(db->pg));
    const char *field = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char state_buf[8] = "", *state = field ? state_buf : NULL; /* outlives PQclear(res) */
    if (field) snprintf(state_buf, sizeof state_buf, "%s", field);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg) msg = PQresultErrorMessage(res);
    int code = KB_DB_ERROR;
    if (state) {
        if (!strncmp(state, "23", 2)) code = KB_DB_CONSTRAINT;
        else if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
            code = KB_DB_BUSY;
        else if (!strncmp(state, "08", 2) || !strncmp(state, "57P0", 4)) code = KB_DB_LOST;
    }
    char copy[768];
    snprintf(copy, sizeof copy, "%s", msg && *msg ? msg : "unknown error");
    PQclear(res);
    if (code == KB_DB_LOST) {
        db->tx = 0;
        db->n_locks = 0;
    }
    return kb_db_fail(db, code, state, "%s%s%s", what ? what : "", what ? ": " : "", copy);
}

/* The rows a finished INSERT, UPDATE or DELETE changed, from its command tag; -1 otherwise. */
static int64_t tag_changes(PGresult *res)
{
    const char *tag = PQcmdStatus(res);
    if (strncmp(tag, "INSERT", 6) && strncmp(tag, "UPDATE", 6) && strncmp(tag, "DELETE", 6) &&
        strncmp(tag, "MERGE", 5))
        return -1;
    return strtoll(PQcmdTuples(res), NULL, 10);
}

/* DEALLOCATE what finalized statements left on the server, between transactions only: an
 * error there must never abort a caller's transaction. */
static void flush_dealloc(kb_db *db)
{
    if (!db->n_dealloc || !connected(db) || PQtransactionStatus(db->pg) != PQTRANS_IDLE) return;
    size_t len = 1;
    for (size_t i = 0; i < db->n_dealloc; i++) len += strlen(db->dealloc[i]) + 13;
    char *sql = malloc(len);
    if (sql) {
        size_t o = 0;
        for (size_t i = 0; i < db->n_dealloc; i++)
            o += (size_t)sprintf(sql + o, "DEALLOCATE %s;", db->dealloc[i]);
        PQclear(PQexec(db->pg, sql)); /* failures here cost a little memory on the server only */
        free(sql);
    }
    for (size_t i = 0; i < db->n_dealloc; i++) free(db->dealloc[i]);
    db->n_dealloc = 0;
}

static void queue_dealloc(kb_db *db, const char *name)
{
    if (db->n_dealloc == db->cap_dealloc) {
        size_t cap = db->cap_dealloc ? db->cap_dealloc * 2 : 16;
        char **v = realloc(db->dealloc, cap * sizeof *v);
        if (!v) return;
        db->dealloc = v;
        db->cap_dealloc = cap;
    }
    char *copy = strdup(name);
    if (copy) db->dealloc[db->n_dealloc++] = copy;
}

/* Run sql (no parameters) and keep its result in *out (may be NULL: cleared). */
static int run_plain(kb_db *db, const char *sql, const char *what, PGresult **out)
{
    if (out) *out = NULL;
    if (!connected(db)) return lost(db, what);
    flush_dealloc(db);
    PGresult *res = PQexec(db->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        return result_fail(db, res, what);
    int64_t n = tag_changes(res);
    if (n >= 0) db->changes = n;
    if (out) *out = res;
    else PQclear(res);
    return kb_db_ok(db);
}

/* ---------------------------------------------------------------- connections */

int kb_db_pg_session_settings(kb_db *db)
{
    char sql[256];
    /* lock_timeout is the busy timeout (0 would mean "wait for ever"); a session idle inside a
     * transaction for a minute is a stuck node holding the write lock of every node: the
     * server ends it. Notices ("table does not exist, skipping") stay off stderr; warnings
     * reach it (libpq prints them), as they deserve a look. */
    snprintf(sql, sizeof sql,
             "SET lock_timeout = %d; SET idle_in_transaction_session_timeout = 60000; "
             "SET client_min_messages = warning; SET synchronous_commit = %s%s",
             db->busy_ms > 0 ? db->busy_ms : 1, db->durable ? "on" : "off",
             db->flags & KB_DB_READONLY ? "; SET default_transaction_read_only = on" : "");
    return run_plain(db, sql, "cannot set up the session", NULL);
}

int kb_db_pg_open(kb_db *db, const char *uri, char *err, size_t err_len)
{
    /* Defaults first: the URI (dbname, expanded) overrides them. client_encoding comes after it:
     * the store's text is UTF-8 whatever the URI says. tcp_user_timeout and keepalives make a
     * vanished server (a dead machine, a cut network) an error within seconds rather than
     * minutes, so the writer starts spooling. Short ones, because whatever waits on a session
     * meanwhile holds up an HTTP thread, and the searches that share it: 3 s of unacknowledged
     * data (tcp_user_timeout counts only what TCP could not deliver, never a slow query, and a
     * local network that delivers nothing for 3 s is cut), 3 s to connect (a node's session
     * takes milliseconds). Measured with the cluster test's cut network (docs/CLUSTER.md). */
    const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          "fallback_application_name", "dbname", "client_encoding", NULL};
    const char *vals[] = {"3", "1", "10", "5", "3", "3000", "kb", uri, "UTF8", NULL};
    db->pg = PQconnectdbParams(keys, vals, 1);
    int rc;
    if (!db->pg) rc = kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    else if (PQstatus(db->pg) != CONNECTION_OK)
        rc = kb_db_fail(db, KB_DB_LOST, NULL, "cannot connect: %s", PQerrorMessage(db->pg));
    else rc = kb_db_pg_session_settings(db);
    if (rc == KB_DB_OK) db->generation = 1;
    else snprintf(err, err_len, "%s", db->err);
    return rc;
}

void kb_db_pg_close(kb_db *db)
{
    if (db->pg) PQfinish(db->pg);
    db->pg = NULL;
}

/* PQreset or PQresetStart has begun a new session: no transaction, no locks, none of the old
 * server-side statements. */
static void session_gone(kb_db *db)
{
    db->tx = 0;
    db->n_locks = 0;
    for (size_t i = 0; i < db->n_dealloc; i++) free(db->dealloc[i]);
    db->n_dealloc = 0;
}

/* The new session is up, or the attempt failed (its message from libpq). */
static int session_ready(kb_db *db)
{
    if (PQstatus(db->pg) != CONNECTION_OK)
        return kb_db_fail(db, KB_DB_LOST, NULL, "cannot connect: %s", PQerrorMessage(db->pg));
    db->generation++;
    return kb_db_pg_session_settings(db);
}

int kb_db_pg_reconnect(kb_db *db)
{
    if (!db->pg) return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    if (connected(db) && run_plain(db, "SELECT 1", "ping", NULL) == KB_DB_OK) return KB_DB_OK;
    PQreset(db->pg);
    session_gone(db);
    return session_ready(db);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection's connect_timeout in ms (libpq's own, which PQresetPoll leaves to its caller). */
static int64_t connect_timeout_ms(PGconn *pg)
{
    int64_t ms = 3000; /* kb_db_pg_open's default, should libpq not say */
    PQconninfoOption *opts = PQconninfo(pg);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        int s = o->val && !strcmp(o->keyword, "connect_timeout") ? atoi(o->val) : 0;
        if (s > 0) ms = (int64_t)(s < 2 ? 2 : s) * 1000; /* libpq's minimum */
    }
    PQconninfoFree(opts);
    return ms;
}

int kb_db_pg_reconnect_start(kb_db *db)
{
    if (!db->pg) return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    session_gone(db);
    if (!PQresetStart(db->pg))
        return kb_db_fail(db, KB_DB_LOST, NULL, "cannot connect: %s", PQerrorMessage(db->pg));
    db->connect_want = PGRES_POLLING_WRITING; /* libpq: as if PQresetPoll had said so */
    db->connect_deadline_ms = mono_ms() + connect_timeout_ms(db->pg);
    return kb_db_ok(db);
}

int kb_db_pg_reconnect_poll(kb_db *db, int *done)
{
    *done = 0;
    /* PQresetPoll only when its socket is ready for what it waits for: called early, it would
     * take a connect still under way for one that succeeded. */
    struct pollfd p = {.fd = PQsocket(db->pg),
                       .events = db->connect_want == PGRES_POLLING_READING ? POLLIN : POLLOUT};
    if (p.fd < 0 || poll(&p, 1, 0) != 0) {
        PostgresPollingStatusType st = PQresetPoll(db->pg);
        if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED) {
            *done = 1;
            return session_ready(db);
        }
        db->connect_want = st;
    }
    if (mono_ms() < db->connect_deadline_ms) return kb_db_ok(db);
    *done = 1; /* the next PQresetStart closes what this attempt left open */
    return kb_db_fail(db, KB_DB_LOST, NULL, "cannot connect: timeout expired");
}

int kb_db_pg_exec(kb_db *db, const char *sql)
{
    kb_db_translated t;
    if (kb_db_translate(sql, &t) != 0) return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    int implicit = t.is_write && !t.has_tx_control && !db->tx;
    kb_db_translated_free(&t);
    if (implicit) {
        int rc = kb_db_pg_begin(db, KB_DB_TX_WRITE);
        if (rc != KB_DB_OK) return rc;
    }
    int rc = run_plain(db, sql, NULL, NULL);
    if (implicit) {
        if (rc == KB_DB_OK) return kb_db_pg_end(db, 1);
        kb_db_rollback(db);
    }
    return rc;
}

/* ---------------------------------------------------------------- statements */

int kb_db_pg_prepare(kb_db *db, const char *sql, kb_db_stmt *s)
{
    kb_db_translated t;
    if (kb_db_translate(sql, &t) != 0) return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    s->sql = t.sql;
    s->nparams = t.nparams;
    s->param_names = t.names;
    s->param_used = t.used;
    s->is_write = t.is_write;
    size_t n = t.nparams ? (size_t)t.nparams : 1;
    s->values = calloc(n, sizeof *s->values);
    s->caps = calloc(n, sizeof *s->caps);
    s->types = calloc(n, sizeof *s->types);
    s->run_oids = calloc(n, sizeof *s->run_oids);
    s->server_oids = calloc(n, sizeof *s->server_oids);
    if (!s->values || !s->caps || !s->types || !s->run_oids || !s->server_oids)
        return kb_db_fail(db, KB_DB_ERROR, NULL, "out of memory");
    return KB_DB_OK;
}

void kb_db_pg_stmt_free(kb_db_stmt *s)
{
    kb_db *db = s->db;
    if (s->server_name[0] && db && s->server_gen == db->generation && db->pg)
        queue_dealloc(db, s->server_name);
    for (int i = 0; s->values && i < s->nparams; i++) free(s->values[i]);
    for (int i = 0; s->param_names && i < s->nparams; i++) free(s->param_names[i]);
    free(s->param_names);
    free(s->param_used);
    free(s->values);
    free(s->caps);
    free(s->types);
    free(s->run_oids);
    free(s->server_oids);
    free(s->sql);
    PQclear(s->res);
}

/* Execute the statement with its bindings; its rows into s->res. */
static int run(kb_db_stmt *s)
{
    kb_db *db = s->db;
    if (!connected(db)) return lost(db, "cannot run a statement");
    int n = s->nparams;
    Oid oids[n ? n : 1];
    const char *vals[n ? n : 1];
    int lens[n ? n : 1], formats[n ? n : 1];
    for (int i = 0; i < n; i++) {
        int number = s->types[i] == DBV_INT || s->types[i] == DBV_DOUBLE;
        oids[i] = s->types[i] == DBV_INT ? OID_INT8 : s->types[i] == DBV_DOUBLE ? OID_FLOAT8 : 0;
        /* A number the SQL skips (a filter's ?4 without its ?3) has no context to infer a type
         * from: say text, as SQLite does not care. */
        if (!s->param_used[i] && s->types[i] == DBV_NULL) oids[i] = OID_TEXT;
        vals[i] = s->types[i] == DBV_NULL ? NULL : s->values[i];
        lens[i] = number ? 8 : 0; /* text is NUL-terminated */
        formats[i] = number;      /* numbers in binary: kb_db_bind_int64 */
    }
    size_t oid_bytes = (size_t)n * sizeof(Oid);
    int implicit = s->is_write && !db->tx;
    if (implicit) {
        int rc = kb_db_pg_begin(db, KB_DB_TX_WRITE);
        if (rc != KB_DB_OK) return rc;
    }
    flush_dealloc(db);
    PGresult *res;
    if (s->server_name[0] && s->server_gen == db->generation && !memcmp(oids, s->server_oids, oid_bytes)) {
        res = PQexecPrepared(db->pg, s->server_name, n, vals, lens, formats, 0);
    } else if (s->runs >= 1 && !memcmp(oids, s->run_oids, oid_bytes)) {
        /* Run before with these types: worth preparing on the server. */
        if (s->server_name[0] && s->server_gen == db->generation) queue_dealloc(db, s->server_name);
        snprintf(s->server_name, sizeof s->server_name, "kb_%llu",
                 (unsigned long long)++db->stmt_seq);
        s->server_gen = db->generation;
        memcpy(s->server_oids, oids, oid_bytes);
        PGresult *p = PQprepare(db->pg, s->server_name, s->sql, n, oids);
        if (!p || PQresultStatus(p) != PGRES_COMMAND_OK) {
            s->server_name[0] = '\0';
            int rc = result_fail(db, p, NULL);
            if (implicit && rc != KB_DB_LOST) kb_db_rollback(db);
            return rc;
        }
        PQclear(p);
        res = PQexecPrepared(db->pg, s->server_name, n, vals, lens, formats, 0);
    } else {
        res = PQexecParams(db->pg, s->sql, n, oids, vals, lens, formats, 0);
        s->runs = 1;
        memcpy(s->run_oids, oids, oid_bytes);
    }
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = result_fail(db, res, NULL);
        if (implicit && rc != KB_DB_LOST) {
            /* Keep the statement's error, not the rollback's. */
            kb_db_rollback(db);
        }
        return rc;
    }
    int64_t changed = tag_changes(res);
    if (changed >= 0) db->changes = changed;
    s->res = res;
    s->nrows = st == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    s->row = 0;
    if (implicit) return kb_db_pg_end(db, 1);
    return kb_db_ok(db);
}

int kb_db_pg_step(kb_db_stmt *s)
{
    if (s->finished) kb_db_reset(s); /* after DONE, run again, as SQLite does */
    if (!s->res) {
        int rc = run(s);
        if (rc != KB_DB_OK) return rc;
    }
    if (s->row < s->nrows) {
        s->row++;
        return KB_DB_ROW;
    }
    s->finished = 1;
    s->row = s->nrows + 1; /* no current row */
    return KB_DB_DONE;
}

/* ---------------------------------------------------------------- transactions */

int kb_db_pg_begin(kb_db *db, kb_db_tx mode)
{
    char sql[160];
    if (mode == KB_DB_TX_WRITE)
        /* READ COMMITTED behind one cluster-wide lock: docs/CLUSTER.md, "Transactions". */
        snprintf(sql, sizeof sql,
                 "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(%d, 1)",
                 LOCK_WRITE);
    else
        snprintf(sql, sizeof sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int rc = run_plain(db, sql, mode == KB_DB_TX_WRITE ? "cannot begin a write transaction"
                                                       : "cannot begin a read transaction",
                       NULL);
    if (rc == KB_DB_OK) {
        db->tx = mode;
    } else if (rc != KB_DB_LOST && connected(db) &&
               PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
        PQclear(PQexec(db->pg, "ROLLBACK")); /* the lock wait timed out inside the BEGIN */
    }
    return rc;
}

int kb_db_pg_end(kb_db *db, int commit)
{
    if (!connected(db)) {
        db->tx = 0;
        return commit ? lost(db, "cannot commit") : KB_DB_OK;
    }
    PGresult *res = NULL;
    int rc = run_plain(db, commit ? "COMMIT" : "ROLLBACK", commit ? "cannot commit" : "cannot roll back",
                       &res);
    db->tx = 0;
    if (rc != KB_DB_OK) return rc;
    /* COMMIT of a transaction an error aborted succeeds, as a ROLLBACK: say so. */
    int rolled_back = commit && strcmp(PQcmdStatus(res), "COMMIT") != 0;
    PQclear(res);
    if (rolled_back)
        return kb_db_fail(db, KB_DB_ERROR, "25P02",
                          "the transaction was rolled back after an earlier error");
    return KB_DB_OK;
}

/* ---------------------------------------------------------------- advisory locks */

static int held_index(kb_db *db, uint32_t key)
{
    for (size_t i = 0; i < db->n_locks; i++)
        if (db->locks[i] == key) return (int)i;
    return -1;
}

/* Run a lock query answering one boolean; *yes = 1 for 't'. */
static int lock_query(kb_db *db, const char *sql, const char *what, int *yes)
{
    PGresult *res;
    *yes = 0;
    int rc = run_plain(db, sql, what, &res);
    if (rc != KB_DB_OK) return rc;
    *yes = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return KB_DB_OK;
}

int kb_db_pg_try_lock(kb_db *db, uint32_t key, int *got)
{
    if (held_index(db, key) >= 0) {
        *got = 1; /* PostgreSQL would count it twice; one kb_db_unlock must free it */
        return kb_db_ok(db);
    }
    if (db->n_locks == KB_DB_MAX_LOCKS)
        return kb_db_fail(db, KB_DB_MISUSE, NULL, "more than %d advisory locks held", KB_DB_MAX_LOCKS);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, %d)", LOCK_NAMED, (int32_t)key);
    int rc = lock_query(db, sql, "cannot take a lock", got);
    if (rc == KB_DB_OK && *got) db->locks[db->n_locks++] = key;
    return rc;
}

int kb_db_pg_unlock(kb_db *db, uint32_t key)
{
    int i = held_index(db, key);
    if (i < 0) return kb_db_ok(db);
    db->locks[i] = db->locks[--db->n_locks];
    char sql[96];
    int freed;
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d, %d)", LOCK_NAMED, (int32_t)key);
    return lock_query(db, sql, "cannot release a lock", &freed);
}

int kb_db_pg_lock_held(kb_db *db, uint32_t key, int *held)
{
    /* The two-int4 form is stored as classid, objid and objsubid 2. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND "
             "pid = pg_backend_pid() AND granted AND classid = '%u'::oid AND "
             "objid = '%u'::oid AND objsubid = 2)",
             (unsigned)LOCK_NAMED, (unsigned)key);
    int rc = lock_query(db, sql, "cannot check a lock", held);
    if (rc == KB_DB_OK && !*held) {
        int i = held_index(db, key);
        if (i >= 0) db->locks[i] = db->locks[--db->n_locks];
    }
    return rc;
}

/* ---------------------------------------------------------------- schema version */

int kb_db_pg_schema_version(kb_db *db, int *version)
{
    PGresult *res;
    int exists;
    int rc = lock_query(db, "SELECT to_regclass('kb_schema') IS NOT NULL",
                        "cannot read the schema version", &exists);
    if (rc != KB_DB_OK) return rc;
    if (!exists) {
        *version = 0;
        return KB_DB_OK;
    }
    rc = run_plain(db, "SELECT version FROM kb_schema", "cannot read the schema version", &res);
    if (rc != KB_DB_OK) return rc;
    *version = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return KB_DB_OK;
}

int kb_db_pg_set_schema_version(kb_db *db, int version)
{
    char sql[320];
    /* One row: the version, as PRAGMA user_version is one number. */
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS kb_schema (one BOOLEAN PRIMARY KEY DEFAULT true "
             "CHECK (one), version INTEGER NOT NULL); "
             "INSERT INTO kb_schema (version) VALUES (%d) "
             "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
             version);
    return kb_db_pg_exec(db, sql);
}
