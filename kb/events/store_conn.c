/*
 * store_conn.c — second connections to the event store (see events/store_conn.h).
 */
#include "events/store_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kb/store.h"

sqlite3 *kb_store_connect(const char *data_dir, int readonly, char *err, size_t err_len)
{
    char path[4096];
    if (!data_dir || !*data_dir) {
        snprintf(err, err_len, "no data directory given");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/events.sqlite3", data_dir);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len,
                 "no event store at %s (%s): give the --data directory of kb-searchd", path,
                 strerror(errno));
        return NULL;
    }
    sqlite3 *db = NULL;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open event store %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, KB_STORE_BUSY_TIMEOUT_MS);
    sqlite3_stmt *q = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version < 0) {
        snprintf(err, err_len, "cannot read event store %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    if (version != kb_store_schema_version()) {
        snprintf(err, err_len,
                 "event store %s has schema version %d; this program needs version %d (%s)",
                 path, version, kb_store_schema_version(),
                 version < kb_store_schema_version()
                     ? "start kb-searchd of this version once to migrate it"
                     : "use the programs of the kb-searchd that wrote it");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

int kb_store_begin_immediate(sqlite3 *db)
{
    return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

int kb_store_conn_open(kb_store_conn *c, const char *data_dir, int readonly, char *err,
                       size_t err_len)
{
    memset(c, 0, sizeof *c);
    c->db = kb_store_connect(data_dir, readonly, err, err_len);
    c->readonly = readonly;
    return c->db ? 0 : -1;
}

void kb_store_conn_close(kb_store_conn *c)
{
    sqlite3_close(c->db);
    c->db = NULL;
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
    return kb_store_conn_fail(c, KB_ERROR, "%s: %s", what, sqlite3_errmsg(c->db));
}

void kb_store_conn_rollback(kb_store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int kb_store_column_text(sqlite3_stmt *s, int col, char **out)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    *out = t ? strdup((const char *)t) : NULL;
    return t && !*out ? -1 : 0;
}
