/*
 * store_conn.c — second connections to the event store, and each thread's PostgreSQL sessions
 * (see events/store_conn.h).
 */
#include "events/store_conn.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kb/store.h"

int kb_store_data_is_uri(const char *data) { return kb_db_is_uri(data); }

const char *kb_store_db_message(kb_db *db)
{
    const char *msg = kb_db_errmsg(db), *name = kb_db_name(db);
    size_t n = name ? strlen(name) : 0;
    if (n && !strncmp(msg, name, n) && !strncmp(msg + n, ": ", 2)) return msg + n + 2;
    return msg;
}

int kb_store_check_version(kb_db *db, char *err, size_t err_len)
{
    int version = -1;
    if (kb_db_schema_version(db, &version) != KB_DB_OK) {
        snprintf(err, err_len, "cannot read event store %s: %s", kb_db_name(db),
                 kb_store_db_message(db));
        return -1;
    }
    if (version != kb_store_schema_version()) {
        snprintf(err, err_len,
                 "event store %s has schema version %d; this program needs version %d (%s)",
                 kb_db_name(db), version, kb_store_schema_version(),
                 version < kb_store_schema_version()
                     ? "start kb-searchd of this version once to migrate it"
                     : "use the programs of the kb-searchd that wrote it");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- this thread's sessions */

/* A thread keeps up to POOL_MAX PostgreSQL sessions: one read-only and one read-write handle
 * open at once is the most a request uses, and a module that opens a second handle while
 * holding one gets a session of its own rather than sharing a transaction. */
#define POOL_MAX 4

typedef struct {
    kb_db *db;
    char *uri;
    int readonly;
    int in_use;
} pooled;

typedef struct {
    pooled s[POOL_MAX];
} pool;

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_free(void *arg)
{
    pool *p = arg;
    for (int i = 0; i < POOL_MAX; i++) {
        /* One still borrowed (a handle this thread opened and left to another thread) stays
         * open for its holder: closing it here would pull it from under that thread. */
        if (!p->s[i].in_use) kb_db_close(p->s[i].db);
        free(p->s[i].uri);
    }
    free(p);
}

static void pool_key_init(void) { pthread_key_create(&pool_key, pool_free); }

/* Borrow a session to uri from this thread's pool, opening or reconnecting it as needed, its
 * schema version checked (one round trip, which also finds a session the server dropped while
 * it was idle). NULL with the reason in err. *borrowed says whether to give it back (a session
 * that found no room in the pool is the caller's to close). */
static kb_db *borrow(const char *uri, int readonly, int *borrowed, char *err, size_t err_len)
{
    pthread_once(&pool_once, pool_key_init);
    pool *p = pthread_getspecific(pool_key);
    if (!p && (p = calloc(1, sizeof *p)) && pthread_setspecific(pool_key, p) != 0) {
        free(p);
        p = NULL;
    }
    *borrowed = 0;
    pooled *slot = NULL;
    for (int i = 0; p && i < POOL_MAX && !slot; i++)
        if (p->s[i].db && !p->s[i].in_use && p->s[i].readonly == readonly &&
            !strcmp(p->s[i].uri, uri))
            slot = &p->s[i];
    if (slot) {
        if (kb_store_check_version(slot->db, err, err_len) == 0) {
            slot->in_use = 1;
            *borrowed = 1;
            return slot->db;
        }
        /* Lost while idle (the server restarted, a network cut): one new session. */
        if (kb_db_errcode(slot->db) != KB_DB_LOST || kb_db_reconnect(slot->db) != KB_DB_OK ||
            kb_store_check_version(slot->db, err, err_len) != 0) {
            if (kb_db_errcode(slot->db) == KB_DB_LOST)
                snprintf(err, err_len, "cannot reach event store %s: %s", kb_db_name(slot->db),
                         kb_store_db_message(slot->db));
            return NULL;
        }
        slot->in_use = 1;
        *borrowed = 1;
        return slot->db;
    }
    kb_db *db = kb_db_open(uri, readonly ? KB_DB_READONLY : 0, err, err_len);
    if (!db) return NULL;
    if (kb_store_check_version(db, err, err_len) != 0) {
        kb_db_close(db);
        return NULL;
    }
    for (int i = 0; p && i < POOL_MAX && !slot; i++)
        if (!p->s[i].db) slot = &p->s[i];
    if (slot && (slot->uri = strdup(uri))) {
        slot->db = db;
        slot->readonly = readonly;
        slot->in_use = 1;
        *borrowed = 1;
    }
    return db;
}

static void give_back(kb_db *db)
{
    pool *p = pthread_getspecific(pool_key);
    for (int i = 0; p && i < POOL_MAX; i++)
        if (p->s[i].db == db) p->s[i].in_use = 0;
}

/* ---------------------------------------------------------------- connections */

int kb_store_conn_open_any(kb_store_conn *c, const char *data, int readonly, char *err,
                           size_t err_len)
{
    memset(c, 0, sizeof *c);
    c->readonly = readonly;
    if (!data || !*data) {
        snprintf(err, err_len, "no data directory given");
        return -1;
    }
    if (kb_db_is_uri(data)) {
        c->kdb = borrow(data, readonly, &c->borrowed, err, err_len);
        return c->kdb ? 0 : -1;
    }
    c->kdb = kb_db_open(data, readonly ? KB_DB_READONLY : 0, err, err_len);
    if (!c->kdb) return -1;
    kb_db_set_busy_timeout(c->kdb, KB_STORE_BUSY_TIMEOUT_MS);
    if (kb_store_check_version(c->kdb, err, err_len) != 0) {
        kb_db_close(c->kdb);
        c->kdb = NULL;
        return -1;
    }
    return 0;
}

int kb_store_conn_revive(kb_store_conn *c)
{
    if (!c->kdb || kb_db_errcode(c->kdb) != KB_DB_LOST) return 0;
    return kb_db_reconnect(c->kdb) == KB_DB_OK ? 0 : -1;
}

void kb_store_conn_close(kb_store_conn *c)
{
    if (!c->kdb) return;
    if (c->borrowed) {
        kb_db_rollback(c->kdb); /* a transaction left open never reaches the next borrower */
        give_back(c->kdb);
    } else {
        kb_db_close(c->kdb);
    }
    c->kdb = NULL;
}

int kb_store_conn_fail(kb_store_conn *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->code = code;
    return code;
}

int kb_store_conn_sql_fail(kb_store_conn *c, const char *what)
{
    /* A lost connection is KB_UNAVAILABLE: kb-searchd answers 503, not 500 (docs/CLUSTER.md). */
    int code = c->kdb && kb_db_errcode(c->kdb) == KB_DB_LOST ? KB_UNAVAILABLE : KB_ERROR;
    return kb_store_conn_fail(c, code, "%s: %s", what, kb_store_db_message(c->kdb));
}

void kb_store_conn_rollback(kb_store_conn *c) { kb_db_rollback(c->kdb); }
