/* test_review.c — leads' reviews of help requests and the reports (kb/review.h): overrides kept
 * with their history, the effective verdict, the queue following reviews, list filters, the
 * agents file, and report numbers against a hand-computed fixture. Every test of the store runs
 * on SQLite and PostgreSQL (pg_fixture.h). */
#include "check.h"
#include "db/db.h"
#include "pg_fixture.h"
#include "help_request_fixture.h"
#include "kb/gaps.h"
#include "kb/review.h"
#include "kb/store.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[64];

static const char *new_dir(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", root, name);
    return path[k];
}

/* NAN stands for "no share" (JSON null) in the report structs. */
static int none(double v) { return isnan(v); }

/* A store with the schema in place: a new data directory, or a new schema on the PostgreSQL
 * test server; returns its --data value (also into path, for raw_open). */
static const char *fresh_store(const char *name, char *path, size_t len)
{
    static char uris[4][1024];
    static int k;
    const char *dir = new_dir(name);
    if (is_postgresql_run()) {
        k = (k + 1) % 4;
        if (pg_fresh_store(uris[k], sizeof uris[k]) != 0) uris[k][0] = '\0';
        dir = uris[k];
    }
    char err[512] = "";
    kb_store *st = kb_store_open(dir, err, sizeof err);
    if (st) kb_store_close(st);
    else printf("  %s\n", err);
    snprintf(path, len, "%s", dir);
    return dir;
}


static int64_t at(int year, int month, int day)
{
    int64_t start, end;
    kb_review_month_bounds(year, month, &start, &end);
    return start + (int64_t)(day - 1) * 86400000 + 3600000; /* 01:00 local on that day */
}

/* Insert a help request as the service would have classified it (nothing must-know). */
static int64_t insert_request(kb_db *db, const char *agent, int64_t t, int answerable,
                              const char *doc)
{
    return insert_help_request(db, agent, t, answerable, doc, 0, NULL);
}

/* ---------------------------------------------------------------- reviews */

TEST(override_is_kept_with_its_history)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("override", path, sizeof path);
    kb_db *db = raw_open(path);
    int64_t id = insert_request(db, "a1", at(2026, 10, 2), 1, "roam-001");
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    kb_help_request_record item;
    /* A lead overrides: the knowledge base does not answer it (the document is outdated). */
    CHECK(kb_review_set(r, id, 0, NULL, "文档过期，客户手机13812345678", "lead-1", 1000) ==
          KB_OK);
    CHECK(kb_review_item(r, id, &item) == KB_OK);
    CHECK(item.kb_answerable); /* the service's verdict stays as it was */
    CHECK_STR_EQ(item.doc_id, "roam-001");
    CHECK(!item.answerable && item.effective_doc_id == NULL);
    CHECK(item.reviewed && !item.review.kb_answerable && item.review.at_ms == 1000);
    CHECK_STR_EQ(item.review.by, "lead-1");
    CHECK_STR_EQ(item.review.note, "文档过期，客户手机[手机号]"); /* redacted */
    kb_help_request_record_free(&item);
    /* Another lead confirms the service after all: both reviews are kept, the latest decides. */
    CHECK(kb_review_set(r, id, 1, NULL, NULL, "lead-2", 2000) == KB_OK);
    CHECK(kb_review_item(r, id, &item) == KB_OK);
    CHECK(item.answerable);
    CHECK_STR_EQ(item.effective_doc_id, "roam-001"); /* the service's document */
    CHECK(item.n_reviews == 2);
    if (item.n_reviews == 2) {
        CHECK_STR_EQ(item.reviews[0].by, "lead-1");
        CHECK_STR_EQ(item.reviews[1].by, "lead-2");
    }
    kb_help_request_record_free(&item);
    /* A different answering document. */
    CHECK(kb_review_set(r, id, 1, "roam-002", NULL, "lead-2", 3000) == KB_OK);
    CHECK(kb_review_item(r, id, &item) == KB_OK);
    CHECK_STR_EQ(item.effective_doc_id, "roam-002");
    kb_help_request_record_free(&item);
    CHECK(kb_review_set(r, id, 0, "roam-002", NULL, "lead-2", 3000) == KB_INVALID);
    CHECK(kb_review_set(r, 424242, 0, NULL, NULL, "lead-2", 3000) == KB_NOT_FOUND);
    CHECK(kb_review_item(r, 424242, &item) == KB_NOT_FOUND && item.question == NULL);
    kb_review_close(r);

    /* It is on disk: a new connection sees it. */
    r = kb_review_open(dir, 1, err, sizeof err);
    CHECK(kb_review_item(r, id, &item) == KB_OK && item.n_reviews == 3);
    kb_help_request_record_free(&item);
    CHECK(kb_review_set(r, id, 0, NULL, NULL, "x", 0) == KB_INVALID); /* read-only */
    kb_review_close(r);
}

TEST(reviews_move_help_requests_in_and_out_of_the_queue)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("queue", path, sizeof path);
    kb_store *st = kb_store_open(dir, err, sizeof err);
    kb_help_request hr = {.agent = "a1", .filed_by = "desk", .question = "宠物保险怎么理赔",
                          .time_ms = 1000, .kb_answerable = 1, .doc_id = "ins-001",
                          .confidence = 0.8};
    int64_t answered = 0, gap = 0;
    kb_store_log_help_request(st, &hr, &answered);
    hr.question = "电动车上牌需要什么材料";
    hr.kb_answerable = 0;
    hr.doc_id = NULL;
    kb_store_log_help_request(st, &hr, &gap);
    kb_store_close(st);
    kb_analyzer *a = kb_analyzer_new(err, sizeof err);
    kb_gaps_kb kb = {a, NULL};
    kb_gaps *g = kb_gaps_open(dir, 0, err, sizeof err);
    kb_gaps_set_typing_window(g, 0); /* searches logged "just now" count at once */
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(a && g && r);
    if (!a || !g || !r) return;
    CHECK(kb_gaps_ingest(g, &kb, 100) == 0);
    kb_gap_page list;
    CHECK(kb_gaps_list(g, NULL, &list) == KB_OK && list.total == 1); /* only the genuine gap */
    kb_gap_page_free(&list);
    /* The lead: the first was not answerable after all, the second was. */
    CHECK(kb_review_set(r, answered, 0, NULL, NULL, "lead", 2000) == KB_OK);
    CHECK(kb_review_set(r, gap, 1, "car-001", NULL, "lead", 2000) == KB_OK);
    CHECK(kb_gaps_ingest(g, &kb, 100) == 0);
    CHECK(kb_gaps_list(g, NULL, &list) == KB_OK && list.total == 1);
    CHECK_STR_EQ(list.n ? list.items[0].question : NULL, "宠物保险怎么理赔");
    kb_gap_page_free(&list);
    kb_review_close(r);
    kb_gaps_close(g);
    kb_analyzer_free(a);
}

/* ---------------------------------------------------------------- the agents list */

TEST(agents_file_parsing_and_errors)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/agents.tsv", root);
    FILE *f = fopen(path, "w");
    fputs("\xEF\xBB\xBF# agent_id\tname\tteam\n\na1\t张伟\t一组\na2\t李娜\na3\n", f);
    fclose(f);
    kb_agent_list l;
    CHECK(kb_agents_parse_file(path, &l, err, sizeof err) == 0);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STR_EQ(l.v[0].team, "一组");
        CHECK_STR_EQ(l.v[1].team, "");
        CHECK_STR_EQ(l.v[2].name, "");
    }
    /* Written back and read again: the same list. */
    char copy[512];
    snprintf(copy, sizeof copy, "%s/agents-copy.tsv", root);
    CHECK(kb_agents_write_file(copy, &l, err, sizeof err) == 0);
    kb_agent_list m;
    CHECK(kb_agents_parse_file(copy, &m, err, sizeof err) == 0 && m.n == 3);
    kb_agent_list_free(&m);
    kb_agent_list_free(&l);

    f = fopen(path, "w");
    fputs("a1\t张伟\t一组\na1\t李娜\t二组\n", f);
    fclose(f);
    CHECK(kb_agents_parse_file(path, &l, err, sizeof err) == -1);
    CHECK(strstr(err, "agents.tsv:2: agent id a1 appears twice") != NULL);
    f = fopen(path, "w");
    fputs("a1\t张伟\t一组\textra\n", f);
    fclose(f);
    CHECK(kb_agents_parse_file(path, &l, err, sizeof err) == -1 && strstr(err, ":1: more than 3"));
    l = (kb_agent_list){0};
    CHECK(kb_agent_list_add(&l, "a1", "张伟", "一组", err, sizeof err) == KB_OK);
    CHECK(kb_agent_list_add(&l, NULL, "x", NULL, err, sizeof err) == KB_INVALID &&
          !strcmp(err, "id is required"));
    CHECK(kb_agent_list_add(&l, "a1", "李娜", NULL, err, sizeof err) == KB_INVALID &&
          !strcmp(err, "id a1 appears twice"));
    CHECK(l.n == 1);
    kb_agent_list_free(&l);
}

/* Every id PUT /api/agents accepts must come back unchanged from the file it writes (issue 15,
 * 14): the file parser and the API share one rule, and what the parser would read differently
 * (a comment, trimmed spaces, a split at a tab or line break) or what is a customer's identifier
 * is refused by both. */
TEST(agent_ids_survive_a_reload)
{
    static const char *const bad[] = {
        "# comment", "#a1", " spaced ", "a1 ", " a1", "a b", "a\tb", "a\nb", "a\rb", "a\x01" "b",
        "a\x7f" "b", "\xE3\x80\x80" "a1", "a1\xE3\x80\x80", "a\xE3\x80\x80" "b", "a\xC2\xA0" "b",
        "\xEF\xBB\xBF" "a1", "a\xE2\x80\x8B" "b", "a\xC2\x85" "b", "a\xff" "b", "",
        "13812345678", "agent.one 13812345678 zhang.san@example.com", "zhang.san@example.com",
        "6222021234567894",
    };
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *problem = kb_agent_id_problem(bad[i]);
        if (!problem) printf("  accepted agent id \"%s\"\n", bad[i]);
        CHECK(problem != NULL);
        kb_agent_list l = {0};
        err[0] = '\0';
        int rc = kb_agent_list_add(&l, bad[i], NULL, NULL, err, sizeof err);
        if (rc == KB_OK) printf("  the list took agent id \"%s\"\n", bad[i]);
        CHECK(rc == KB_INVALID && !strncmp(err, "id ", 3) && l.n == 0);
        kb_agent_list_free(&l);
    }
    char long_id[KB_AGENT_FIELD_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK(kb_agent_id_problem(long_id) != NULL);

    /* Good ids, in the API and through a write and a parse: the same ids come back. */
    const char *const good[] = {"a-zhang", "zhang.wei", "张伟", "agent_7", "A:1", "a#1",
                                "10086", "工号-0042", long_id + 2};
    kb_agent_list l = {0}, m;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *problem = kb_agent_id_problem(good[i]);
        if (problem) printf("  refused agent id \"%s\": %s\n", good[i], problem);
        CHECK(problem == NULL);
        CHECK(kb_agent_list_add(&l, good[i], "名 字", NULL, err, sizeof err) == KB_OK);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/agents-reload.tsv", root);
    CHECK(kb_agents_write_file(path, &l, err, sizeof err) == 0);
    CHECK(kb_agents_parse_file(path, &m, err, sizeof err) == 0);
    CHECK(m.n == l.n);
    for (size_t i = 0; i < l.n && i < m.n; i++) {
        CHECK_STR_EQ(m.v[i].id, l.v[i].id);
        CHECK_STR_EQ(m.v[i].name, l.v[i].name);
    }
    kb_agent_list_free(&m);
    kb_agent_list_free(&l);

    /* Names and teams: surrounding spaces would be trimmed by the parser, and a customer's
     * number does not belong in the agents list either. */
    static const char *const bad_names[][2] = {
        {" 张伟", NULL}, {NULL, "一组 "}, {"张伟 13812345678", NULL}, {NULL, "x\xE3\x80\x80"},
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        const char *name = bad_names[i][0], *team = bad_names[i][1];
        CHECK((name ? kb_agent_text_problem(name) : kb_agent_text_problem(team)) != NULL);
        int rc = kb_agent_list_add(&l, "a1", name, team, err, sizeof err);
        if (rc == KB_OK) printf("  the list took name \"%s\" team \"%s\"\n", name, team);
        CHECK(rc == KB_INVALID && !strncmp(err, name ? "name " : "team ", 5) && l.n == 0);
    }
    kb_agent_list_free(&l);

    /* The file parser applies the same rule (after trimming what a spreadsheet adds). */
    static const char *const bad_lines[] = {"a b\t张伟\t一组\n", "a\xE3\x80\x80" "b\t张伟\n",
                                            "13812345678\t张伟\n", "a1\t张伟 13812345678\n",
                                            "a\x01" "b\t张伟\n"};
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad_lines[i], f);
        fclose(f);
        int rc = kb_agents_parse_file(path, &l, err, sizeof err);
        if (rc == 0) {
            printf("  the file parser accepted %s", bad_lines[i]);
            kb_agent_list_free(&l);
        }
        CHECK(rc == -1 && strstr(err, "agents-reload.tsv:1: "));
    }
    FILE *f = fopen(path, "w");
    fputs("  a1 \t 张伟 \t一组\xE3\x80\x80\n", f);
    fclose(f);
    CHECK(kb_agents_parse_file(path, &l, err, sizeof err) == 0 && l.n == 1);
    if (l.n == 1) {
        CHECK_STR_EQ(l.v[0].id, "a1");
        CHECK_STR_EQ(l.v[0].name, "张伟");
        CHECK_STR_EQ(l.v[0].team, "一组");
    }
    kb_agent_list_free(&l);
}

TEST(an_agent_is_known_when_the_agents_list_names_it)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("agent-lookup", path, sizeof path);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    int listed = -1, have = -1;
    CHECK(kb_review_agent_lookup(r, "a1", &listed, &have) == KB_OK && !listed && !have);
    kb_agent_list l = {0};
    CHECK(kb_agent_list_add(&l, "a1", "张伟", NULL, err, sizeof err) == KB_OK);
    CHECK(kb_review_set_agents(r, &l) == KB_OK);
    CHECK(kb_review_agent_lookup(r, "a1", &listed, &have) == KB_OK && listed && have);
    CHECK(kb_review_agent_lookup(r, "a2", &listed, &have) == KB_OK && !listed && have);
    kb_agent_list_free(&l);
    kb_review_close(r);
}

/* ---------------------------------------------------------------- the report fixture */

/* The fixture (report month 2026-10, 3 months, persist 3, min_requests 2, threshold 0.5):
 *   a1 (一组): Aug 2 requests, both answerable (d1, d1)        share 1.00 high
 *              Sep 3 requests, 2 answerable (d1, d2)            share 0.67 high
 *              Oct 4: d1, d2, d3 (a lead overrides d3 to "gap"), and a gap a lead overrides to
 *              answerable by d4                                 share 3/4 = 0.75 high -> stands out
 *              study over Aug-Oct: d1 x4, d2 x2, d4 x1
 *   a2 (一组): Sep 2 gaps; Oct 2 requests, 1 answerable (d2)    share 0.5, previous 0, change +0.5
 *   a3 (二组): Jul 1 (outside the window); Oct 1 answerable (d5): share 1 but fewer than 2 requests
 *   a4 (not in the agents list): Sep 1 gap
 * Totals for October: 7 requests, 5 answered, share 0.7143. */
static const char *report_fixture(const char *name)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store(name, path, sizeof path);
    kb_db *db = raw_open(path);
    insert_request(db, "a1", at(2026, 8, 3), 1, "d1");
    insert_request(db, "a1", at(2026, 8, 31), 1, "d1");
    insert_request(db, "a1", at(2026, 9, 1), 1, "d1");
    insert_request(db, "a1", at(2026, 9, 15), 1, "d2");
    insert_request(db, "a1", at(2026, 9, 30), 0, NULL);
    insert_request(db, "a1", at(2026, 10, 1), 1, "d1");
    insert_request(db, "a1", at(2026, 10, 2), 1, "d2");
    int64_t d3 = insert_request(db, "a1", at(2026, 10, 3), 1, "d3");
    int64_t g4 = insert_request(db, "a1", at(2026, 10, 31), 0, NULL);
    insert_request(db, "a2", at(2026, 9, 5), 0, NULL);
    insert_request(db, "a2", at(2026, 9, 6), 0, NULL);
    insert_request(db, "a2", at(2026, 10, 5), 1, "d2");
    insert_request(db, "a2", at(2026, 10, 6), 0, NULL);
    insert_request(db, "a3", at(2026, 7, 20), 1, "d9");
    insert_request(db, "a3", at(2026, 10, 20), 1, "d5");
    insert_request(db, "a4", at(2026, 9, 9), 0, NULL);
    /* November: after the reported month, not counted */
    insert_request(db, "a1", at(2026, 11, 1), 1, "d1");
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    kb_review_set(r, d3, 0, NULL, NULL, "lead", 1);
    kb_review_set(r, g4, 1, "d4", NULL, "lead", 1);
    kb_agent_list l = {0};
    kb_agent_list_add(&l, "a1", "张伟", "一组", err, sizeof err);
    kb_agent_list_add(&l, "a2", "李娜", "一组", err, sizeof err);
    kb_agent_list_add(&l, "a3", "王强", "二组", err, sizeof err);
    kb_review_set_agents(r, &l);
    kb_agent_list_free(&l);
    kb_review_close(r);
    return dir;
}

static kb_report_params fixture_params(int by_team)
{
    kb_report_params p;
    kb_report_defaults(&p);
    p.by_team = by_team;
    p.year = 2026;
    p.month = 10;
    p.months = 3;
    p.min_requests = 2;
    return p;
}

static int near(double a, double b) { return fabs(a - b) < 1e-4; }

TEST(report_by_agent_matches_hand_computed_numbers)
{
    char err[512] = "";
    const char *dir = report_fixture("report-agent");
    kb_review *r = kb_review_open(dir, 1, err, sizeof err);
    kb_report_params p = fixture_params(0);
    kb_report rep;
    int rc = r ? kb_review_report(r, &p, &rep) : -1;
    CHECK(rc == KB_OK);
    if (rc != KB_OK) {
        printf("  %s\n", r ? kb_review_errmsg(r) : err);
        kb_review_close(r);
        return;
    }
    CHECK_STR_EQ(rep.month, "2026-10");
    CHECK(rep.n_months == 3 && !strcmp(rep.months[0], "2026-08"));
    CHECK(rep.totals.requests == 7 && rep.totals.kb_answered == 5);
    CHECK(near(rep.totals.share, 0.7143));
    CHECK(rep.n_rows == 4);
    if (rep.n_rows != 4) {
        kb_report_free(&rep);
        kb_review_close(r);
        return;
    }
    const kb_report_row *a1 = &rep.rows[0], *a3 = &rep.rows[1], *a2 = &rep.rows[2],
                        *a4 = &rep.rows[3];
    CHECK_STR_EQ(a1->agent, "a1");
    CHECK_STR_EQ(a1->name, "张伟");
    CHECK_STR_EQ(a1->team, "一组");
    CHECK(a1->requests == 4 && a1->kb_answered == 3);
    CHECK(near(a1->share, 0.75) && near(a1->previous_share, 0.6667));
    CHECK(near(a1->change, 0.0833));
    CHECK(a1->persistent);
    CHECK(a1->trend[0].requests == 2 && a1->trend[0].kb_answered == 2);
    CHECK(a1->n_study == 3);
    if (a1->n_study == 3) {
        CHECK_STR_EQ(a1->study[0].doc_id, "d1");
        CHECK(a1->study[0].count == 4);
        CHECK_STR_EQ(a1->study[1].doc_id, "d2");
        CHECK(a1->study[1].count == 2);
        CHECK_STR_EQ(a1->study[2].doc_id, "d4");
    }

    CHECK_STR_EQ(a3->agent, "a3"); /* 1 answered, share 1: before a2 (1 answered, 0.5) */
    CHECK(near(a3->share, 1) && none(a3->previous_share) && none(a3->change));
    CHECK(!a3->persistent); /* one request is too few to count */

    CHECK_STR_EQ(a2->agent, "a2");
    CHECK(a2->requests == 2 && a2->kb_answered == 1);
    CHECK(near(a2->previous_share, 0) && near(a2->change, 0.5));
    CHECK(!a2->persistent);

    CHECK_STR_EQ(a4->agent, "a4"); /* not in the agents list */
    CHECK(a4->name == NULL && a4->team == NULL);
    CHECK(a4->requests == 0 && none(a4->share));
    kb_report_free(&rep);

    /* Persist 4 needs August to October and July too: nobody stands out. */
    p.persist = 4;
    CHECK(kb_review_report(r, &p, &rep) == KB_OK && rep.n_rows && !rep.rows[0].persistent);
    kb_report_free(&rep);
    kb_review_close(r);
}

TEST(report_by_team_sums_its_agents)
{
    char err[512] = "";
    const char *dir = report_fixture("report-team");
    kb_review *r = kb_review_open(dir, 1, err, sizeof err);
    kb_report_params p = fixture_params(1);
    kb_report rep;
    int rc = r ? kb_review_report(r, &p, &rep) : -1;
    CHECK(rc == KB_OK);
    if (rc != KB_OK) {
        kb_review_close(r);
        return;
    }
    CHECK(rep.n_rows == 3);
    if (rep.n_rows != 3) {
        kb_report_free(&rep);
        kb_review_close(r);
        return;
    }
    const kb_report_row *t1 = &rep.rows[0], *t2 = &rep.rows[1], *no_team = &rep.rows[2];
    CHECK_STR_EQ(t1->team, "一组");
    CHECK(t1->agent == NULL && t1->name == NULL);
    CHECK(t1->agents == 2 && t1->requests == 6 && t1->kb_answered == 4);
    CHECK(near(t1->share, 0.6667) && near(t1->previous_share, 0.4));
    CHECK(near(t1->change, 0.2667));
    CHECK(!t1->persistent); /* September: 2 of 5 */
    CHECK(t1->persistent_agents == 1);
    CHECK(t1->n_study >= 2);
    if (t1->n_study >= 2) {
        CHECK_STR_EQ(t1->study[0].doc_id, "d1");
        CHECK(t1->study[1].count == 3); /* d2: a1 twice, a2 once */
    }
    CHECK_STR_EQ(t2->team, "二组");
    CHECK(t2->requests == 1 && t2->kb_answered == 1);
    CHECK_STR_EQ(no_team->team, ""); /* agents without a team */
    kb_report_free(&rep);
    kb_review_close(r);
}

/* The total of the help requests f matches, or -1; *n_items: how many the page holds. */
static int64_t list_total(kb_review *r, const kb_review_filter *f, size_t *n_items)
{
    kb_help_request_page page;
    if (kb_review_list(r, f, &page) != KB_OK) return -1;
    int64_t total = page.total;
    if (n_items) *n_items = page.n;
    kb_help_request_page_free(&page);
    return total;
}

TEST(help_requests_filter_by_month_team_verdict_and_review)
{
    char err[512] = "";
    const char *dir = report_fixture("report-list");
    kb_review *r = kb_review_open(dir, 1, err, sizeof err);
    kb_review_filter f = {.verdict = -1, .reviewed = -1};
    kb_review_month_bounds(2026, 10, &f.from_ms, &f.to_ms);
    CHECK(list_total(r, &f, NULL) == 7);
    f.team = "一组";
    f.verdict = 1;
    CHECK(list_total(r, &f, NULL) == 4); /* a1: d1, d2, d4; a2: d2 */
    f.team = NULL;
    f.verdict = -1;
    f.reviewed = 1;
    CHECK(list_total(r, &f, NULL) == 2);
    kb_review_filter all = {.verdict = -1, .reviewed = -1, .agent = "a3", .limit = 1};
    size_t n = 0;
    CHECK(list_total(r, &all, &n) == 2 && n == 1);
    kb_review_close(r);
}

/* A page holds the requests themselves, newest first, with the agents list's names and the
 * effective verdict; only the item view carries the history. */
TEST(list_items_are_the_requests_newest_first)
{
    char err[512] = "";
    const char *dir = report_fixture("report-items");
    kb_review *r = kb_review_open(dir, 1, err, sizeof err);
    kb_review_filter f = {.verdict = -1, .reviewed = -1, .agent = "a1", .limit = 2, .offset = 1};
    kb_review_month_bounds(2026, 10, &f.from_ms, &f.to_ms);
    kb_help_request_page page;
    CHECK(r && kb_review_list(r, &f, &page) == KB_OK);
    CHECK(page.total == 4 && page.n == 2 && page.limit == 2 && page.offset == 1);
    if (page.n == 2) {
        const kb_help_request_record *d3 = &page.items[0], *d2 = &page.items[1];
        CHECK(d3->time_ms == at(2026, 10, 3) && d2->time_ms == at(2026, 10, 2));
        CHECK_STR_EQ(d3->agent_name, "张伟");
        CHECK_STR_EQ(d3->team, "一组");
        CHECK_STR_EQ(d3->question, "问题");
        CHECK(d3->answer == NULL && d3->kb_answerable && near(d3->confidence, 0.5));
        CHECK(d3->reviewed && !d3->answerable && d3->effective_doc_id == NULL);
        CHECK_STR_EQ(d3->review.by, "lead");
        CHECK(!d2->reviewed && d2->answerable);
        CHECK_STR_EQ(d2->effective_doc_id, "d2");
        CHECK(d3->reviews == NULL && d3->n_reviews == 0);
    }
    kb_help_request_page_free(&page);
    kb_review_close(r);
}

/* The store and the agents file take only lists that keep the agents' rules, however the list
 * was built: what kb_agent_list_add refuses cannot reach them another way. */
TEST(agents_lists_breaking_the_rules_are_refused)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("agents-refused", path, sizeof path);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    kb_agent list[] = {{"a1", "张伟", "一组"}, {"a1", "李娜", ""}};
    kb_agent_list twice = {list, 2, 2}, phone = {list, 1, 1};
    char file[512];
    snprintf(file, sizeof file, "%s/agents-refused.tsv", root);
    CHECK(kb_review_set_agents(r, &twice) == KB_INVALID);
    CHECK(strstr(kb_review_errmsg(r), "id appears twice") != NULL);
    CHECK(kb_agents_write_file(file, &twice, err, sizeof err) == -1 && access(file, F_OK) != 0);
    list[0].team = "13812345678";
    CHECK(kb_review_set_agents(r, &phone) == KB_INVALID);
    CHECK(strstr(kb_review_errmsg(r), "team holds what looks like a customer's") != NULL);
    kb_agent_list stored;
    CHECK(kb_review_agents(r, &stored) == KB_OK && stored.n == 0); /* nothing changed */
    kb_agent_list_free(&stored);
    list[0].team = "一组";
    CHECK(kb_review_set_agents(r, &phone) == KB_OK);
    CHECK(kb_review_agents(r, &stored) == KB_OK && stored.n == 1);
    if (stored.n == 1) CHECK_STR_EQ(stored.v[0].name, "张伟");
    kb_agent_list_free(&stored);
    kb_review_close(r);
}

TEST(empty_store_gives_empty_report)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("empty", path, sizeof path);
    kb_review *r = kb_review_open(dir, 1, err, sizeof err);
    for (int by_team = 0; by_team < 2; by_team++) {
        kb_report_params p = fixture_params(by_team);
        kb_report rep;
        int rc = r ? kb_review_report(r, &p, &rep) : -1;
        CHECK(rc == KB_OK && rep.n_rows == 0);
        CHECK(rc == KB_OK && none(rep.totals.share));
        if (rc == KB_OK) kb_report_free(&rep);
    }
    kb_review_close(r);
}

TEST(months_and_days_parse_and_bound_in_local_time)
{
    int y, m;
    CHECK(kb_review_parse_month("2026-10", &y, &m) == 0 && y == 2026 && m == 10);
    CHECK(kb_review_parse_month("2026-13", &y, &m) == -1);
    CHECK(kb_review_parse_month("2026-1", &y, &m) == -1);
    CHECK(kb_review_parse_month("2026-10x", &y, &m) == -1);
    int64_t s, e, d;
    kb_review_month_bounds(2026, 12, &s, &e);
    CHECK(e - s == 31LL * 86400000);
    CHECK(kb_review_parse_date("2026-12-01", &d) == 0 && d == s);
    /* TZ is CST-8 here: the month starts at 16:00 UTC the day before. */
    CHECK(s % 86400000 == 16LL * 3600000);
    CHECK(kb_review_parse_date("2026-12-1", &d) == -1);
}

/* A window of days runs backwards only when both ends are days and from is the later; one end
 * alone, or one day (from = to), is a window. Across months and years the order is the
 * calendar's. */
TEST(a_window_of_days_is_reversed_only_when_from_is_after_to)
{
    CHECK(kb_review_window_reversed("2026-12-31", "2026-01-01") == 1);
    CHECK(kb_review_window_reversed("2027-01-01", "2026-12-31") == 1);
    CHECK(kb_review_window_reversed("2026-03-02", "2026-03-01") == 1);
    CHECK(kb_review_window_reversed("2026-03-01", "2026-03-01") == 0);
    CHECK(kb_review_window_reversed("2026-02-28", "2026-03-01") == 0);
    CHECK(kb_review_window_reversed("2026-12-31", NULL) == 0);
    CHECK(kb_review_window_reversed(NULL, "2026-01-01") == 0);
    CHECK(kb_review_window_reversed("2026-12-31", "") == 0);
    CHECK(kb_review_window_reversed("2026-13-01", "2026-01-01") == 0); /* not a day: said so apart */
}

/* A day no calendar has (February 30th, April 31st) is refused, not moved to another one: a
 * coaching session filed for 2026-02-30 was stored so, and counted from March 2nd; a report from
 * 2026-02-30 quietly began on March 2nd. Signs and blanks in place of digits are refused too. */
TEST(days_that_do_not_exist_are_refused)
{
    int64_t d, next;
    CHECK(kb_review_parse_date("2026-02-28", &d) == 0);
    CHECK(kb_review_parse_date("2026-03-01", &next) == 0 && next > d);
    CHECK(kb_review_parse_date("2028-02-29", &d) == 0); /* a leap year */
    CHECK(kb_review_parse_date("2000-02-29", &d) == 0);
    CHECK(kb_review_parse_date("2026-12-31", &d) == 0);
    CHECK(kb_review_parse_date("2026-02-29", &d) == -1);
    CHECK(kb_review_parse_date("2100-02-29", &d) == -1);
    CHECK(kb_review_parse_date("2026-02-30", &d) == -1);
    CHECK(kb_review_parse_date("2026-04-31", &d) == -1);
    CHECK(kb_review_parse_date("2026-06-31", &d) == -1);
    CHECK(kb_review_parse_date("2026-00-10", &d) == -1);
    CHECK(kb_review_parse_date("2026-01-00", &d) == -1);
    CHECK(kb_review_parse_date("2026- 1-05", &d) == -1);
    CHECK(kb_review_parse_date("2026-+1-05", &d) == -1);
    CHECK(kb_review_parse_date("+026-01-05", &d) == -1);
    CHECK(kb_review_parse_date("2026-01- 5", &d) == -1);
    int y, m;
    CHECK(kb_review_parse_month("2026-+1", &y, &m) == -1);
    CHECK(kb_review_parse_month(" 026-01", &y, &m) == -1);
}

/* ---------------------------------------------------------------- must-know misses */

/* A request whose answering document was must-know for the agent (the v6 snapshot). */
static int64_t insert_must_know(kb_db *db, const char *agent, int64_t t, int answerable,
                                const char *doc, int must_know)
{
    return insert_help_request(db, agent, t, answerable, doc, must_know, NULL);
}

/* Hand-computed, August to October 2026, persist 3, must_know_min 1:
 *   m1 (一组): Aug 2 requests, 1 miss; Sep 3, 2 misses (the third is a gap marked must-know:
 *       not a miss); Oct 2, 1 miss (the other reviewed as a gap by a lead: not a miss)
 *       -> Oct 1 of 2 = 0.5, stands out on must-know (a miss in each of the 3 months).
 *   m2 (一组): Aug 1 miss; Sep none (1 answered, not must-know); Oct 3 misses of 4
 *       -> 0.75, does not stand out (September).
 *   一组: Oct 4 misses of 6 = 0.6667; Aug 2, Sep 2, Oct 4: stands out; 1 agent stands out.
 *   Totals for October: 4 of 6. */
TEST(must_know_misses_per_agent_and_team_match_hand_computed_numbers)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("mustknow", path, sizeof path);
    kb_db *db = raw_open(path);
    insert_must_know(db, "m1", at(2026, 8, 3), 1, "d1", 1);
    insert_must_know(db, "m1", at(2026, 8, 4), 1, "d2", 0);
    insert_must_know(db, "m1", at(2026, 9, 3), 1, "d1", 1);
    insert_must_know(db, "m1", at(2026, 9, 4), 1, "d1", 1);
    insert_must_know(db, "m1", at(2026, 9, 5), 0, NULL, 1);
    insert_must_know(db, "m1", at(2026, 10, 3), 1, "d1", 1);
    int64_t overridden = insert_must_know(db, "m1", at(2026, 10, 4), 1, "d1", 1);
    insert_must_know(db, "m2", at(2026, 8, 9), 1, "d3", 1);
    insert_must_know(db, "m2", at(2026, 9, 9), 1, "d2", 0);
    for (int d = 10; d < 13; d++) insert_must_know(db, "m2", at(2026, 10, d), 1, "d3", 1);
    insert_must_know(db, "m2", at(2026, 10, 13), 0, NULL, 0);
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    CHECK(kb_review_set(r, overridden, 0, NULL, NULL, "lead", 1) == KB_OK);
    kb_agent_list l = {0};
    kb_agent_list_add(&l, "m1", "王一", "一组", err, sizeof err);
    kb_agent_list_add(&l, "m2", "王二", "一组", err, sizeof err);
    CHECK(kb_review_set_agents(r, &l) == KB_OK);
    kb_agent_list_free(&l);
    kb_report_params p = fixture_params(0);
    kb_report rep;
    CHECK(kb_review_report(r, &p, &rep) == KB_OK);
    CHECK(rep.must_know_min == 1);
    CHECK(rep.totals.requests == 6 && rep.totals.must_know_misses == 4);
    CHECK(near(rep.totals.must_know_share, 0.6667));
    CHECK(rep.n_rows == 2);
    for (size_t i = 0; i < rep.n_rows; i++) {
        const kb_report_row *x = &rep.rows[i];
        if (!strcmp(x->agent, "m1")) {
            CHECK(x->requests == 2 && x->must_know_misses == 1 && near(x->must_know_share, 0.5));
            CHECK(x->must_know_persistent);
            CHECK(x->trend[0].must_know_misses == 1 && x->trend[1].must_know_misses == 2);
            CHECK(near(x->trend[1].must_know_share, 0.6667));
        } else {
            CHECK_STR_EQ(x->agent, "m2");
            CHECK(x->requests == 4 && x->must_know_misses == 3 && near(x->must_know_share, 0.75));
            CHECK(!x->must_know_persistent);
            CHECK(x->trend[1].must_know_misses == 0 && near(x->trend[1].must_know_share, 0));
        }
    }
    kb_report_free(&rep);
    /* Two misses a month needed: m1 no longer stands out (October has one). */
    p.must_know_min = 2;
    CHECK(kb_review_report(r, &p, &rep) == KB_OK);
    for (size_t i = 0; i < rep.n_rows; i++) CHECK(!rep.rows[i].must_know_persistent);
    kb_report_free(&rep);
    p = fixture_params(1);
    CHECK(kb_review_report(r, &p, &rep) == KB_OK);
    CHECK(rep.n_rows == 1);
    if (rep.n_rows == 1) {
        CHECK_STR_EQ(rep.rows[0].team, "一组");
        CHECK(rep.rows[0].must_know_misses == 4 && near(rep.rows[0].must_know_share, 0.6667));
        CHECK(rep.rows[0].must_know_persistent && rep.rows[0].must_know_persistent_agents == 1);
    }
    kb_report_free(&rep);
    kb_review_close(r);
}

/* A lead who names the answering document re-sets the request's must-know mark and title from
 * that document (the title redacted); a review without a document keeps the filing's. */
TEST(review_naming_a_document_resets_the_must_know_snapshot)
{
    char path[512], err[512] = "";
    const char *dir = fresh_store("snapshot", path, sizeof path);
    kb_db *db = raw_open(path);
    int64_t id = insert_must_know(db, "a1", at(2026, 10, 2), 0, NULL, 0);
    int64_t kept = insert_must_know(db, "a1", at(2026, 10, 3), 1, "d1", 1);
    kb_db_close(db);
    kb_review *r = kb_review_open(dir, 0, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    kb_review_doc_snapshot snap = {.must_know = 1, .title = "销户 客户13812345678"};
    CHECK(kb_review_set_doc(r, id, 1, "d9", NULL, "lead", 5, &snap) == KB_OK);
    CHECK(kb_review_set_doc(r, kept, 1, NULL, NULL, "lead", 6, &snap) == KB_OK);
    kb_help_request_record h;
    CHECK(kb_review_item(r, id, &h) == KB_OK);
    CHECK(h.must_know && h.must_know_miss && h.doc_title);
    CHECK(h.doc_title && !strstr(h.doc_title, "13812345678") && !strncmp(h.doc_title, "销户", 6));
    kb_help_request_record_free(&h);
    CHECK(kb_review_item(r, kept, &h) == KB_OK);
    CHECK(h.must_know && h.must_know_miss && h.doc_title == NULL);
    kb_help_request_record_free(&h);
    /* Overridden to a gap: still marked, but no longer a miss. */
    CHECK(kb_review_set_doc(r, kept, 0, NULL, NULL, "lead", 7, NULL) == KB_OK);
    CHECK(kb_review_item(r, kept, &h) == KB_OK);
    CHECK(h.must_know && !h.must_know_miss);
    kb_help_request_record_free(&h);
    kb_review_close(r);
}

int main(void)
{
    setenv("TZ", "CST-8", 1);
    tzset();
    snprintf(root, sizeof root, "/tmp/kb-test-review.XXXXXX");
    if (!mkdtemp(root)) {
        printf("FAIL mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    pg_fixture_start();
    RUN_BOTH_WITH(override_is_kept_with_its_history, NULL);
    RUN_BOTH_WITH(reviews_move_help_requests_in_and_out_of_the_queue, NULL);
    RUN(agents_file_parsing_and_errors);
    RUN(agent_ids_survive_a_reload);
    RUN_BOTH_WITH(an_agent_is_known_when_the_agents_list_names_it, NULL);
    RUN_BOTH_WITH(report_by_agent_matches_hand_computed_numbers, NULL);
    RUN_BOTH_WITH(report_by_team_sums_its_agents, NULL);
    RUN_BOTH_WITH(must_know_misses_per_agent_and_team_match_hand_computed_numbers, NULL);
    RUN_BOTH_WITH(review_naming_a_document_resets_the_must_know_snapshot, NULL);
    RUN_BOTH_WITH(help_requests_filter_by_month_team_verdict_and_review, NULL);
    RUN_BOTH_WITH(list_items_are_the_requests_newest_first, NULL);
    RUN_BOTH_WITH(agents_lists_breaking_the_rules_are_refused, NULL);
    RUN_BOTH_WITH(empty_store_gives_empty_report, NULL);
    RUN(months_and_days_parse_and_bound_in_local_time);
    RUN(days_that_do_not_exist_are_refused);
    RUN(a_window_of_days_is_reversed_only_when_from_is_after_to);
    pg_fixture_end();
    if (!getenv("KB_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0) printf("  could not remove %s\n", root);
    }
    CHECK_MAIN_END();
}
