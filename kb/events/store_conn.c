/*
 * store_conn.c — second connections to the event store (see events/store_conn.h).
 */
#include "events/store_conn.h"

#include <errno.h>
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
