/* test_paged_query.c — one page of a filtered list and the count of the whole list
 * (events/paged_query.h): the count follows the filter, the page its limit, offset and order,
 * and a failure leaves nothing open. On both databases (pg_fixture.h). */
#include "check.h"
#include "events/paged_query.h"
#include "pg_fixture.h"

#include <stdint.h>

static char sqlite_dir[64];
static char data[1024]; /* the run's store: sqlite_dir, or a fresh schema on the test server */

static void fresh_store(void)
{
    if (is_postgresql_run()) {
        if (pg_fresh_store(data, sizeof data) != 0) data[0] = '\0';
    } else {
        snprintf(data, sizeof data, "%s", sqlite_dir);
    }
}

/* A table t(id, team) with ids 1..20; odd ids in team "a", even in "b". */
static kb_db *db_table(void)
{
    char err[512];
    kb_db *db = kb_db_open(data, KB_DB_CREATE, err, sizeof err);
    if (!db) {
        printf("  open: %s\n", err);
        return NULL;
    }
    char *ddl = kb_db_ddl(kb_db_dialect_of(db), "CREATE TABLE t (id INTEGER PRIMARY KEY, team TEXT)");
    int rc = kb_db_exec(db, "DROP TABLE IF EXISTS t");
    if (rc == KB_DB_OK) rc = kb_db_exec(db, ddl);
    free(ddl);
    if (rc == KB_DB_OK)
        rc = kb_db_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) "
                            "INSERT INTO t SELECT i, CASE i % 2 WHEN 1 THEN 'a' ELSE 'b' END FROM n");
    if (rc != KB_DB_OK) {
        printf("  %s\n", kb_db_errmsg(db));
        kb_db_close(db);
        return NULL;
    }
    return db;
}

static void bind_team_db(kb_db_stmt *s, const void *arg) { kb_db_bind_text(s, 1, arg); }

TEST(a_page_counts_its_list_and_keeps_its_limit_offset_and_order)
{
    kb_db *db = db_table();
    CHECK(db != NULL);
    if (!db) return;
    kb_page q;
    int rc = kb_page_open(db, "id", "t", "team = ?1", "id DESC", 3, 2, bind_team_db, "a", &q);
    CHECK(rc == KB_DB_OK);
    if (rc != KB_DB_OK) {
        printf("  %s\n", kb_db_errmsg(db));
        kb_db_close(db);
        return;
    }
    CHECK(q.total == 10);
    int64_t ids[4] = {0};
    int n = 0;
    while (n < 4 && kb_db_step(q.rows) == KB_DB_ROW) ids[n++] = kb_db_column_int64(q.rows, 0);
    CHECK(n == 3 && ids[0] == 15 && ids[1] == 13 && ids[2] == 11); /* 19, 17 skipped */
    kb_page_close(&q);
    CHECK(q.rows == NULL);

    /* past the end: empty, and still the count of the list */
    CHECK(kb_page_open(db, "id", "t", "1 = 1", "id", 50, 100, NULL, NULL, &q) == KB_DB_OK);
    CHECK(q.total == 20);
    CHECK(kb_db_step(q.rows) == KB_DB_DONE);
    kb_page_close(&q);

    /* a bad query: the database's message, nothing open (SQLite reports it in the count's
     * prepare, PostgreSQL at its first step) */
    CHECK(kb_page_open(db, "id", "t", "no_such_column = 1", "id", 5, 0, NULL, NULL, &q) == KB_DB_ERROR);
    CHECK(strstr(kb_db_errmsg(db), "no_such_column") != NULL && q.rows == NULL);
    rc = kb_page_open(db, "no_such_column", "t", "1 = 1", "id", 5, 0, NULL, NULL, &q);
    if (rc == KB_DB_OK) { /* PostgreSQL: the page's error comes with its first step */
        rc = kb_db_step(q.rows);
        kb_page_close(&q);
    }
    CHECK(rc == KB_DB_ERROR && strstr(kb_db_errmsg(db), "no_such_column") != NULL);
    kb_db_close(db);
}

int main(void)
{
    snprintf(sqlite_dir, sizeof sqlite_dir, "/tmp/kb-test-page-XXXXXX");
    if (!mkdtemp(sqlite_dir)) {
        perror("mkdtemp");
        return 1;
    }
    pg_fixture_start();
    RUN_BOTH_WITH(a_page_counts_its_list_and_keeps_its_limit_offset_and_order, fresh_store);
    pg_fixture_end();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sqlite_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", sqlite_dir);
    CHECK_MAIN_END();
}
