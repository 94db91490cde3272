/*
 * pg_fixture.h — the unit tests' PostgreSQL: the throw-away server tests/run-all.sh starts
 * (KB_TEST_PG_URI and KB_TEST_PG_CTL), or one the test program starts itself with
 * tests/pg_server.py, and RUN_BOTH, which runs a test body once on SQLite and once on
 * PostgreSQL (docs/CLUSTER.md: every ported module's tests run against both).
 *
 * A test program defines `data` and `backend` users of its own choosing through the globals
 * below: before each PostgreSQL run, pg_fresh_store() gives a URI whose search_path is a new,
 * empty schema, so every run starts from an empty store as a fresh SQLite directory does, on the
 * one server.
 */
#ifndef KB_TEST_PG_FIXTURE_H
#define KB_TEST_PG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db/db.h"

static char pg_uri[512];     /* the server's URI (with its password) */
static char pg_ctl[512];     /* "python3 tests/pg_server.py --dir DIR": stop | start | remove */
static int pg_own_server;    /* this program started the server: remove it at the end */
static const char *backend;  /* the run's database: "sqlite" or "postgresql" */

static inline int pg_control(const char *what)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null", pg_ctl, what);
    int rc = system(cmd);
    if (rc != 0) printf("  %s: exit %d\n", cmd, rc);
    return rc;
}

/* Start a server with tests/pg_server.py when the runner has not: read its exports. */
static inline int pg_start_own_server(void)
{
    FILE *p = popen("python3 tests/pg_server.py start", "r");
    if (!p) return -1;
    char line[1024];
    while (fgets(line, sizeof line, p)) {
        char *eq = strchr(line, '='), *q1, *q2;
        if (!eq || !(q1 = strchr(eq, '\'')) || !(q2 = strrchr(q1 + 1, '\''))) continue;
        *q2 = '\0';
        if (!strncmp(line, "export KB_TEST_PG_URI=", 22)) snprintf(pg_uri, sizeof pg_uri, "%s", q1 + 1);
        if (!strncmp(line, "export KB_TEST_PG_CTL=", 22)) snprintf(pg_ctl, sizeof pg_ctl, "%s", q1 + 1);
    }
    int rc = pclose(p);
    pg_own_server = 1;
    return rc == 0 && pg_uri[0] && pg_ctl[0] ? 0 : -1;
}

/* The runner's server, or this program's own. Without either, one FAIL and SQLite runs only:
 * the suite must run on a fresh machine after tools/install-deps.sh, so nothing is skipped
 * silently. */
static inline void pg_fixture_start(void)
{
    const char *uri = getenv("KB_TEST_PG_URI"), *ctl = getenv("KB_TEST_PG_CTL");
    if (uri && *uri && ctl && *ctl) {
        snprintf(pg_uri, sizeof pg_uri, "%s", uri);
        snprintf(pg_ctl, sizeof pg_ctl, "%s", ctl);
    } else if (pg_start_own_server() != 0) {
        printf("FAIL postgresql_test_server_starts (tests/pg_server.py; run from the project "
               "root after tools/install-deps.sh)\n");
        pg_uri[0] = '\0';
        check_failed++;
    }
}

static inline void pg_fixture_end(void)
{
    if (pg_own_server) pg_control("remove");
}

/* A URI on the test server whose tables live in a new, empty schema (its name from the process
 * and a counter), into out. 0, or -1 when the schema cannot be made. */
static inline int pg_fresh_store(char *out, size_t len)
{
    static int n;
    char schema[64], sql[128], err[512];
    snprintf(schema, sizeof schema, "t_%ld_%d", (long)getpid(), ++n);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    kb_db *db = kb_db_open(pg_uri, 0, err, sizeof err);
    int rc = db ? kb_db_exec(db, sql) : KB_DB_ERROR;
    if (rc != KB_DB_OK) printf("  cannot create schema %s: %s\n", schema, db ? kb_db_errmsg(db) : err);
    kb_db_close(db);
    if (rc != KB_DB_OK) return -1;
    snprintf(out, len, "%s%coptions=-csearch_path%%3D%s", pg_uri, strchr(pg_uri, '?') ? '&' : '?',
             schema);
    return 0;
}

/* A plain connection to a store (a data directory or a URI), to write a fixture's rows as the
 * service would have; NULL after saying why. */
static inline kb_db *raw_open(const char *data)
{
    char err[512];
    kb_db *db = kb_db_open(data, 0, err, sizeof err);
    if (!db) printf("  %s\n", err);
    return db;
}

/* Run a test body on SQLite and then on PostgreSQL; `setup` (may be NULL) prepares the run's
 * store: it is called with the backend set and decides what `data` the body uses. */
#define RUN_BOTH_WITH(name, setup)                                                     \
    do {                                                                               \
        for (int b_ = 0; b_ < 2; b_++) {                                               \
            if (b_ == 1 && !pg_uri[0]) break;                                          \
            backend = b_ ? "postgresql" : "sqlite";                                    \
            check_current_failed = 0;                                                  \
            void (*setup_)(void) = setup;                                              \
            if (setup_) setup_();                                                      \
            name();                                                                    \
            printf("%s %s [%s]\n", check_current_failed ? "FAIL" : "PASS", #name, backend); \
            fflush(stdout);                                                            \
            if (check_current_failed) check_failed++; else check_passed++;             \
        }                                                                              \
    } while (0)

static inline int is_postgresql_run(void) { return backend && !strcmp(backend, "postgresql"); }

#endif
