/* test_spool.c — the event spool's files (kb/events/spool.h): records come back in order with
 * their bytes, after a reopen too; a record cut short by a crash, or failing its CRC, is dropped
 * on open and appends go on after the last good one; segments rotate and delivered ones are
 * deleted; the delivered position survives a reopen, and a crash before it is written sends
 * those records again; a failed write leaves nothing; one process per spool; CRC-32C itself. */
#include "check.h"
#include "events/spool.h"
#include "util/crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static const char *new_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

/* Record i's bytes: its number, then a length and filler that depend on it. */
static size_t make_record(unsigned i, unsigned char *out, size_t cap)
{
    size_t len = 8 + (i * 37) % 300;
    if (len > cap) len = cap;
    snprintf((char *)out, cap, "%07u", i);
    for (size_t k = 8; k < len; k++) out[k] = (unsigned char)(i * 7 + k);
    return len;
}

static int record_is(const kb_spool_record *r, unsigned i)
{
    unsigned char want[400];
    size_t len = make_record(i, want, sizeof want);
    return r->len == len && memcmp(r->data, want, len) == 0;
}

static int append_records(kb_spool *sp, unsigned from, unsigned to)
{
    unsigned char rec[400];
    for (unsigned i = from; i < to; i++)
        if (kb_spool_append(sp, rec, make_record(i, rec, sizeof rec)) != 0) return -1;
    return 0;
}

static kb_spool *open_ok(const char *dir, uint64_t seg_bytes)
{
    char err[512] = "";
    kb_spool *sp = kb_spool_open(dir, seg_bytes, err, sizeof err);
    if (!sp) printf("  open %s: %s\n", dir, err);
    return sp;
}

/* Read everything waiting, checking it is records first.. in order; deliver each batch when
 * deliver is set. The number of records read. */
static unsigned read_all(kb_spool *sp, unsigned first, size_t batch, int deliver)
{
    unsigned next = first;
    for (;;) {
        kb_spool_batch b;
        if (kb_spool_read(sp, batch, &b) != 0) {
            printf("  read: %s\n", kb_spool_errmsg(sp));
            return next - first;
        }
        if (b.n == 0) break;
        for (size_t k = 0; k < b.n; k++, next++)
            if (!record_is(&b.recs[k], next)) {
                printf("  record %u differs\n", next);
                kb_spool_batch_free(&b);
                return next - first;
            }
        int rc = deliver ? kb_spool_delivered(sp, &b) : 0;
        kb_spool_batch_free(&b);
        if (!deliver) break;
        if (rc != 0) {
            printf("  delivered: %s\n", kb_spool_errmsg(sp));
            break;
        }
    }
    return next - first;
}

static char path_buf[512];
static const char *seg_path(const char *dir, unsigned num)
{
    snprintf(path_buf, sizeof path_buf, "%s/spool-%08u.log", dir, num);
    return path_buf;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_segment_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "spool-", 6)) n++;
    if (d) closedir(d);
    return n;
}

TEST(crc32c_gives_the_standard_check_value)
{
    CHECK(kb_crc32c(0, "123456789", 9) == 0xE3069283u);
    /* In pieces, the same (what the record header and payload rely on). */
    CHECK(kb_crc32c(kb_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
    CHECK(kb_crc32c(0, "", 0) == 0);
    unsigned char zeros[32] = {0};
    CHECK(kb_crc32c(0, zeros, 32) == 0x8A9136AAu); /* RFC 3720, B.4 */
}

TEST(records_come_back_in_order_after_a_reopen)
{
    const char *dir = new_dir("order");
    kb_spool *sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 600) == 0 && kb_spool_flush(sp) == 0);
    CHECK(append_records(sp, 600, 1000) == 0 && kb_spool_sync(sp) == 0);
    CHECK(kb_spool_pending(sp) == 1000);
    kb_spool_close(sp);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 1000 && kb_spool_dropped_bytes(sp) == 0);
    if (!sp) return;
    CHECK(read_all(sp, 0, 300, 1) == 1000);
    CHECK(kb_spool_pending(sp) == 0);
    /* Everything delivered: no segment is left behind. */
    CHECK(kb_spool_segments(sp) == 0 && count_segment_files(dir) == 0);
    /* Appends go on in a new segment, numbered after the last. */
    CHECK(append_records(sp, 0, 5) == 0 && kb_spool_sync(sp) == 0);
    CHECK(file_size(seg_path(dir, 2)) > 0);
    kb_spool_close(sp);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 5);
    if (sp) CHECK(read_all(sp, 0, 1000, 1) == 5);
    kb_spool_close(sp);
}

TEST(the_spool_is_private_to_its_owner)
{
    const char *dir = new_dir("modes");
    CHECK(mkdir(dir, 0755) == 0);
    kb_spool *sp = open_ok(dir, 0);
    CHECK(sp != NULL);
    if (!sp) return;
    CHECK(append_records(sp, 0, 3) == 0 && kb_spool_sync(sp) == 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(seg_path(dir, 1), &st) == 0 && (st.st_mode & 0777) == 0600);
    kb_spool_close(sp);
}

TEST(a_record_cut_short_by_a_crash_is_dropped_and_appends_follow_the_last_good_one)
{
    const char *dir = new_dir("torn");
    kb_spool *sp = open_ok(dir, 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 10) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_close(sp);
    long whole = file_size(seg_path(dir, 1));
    /* The last record cut short (its write interrupted), then zeros after it (a crash can leave
     * the file longer than what was written). */
    unsigned char last[400];
    size_t last_len = make_record(9, last, sizeof last);
    CHECK(truncate(seg_path(dir, 1), whole - 3) == 0);
    CHECK(truncate(seg_path(dir, 1), whole + 4096) == 0);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 9);
    if (!sp) return;
    CHECK(kb_spool_dropped_bytes(sp) == (uint64_t)(4096 + last_len + KB_SPOOL_HEADER_BYTES));
    CHECK(file_size(seg_path(dir, 1)) == whole - (long)(last_len + KB_SPOOL_HEADER_BYTES));
    CHECK(append_records(sp, 9, 12) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_close(sp);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 12 && kb_spool_dropped_bytes(sp) == 0);
    if (sp) CHECK(read_all(sp, 0, 1000, 1) == 12);
    kb_spool_close(sp);
}

TEST(a_record_failing_its_crc_is_dropped)
{
    const char *dir = new_dir("crc");
    kb_spool *sp = open_ok(dir, 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 10) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_close(sp);
    /* One bit of the last record's payload flipped. */
    long size = file_size(seg_path(dir, 1));
    int fd = open(seg_path(dir, 1), O_RDWR);
    unsigned char c;
    CHECK(fd >= 0 && pread(fd, &c, 1, size - 2) == 1);
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, size - 2) == 1);
    close(fd);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 9 && kb_spool_dropped_bytes(sp) > 0);
    if (sp) CHECK(read_all(sp, 0, 1000, 1) == 9);
    kb_spool_close(sp);
    /* A length out of range is damage too, not a record to read. */
    sp = open_ok(dir, 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 2) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_close(sp);
    fd = open(seg_path(dir, 2), O_RDWR);
    unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
    CHECK(fd >= 0 && pwrite(fd, huge, 4, 0) == 4);
    close(fd);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 0);
    kb_spool_close(sp);
}

TEST(segments_rotate_and_each_is_deleted_once_delivered)
{
    const char *dir = new_dir("segments");
    kb_spool *sp = open_ok(dir, 4096);
    if (!sp) return;
    for (unsigned i = 0; i < 200; i += 10) /* a flush is one batch: never split over segments */
        CHECK(append_records(sp, i, i + 10) == 0 && kb_spool_flush(sp) == 0);
    CHECK(kb_spool_sync(sp) == 0);
    size_t segs = kb_spool_segments(sp);
    CHECK(segs > 5 && (int)segs == count_segment_files(dir));
    for (unsigned k = 1; k <= segs; k++) CHECK(file_size(seg_path(dir, k)) <= 4096 + 10 * 320);
    /* Deliver half: the segments wholly delivered are gone, the rest stay. */
    unsigned got = 0;
    while (got < 100) {
        kb_spool_batch b;
        CHECK(kb_spool_read(sp, 7, &b) == 0 && b.n > 0);
        if (b.n == 0) break;
        for (size_t k = 0; k < b.n; k++) CHECK(record_is(&b.recs[k], got + (unsigned)k));
        got += (unsigned)b.n;
        CHECK(kb_spool_delivered(sp, &b) == 0);
        kb_spool_batch_free(&b);
    }
    CHECK(kb_spool_pending(sp) == 200 - got);
    CHECK(kb_spool_segments(sp) < segs && (int)kb_spool_segments(sp) == count_segment_files(dir));
    CHECK(file_size(seg_path(dir, 1)) == -1);
    kb_spool_close(sp);
    /* Reopened, delivery goes on where it stopped, across the remaining segments. */
    sp = open_ok(dir, 4096);
    CHECK(sp && kb_spool_pending(sp) == 200 - got);
    if (sp) CHECK(read_all(sp, got, 7, 1) == 200 - got);
    if (sp) CHECK(count_segment_files(dir) == 0);
    kb_spool_close(sp);
}

TEST(the_delivered_position_survives_a_reopen_and_a_crash_before_it_sends_records_again)
{
    const char *dir = new_dir("delivered");
    kb_spool *sp = open_ok(dir, 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 1000) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_batch b;
    CHECK(kb_spool_read(sp, 300, &b) == 0 && b.n == 300);
    CHECK(kb_spool_delivered(sp, &b) == 0);
    kb_spool_batch_free(&b);
    /* The next 100 are read and "committed", and the process dies before the position is
     * written. */
    CHECK(kb_spool_read(sp, 100, &b) == 0 && b.n == 100 && record_is(&b.recs[0], 300));
    kb_spool_batch_free(&b);
    kb_spool_close(sp);
    /* A crash in the middle of writing the position leaves its temporary file behind. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/delivered.tmp", dir);
    FILE *f = fopen(tmp, "w");
    CHECK(f && fputs("1 99999", f) >= 0);
    if (f) fclose(f);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 700);
    if (!sp) return;
    CHECK(access(tmp, F_OK) != 0);
    /* Those 100 come again, first: the writer's inserts make the second delivery a no-op. */
    CHECK(read_all(sp, 300, 100, 1) == 700);
    kb_spool_close(sp);
    /* A damaged position file is refused, saying what to do, rather than guessed at. */
    char pos[300];
    snprintf(pos, sizeof pos, "%s/delivered", dir);
    f = fopen(pos, "w");
    CHECK(f && fputs("garbage", f) >= 0);
    if (f) fclose(f);
    char err[512] = "";
    sp = kb_spool_open(dir, 0, err, sizeof err);
    CHECK(sp == NULL && strstr(err, "damaged") && strstr(err, "OPERATIONS.md"));
    kb_spool_close(sp);
}

TEST(a_failed_write_leaves_nothing_of_its_batch)
{
    const char *dir = new_dir("full");
    kb_spool *sp = open_ok(dir, 0);
    if (!sp) return;
    CHECK(append_records(sp, 0, 10) == 0 && kb_spool_sync(sp) == 0);
    long before = file_size(seg_path(dir, 1));
    /* A full disk: the file may not grow past 100 bytes more. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)before + 100;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK(append_records(sp, 10, 20) == 0);
    CHECK(kb_spool_sync(sp) != 0 && strstr(kb_spool_errmsg(sp), dir));
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(kb_spool_pending(sp) == 10 && file_size(seg_path(dir, 1)) == before);
    /* The next batch is written as if the failed one had never been. */
    CHECK(append_records(sp, 10, 12) == 0 && kb_spool_sync(sp) == 0);
    kb_spool_close(sp);
    sp = open_ok(dir, 0);
    CHECK(sp && kb_spool_pending(sp) == 12 && kb_spool_dropped_bytes(sp) == 0);
    if (sp) CHECK(read_all(sp, 0, 1000, 1) == 12);
    kb_spool_close(sp);
    /* A record larger than a record may be is refused. */
    sp = open_ok(dir, 0);
    static unsigned char big[KB_SPOOL_RECORD_MAX + 1];
    CHECK(sp && kb_spool_append(sp, big, sizeof big) != 0 && kb_spool_pending(sp) == 0);
    kb_spool_close(sp);
}

TEST(one_process_at_a_time_uses_a_spool)
{
    const char *dir = new_dir("lock");
    kb_spool *a = open_ok(dir, 0);
    char err[512] = "";
    kb_spool *b = kb_spool_open(dir, 0, err, sizeof err);
    CHECK(a && !b && strstr(err, "in use"));
    kb_spool_close(b);
    kb_spool_close(a);
    b = open_ok(dir, 0); /* free again once the first closed */
    CHECK(b != NULL);
    kb_spool_close(b);
    /* A file where the directory should be: said plainly. */
    char file[300];
    snprintf(file, sizeof file, "%s/plain-file", root);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    b = kb_spool_open(file, 0, err, sizeof err);
    CHECK(!b && strstr(err, "not a directory"));
    kb_spool_close(b);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/kb-test-spool.XXXXXX");
    if (!mkdtemp(root)) {
        printf("FAIL mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(crc32c_gives_the_standard_check_value);
    RUN(records_come_back_in_order_after_a_reopen);
    RUN(the_spool_is_private_to_its_owner);
    RUN(a_record_cut_short_by_a_crash_is_dropped_and_appends_follow_the_last_good_one);
    RUN(a_record_failing_its_crc_is_dropped);
    RUN(segments_rotate_and_each_is_deleted_once_delivered);
    RUN(the_delivered_position_survives_a_reopen_and_a_crash_before_it_sends_records_again);
    RUN(a_failed_write_leaves_nothing_of_its_batch);
    RUN(one_process_at_a_time_uses_a_spool);
    if (!getenv("KB_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0) printf("  could not remove %s\n", root);
    }
    CHECK_MAIN_END();
}
