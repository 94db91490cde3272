/*
 * help_ids.c — reserved help-request ids and their file (see events/help_ids.h).
 *
 * The file, text: "kb-help-ids 1" then one "LO HI" line per range of unused ids, oldest first;
 * the first range starts where handing out may have reached (written ahead by STEP). Written to
 * a temporary file, fsynced, renamed, and the directory fsynced.
 */
#include "events/help_ids.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RANGES 8

typedef struct {
    int64_t lo, hi; /* unused ids lo..hi; empty when lo > hi */
} range;

struct kb_help_ids {
    char *path;
    range r[MAX_RANGES];
    int n;
    int64_t mark; /* the file says r[0] starts here: ids below it may be handed out freely */
    char err[512];
};

static int fail(kb_help_ids *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(kb_help_ids *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Write the ranges, the first from `first_lo`. 0, or -1. */
static int write_file(kb_help_ids *h, int64_t first_lo)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", h->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fail(h, "cannot write %s: %s", tmp, strerror(e));
    }
    fprintf(f, "kb-help-ids 1\n");
    for (int i = 0; i < h->n; i++) {
        int64_t lo = i == 0 ? first_lo : h->r[i].lo;
        if (lo <= h->r[i].hi) fprintf(f, "%lld %lld\n", (long long)lo, (long long)h->r[i].hi);
    }
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, h->path) != 0) ok = 0, e = errno;
    if (ok) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", h->path);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0) ok = 0, e = errno;
        if (dfd >= 0) close(dfd);
    }
    if (!ok) {
        unlink(tmp);
        return fail(h, "cannot record the reserved help-request ids in %s: %s", h->path,
                    strerror(e));
    }
    return 0;
}

kb_help_ids *kb_help_ids_open(const char *path, char *err, size_t err_len)
{
    kb_help_ids *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return h;
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        kb_help_ids_close(h);
        return NULL;
    }
    char line[128];
    int ok = fgets(line, sizeof line, f) && !strcmp(line, "kb-help-ids 1\n");
    while (ok && fgets(line, sizeof line, f)) {
        long long lo, hi;
        char end;
        if (h->n == MAX_RANGES || sscanf(line, "%lld %lld%c", &lo, &hi, &end) != 3 || end != '\n' ||
            lo < 1 || hi < lo || (h->n && lo <= h->r[h->n - 1].hi))
            ok = 0;
        else
            h->r[h->n++] = (range){lo, hi};
    }
    fclose(f);
    if (!ok) {
        snprintf(err, err_len, "%s is damaged: see docs/OPERATIONS.md, \"The spool\"", path);
        kb_help_ids_close(h);
        return NULL;
    }
    h->mark = h->n ? h->r[0].lo : 0;
    return h;
}

void kb_help_ids_close(kb_help_ids *h)
{
    if (!h) return;
    free(h->path);
    free(h);
}

int64_t kb_help_ids_left(const kb_help_ids *h)
{
    int64_t n = 0;
    for (int i = 0; i < h->n; i++)
        if (h->r[i].lo <= h->r[i].hi) n += h->r[i].hi - h->r[i].lo + 1;
    return n;
}

const char *kb_help_ids_errmsg(const kb_help_ids *h) { return h->err; }

/* Forget the used-up ranges at the front. */
static void compact(kb_help_ids *h)
{
    while (h->n && h->r[0].lo > h->r[0].hi) {
        memmove(h->r, h->r + 1, (size_t)(h->n - 1) * sizeof *h->r);
        h->n--;
        h->mark = h->n ? h->r[0].lo : 0;
    }
}

/* Where the file must say the first range starts: past what may have been handed out. */
static int64_t first_written(const kb_help_ids *h)
{
    return h->r[0].lo > h->mark ? h->r[0].lo : h->mark;
}

int kb_help_ids_take(kb_help_ids *h, int64_t *id)
{
    compact(h);
    if (!h->n) return 1;
    if (h->r[0].lo >= h->mark) {
        /* Written ahead: after a crash, ids resume past this step, never inside it. */
        int64_t mark = h->r[0].lo + KB_HELP_IDS_STEP;
        if (mark > h->r[0].hi + 1) mark = h->r[0].hi + 1;
        if (write_file(h, mark) != 0) return -1;
        h->mark = mark;
    }
    *id = h->r[0].lo++;
    return 0;
}

int kb_help_ids_refill(kb_help_ids *h, kb_db *db, int *code)
{
    *code = KB_DB_OK;
    if (kb_help_ids_left(h) >= KB_HELP_IDS_BLOCK / 2) return 0;
    if (kb_db_dialect_of(db) != KB_DB_POSTGRESQL) return fail(h, "reserving ids is for PostgreSQL");
    compact(h);
    if (h->n == MAX_RANGES) return fail(h, "too many ranges of reserved ids");
    /* Under the cluster's write lock: every insert into help_requests takes it too, so nothing
     * draws from the sequence between nextval and setval. */
    static const char seq[] = "pg_get_serial_sequence('help_requests', 'id')";
    char sql[160];
    kb_db_stmt *s = NULL;
    int64_t first = 0;
    int rc = kb_db_begin(db, KB_DB_TX_WRITE);
    if (rc == KB_DB_OK) {
        snprintf(sql, sizeof sql, "SELECT nextval(%s)", seq);
        rc = kb_db_prepare(db, sql, &s);
    }
    if (rc == KB_DB_OK) rc = kb_db_step(s);
    if (rc == KB_DB_ROW) {
        first = kb_db_column_int64(s, 0);
        rc = KB_DB_OK;
    }
    kb_db_finalize(s);
    s = NULL;
    if (rc == KB_DB_OK) {
        snprintf(sql, sizeof sql, "SELECT setval(%s, CAST(?1 AS BIGINT))", seq);
        rc = kb_db_prepare(db, sql, &s);
    }
    if (rc == KB_DB_OK) {
        kb_db_bind_int64(s, 1, first + KB_HELP_IDS_BLOCK - 1);
        rc = kb_db_step(s) == KB_DB_ROW ? KB_DB_OK : kb_db_errcode(db);
    }
    kb_db_finalize(s);
    if (rc == KB_DB_OK) rc = kb_db_commit(db);
    if (rc != KB_DB_OK) {
        *code = kb_db_errcode(db);
        fail(h, "cannot reserve help-request ids: %s", kb_db_errmsg(db));
        kb_db_rollback(db);
        return -1;
    }
    /* Recorded before any of it is used; if that fails the block is simply never used. */
    h->r[h->n++] = (range){first, first + KB_HELP_IDS_BLOCK - 1};
    if (h->n == 1) h->mark = first;
    if (write_file(h, first_written(h)) != 0) {
        h->n--;
        return -1;
    }
    return 0;
}
