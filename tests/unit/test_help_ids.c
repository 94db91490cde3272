/* test_help_ids.c — the help-request ids a node reserves for its spool (kb/events/help_ids.h):
 * handed out in order, never twice, also across a crash; none left is said; a damaged file is
 * refused; a block is reserved from help_requests' identity sequence under the write lock, so
 * the database never gives those ids to anyone else. */
#include "check.h"
#include "db/db.h"
#include "events/help_ids.h"
#include "kb/store.h"
#include "pg_fixture.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static const char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static kb_help_ids *open_ok(const char *path)
{
    char err[512] = "";
    kb_help_ids *h = kb_help_ids_open(path, err, sizeof err);
    if (!h) printf("  open %s: %s\n", path, err);
    return h;
}

TEST(ids_come_in_order_and_never_twice_across_a_crash)
{
    const char *path = path_of("ids-order");
    write_text(path, "kb-help-ids 1\n10 1009\n");
    kb_help_ids *h = open_ok(path);
    CHECK(h && kb_help_ids_left(h) == 1000);
    if (!h) return;
    int64_t id = 0, last = 9;
    for (int i = 0; i < 150; i++) {
        CHECK(kb_help_ids_take(h, &id) == 0 && id == last + 1);
        last = id;
    }
    CHECK(kb_help_ids_left(h) == 850);
    /* A crash now (no close): the file was written ahead, so a restart resumes past every id
     * handed out, skipping at most a step. */
    kb_help_ids *again = open_ok(path);
    CHECK(again && kb_help_ids_take(again, &id) == 0 && id > last && id <= last + KB_HELP_IDS_STEP + 1);
    kb_help_ids_close(again);
    kb_help_ids_close(h);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
}

TEST(when_none_is_left_it_says_so)
{
    const char *path = path_of("ids-few");
    write_text(path, "kb-help-ids 1\n5 6\n20 20\n");
    kb_help_ids *h = open_ok(path);
    int64_t id = 0;
    CHECK(h && kb_help_ids_left(h) == 3);
    if (!h) return;
    CHECK(kb_help_ids_take(h, &id) == 0 && id == 5);
    CHECK(kb_help_ids_take(h, &id) == 0 && id == 6);
    CHECK(kb_help_ids_take(h, &id) == 0 && id == 20);
    CHECK(kb_help_ids_take(h, &id) == 1 && kb_help_ids_left(h) == 0);
    kb_help_ids_close(h);
    h = open_ok(path); /* and after a restart too */
    CHECK(h && kb_help_ids_take(h, &id) == 1);
    kb_help_ids_close(h);
    /* No file yet: no ids, not an error. */
    h = open_ok(path_of("ids-none"));
    CHECK(h && kb_help_ids_left(h) == 0 && kb_help_ids_take(h, &id) == 1);
    kb_help_ids_close(h);
}

TEST(a_damaged_file_is_refused)
{
    const char *bad[] = {"garbage\n", "kb-help-ids 1\n10 5\n", "kb-help-ids 1\n10 20\n15 30\n",
                         "kb-help-ids 1\n10 20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = path_of("ids-bad");
        write_text(path, bad[i]);
        char err[512] = "";
        kb_help_ids *h = kb_help_ids_open(path, err, sizeof err);
        CHECK(h == NULL && strstr(err, "damaged") && strstr(err, "OPERATIONS.md"));
        kb_help_ids_close(h);
    }
}

/* PostgreSQL: a block of the identity sequence, recorded; the database's own next id is past
 * it; the next block once half is used; the file holds both ranges. */
TEST(a_block_is_reserved_from_the_help_requests_sequence)
{
    char data[1024], err[512];
    if (pg_fresh_store(data, sizeof data) != 0) {
        CHECK(0);
        return;
    }
    kb_store *st = kb_store_open(data, err, sizeof err); /* the schema */
    CHECK(st != NULL);
    kb_db *db = raw_open(data);
    const char *path = path_of("ids-pg");
    kb_help_ids *h = open_ok(path);
    int code = -1;
    CHECK(db && h && kb_help_ids_refill(h, db, &code) == 0 && code == KB_DB_OK);
    CHECK(h && kb_help_ids_left(h) == KB_HELP_IDS_BLOCK);
    int64_t first = 0, id = 0;
    CHECK(h && kb_help_ids_take(h, &first) == 0 && first >= 1);
    kb_help_request hr = {.agent = "a1", .filed_by = "desk", .question = "宽带报修", .time_ms = 1};
    CHECK(st && kb_store_log_help_request(st, &hr, &id) == KB_OK);
    CHECK(id == first + KB_HELP_IDS_BLOCK); /* the database went on after the block */
    /* Enough left: nothing reserved. */
    CHECK(h && kb_help_ids_refill(h, db, &code) == 0 && kb_help_ids_left(h) == KB_HELP_IDS_BLOCK - 1);
    for (int i = 0; h && i < KB_HELP_IDS_BLOCK / 2; i++) CHECK(kb_help_ids_take(h, &id) == 0);
    /* The write lock held elsewhere (a node cut off inside a write transaction): nothing
     * reserved, and the caller told it was the lock (the store's writer tries again later). */
    kb_db *holder = raw_open(data);
    CHECK(holder && kb_db_begin(holder, KB_DB_TX_WRITE) == KB_DB_OK);
    CHECK(db && kb_db_set_busy_timeout(db, 200) == KB_DB_OK);
    CHECK(h && kb_help_ids_refill(h, db, &code) == -1 && code == KB_DB_BUSY);
    CHECK(h && kb_help_ids_left(h) == KB_HELP_IDS_BLOCK / 2 - 1);
    CHECK(holder && kb_db_commit(holder) == KB_DB_OK);
    kb_db_close(holder);
    CHECK(h && kb_help_ids_refill(h, db, &code) == 0);
    CHECK(h && kb_help_ids_left(h) == KB_HELP_IDS_BLOCK / 2 - 1 + KB_HELP_IDS_BLOCK);
    kb_help_ids *again = open_ok(path);
    CHECK(again && kb_help_ids_left(again) >= KB_HELP_IDS_BLOCK / 2 - 1 - KB_HELP_IDS_STEP + KB_HELP_IDS_BLOCK);
    /* The ids run on into the second block once the first is used up, never repeating. */
    int64_t prev = 0, dup = 0;
    while (again && kb_help_ids_take(again, &id) == 0) {
        if (id <= prev) dup = 1;
        prev = id;
    }
    CHECK(!dup && prev > first + KB_HELP_IDS_BLOCK);
    kb_help_ids_close(again);
    kb_help_ids_close(h);
    kb_db_close(db);
    kb_store_close(st);
    /* SQLite has no spool: nothing to reserve from. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/sqlite", root);
    st = kb_store_open(dir, err, sizeof err);
    db = raw_open(dir);
    h = open_ok(path_of("ids-sqlite"));
    CHECK(db && h && kb_help_ids_refill(h, db, &code) == -1 && strstr(kb_help_ids_errmsg(h), "PostgreSQL"));
    kb_help_ids_close(h);
    kb_db_close(db);
    kb_store_close(st);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/kb-test-ids.XXXXXX");
    if (!mkdtemp(root)) {
        printf("FAIL mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    pg_fixture_start();
    RUN(ids_come_in_order_and_never_twice_across_a_crash);
    RUN(when_none_is_left_it_says_so);
    RUN(a_damaged_file_is_refused);
    if (pg_uri[0]) {
        backend = "postgresql";
        RUN(a_block_is_reserved_from_the_help_requests_sequence);
    }
    pg_fixture_end();
    if (!getenv("KB_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0) printf("  could not remove %s\n", root);
    }
    CHECK_MAIN_END();
}
