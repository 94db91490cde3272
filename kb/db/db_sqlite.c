/*
 * db_sqlite.c — the SQLite backend of kb/db: DATA_DIR/events.sqlite3 with the settings the event
 * store has always used (docs/EVENT-STORE.md): the directory created 0700 and the file 0600
 * (SQLite gives its -wal and -shm files the file's mode), WAL, synchronous=FULL until told
 * otherwise, the WAL cut back to 64 MB after checkpoints, a 5 s busy timeout.
 */
#include "db/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kb_db_sqlite_fail(kb_db *db, int rc)
{
    int code = (rc & 0xff) == SQLITE_CONSTRAINT                          ? KB_DB_CONSTRAINT
               : (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? KB_DB_BUSY
               : (rc & 0xff) == SQLITE_MISUSE || (rc & 0xff) == SQLITE_RANGE ? KB_DB_MISUSE
                                                                          : KB_DB_ERROR;
    char state[8];
    snprintf(state, sizeof state, "%d", sqlite3_extended_errcode(db->sq));
    /* SQLite's "disk I/O error" alone does not say whether the disk is full: add errno. */
    int sys = sqlite3_system_errno(db->sq);
    if (sys && (rc & 0xff) == SQLITE_IOERR)
        return kb_db_fail(db, code, state, "%s (%s)", sqlite3_errmsg(db->sq), strerror(sys));
    return kb_db_fail(db, code, state, "%s", sqlite3_errmsg(db->sq));
}

/* mkdir -p with mode 0700 for the directories it creates. (kb/events/store.c has the same until
 * it opens its database through this layer: docs/CLUSTER.md, porting step 3 removes that copy.) */
static int mkdir_p(const char *dir, char *err, size_t err_len)
{
    char *p = strdup(dir);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0') continue;
        char saved = *c;
        *c = '\0';
        struct stat sb;
        if (stat(p, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                snprintf(err, err_len, "cannot create data directory %s: %s is not a directory",
                         dir, p);
                free(p);
                return -1;
            }
        } else if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            snprintf(err, err_len, "cannot create data directory %s: %s", dir, strerror(errno));
            free(p);
            return -1;
        }
        *c = saved;
        if (saved == '\0') break;
    }
    free(p);
    return 0;
}

/* KB_DB_CREATE: the directory and the file, then WAL and FULL sync. */
static int prepare_file(kb_db *db, const char *dir, char *err, size_t err_len)
{
    if (mkdir_p(dir, err, err_len) != 0) return -1;
    /* Probe with plain system calls first: SQLite's own message for these cases is only "unable
     * to open database file". The directory must be writable too, for the WAL. */
    int fd = open(db->name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open event store %s: %s", db->name, strerror(errno));
        return -1;
    }
    close(fd);
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, err_len, "cannot open event store %s: directory %s: %s", db->name, dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int kb_db_sqlite_open(kb_db *db, const char *dir, char *err, size_t err_len)
{
    size_t n = strlen(dir) + sizeof "/" KB_DB_FILE;
    if (!(db->name = malloc(n))) {
        snprintf(err, err_len, "out of memory");
        return KB_DB_ERROR;
    }
    snprintf(db->name, n, "%s/" KB_DB_FILE, dir);
    int readonly = (db->flags & KB_DB_READONLY) != 0;
    if (db->flags & KB_DB_CREATE && !readonly) {
        if (prepare_file(db, dir, err, err_len) != 0) return KB_DB_ERROR;
    } else {
        struct stat sb;
        if (stat(db->name, &sb) != 0) {
            snprintf(err, err_len,
                     "no event store at %s (%s): give the --data directory of kb-searchd",
                     db->name, strerror(errno));
            return KB_DB_ERROR;
        }
    }
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(db->name, &db->sq, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open event store %s: %s", db->name,
                 db->sq ? sqlite3_errmsg(db->sq) : "out of memory");
        return KB_DB_ERROR;
    }
    sqlite3_busy_timeout(db->sq, db->busy_ms);
    if (readonly || !(db->flags & KB_DB_CREATE)) return kb_db_ok(db);
    kb_db_stmt *q;
    char mode[16] = "";
    if (kb_db_prepare(db, "PRAGMA journal_mode = WAL", &q) == KB_DB_OK) {
        if (kb_db_step(q) == KB_DB_ROW)
            snprintf(mode, sizeof mode, "%s", kb_db_column_text(q, 0) ? kb_db_column_text(q, 0) : "");
        kb_db_finalize(q);
    }
    if (strcmp(mode, "wal") != 0) {
        snprintf(err, err_len, "cannot open event store %s: %s", db->name,
                 sqlite3_errcode(db->sq) != SQLITE_OK ? sqlite3_errmsg(db->sq)
                                                      : "cannot switch to WAL mode");
        return KB_DB_ERROR;
    }
    /* FULL until the writer decides per batch (kb_db_set_durable); the WAL is truncated back to
     * 64 MB after a checkpoint so a burst does not leave a huge file behind. */
    if (kb_db_exec(db, "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864") !=
        KB_DB_OK) {
        snprintf(err, err_len, "cannot open event store %s: %s", db->name, sqlite3_errmsg(db->sq));
        return KB_DB_ERROR;
    }
    return kb_db_ok(db);
}

void kb_db_sqlite_close(kb_db *db)
{
    if (db->sq) sqlite3_close(db->sq);
    db->sq = NULL;
}

int kb_db_sqlite_exec(kb_db *db, const char *sql)
{
    int rc = sqlite3_exec(db->sq, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return kb_db_sqlite_fail(db, rc);
    db->changes = sqlite3_changes64(db->sq);
    return kb_db_ok(db);
}

int kb_db_sqlite_prepare(kb_db *db, const char *sql, kb_db_stmt *s)
{
    int rc = sqlite3_prepare_v2(db->sq, sql, -1, &s->sq, NULL);
    if (rc != SQLITE_OK) return kb_db_sqlite_fail(db, rc);
    if (!s->sq) return kb_db_fail(db, KB_DB_MISUSE, NULL, "no SQL statement in \"%.60s\"", sql);
    return kb_db_ok(db);
}
