/*
 * spool.c — the event spool's files: segments of length + CRC-32C + payload records, the
 * delivered position, the lock (see events/spool.h).
 */
#include "events/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kb/journal.h"
#include "util/crc32c.h"

#define READ_CHUNK (4u << 20) /* bytes read at once: whole records of up to 1 MB fit */
#define DELIVERED "delivered"
#define DELIVERED_TMP "delivered.tmp"

typedef struct {
    uint32_t num;
    uint64_t size; /* bytes of whole records written */
} segment;

struct kb_spool {
    char *dir;
    int dir_fd, lock_fd;
    uint64_t segment_bytes;
    segment *segs; /* ascending; the last is the one appended to */
    size_t n_segs, cap_segs;
    int append_fd; /* of segs[n_segs - 1], or -1 */
    uint32_t next_num;
    int dir_dirty; /* a segment was created since the directory was last fsynced */
    unsigned char *buf; /* appended, not yet written */
    size_t buf_len, buf_cap;
    uint64_t buf_records;
    uint64_t last_start, last_n; /* the last flush: where its records start, how many */
    kb_spool_pos delivered;
    uint64_t pending, dropped;
    int read_fd;
    uint32_t read_num;
    char err[512];
};

static int fail(kb_spool *sp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(kb_spool *sp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sp->err, sizeof sp->err, fmt, ap);
    va_end(ap);
    return -1;
}

static void seg_name(uint32_t num, char *out, size_t len)
{
    snprintf(out, len, "spool-%08u.log", num);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The whole records at the start of buf[0..len), at most max of them (into out when given):
 * the bytes they take. *bad is set when the next record is damaged (a length out of range, or
 * a CRC that does not match) rather than merely not wholly in buf. */
static size_t parse(const unsigned char *buf, size_t len, size_t max, kb_spool_record *out,
                    size_t *n, int *bad)
{
    size_t off = 0;
    *n = 0;
    *bad = 0;
    while (*n < max && len - off >= KB_SPOOL_HEADER_BYTES) {
        uint32_t rlen = get_le32(buf + off), crc = get_le32(buf + off + 4);
        if (rlen == 0 || rlen > KB_SPOOL_RECORD_MAX) {
            *bad = 1;
            break;
        }
        if (len - off - KB_SPOOL_HEADER_BYTES < rlen) break;
        uint32_t c = kb_crc32c(kb_crc32c(0, buf + off, 4), buf + off + KB_SPOOL_HEADER_BYTES, rlen);
        if (c != crc) {
            *bad = 1;
            break;
        }
        if (out) out[*n] = (kb_spool_record){buf + off + KB_SPOOL_HEADER_BYTES, rlen};
        (*n)++;
        off += KB_SPOOL_HEADER_BYTES + rlen;
    }
    return off;
}

static int pread_all(int fd, unsigned char *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t r = pread(fd, buf, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO; /* shorter than its recorded size */
            return -1;
        }
        buf += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int pwrite_all(int fd, const unsigned char *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t r = pwrite(fd, buf, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        buf += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static segment *find_seg(kb_spool *sp, uint32_t num)
{
    for (size_t i = 0; i < sp->n_segs; i++)
        if (sp->segs[i].num == num) return &sp->segs[i];
    return NULL;
}

static int push_seg(kb_spool *sp, uint32_t num, uint64_t size)
{
    if (sp->n_segs == sp->cap_segs) {
        size_t cap = sp->cap_segs ? 2 * sp->cap_segs : 8;
        segment *s = realloc(sp->segs, cap * sizeof *s);
        if (!s) return -1;
        sp->segs = s;
        sp->cap_segs = cap;
    }
    sp->segs[sp->n_segs++] = (segment){num, size};
    return 0;
}

static int cmp_seg(const void *a, const void *b)
{
    uint32_t x = ((const segment *)a)->num, y = ((const segment *)b)->num;
    return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- opening */

/* The delivered position from its file; (0, 0) when there is none yet. 0, or -1. */
static int read_delivered(kb_spool *sp)
{
    sp->delivered = (kb_spool_pos){0, 0};
    int fd = openat(sp->dir_fd, DELIVERED, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return fail(sp, "cannot read %s/%s: %s", sp->dir, DELIVERED, strerror(errno));
    }
    char text[64] = "";
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    unsigned seg;
    unsigned long long off;
    char end;
    if (n <= 0 || sscanf(text, "%u %llu%c", &seg, &off, &end) != 3 || end != '\n')
        return fail(sp, "%s/%s is damaged (it should hold a segment number and an offset): "
                    "see docs/OPERATIONS.md, \"The spool\"", sp->dir, DELIVERED);
    sp->delivered = (kb_spool_pos){seg, off};
    return 0;
}

/* Check a segment's records from offset `from`: count them into pending and cut off a damaged
 * or cut-short tail (the segment's size becomes its last whole record's end). 0, or -1. */
static int scan_segment(kb_spool *sp, segment *s, uint64_t from, int last)
{
    char name[64];
    seg_name(s->num, name, sizeof name);
    int fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fail(sp, "cannot open %s/%s: %s", sp->dir, name, strerror(e));
    }
    uint64_t size = (uint64_t)st.st_size, off = from > size ? size : from;
    unsigned char *buf = malloc(READ_CHUNK);
    if (!buf) {
        close(fd);
        return fail(sp, "out of memory");
    }
    int bad = 0;
    while (off < size) {
        size_t want = size - off < READ_CHUNK ? (size_t)(size - off) : READ_CHUNK;
        if (pread_all(fd, buf, want, off) != 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(sp, "cannot read %s/%s: %s", sp->dir, name, strerror(e));
        }
        size_t n;
        size_t used = parse(buf, want, SIZE_MAX, NULL, &n, &bad);
        sp->pending += n;
        off += used;
        if (bad || used == 0) break; /* damaged, or a record cut short at the end */
    }
    free(buf);
    if (off < size) {
        /* The tail after the last whole record: a crash cut it short (the last segment), or the
         * disk damaged it. Either way it cannot be delivered; cut it off so appends follow the
         * last good record. */
        uint64_t lost = size - off;
        sp->dropped += lost;
        if (last)
            kb_journal_printf(KB_PRIO_WARNING, "kb_store: spool %s/%s: the end from offset %llu "
                              "(%llu bytes) is a record cut short or garbled and was dropped: a "
                              "crash interrupted its write, before it was acknowledged\n",
                              sp->dir, name, (unsigned long long)off, (unsigned long long)lost);
        else
            kb_journal_printf(KB_PRIO_ERR, "kb_store: spool %s/%s: damaged record at offset "
                              "%llu: the %llu bytes from there are dropped (events lost; check "
                              "the disk)\n", sp->dir, name, (unsigned long long)off,
                              (unsigned long long)lost);
        if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0) {
            int e = errno;
            close(fd);
            return fail(sp, "cannot cut the damaged end off %s/%s: %s", sp->dir, name, strerror(e));
        }
    }
    close(fd);
    s->size = off;
    return 0;
}

/* The segment files in the directory, ascending. 0, or -1. */
static int list_segments(kb_spool *sp)
{
    int fd = dup(sp->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return fail(sp, "cannot list %s: %s", sp->dir, strerror(errno));
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned num;
        char name[64];
        if (sscanf(e->d_name, "spool-%8u.log", &num) != 1 || num == 0) continue;
        seg_name(num, name, sizeof name);
        if (strcmp(name, e->d_name) != 0) continue;
        if (push_seg(sp, num, 0) != 0) {
            closedir(d);
            return fail(sp, "out of memory");
        }
    }
    closedir(d);
    if (sp->n_segs) qsort(sp->segs, sp->n_segs, sizeof *sp->segs, cmp_seg); /* not qsort(NULL, 0) */
    return 0;
}

static void remove_seg_file(kb_spool *sp, uint32_t num)
{
    char name[64];
    seg_name(num, name, sizeof name);
    if (sp->read_fd >= 0 && sp->read_num == num) {
        close(sp->read_fd);
        sp->read_fd = -1;
    }
    if (unlinkat(sp->dir_fd, name, 0) != 0 && errno != ENOENT)
        kb_journal_printf(KB_PRIO_WARNING, "kb_store: spool: cannot delete %s/%s: %s\n", sp->dir,
                          name, strerror(errno));
}

/* Delete the segments numbered below num (wholly delivered). */
static void drop_segments_before(kb_spool *sp, uint32_t num)
{
    size_t k = 0;
    while (k < sp->n_segs && sp->segs[k].num < num) remove_seg_file(sp, sp->segs[k++].num);
    if (!k) return;
    if (k == sp->n_segs && sp->append_fd >= 0) {
        close(sp->append_fd);
        sp->append_fd = -1;
    }
    memmove(sp->segs, sp->segs + k, (sp->n_segs - k) * sizeof *sp->segs);
    sp->n_segs -= k;
}

kb_spool *kb_spool_open(const char *dir, uint64_t segment_bytes, char *err, size_t err_len)
{
    kb_spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    sp->dir_fd = sp->lock_fd = sp->append_fd = sp->read_fd = -1;
    sp->segment_bytes = segment_bytes ? segment_bytes : KB_SPOOL_SEGMENT_BYTES;
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fail(sp, "cannot create the spool directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0 || fstat(sp->dir_fd, &st) != 0) {
        fail(sp, "cannot open the spool directory %s: %s", dir,
             errno == ENOTDIR ? "not a directory" : strerror(errno));
        goto fail;
    }
    /* What waits here is what the database would hold: the owner alone may read it. */
    if ((st.st_mode & 077) && fchmod(sp->dir_fd, 0700) != 0) {
        fail(sp, "cannot make the spool directory %s private (0700): %s", dir, strerror(errno));
        goto fail;
    }
    sp->lock_fd = openat(sp->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sp->lock_fd < 0) {
        fail(sp, "cannot write in the spool directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fail(sp, "the spool %s is in use by another process (two kb-searchd cannot share one "
             "--spool)", dir);
        goto fail;
    }
    unlinkat(sp->dir_fd, DELIVERED_TMP, 0); /* a rename a crash interrupted */
    if (read_delivered(sp) != 0 || list_segments(sp) != 0) goto fail;
    drop_segments_before(sp, sp->delivered.segment);
    uint32_t top = sp->delivered.segment;
    if (sp->n_segs && sp->segs[sp->n_segs - 1].num > top) top = sp->segs[sp->n_segs - 1].num;
    sp->next_num = top + 1;
    if (sp->n_segs && sp->segs[0].num != sp->delivered.segment)
        sp->delivered = (kb_spool_pos){sp->segs[0].num, 0}; /* nothing of it delivered yet */
    for (size_t i = 0; i < sp->n_segs; i++) {
        uint64_t from = sp->segs[i].num == sp->delivered.segment ? sp->delivered.offset : 0;
        if (scan_segment(sp, &sp->segs[i], from, i + 1 == sp->n_segs) != 0) goto fail;
        if (sp->segs[i].num == sp->delivered.segment && sp->delivered.offset > sp->segs[i].size)
            sp->delivered.offset = sp->segs[i].size;
    }
    return sp;
fail:
    snprintf(err, err_len, "%s", sp->err);
    kb_spool_close(sp);
    return NULL;
}

void kb_spool_close(kb_spool *sp)
{
    if (!sp) return;
    if (sp->buf_len && sp->dir_fd >= 0) kb_spool_flush(sp);
    if (sp->append_fd >= 0) close(sp->append_fd);
    if (sp->read_fd >= 0) close(sp->read_fd);
    if (sp->lock_fd >= 0) close(sp->lock_fd); /* releases the flock */
    if (sp->dir_fd >= 0) close(sp->dir_fd);
    free(sp->segs);
    free(sp->buf);
    free(sp->dir);
    free(sp);
}

const char *kb_spool_errmsg(const kb_spool *sp) { return sp->err; }
const char *kb_spool_dir(const kb_spool *sp) { return sp->dir; }
uint64_t kb_spool_pending(const kb_spool *sp) { return sp->pending; }
uint64_t kb_spool_dropped_bytes(const kb_spool *sp) { return sp->dropped; }
size_t kb_spool_segments(const kb_spool *sp) { return sp->n_segs; }
kb_spool_pos kb_spool_delivered_pos(const kb_spool *sp) { return sp->delivered; }

/* ---------------------------------------------------------------- appending */

int kb_spool_append(kb_spool *sp, const void *data, size_t len)
{
    if (len == 0 || len > KB_SPOOL_RECORD_MAX)
        return fail(sp, "a spool record of %zu bytes (1 to %u)", len, KB_SPOOL_RECORD_MAX);
    size_t need = sp->buf_len + KB_SPOOL_HEADER_BYTES + len;
    if (need > sp->buf_cap) {
        size_t cap = sp->buf_cap ? sp->buf_cap : 65536;
        while (cap < need) cap *= 2;
        unsigned char *b = realloc(sp->buf, cap);
        if (!b) return fail(sp, "out of memory");
        sp->buf = b;
        sp->buf_cap = cap;
    }
    unsigned char *h = sp->buf + sp->buf_len;
    put_le32(h, (uint32_t)len);
    put_le32(h + 4, kb_crc32c(kb_crc32c(0, h, 4), data, len));
    memcpy(h + KB_SPOOL_HEADER_BYTES, data, len);
    sp->buf_len = need;
    sp->buf_records++;
    sp->pending++;
    return 0;
}

void kb_spool_discard(kb_spool *sp)
{
    sp->pending -= sp->buf_records;
    sp->buf_len = 0;
    sp->buf_records = 0;
}

/* Start a new segment: the current one is made durable first, so that only the last segment
 * can ever end in a record cut short. 0, or -1. */
static int new_segment(kb_spool *sp)
{
    if (sp->append_fd >= 0) {
        if (fdatasync(sp->append_fd) != 0)
            return fail(sp, "cannot sync the spool segment in %s: %s", sp->dir, strerror(errno));
        close(sp->append_fd);
        sp->append_fd = -1;
    }
    char name[64];
    seg_name(sp->next_num, name, sizeof name);
    int fd = openat(sp->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail(sp, "cannot create %s/%s: %s", sp->dir, name, strerror(errno));
    if (push_seg(sp, sp->next_num, 0) != 0) {
        close(fd);
        unlinkat(sp->dir_fd, name, 0);
        return fail(sp, "out of memory");
    }
    sp->next_num++;
    sp->append_fd = fd;
    sp->dir_dirty = 1;
    return 0;
}

int kb_spool_flush(kb_spool *sp)
{
    sp->last_n = 0;
    if (!sp->buf_len) return 0;
    segment *s = sp->n_segs ? &sp->segs[sp->n_segs - 1] : NULL;
    int rc = 0;
    if (!s || (s->size > 0 && s->size + sp->buf_len > sp->segment_bytes)) {
        rc = new_segment(sp);
        s = &sp->segs[sp->n_segs - 1];
    } else if (sp->append_fd < 0) {
        char name[64];
        seg_name(s->num, name, sizeof name);
        sp->append_fd = openat(sp->dir_fd, name, O_WRONLY | O_CLOEXEC);
        if (sp->append_fd < 0)
            rc = fail(sp, "cannot open %s/%s: %s", sp->dir, name, strerror(errno));
    }
    if (rc == 0 && pwrite_all(sp->append_fd, sp->buf, sp->buf_len, s->size) != 0) {
        rc = fail(sp, "cannot write to the spool in %s: %s", sp->dir, strerror(errno));
        /* A part may be written: cut it off, so no record of a failed batch stays. */
        if (ftruncate(sp->append_fd, (off_t)s->size) != 0)
            kb_journal_printf(KB_PRIO_ERR, "kb_store: spool %s: cannot cut off a failed write: "
                              "%s (the next start drops it)\n", sp->dir, strerror(errno));
    }
    if (rc != 0) {
        kb_spool_discard(sp);
        return -1;
    }
    sp->last_start = s->size;
    sp->last_n = sp->buf_records;
    s->size += sp->buf_len;
    sp->buf_len = 0;
    sp->buf_records = 0;
    return 0;
}

int kb_spool_sync(kb_spool *sp)
{
    if (kb_spool_flush(sp) != 0) return -1;
    if (sp->append_fd < 0) return 0; /* nothing was ever written */
    if (fdatasync(sp->append_fd) != 0) {
        int e = errno;
        /* Not known to be on disk: take this flush's records back, so the batch reported
         * failed is never delivered. */
        segment *s = &sp->segs[sp->n_segs - 1];
        if (sp->last_n && ftruncate(sp->append_fd, (off_t)sp->last_start) == 0) {
            s->size = sp->last_start;
            sp->pending -= sp->last_n;
            sp->last_n = 0;
        }
        return fail(sp, "cannot sync the spool in %s: %s", sp->dir, strerror(e));
    }
    if (sp->dir_dirty) {
        if (fsync(sp->dir_fd) != 0)
            return fail(sp, "cannot sync the spool directory %s: %s", sp->dir, strerror(errno));
        sp->dir_dirty = 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- delivering */

/* A position at the end of a segment that has a successor is the start of that successor. */
static kb_spool_pos normalized(kb_spool *sp, kb_spool_pos p)
{
    /* Before the first segment (its predecessors are all delivered and deleted): its start. */
    if (sp->n_segs && p.segment < sp->segs[0].num) p = (kb_spool_pos){sp->segs[0].num, 0};
    for (size_t i = 0; i + 1 < sp->n_segs; i++)
        if (sp->segs[i].num == p.segment && p.offset >= sp->segs[i].size)
            p = (kb_spool_pos){sp->segs[i + 1].num, 0};
    return p;
}

int kb_spool_read(kb_spool *sp, size_t max, kb_spool_batch *b)
{
    memset(b, 0, sizeof *b);
    if (kb_spool_flush(sp) != 0) return -1;
    kb_spool_pos p = normalized(sp, sp->delivered);
    b->end = p;
    segment *s = find_seg(sp, p.segment);
    if (!s || p.offset >= s->size || max == 0) return 0;
    char name[64];
    seg_name(s->num, name, sizeof name);
    if (sp->read_fd < 0 || sp->read_num != s->num) {
        if (sp->read_fd >= 0) close(sp->read_fd);
        sp->read_fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
        sp->read_num = s->num;
        if (sp->read_fd < 0) return fail(sp, "cannot open %s/%s: %s", sp->dir, name, strerror(errno));
    }
    if (max > 65536) max = 65536;
    size_t want = s->size - p.offset < READ_CHUNK ? (size_t)(s->size - p.offset) : READ_CHUNK;
    if (!(b->buf = malloc(want)) || !(b->recs = malloc(max * sizeof *b->recs))) {
        kb_spool_batch_free(b);
        return fail(sp, "out of memory");
    }
    if (pread_all(sp->read_fd, b->buf, want, p.offset) != 0) {
        int e = errno;
        kb_spool_batch_free(b);
        return fail(sp, "cannot read %s/%s: %s", sp->dir, name, strerror(e));
    }
    int bad;
    size_t used = parse(b->buf, want, max, b->recs, &b->n, &bad);
    if (bad || b->n == 0) {
        /* Every record here passed its CRC when it was written or opened: a record that fails
         * now (or is cut short inside the recorded size) is damage since. */
        kb_spool_batch_free(b);
        return fail(sp, "the spool record at %s/%s offset %llu no longer passes its check (disk "
                    "damage?)", sp->dir, name, (unsigned long long)(p.offset + used));
    }
    b->end = (kb_spool_pos){s->num, p.offset + used};
    return 0;
}

void kb_spool_batch_free(kb_spool_batch *b)
{
    free(b->recs);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* Write the delivered position: temporary file, fsync, rename, fsync of the directory. */
static int write_delivered(kb_spool *sp, kb_spool_pos p)
{
    char text[64];
    int len = snprintf(text, sizeof text, "%u %llu\n", p.segment, (unsigned long long)p.offset);
    int fd = openat(sp->dir_fd, DELIVERED_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(sp, "cannot write %s/%s: %s", sp->dir, DELIVERED_TMP, strerror(errno));
    int ok = pwrite_all(fd, (const unsigned char *)text, (size_t)len, 0) == 0 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || renameat(sp->dir_fd, DELIVERED_TMP, sp->dir_fd, DELIVERED) != 0 ||
        fsync(sp->dir_fd) != 0) {
        if (ok) e = errno;
        unlinkat(sp->dir_fd, DELIVERED_TMP, 0);
        return fail(sp, "cannot record the delivered position in %s/%s: %s", sp->dir, DELIVERED,
                    strerror(e));
    }
    return 0;
}

int kb_spool_delivered(kb_spool *sp, const kb_spool_batch *b)
{
    kb_spool_pos p = normalized(sp, b->end);
    if (write_delivered(sp, p) != 0) return -1;
    sp->delivered = p;
    sp->pending -= b->n < sp->pending ? b->n : sp->pending;
    drop_segments_before(sp, p.segment);
    /* Everything delivered: the last segment goes too; the next spooling starts a new one. */
    if (!sp->pending && !sp->buf_len && sp->n_segs == 1 && sp->segs[0].num == p.segment &&
        p.offset >= sp->segs[0].size) {
        if (sp->append_fd >= 0) close(sp->append_fd);
        sp->append_fd = -1;
        remove_seg_file(sp, p.segment);
        sp->n_segs = 0;
    }
    return 0;
}
