/*
 * db/db_internal.h — what the files of kb/db share: the handle and statement structs, the two
 * backends' entry points (db_sqlite.c, db_pg.c; db.c dispatches to them), SQL text
 * rewriting (db_sql.c) and URI handling (db_uri.c). Private to kb/db.
 */
#ifndef KB_DB_INTERNAL_H
#define KB_DB_INTERNAL_H

#include "db/db.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#define KB_DB_MAX_SECRETS 4 /* strings scrubbed from every message */
#define KB_DB_MAX_LOCKS 16  /* advisory locks one handle holds at once */

/* A bound value's type (what PostgreSQL is told). */
enum { DBV_NULL = 0, DBV_TEXT, DBV_INT, DBV_DOUBLE };

struct kb_db {
    kb_db_dialect dialect;
    int flags;
    char *name;                          /* path, or URI without credentials */
    char *secrets[KB_DB_MAX_SECRETS];    /* never shown: removed from every message */
    int code;                            /* the last call's code */
    char sqlstate[8];                    /* of the last failure */
    char err[1024];                      /* its message */
    int64_t changes;
    int tx;                              /* 0, or the open transaction's kb_db_tx */
    uint64_t generation;
    int busy_ms;
    int durable;

    sqlite3 *sq;                         /* SQLite */

    PGconn *pg;                          /* PostgreSQL */
    uint64_t stmt_seq;                   /* names server-side prepared statements */
    char **dealloc;                      /* names to DEALLOCATE before the next command */
    size_t n_dealloc, cap_dealloc;
    uint32_t locks[KB_DB_MAX_LOCKS];     /* advisory locks this session holds */
    size_t n_locks;
    int connect_want;                    /* reconnecting without waiting: what PQresetPoll
                                          * waits for (PGRES_POLLING_READING or _WRITING) */
    int64_t connect_deadline_ms;         /* ... and when it gives up (monotonic) */
};

struct kb_db_stmt {
    kb_db *db;
    sqlite3_stmt *sq;                    /* SQLite */

    /* PostgreSQL */
    char *sql;                           /* with $1.. placeholders */
    int nparams;
    char **param_names;                  /* [i]: ":name" of parameter i + 1, or NULL */
    unsigned char *param_used;           /* [i]: parameter i + 1 appears in the SQL */
    char **values;                       /* each bound value: text, or 8 bytes of a number in
                                          * PostgreSQL's binary form (a buffer each) */
    size_t *caps;                        /* their sizes */
    int *types;                          /* DBV_* of each */
    int is_write;                        /* INSERT, UPDATE or DELETE: the write lock outside a tx */
    int runs;                            /* times run with the current types */
    unsigned *run_oids;                  /* the types of those runs */
    char server_name[32];                /* "" until prepared on the server */
    uint64_t server_gen;                 /* the connection generation it was prepared on */
    unsigned *server_oids;               /* its parameter types */
    PGresult *res;                       /* the result being stepped through */
    int row, nrows;                      /* next row; rows in res */
    int finished;                        /* stepped to DONE */
};

/* ---- db.c */
/* Set the handle's error: code, SQLSTATE (or NULL) and "NAME: message", secrets removed. */
int kb_db_fail(kb_db *db, int code, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int kb_db_ok(kb_db *db);
/* Replace each secret in text (NUL-terminated, len bytes of room) with "***". */
void kb_db_scrub(const kb_db *db, char *text, size_t len);
/* The 32-bit key of a lock name (FNV-1a). */
uint32_t kb_db_lock_key(const char *name);

/* ---- db_sql.c */
typedef struct {
    char *sql;         /* malloc'd, $1.. placeholders */
    int nparams;       /* the highest parameter number */
    char **names;      /* nparams entries: ":name" or NULL, malloc'd */
    unsigned char *used; /* nparams entries: 1 when the SQL names that number (?3 without ?2
                          * leaves 2 unused: PostgreSQL needs a type for it all the same) */
    int is_write;      /* names INSERT, UPDATE or DELETE outside literals */
    int has_tx_control;/* names BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ... */
} kb_db_translated;
/* Translate SQLite placeholders to PostgreSQL's. 0, or -1 when out of memory. */
int kb_db_translate(const char *sql, kb_db_translated *out);
void kb_db_translated_free(kb_db_translated *t);

/* ---- db_uri.c */
/* Check a postgresql:// URI and write its form for messages (no password) into name (malloc'd)
 * and the strings to scrub from messages into secrets. 0, or -1 with the reason in err. */
int kb_db_uri_parse(const char *uri, char **name, char *secrets[KB_DB_MAX_SECRETS], char *err,
                    size_t err_len);

/* ---- db_sqlite.c */
int kb_db_sqlite_open(kb_db *db, const char *dir, char *err, size_t err_len);
void kb_db_sqlite_close(kb_db *db);
int kb_db_sqlite_exec(kb_db *db, const char *sql);
int kb_db_sqlite_prepare(kb_db *db, const char *sql, kb_db_stmt *s);
int kb_db_sqlite_fail(kb_db *db, int rc);

/* ---- db_pg.c */
int kb_db_pg_open(kb_db *db, const char *uri, char *err, size_t err_len);
void kb_db_pg_close(kb_db *db);
int kb_db_pg_reconnect(kb_db *db);
int kb_db_pg_reconnect_start(kb_db *db);
int kb_db_pg_reconnect_poll(kb_db *db, int *done);
int kb_db_pg_exec(kb_db *db, const char *sql);
int kb_db_pg_prepare(kb_db *db, const char *sql, kb_db_stmt *s);
int kb_db_pg_step(kb_db_stmt *s);
void kb_db_pg_stmt_free(kb_db_stmt *s);
int kb_db_pg_begin(kb_db *db, kb_db_tx mode);
int kb_db_pg_end(kb_db *db, int commit);
int kb_db_pg_session_settings(kb_db *db);
int kb_db_pg_try_lock(kb_db *db, uint32_t key, int *got);
int kb_db_pg_unlock(kb_db *db, uint32_t key);
int kb_db_pg_lock_held(kb_db *db, uint32_t key, int *held);
int kb_db_pg_schema_version(kb_db *db, int *version);
int kb_db_pg_set_schema_version(kb_db *db, int version);

#endif
