/*
 * test_confidence.c — confidence and `unresolved` (kb/search/confidence.c) on a small FAQ-style
 * knowledge base, through kb_search: a question the knowledge base answers in its words is
 * confident; a near tie between the first documents, a match in single characters only, an
 * entry that only restates the question and an entry that asks much more than the question all
 * lower it; on a list of questions without answers only what agents taught is trusted;
 * `unresolved` follows it, and neither depends on the page asked for.
 */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "search/confidence.h"

static char index_dir[256];

#include "index_fixture.h"

/* A document of one section, with an optional <questions> entry and no category. */
static void faq_doc(test_doc *t, const char *id, const char *title, const char *body, const char *question)
{
    make_doc(t, id, title, body, NULL, question);
}

/* A small call-centre knowledge base: short entries, each with its answer. */
#define N_BASE 12
static void base_docs(test_doc d[N_BASE])
{
    faq_doc(&d[0], "roam", "国际漫游开通办理",
             "出国前请拨打10099或登录APP开通国际漫游，开通后在境外可以正常接打电话和使用流量。", "出国了手机怎么用");
    faq_doc(&d[1], "card-lost", "信用卡挂失",
             "信用卡丢失后请立即拨打4008-123-456挂失，挂失后原卡立即停用，补卡需要七个工作日。", "卡丢了怎么办");
    faq_doc(&d[2], "suspend", "停机保号",
             "停机保号每月收取5元保号费，最长可以办理12个月，期间号码保留但不能接打电话。", "出国期间号码怎么保留");
    faq_doc(&d[3], "broadband", "宽带故障报修",
             "宽带无法上网时先检查光猫指示灯，再重启路由器，仍然无法恢复请登记报修，24小时内上门。", NULL);
    faq_doc(&d[4], "points", "积分兑换话费",
             "积分可以在APP的积分商城兑换话费或流量，100积分抵1元，兑换后当月生效。", NULL);
    faq_doc(&d[5], "bill", "话费账单查询",
             "每月账单可以在手机营业厅查询，也可以发送短信CXZD到10086获取本月消费明细。", NULL);
    faq_doc(&d[6], "password", "服务密码重置",
             "服务密码忘记后可以携带身份证到营业厅重置，或在APP通过人脸识别重置。", NULL);
    faq_doc(&d[7], "plan-change", "套餐变更规则",
             "套餐变更在次月生效，降档需要合约到期，升档可以立即办理。", NULL);
    faq_doc(&d[8], "invoice", "电子发票开具",
             "电子发票在每月5日后可以开具，发送到客户预留的邮箱。", NULL);
    faq_doc(&d[9], "transfer", "携号转网办理条件",
             "携号转网需要号码在网满120天，无欠费、无合约限制，发送短信CXXZ查询是否符合条件。", NULL);
    faq_doc(&d[10], "reminder", "今日流量提醒",
             "每天超出套餐的流量会收到短信提醒，天天特价包可以咨询营业厅。", NULL);
    faq_doc(&d[11], "5g", "5G套餐介绍",
             "5G套餐月费128元起，包含30GB通用流量和500分钟通话。", NULL);
}

/* Search q and keep the top id (static buffer), confidence and unresolved flag. */
typedef struct {
    char top[64];
    double confidence;
    int unresolved;
    size_t n_hits;
} judged;

static judged ask(kb_searcher *s, const char *q, uint32_t limit, uint32_t offset)
{
    judged j = {{0}, -1, -1, 0};
    kb_search_request req = {.text = q, .limit = limit, .offset = offset};
    kb_search_result res;
    if (kb_search(s, &req, &res) != KB_OK) return j;
    if (res.top_id) snprintf(j.top, sizeof j.top, "%s", res.top_id);
    j.confidence = res.confidence;
    j.unresolved = res.unresolved;
    j.n_hits = res.n_hits;
    kb_search_result_free(&res);
    return j;
}

/* log(p / (1 - p)), p kept inside (0, 1) so that a confidence rounded to 1 stays finite. */
static double log_odds(double p)
{
    if (p > 1 - 1e-12) p = 1 - 1e-12;
    if (p < 1e-12) p = 1e-12;
    return log(p / (1 - p));
}

static kb_searcher *open_base(void)
{
    test_doc d[N_BASE];
    base_docs(d);
    if (index_docs(KB_INDEX_REBUILD, d, N_BASE) != 0) return NULL;
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) printf("  open: %s\n", err);
    return s;
}

TEST(a_question_answered_in_the_words_of_one_entry_is_confident)
{
    kb_searcher *s = open_base();
    if (!s) { CHECK(s != NULL); return; }
    const char *asked[] = {"停机保号怎么收费", "信用卡丢了怎么挂失", "出国前怎么开通国际漫游", "携号转网需要什么条件"};
    const char *want[] = {"suspend", "card-lost", "roam", "transfer"};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        judged j = ask(s, asked[i], 10, 0);
        CHECK_STR_EQ(j.top, want[i]);
        if (j.confidence < 0.9 || j.unresolved) printf("  %s: confidence %.3f\n", asked[i], j.confidence);
        CHECK(j.confidence >= 0.9);
        CHECK(j.unresolved == 0);
    }
    kb_searcher_close(s);
}

TEST(a_near_tie_between_the_first_documents_lowers_confidence)
{
    /* The same question, first with one entry on it, then with a second entry that holds the
     * same words: which of the two answers is no longer clear. Both titles name what is asked
     * (信用卡挂失), which keeps confidence high (either entry answers; search/confidence.c,
     * title_held), but the tie must still show. */
    kb_searcher *s = open_base();
    if (!s) { CHECK(s != NULL); return; }
    const char *q = "信用卡丢了怎么挂失";
    judged alone = ask(s, q, 10, 0);
    kb_searcher_close(s);

    test_doc twin;
    faq_doc(&twin, "card-lost-2", "信用卡挂失",
             "信用卡丢失后请拨打客服热线挂失，挂失后原卡停用，新卡寄到账单地址。", "卡丢了怎么办");
    CHECK(index_docs(KB_INDEX_UPDATE, &twin, 1) == 0);
    char err[256];
    s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    judged tied = ask(s, q, 10, 0);
    printf("  %s: alone %.3f, with a near twin %.3f\n", q, alone.confidence, tied.confidence);
    CHECK(strncmp(tied.top, "card-lost", 9) == 0);
    /* In the model's own terms (log-odds, its z): near 1 a probability barely moves however
     * much the evidence changes, so "lower" is measured there. The tie must at least divide
     * the odds by 10. */
    printf("  log-odds: alone %.2f, with a near twin %.2f\n", log_odds(alone.confidence), log_odds(tied.confidence));
    CHECK(log_odds(tied.confidence) < log_odds(alone.confidence) - log(10.0));
    kb_searcher_close(s);
}

TEST(a_match_in_single_characters_only_gives_low_confidence)
{
    /* 今天天气怎么样 shares only the characters 今 and 天 with the short entry 今日流量提醒
     * (each-day traffic reminders): no word of the question is in the knowledge base. */
    kb_searcher *s = open_base();
    if (!s) { CHECK(s != NULL); return; }
    const char *asked[] = {"今天天气怎么样", "股票开户需要带什么证件", "宠物生病了怎么办"};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        judged j = ask(s, asked[i], 10, 0);
        if (j.confidence >= 0.3) printf("  %s: confidence %.3f (top %s)\n", asked[i], j.confidence, j.top);
        CHECK(j.n_hits == 0 || j.confidence < 0.3);
        CHECK(j.unresolved == 1);
    }
    kb_searcher_close(s);
}

TEST(an_entry_that_only_restates_the_question_is_trusted_less_than_one_that_answers_it)
{
    /* The same question and the same entry title, once with an answer in the body and once with
     * the question repeated (a knowledge base of customers' questions without answers): an entry
     * that only restates the question holds nothing that answers it. */
    double confidence[2] = {-1, -1};
    const char *bodies[2] = {"宽带装机一般在受理后3个工作日内上门，偏远地区5个工作日。", "宽带装机要等几天"};
    for (int v = 0; v < 2; v++) {
        test_doc d[N_BASE + 1];
        base_docs(d);
        faq_doc(&d[N_BASE], "install", "宽带装机要等几天", bodies[v], NULL);
        CHECK(index_docs(KB_INDEX_REBUILD, d, N_BASE + 1) == 0);
        char err[256];
        kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
        if (!s) { CHECK(s != NULL); return; }
        judged j = ask(s, "宽带装机要等几天", 10, 0);
        CHECK_STR_EQ(j.top, "install");
        confidence[v] = j.confidence;
        kb_searcher_close(s);
    }
    printf("  with an answer %.3f, restating the question %.3f\n", confidence[0], confidence[1]);
    CHECK(confidence[0] >= 0.9);
    CHECK(confidence[1] < confidence[0] - 0.03);
}

/* kb_confidence_title_beyond on the question as kb_search compacts it. */
static double title_beyond(kb_analyzer *a, const char *question, const char *title)
{
    char *compact = kb_analyzer_fold_compact(a, question, strlen(question));
    double b = kb_confidence_title_beyond(a, compact, title);
    free(compact);
    return b;
}

TEST(title_beyond_is_the_share_of_an_entry_the_question_does_not_state)
{
    char err[256];
    kb_analyzer *a = kb_analyzer_new(err, sizeof err);
    if (!a) { CHECK(a != NULL); return; }
    /* A question found inside a longer customer question: most of the entry is not asked. */
    double fragment = title_beyond(a, "腾讯征信", "请问，还款日当天晚几个小时会影响腾讯征信吗？");
    printf("  腾讯征信 in a longer entry: %.3f\n", fragment);
    CHECK(fragment > 0.7);
    /* Pairs, not characters: 不放 shares 不 and 放 with 到底放不放款 twice over, but the pair
     * 不放 once (不, 放 of 放不放款), so 到底, the first 放 and 款 are beyond: 4 of 6. */
    CHECK(fabs(title_beyond(a, "不放", "到底放不放款") - 4.0 / 6) < 1e-9);
    /* A paraphrase: 们 is all the entry says beyond the question (你 and 吗 are function
     * characters, counted in neither part), in either script. */
    double paraphrase = title_beyond(a, "是属于腾讯公司吗", "你们属于腾讯公司吗");
    CHECK(fabs(paraphrase - 1.0 / 7) < 1e-9);
    CHECK(fabs(title_beyond(a, "是属于腾讯公司吗", "你們屬於騰訊公司嗎？") - paraphrase) < 1e-9);
    CHECK(title_beyond(a, "怎么开通国际漫游", "国际漫游") == 0);
    CHECK(title_beyond(a, "5G套餐多少钱", "5Ｇ") == 0); /* folded alike: the pair 5g */
    CHECK(title_beyond(a, "套餐", "5G") == 1);
    CHECK(title_beyond(a, "信用卡挂失", "卡") == 0);     /* a one-character title */
    CHECK(title_beyond(a, "挂失", "卡") == 1);
    CHECK(title_beyond(a, "吗", "是吗") == 0);           /* nothing but function characters */
    CHECK(kb_confidence_title_beyond(a, "", "国际漫游") == 0);
    CHECK(kb_confidence_title_beyond(a, "国际漫游", "") == 0);
    kb_analyzer_free(a);
}

/* Customers' questions without answers, as an FAQ list of them is (each entry its title alone). */
#define N_ASKED 16
static const char *const ASKED_ENTRIES[N_ASKED] = {
    "请问还款日当天晚几个小时还款会影响腾讯征信吗", "你们属于腾讯公司吗", "借款多久能到账",
    "为什么我的额度突然没有了", "提前还款要收手续费吗", "怎么更换还款的银行卡", "利息是怎么计算的",
    "可以分期还款吗", "为什么审批没有通过", "电话审核一般什么时候打来", "怎么修改绑定的手机号",
    "逾期一天会有什么影响", "借款合同在哪里查看", "为什么还款失败了", "可以用信用卡还款吗",
    "怎么注销账户",
};

/* How an entry of the list is written: its question alone (a list of customers' questions), or
 * its question with an answer beneath it (an FAQ). */
enum entry_form { QUESTION_ALONE, WITH_ANSWER };

/* The answer beneath every entry WITH_ANSWER: the same words in all, so they lead nowhere. */
#define ANSWER_TEXT "具体办理方式请在手机银行的帮助中心查看详细说明，也可以拨打客服热线，由人工客服为您核实处理。"

/* The confidence of question q on the FAQ list, with its first entry replaced by first, written
 * in form; when taught is not NULL, agents taught it as a phrasing of faq-0 (search/learned.h). */
static double asked_list_confidence(const char *first, enum entry_form form, const char *taught,
                                    const char *q, char *top, size_t top_len)
{
    test_doc d[N_ASKED];
    char ids[N_ASKED][16], bodies[N_ASKED][512];
    for (int i = 0; i < N_ASKED; i++) {
        snprintf(ids[i], sizeof ids[i], "faq-%d", i);
        const char *t = i == 0 ? first : ASKED_ENTRIES[i];
        snprintf(bodies[i], sizeof bodies[i], "%s%s", t, form == WITH_ANSWER ? "。" ANSWER_TEXT : "");
        faq_doc(&d[i], ids[i], t, bodies[i], NULL);
    }
    if (index_docs(KB_INDEX_REBUILD, d, N_ASKED) != 0) return -1;
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) return -1;
    if (taught) {
        kb_learned_entry e = {"faq-0", taught};
        kb_learned_index *idx = kb_learned_index_build(&e, 1, err, sizeof err);
        if (!idx) {
            kb_searcher_close(s);
            return -1;
        }
        kb_searcher_set_learned(s, idx);
        kb_learned_index_release(idx);
    }
    judged j = ask(s, q, 10, 0);
    snprintf(top, top_len, "%s", j.top);
    kb_searcher_close(s);
    return j.confidence;
}

TEST(an_entry_that_asks_much_more_than_the_question_is_not_confident)
{
    /* 腾讯征信 is found only in the entry asking whether paying a few hours late on the due date
     * harms one's 腾讯征信 record: that entry leads every other by far, yet it is another,
     * narrower question than the one asked (on bq-dev, kbeval, it had 0.92 and was wrong). */
    char top[64];
    double alone = asked_list_confidence(ASKED_ENTRIES[0], QUESTION_ALONE, NULL, "腾讯征信", top, sizeof top);
    printf("  腾讯征信 → the longer entry, a question alone: %.3f\n", alone);
    CHECK_STR_EQ(top, "faq-0");
    CHECK(alone >= 0 && alone < 0.5);
    /* The same entry with an answer beneath it, asked in a question that states most of it:
     * trusted. */
    double stated = asked_list_confidence(ASKED_ENTRIES[0], WITH_ANSWER, NULL, "还款日当天晚几个小时还款影响腾讯征信吗",
                                          top, sizeof top);
    printf("  the same entry, asked in its own words: %.3f\n", stated);
    CHECK_STR_EQ(top, "faq-0");
    CHECK(stated >= 0.5);
}

TEST(a_list_of_questions_without_answers_is_trusted_only_where_agents_taught_it)
{
    /* On a list of customers' questions without answers, the entry a question finds in its own
     * words is still not known to be meant: such lists hold near-identical questions of other
     * intents (on bq-dev no search is right more than a few times in ten, whatever its lead), so
     * the search is unresolved. When agents taught that very question as a phrasing of the
     * entry (marked it helpful, kb/learn.h), the entry is known to answer it. */
    char top[64];
    const char *q = "还款日当天晚几个小时还款影响腾讯征信吗";
    double untaught = asked_list_confidence(ASKED_ENTRIES[0], QUESTION_ALONE, NULL, q, top, sizeof top);
    printf("  a question alone, asked in its own words: %.3f\n", untaught);
    CHECK_STR_EQ(top, "faq-0");
    CHECK(untaught >= 0 && untaught < 0.5);
    double taught = asked_list_confidence(ASKED_ENTRIES[0], QUESTION_ALONE, q, q, top, sizeof top);
    printf("  the same, the question taught: %.3f\n", taught);
    CHECK_STR_EQ(top, "faq-0");
    CHECK(taught >= 0.9);
    /* A phrasing taught for it that is only like the question (another question on the same
     * subject) says much less than the question itself. */
    double like = asked_list_confidence(ASKED_ENTRIES[0], QUESTION_ALONE, "还款日当天还款晚了会不会上征信", q, top,
                                        sizeof top);
    printf("  the same, a phrasing like it taught: %.3f\n", like);
    CHECK(like < taught);
}

TEST(unresolved_is_confidence_below_one_half_whatever_the_page)
{
    kb_searcher *s = open_base();
    if (!s) { CHECK(s != NULL); return; }
    const char *asked[] = {"停机保号怎么收费", "今天天气怎么样", "积分怎么换话费", "套餐", "发票",
                           "宽带", "话费账单在哪里查", "5G套餐多少钱", "服务密码忘了", "退订"};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        judged first = ask(s, asked[i], 10, 0);
        CHECK(first.confidence >= 0 && first.confidence <= 1);
        CHECK(first.unresolved == (first.confidence < 0.5 || first.n_hits == 0));
        /* The help-request path asks for 3 hits, the editors' queue for 1, the agents' page for
         * 10 and its later pages: the same search, the same confidence. */
        judged one = ask(s, asked[i], 1, 0), three = ask(s, asked[i], 3, 0), later = ask(s, asked[i], 10, 2);
        CHECK(one.confidence == first.confidence && three.confidence == first.confidence &&
              later.confidence == first.confidence);
        CHECK(one.unresolved == first.unresolved && later.unresolved == first.unresolved);
        CHECK(strcmp(later.top, first.top) == 0);
    }
    kb_searcher_close(s);
}

int main(void)
{
    snprintf(index_dir, sizeof index_dir, "/tmp/kb-test-confidence-%d", (int)getpid());
    RUN(a_question_answered_in_the_words_of_one_entry_is_confident);
    RUN(a_near_tie_between_the_first_documents_lowers_confidence);
    RUN(a_match_in_single_characters_only_gives_low_confidence);
    RUN(an_entry_that_only_restates_the_question_is_trusted_less_than_one_that_answers_it);
    RUN(title_beyond_is_the_share_of_an_entry_the_question_does_not_state);
    RUN(an_entry_that_asks_much_more_than_the_question_is_not_confident);
    RUN(a_list_of_questions_without_answers_is_trusted_only_where_agents_taught_it);
    RUN(unresolved_is_confidence_below_one_half_whatever_the_page);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", index_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", index_dir);
    CHECK_MAIN_END();
}
