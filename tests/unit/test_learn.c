/* test_learn.c — learned phrasings (kb/learn.h): teaching records from feedback, the two-agent
 * rule, clicks as half votes, editors' authority, removal (never relearned), pinning,
 * normalization and redaction of what is learned. Each test on SQLite and on PostgreSQL
 * (pg_fixture.h). */
#include "check.h"
#include "pg_fixture.h"
#include "kb/learn.h"
#include "kb/store.h"

#include <stdlib.h>
#include <unistd.h>

static char root[64];
static int n_dirs;

/* A fresh store and a learn handle on it. */
static kb_store *fresh(kb_learn **l, char *dir, size_t dir_len)
{
    if (is_postgresql_run()) {
        if (pg_fresh_store(dir, dir_len) != 0) dir[0] = '\0';
    } else {
        snprintf(dir, dir_len, "%s/d%d", root, n_dirs++);
    }
    char err[512];
    kb_store *st = kb_store_open(dir, err, sizeof err);
    if (!st) printf("  %s\n", err);
    *l = st ? kb_learn_open(dir, err, sizeof err) : NULL;
    if (st && !*l) printf("  %s\n", err);
    return st;
}

static void finish(kb_learn *l, kb_store *st)
{
    kb_learn_close(l);
    kb_store_close(st);
}

static int n_searches;

/* Search (logged) and feedback on it, by a teacher with a role. Returns the feedback's status. */
static int teach(kb_store *st, const char *q, const char *doc, const char *who, const char *role,
                 kb_feedback_kind kind)
{
    char sid[32];
    snprintf(sid, sizeof sid, "s%d", n_searches++);
    kb_search_event ev = {.search_id = sid, .agent = who, .query = q, .time_ms = 1000 + n_searches};
    kb_store_log_search(st, &ev);
    return kb_store_log_feedback_as(st, sid, who, role, kind, doc, 2000 + n_searches);
}

/* The counted phrasings' keys of doc, "|"-joined. */
static const char *counted_of(kb_learn *l, const char *doc)
{
    static char out[1024];
    out[0] = '\0';
    kb_learned_list list;
    if (kb_learn_counted(l, &list) != KB_OK) return "(error)";
    for (size_t i = 0; i < list.n; i++)
        if (!strcmp(list.items[i].doc_id, doc)) {
            if (out[0]) strcat(out, "|");
            strcat(out, list.items[i].phrasing);
        }
    kb_learned_list_free(&list);
    return out;
}

TEST(normalization_folds_script_case_and_drops_punctuation)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    char *a = kb_learn_normalize(l, "花唄 怎麼關？"), *b = kb_learn_normalize(l, "花呗怎么关"),
         *c = kb_learn_normalize(l, "ＡＰＰ 登录!"), *d = kb_learn_normalize(l, " ？！ ");
    CHECK_STR_EQ(a, "花呗怎么关");
    CHECK_STR_EQ(b, "花呗怎么关");
    CHECK_STR_EQ(c, "app登录");
    CHECK_STR_EQ(d, "");
    free(a), free(b), free(c), free(d);
    finish(l, st);
}

TEST(one_agent_alone_teaches_nothing_however_often)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    for (int i = 0; i < 5; i++)
        CHECK(teach(st, "花呗怎么关", "doc-a", "alice", "agent", KB_FEEDBACK_HELPFUL) == KB_OK);
    CHECK_STR_EQ(counted_of(l, "doc-a"), "");
    kb_learned_list list;
    CHECK(kb_learn_of_document(l, "doc-a", &list) == KB_OK && list.n == 1);
    if (list.n == 1) {
        CHECK(list.items[0].teachers == 1 && list.items[0].events == 5);
        CHECK(list.items[0].sources == KB_LEARN_HELPFUL && !list.items[0].counted);
    }
    kb_learned_list_free(&list);
    finish(l, st);
}

TEST(two_agents_helpful_make_a_phrasing_count_in_either_script)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "花呗怎么关", "doc-a", "alice", "agent", KB_FEEDBACK_HELPFUL);
    teach(st, "花唄怎麼關？", "doc-a", "bob", "agent", KB_FEEDBACK_HELPFUL);
    CHECK_STR_EQ(counted_of(l, "doc-a"), "花呗怎么关");
    finish(l, st);
}

TEST(clicks_are_half_a_vote_and_not_found_teaches_nothing)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "改密码", "doc-b", "alice", "agent", KB_FEEDBACK_CLICK);
    teach(st, "改密码", "doc-b", "bob", "agent", KB_FEEDBACK_CLICK);
    teach(st, "改密码", "doc-b", "carol", "lead", KB_FEEDBACK_CLICK); /* a lead's click: a click */
    teach(st, "改密码", "doc-b", "dan", "agent", KB_FEEDBACK_NOT_FOUND);
    CHECK_STR_EQ(counted_of(l, "doc-b"), "");
    teach(st, "改密码", "doc-b", "erin", "agent", KB_FEEDBACK_CLICK); /* the fourth clicker */
    CHECK_STR_EQ(counted_of(l, "doc-b"), "改密码");
    teach(st, "换号码", "doc-b", "alice", "agent", KB_FEEDBACK_HELPFUL);
    teach(st, "换号码", "doc-b", "bob", "agent", KB_FEEDBACK_CLICK);
    CHECK_STR_EQ(counted_of(l, "doc-b"), "改密码");
    teach(st, "换号码", "doc-b", "carol", "agent", KB_FEEDBACK_CLICK); /* 1 + 1/2 + 1/2 */
    CHECK_STR_EQ(counted_of(l, "doc-b"), "换号码|改密码");
    finish(l, st);
}

TEST(one_lead_or_editor_helpful_counts)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "宽带报修", "doc-c", "lena", "lead", KB_FEEDBACK_HELPFUL);
    CHECK_STR_EQ(counted_of(l, "doc-c"), "宽带报修");
    CHECK(kb_learn_teach(l, "doc-c", "网断了", KB_LEARN_EDITOR, "ed", "editor", "7", 5) == KB_OK);
    CHECK(kb_learn_teach(l, "doc-c", "网慢", KB_LEARN_HELP_DESK, "amy", "agent", "8", 6) == KB_OK);
    CHECK(kb_learn_teach(l, "doc-c", "x", 99, "amy", "agent", NULL, 6) == KB_INVALID);
    CHECK_STR_EQ(counted_of(l, "doc-c"), "宽带报修|网断了");
    finish(l, st);
}

TEST(removed_phrasing_is_never_learned_again_from_old_or_new_events)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "花呗怎么关", "doc-a", "alice", "agent", KB_FEEDBACK_HELPFUL);
    teach(st, "花呗怎么关", "doc-a", "bob", "agent", KB_FEEDBACK_HELPFUL);
    int64_t v0 = kb_learn_version(l);
    CHECK(kb_learn_remove(l, "doc-a", "花呗 怎么关?", "ed", 10) == KB_OK);
    CHECK(kb_learn_version(l) != v0);
    CHECK_STR_EQ(counted_of(l, "doc-a"), "");
    teach(st, "花呗怎么关", "doc-a", "carol", "lead", KB_FEEDBACK_HELPFUL);
    teach(st, "花唄怎麼關", "doc-a", "dan", "agent", KB_FEEDBACK_HELPFUL);
    CHECK_STR_EQ(counted_of(l, "doc-a"), "");
    CHECK(kb_learn_pin(l, "doc-a", "花呗怎么关", 1, "ed", "editor", 11) == KB_CONFLICT);
    CHECK(kb_learn_remove(l, "doc-a", "没教过", "ed", 12) == KB_NOT_FOUND);
    CHECK(kb_learn_remove(l, "doc-a", "？？", "ed", 12) == KB_INVALID);
    kb_learned_list list;
    CHECK(kb_learn_of_document(l, "doc-a", &list) == KB_OK && list.n == 1 && list.items[0].removed);
    kb_learned_list_free(&list);
    finish(l, st);
}

TEST(pinning_counts_a_single_agents_phrasing_and_adds_an_editors_own)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "流量不够用", "doc-d", "alice", "agent", KB_FEEDBACK_HELPFUL);
    CHECK_STR_EQ(counted_of(l, "doc-d"), "");
    CHECK(kb_learn_pin(l, "doc-d", "流量不够用", 1, "ed", "editor", 20) == KB_OK);
    CHECK_STR_EQ(counted_of(l, "doc-d"), "流量不够用");
    CHECK(kb_learn_pin(l, "doc-d", "流量包", 1, "ed", "editor", 21) == KB_OK);
    CHECK_STR_EQ(counted_of(l, "doc-d"), "流量不够用|流量包");
    CHECK(kb_learn_pin(l, "doc-d", "流量不够用", 0, "ed", "editor", 22) == KB_OK);
    CHECK(kb_learn_pin(l, "doc-d", "流量不够用", 0, "ed", "editor", 22) == KB_NOT_FOUND);
    CHECK_STR_EQ(counted_of(l, "doc-d"), "流量包");
    kb_learned_phrasing p;
    CHECK(kb_learn_get(l, "doc-d", "流量包", &p) == KB_OK && p.pinned && p.counted &&
          p.sources == KB_LEARN_EDITOR);
    kb_learned_phrasing_free(&p);
    finish(l, st);
}

TEST(learned_text_is_redacted)
{
    char dir[1024];
    kb_learn *l;
    kb_store *st = fresh(&l, dir, sizeof dir);
    teach(st, "13812345678的套餐怎么退", "doc-e", "alice", "agent", KB_FEEDBACK_HELPFUL);
    teach(st, "13987654321的套餐怎么退", "doc-e", "bob", "agent", KB_FEEDBACK_HELPFUL);
    CHECK(kb_learn_teach(l, "doc-e", "卡号6222021234567890123丢了", KB_LEARN_EDITOR, "ed",
                         "editor", NULL, 5) == KB_OK);
    kb_learned_list list;
    CHECK(kb_learn_of_document(l, "doc-e", &list) == KB_OK && list.n == 2);
    for (size_t i = 0; i < list.n; i++) {
        CHECK(!strstr(list.items[i].text, "1381234") && !strstr(list.items[i].text, "1398765"));
        CHECK(!strstr(list.items[i].text, "6222021234567890123"));
    }
    /* Two different numbers, one phrasing: the placeholder is what was learned. */
    CHECK(list.n == 2 && (list.items[0].teachers == 2 || list.items[1].teachers == 2));
    kb_learned_list_free(&list);
    finish(l, st);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/kb-test-learn-XXXXXX");
    if (!mkdtemp(root)) return 1;
    pg_fixture_start();
    RUN(normalization_folds_script_case_and_drops_punctuation);
    RUN_BOTH_WITH(one_agent_alone_teaches_nothing_however_often, NULL);
    RUN_BOTH_WITH(two_agents_helpful_make_a_phrasing_count_in_either_script, NULL);
    RUN_BOTH_WITH(clicks_are_half_a_vote_and_not_found_teaches_nothing, NULL);
    RUN_BOTH_WITH(one_lead_or_editor_helpful_counts, NULL);
    RUN_BOTH_WITH(removed_phrasing_is_never_learned_again_from_old_or_new_events, NULL);
    RUN_BOTH_WITH(pinning_counts_a_single_agents_phrasing_and_adds_an_editors_own, NULL);
    RUN_BOTH_WITH(learned_text_is_redacted, NULL);
    pg_fixture_end();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) return 1;
    CHECK_MAIN_END();
}
