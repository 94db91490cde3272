/* test_coaching.c — study lists, studied marks, coaching sessions and the coaching-effect report
 * (kb/coaching.h): numbers against hand-computed fixtures, including the before and after
 * windows of a session, the redaction of notes, and the rules a session must keep. */
#include "db/db.h"
#include "pg_fixture.h"
#include "help_request_fixture.h"
#include "check.h"
#include "kb/coaching.h"
#include "kb/review.h"
#include "kb/store.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static char root[64];

/* A store with the schema in place (a data directory, or a new schema on the PostgreSQL test
 * server); its --data value, also in path (for raw_open). */
static const char *fresh_store(const char *name, char *path, size_t len)
{
    static char dir[1024];
    if (is_postgresql_run()) {
        if (pg_fresh_store(dir, sizeof dir) != 0) dir[0] = '\0';
    } else {
        snprintf(dir, sizeof dir, "%s/%s", root, name);
    }
    char err[512] = "";
    kb_store *st = kb_store_open(dir, err, sizeof err);
    if (st) kb_store_close(st);
    else printf("  %s\n", err);
    snprintf(path, len, "%s", dir);
    return dir;
}


/* 10:00 local on that day. */
static int64_t at(int year, int month, int day)
{
    char text[16];
    int64_t ms;
    snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
    kb_review_parse_date(text, &ms);
    return ms + 10 * 3600000;
}

static int near(double a, double b) { return fabs(a - b) < 1e-4; }

/* ---------------------------------------------------------------- the study list */

/* s1's requests (December 2026):
 *   Dec 1  d1 answered, not must-know, title 旧标题
 *   Dec 2  d2 answered, title 套餐
 *   Dec 3  d1 answered, must-know, title 漫游开通
 *   Dec 4  gap
 *   Dec 5  gap, reviewed: answerable by d3, which the lead's document says is must-know (销户)
 *   Dec 6  d4 answered, reviewed as a gap: not on the list
 * -> d3 (must-know, last Dec 5), d1 (must-know, last Dec 3, 2 requests, 1 miss, latest title),
 *    d2 (Dec 2). */
TEST(study_list_is_answered_documents_must_know_first_with_when_asked)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("study", path, sizeof path);
    kb_db *db = raw_open(path);
    insert_help_request(db, "s1", at(2026, 12, 1), 1, "d1", 0, "旧标题");
    insert_help_request(db, "s1", at(2026, 12, 2), 1, "d2", 0, "套餐");
    insert_help_request(db, "s1", at(2026, 12, 3), 1, "d1", 1, "漫游开通");
    insert_help_request(db, "s1", at(2026, 12, 4), 0, NULL, 0, NULL);
    int64_t gap = insert_help_request(db, "s1", at(2026, 12, 5), 0, NULL, 0, NULL);
    int64_t wrong = insert_help_request(db, "s1", at(2026, 12, 6), 1, "d4", 0, "错的");
    insert_help_request(db, "other", at(2026, 12, 6), 1, "d9", 1, "别人的");
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    kb_review_doc_snapshot snap = {.must_know = 1, .title = "销户"};
    CHECK(r && kb_review_set_doc(r, gap, 1, "d3", NULL, "lead", 1, &snap) == KB_OK);
    CHECK(r && kb_review_set(r, wrong, 0, NULL, NULL, "lead", 1) == KB_OK);
    kb_review_close(r);

    kb_coaching *c = kb_coaching_open(dir, 0, err, sizeof err);
    CHECK(c != NULL);
    if (!c) return;
    kb_study_list l;
    CHECK(kb_coaching_study_list(c, "s1", &l) == KB_OK);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STR_EQ(l.items[0].doc_id, "d3");
        CHECK_STR_EQ(l.items[0].title, "销户");
        CHECK(l.items[0].must_know && l.items[0].count == 1);
        CHECK_STR_EQ(l.items[1].doc_id, "d1");
        CHECK_STR_EQ(l.items[1].title, "漫游开通");
        CHECK(l.items[1].must_know && l.items[1].count == 2 && l.items[1].must_know_count == 1);
        CHECK(l.items[1].first_ms == at(2026, 12, 1) && l.items[1].last_ms == at(2026, 12, 3));
        CHECK_STR_EQ(l.items[2].doc_id, "d2");
        CHECK(!l.items[2].must_know && !l.items[2].studied && l.items[2].studied_ms == 0);
    }
    kb_study_list_free(&l);

    /* Marking: idempotent (the first time stays), only documents of the agent's own list. */
    int64_t when = 0;
    CHECK(kb_coaching_mark_studied(c, "s1", "d2", at(2026, 12, 2) + 3600000, &when) == KB_OK);
    CHECK(when == at(2026, 12, 2) + 3600000);
    CHECK(kb_coaching_mark_studied(c, "s1", "d2", at(2026, 12, 9), &when) == KB_OK);
    CHECK(when == at(2026, 12, 2) + 3600000);
    CHECK(kb_coaching_mark_studied(c, "s1", "d4", at(2026, 12, 9), NULL) == KB_NOT_FOUND);
    CHECK(kb_coaching_mark_studied(c, "s1", "d9", at(2026, 12, 9), NULL) == KB_NOT_FOUND);
    CHECK(kb_coaching_mark_studied(c, "other", "d9", at(2026, 12, 9), NULL) == KB_OK);
    db = raw_open(path);
    insert_help_request(db, "s1", at(2026, 12, 7), 1, "d2", 0, "套餐");
    kb_db_close(db);
    CHECK(kb_coaching_study_list(c, "s1", &l) == KB_OK);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STR_EQ(l.items[2].doc_id, "d2");
        CHECK(l.items[2].studied && l.items[2].studied_ms == at(2026, 12, 2) + 3600000);
        CHECK(l.items[2].count == 2 && l.items[2].asked_since_studied == 1);
        CHECK(!l.items[0].studied && !l.items[1].studied);
    }
    kb_study_list_free(&l);
    CHECK(kb_coaching_study_list(c, "nobody", &l) == KB_OK && l.n == 0);
    kb_study_list_free(&l);
    kb_coaching_close(c);
}

/* ---------------------------------------------------------------- sessions */

TEST(sessions_are_recorded_with_documents_and_a_redacted_note)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("sessions", path, sizeof path);
    kb_coaching *c = kb_coaching_open(dir, 0, err, sizeof err);
    CHECK(c != NULL);
    if (!c) return;
    const char *docs[] = {"roam-001", "cancel-002"}, *titles[] = {"国际漫游", NULL};
    kb_coaching_new s = {.agent = "a1", .lead = "lead1", .day = "2026-10-15",
                         .note = "客户 13812345678 身份证 110101199003071234 讲了两遍",
                         .doc_ids = docs, .titles = titles, .n_docs = 2, .now_ms = 42};
    int64_t id = 0, id2 = 0;
    CHECK(kb_coaching_record(c, &s, &id) == KB_OK && id > 0);
    s.agent = "a2", s.day = "2026-10-20", s.note = NULL, s.n_docs = 0;
    CHECK(kb_coaching_record(c, &s, &id2) == KB_OK && id2 > id);
    kb_coaching_session one;
    CHECK(kb_coaching_get(c, id, &one) == KB_OK);
    CHECK_STR_EQ(one.agent, "a1");
    CHECK_STR_EQ(one.lead, "lead1");
    CHECK_STR_EQ(one.day, "2026-10-15");
    CHECK(one.note && !strstr(one.note, "13812345678") && !strstr(one.note, "110101199003071234"));
    CHECK(one.note && strstr(one.note, "讲了两遍"));
    CHECK(one.n_docs == 2);
    if (one.n_docs == 2) {
        CHECK_STR_EQ(one.docs[0].doc_id, "roam-001");
        CHECK_STR_EQ(one.docs[0].title, "国际漫游");
        CHECK_STR_EQ(one.docs[1].doc_id, "cancel-002");
        CHECK(one.docs[1].title == NULL);
    }
    kb_coaching_session_free(&one);
    CHECK(kb_coaching_get(c, 999, &one) == KB_NOT_FOUND);
    /* Nothing of the customer's reaches the file. */
    kb_db *db = raw_open(path);
    kb_db_stmt *q = NULL;
    CHECK(db && kb_db_prepare(db, "SELECT count(*) FROM coaching_sessions WHERE note LIKE "
                                  "'%13812345678%'", &q) == KB_DB_OK);
    CHECK(q && kb_db_step(q) == KB_DB_ROW && kb_db_column_int64(q, 0) == 0);
    kb_db_finalize(q);
    kb_db_close(db);

    kb_coaching_page page;
    CHECK(kb_coaching_list(c, NULL, &page) == KB_OK);
    CHECK(page.total == 2 && page.n == 2);
    if (page.n == 2) {
        CHECK(page.items[0].id == id2 && page.items[1].id == id); /* newest day first */
        CHECK(page.items[1].n_docs == 2);
    }
    kb_coaching_page_free(&page);
    kb_coaching_filter f = {.agent = "a1"};
    CHECK(kb_coaching_list(c, &f, &page) == KB_OK && page.total == 1 && page.items[0].id == id);
    kb_coaching_page_free(&page);
    kb_coaching_filter g = {.from = "2026-10-16", .to = "2026-10-20"};
    CHECK(kb_coaching_list(c, &g, &page) == KB_OK && page.total == 1 && page.items[0].id == id2);
    kb_coaching_page_free(&page);

    /* The rules. */
    kb_coaching_new bad = s;
    bad.day = "2026-13-01";
    CHECK(kb_coaching_record(c, &bad, NULL) == KB_INVALID);
    CHECK(strstr(kb_coaching_errmsg(c), "YYYY-MM-DD") != NULL);
    bad = s, bad.agent = "a b";
    CHECK(kb_coaching_record(c, &bad, NULL) == KB_INVALID);
    const char *dup[] = {"x1", "x1"}, *badid[] = {"no spaces"};
    bad = s, bad.doc_ids = dup, bad.titles = NULL, bad.n_docs = 2;
    CHECK(kb_coaching_record(c, &bad, NULL) == KB_INVALID);
    bad.doc_ids = badid, bad.n_docs = 1;
    CHECK(kb_coaching_record(c, &bad, NULL) == KB_INVALID);
    CHECK(strstr(kb_coaching_errmsg(c), "doc_ids[0]") != NULL);
    kb_coaching_close(c);
    c = kb_coaching_open(dir, 1, err, sizeof err);
    CHECK(c && kb_coaching_record(c, &s, NULL) == KB_INVALID);
    kb_coaching_close(c);
}

/* ---------------------------------------------------------------- whether it worked */

/* Two weeks either side (weeks = 2). Session 1: c1 (一组) on 2026-10-15, covering d1 and d2:
 *   before = Oct 1 .. Oct 14, after = Oct 16 .. Oct 29 (the session day is in neither).
 *   c1 before: Oct 2 d1 must-know, Oct 5 d2, Oct 8 gap, Oct 14 d1 must-know
 *       -> 4 requests, 3 answered (0.75), 2 must-know misses (0.5)
 *   c1 after: Oct 20 d2, Oct 22 gap -> 2 requests, 1 answered (0.5), 0 misses (0)
 *       -> share change -0.25, must-know change -2; asked again: 1 (d2)
 *   Not counted: Sep 30 (before the window), Oct 15 (the day), Oct 31 (after the window).
 *   Uncoached of 一组: u1 Oct 3 d3, Oct 4 gap (before: 2, 1 answered, 0 misses);
 *       u1 Oct 20, Oct 21 d3 must-know, u2 Oct 25 gap (after: 3, 2 answered, 2 misses)
 *       -> before 0.5, after 0.6667: change +0.1667; must-know share 0 -> 0.6667
 *   一组: coached change -0.25 vs uncoached +0.1667: difference -0.4167.
 * Session 2: c2 (二组) on 2026-10-20, nothing covered: before (Oct 6 .. 19) empty, after
 *   (Oct 21 .. Nov 3) Oct 22 d5 must-know -> change none; not complete on Nov 1. */
static const char *effect_fixture(void)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("effect", path, sizeof path);
    kb_db *db = raw_open(path);
    insert_help_request(db, "c1", at(2026, 9, 30), 1, "d1", 1, NULL);
    insert_help_request(db, "c1", at(2026, 10, 2), 1, "d1", 1, NULL);
    insert_help_request(db, "c1", at(2026, 10, 5), 1, "d2", 0, NULL);
    insert_help_request(db, "c1", at(2026, 10, 8), 0, NULL, 0, NULL);
    insert_help_request(db, "c1", at(2026, 10, 14), 1, "d1", 1, NULL);
    insert_help_request(db, "c1", at(2026, 10, 15), 1, "d1", 1, NULL);
    insert_help_request(db, "c1", at(2026, 10, 20), 1, "d2", 0, NULL);
    insert_help_request(db, "c1", at(2026, 10, 22), 0, NULL, 0, NULL);
    insert_help_request(db, "c1", at(2026, 10, 31), 1, "d1", 1, NULL);
    insert_help_request(db, "u1", at(2026, 10, 3), 1, "d3", 0, NULL);
    insert_help_request(db, "u1", at(2026, 10, 4), 0, NULL, 0, NULL);
    insert_help_request(db, "u1", at(2026, 10, 20), 1, "d3", 1, NULL);
    insert_help_request(db, "u1", at(2026, 10, 21), 1, "d3", 1, NULL);
    insert_help_request(db, "u2", at(2026, 10, 25), 0, NULL, 0, NULL);
    insert_help_request(db, "c2", at(2026, 10, 22), 1, "d5", 1, NULL);
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    kb_agent_list l = {0};
    kb_agent_list_add(&l, "c1", "陈一", "一组", err, sizeof err);
    kb_agent_list_add(&l, "u1", "吴一", "一组", err, sizeof err);
    kb_agent_list_add(&l, "u2", "吴二", "一组", err, sizeof err);
    kb_agent_list_add(&l, "c2", "陈二", "二组", err, sizeof err);
    kb_review_set_agents(r, &l);
    kb_agent_list_free(&l);
    kb_review_close(r);
    kb_coaching *c = kb_coaching_open(dir, 0, err, sizeof err);
    const char *docs[] = {"d1", "d2"};
    kb_coaching_new s = {.agent = "c1", .lead = "lead1", .day = "2026-10-15", .doc_ids = docs,
                         .n_docs = 2, .now_ms = 1};
    kb_coaching_record(c, &s, NULL);
    s.agent = "c2", s.day = "2026-10-20", s.n_docs = 0;
    kb_coaching_record(c, &s, NULL);
    kb_coaching_close(c);
    return dir;
}

TEST(coaching_effect_matches_hand_computed_windows)
{
    char err[512] = "";
    const char *dir = effect_fixture();
    kb_coaching *c = kb_coaching_open(dir, 1, err, sizeof err);
    CHECK(c != NULL);
    if (!c) return;
    kb_effect_params p = {.weeks = 2, .now_ms = at(2026, 11, 1)};
    kb_effect_report rep;
    int rc = kb_coaching_effect(c, &p, &rep);
    CHECK(rc == KB_OK);
    if (rc != KB_OK) {
        printf("  %s\n", kb_coaching_errmsg(c));
        kb_coaching_close(c);
        return;
    }
    CHECK(rep.weeks == 2 && rep.n_rows == 2 && rep.n_teams == 2);
    if (rep.n_rows == 2 && rep.n_teams == 2) {
        const kb_effect_row *r1 = &rep.rows[0], *r2 = &rep.rows[1];
        CHECK_STR_EQ(r1->agent, "c1");
        CHECK_STR_EQ(r1->agent_name, "陈一");
        CHECK_STR_EQ(r1->team, "一组");
        CHECK_STR_EQ(r1->day, "2026-10-15");
        CHECK(r1->before.requests == 4 && r1->before.kb_answered == 3);
        CHECK(r1->before.must_know_misses == 2 && near(r1->before.share, 0.75));
        CHECK(near(r1->before.must_know_share, 0.5));
        CHECK(r1->after.requests == 2 && r1->after.kb_answered == 1);
        CHECK(r1->after.must_know_misses == 0 && near(r1->after.share, 0.5));
        CHECK(near(r1->share_change, -0.25) && r1->must_know_change == -2);
        CHECK(r1->asked_again == 1 && r1->n_asked_again_docs == 1);
        if (r1->n_asked_again_docs == 1) CHECK_STR_EQ(r1->asked_again_docs[0], "d2");
        CHECK(r1->complete);

        CHECK_STR_EQ(r2->agent, "c2");
        CHECK(r2->before.requests == 0 && isnan(r2->before.share) && isnan(r2->share_change));
        CHECK(r2->after.requests == 1 && r2->after.must_know_misses == 1);
        CHECK(r2->must_know_change == 1 && r2->asked_again == 0 && !r2->complete);

        const kb_effect_team *t1 = &rep.teams[0], *t2 = &rep.teams[1];
        CHECK_STR_EQ(t1->team, "一组");
        CHECK(t1->sessions == 1 && t1->coached_agents == 1 && t1->uncoached_agents == 2);
        CHECK(t1->uncoached_before.requests == 2 && t1->uncoached_after.requests == 3);
        CHECK(near(t1->uncoached_before.share, 0.5) && near(t1->uncoached_after.share, 0.6667));
        CHECK(near(t1->coached_change, -0.25) && near(t1->uncoached_change, 0.1667));
        CHECK(near(t1->difference, -0.4167));
        CHECK(near(t1->coached_must_know_change, -0.5));
        CHECK(near(t1->uncoached_must_know_change, 0.6667));
        CHECK_STR_EQ(t2->team, "二组");
        CHECK(t2->uncoached_agents == 0 && isnan(t2->uncoached_change) && isnan(t2->difference));
    }
    kb_effect_report_free(&rep);

    /* One team, and a shorter window: one week either side of Oct 15 is Oct 8 .. 14 before
     * (gap, d1 must-know: 2, 1 answered) and Oct 16 .. 22 after (d2, gap: 2, 1 answered). */
    p.team = "一组", p.weeks = 1;
    CHECK(kb_coaching_effect(c, &p, &rep) == KB_OK);
    CHECK(rep.n_rows == 1 && rep.n_teams == 1);
    if (rep.n_rows == 1) {
        CHECK(rep.rows[0].before.requests == 2 && rep.rows[0].before.must_know_misses == 1);
        CHECK(rep.rows[0].after.requests == 2 && near(rep.rows[0].share_change, 0));
    }
    kb_effect_report_free(&rep);
    /* Sessions from a day on. */
    p.team = NULL, p.weeks = 2, p.from = "2026-10-16";
    CHECK(kb_coaching_effect(c, &p, &rep) == KB_OK && rep.n_rows == 1);
    kb_effect_report_free(&rep);
    p.weeks = 27;
    CHECK(kb_coaching_effect(c, &p, &rep) == KB_INVALID);
    kb_coaching_close(c);
}

TEST(no_sessions_give_an_empty_effect_report)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("empty", path, sizeof path);
    kb_coaching *c = kb_coaching_open(dir, 1, err, sizeof err);
    kb_effect_params p = {0};
    kb_effect_report rep;
    CHECK(c && kb_coaching_effect(c, &p, &rep) == KB_OK && rep.n_rows == 0 && rep.weeks == 4);
    kb_effect_report_free(&rep);
    kb_coaching_close(c);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/kb-test-coaching.XXXXXX");
    if (!mkdtemp(root)) return 1;
    pg_fixture_start();
    RUN_BOTH_WITH(study_list_is_answered_documents_must_know_first_with_when_asked, NULL);
    RUN_BOTH_WITH(sessions_are_recorded_with_documents_and_a_redacted_note, NULL);
    RUN_BOTH_WITH(coaching_effect_matches_hand_computed_windows, NULL);
    RUN_BOTH_WITH(no_sessions_give_an_empty_effect_report, NULL);
    pg_fixture_end();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) return 1;
    CHECK_MAIN_END();
}
