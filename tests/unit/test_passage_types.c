/*
 * test_passage_types.c — what kind of answer a question asks for and what kind of content a
 * sentence holds (kb/search/passage_types.h), in Simplified, Traditional and Cantonese forms.
 *
 * Questions and texts are folded first, as kb_query_build and the snippet code fold them.
 */
#include "check.h"
#include "search/passage_types.h"

#include <stdlib.h>
#include <unicode/utf8.h>

#include "kb/analyzer.h"

static kb_analyzer *an;

static unsigned asks(const char *question)
{
    char *folded = kb_analyzer_fold(an, question, strlen(question));
    unsigned k = kb_passage_asks(folded);
    free(folded);
    return k;
}

/* Fold text into cps (at most 512); returns the count. */
static size_t fold(const char *text, uint32_t *cps)
{
    char *folded = kb_analyzer_fold(an, text, strlen(text));
    size_t n = 0;
    int32_t i = 0, len = (int32_t)strlen(folded);
    while (i < len && n < 512) {
        UChar32 c;
        U8_NEXT((const uint8_t *)folded, i, len, c);
        cps[n++] = (uint32_t)c;
    }
    free(folded);
    return n;
}

static unsigned holds(const char *text)
{
    uint32_t cps[512];
    size_t n = fold(text, cps);
    return kb_passage_holds(cps, n);
}

static unsigned labels(const char *text)
{
    uint32_t cps[512];
    size_t n = fold(text, cps);
    return kb_passage_labels(cps, n);
}

static int names_script(const char *text)
{
    uint32_t cps[512];
    size_t n = fold(text, cps);
    return kb_passage_names_script(cps, n);
}

TEST(question_words_say_which_kind_of_answer_is_asked_for)
{
    CHECK(asks("信用卡年费多少") & KB_KIND_NUMBER);
    CHECK(asks("一个身份证能办几张卡") & KB_KIND_NUMBER);
    CHECK(asks("投诉多久处理") & KB_KIND_DURATION);
    CHECK(asks("办理需要多长时间") & KB_KIND_DURATION);
    CHECK(asks("补卡几天能好") & KB_KIND_DURATION);
    CHECK(asks("降套餐什么时候生效") & KB_KIND_DATE);
    CHECK(asks("还款日是哪天") & KB_KIND_DATE);
    CHECK(asks("盘古大陆在何时开始分裂") & KB_KIND_DATE);
    CHECK(asks("二次实名在哪里做") & KB_KIND_PLACE);
    CHECK(asks("车险理赔需要什么材料") & KB_KIND_LIST);
    CHECK(asks("有哪些优惠") & KB_KIND_LIST);
    CHECK(asks("国际漫游怎么开通") & KB_KIND_STEPS);
    CHECK(asks("如何办理停机保号") & KB_KIND_STEPS);
    CHECK(asks("为什么扣了两次费") & KB_KIND_REASON);
    CHECK(asks("东关街有多长") & KB_KIND_MEASURE);
    CHECK(asks("办信用卡要多大年纪") & KB_KIND_AGE);
    CHECK(asks("年费扣了能退吗") & KB_KIND_YESNO);
    CHECK(asks("是否支持移机") & KB_KIND_YESNO);
    CHECK(asks("宽带报修") == 0);
    CHECK(kb_passage_asks(NULL) == 0 && kb_passage_asks("") == 0);
}

TEST(traditional_and_cantonese_question_words_are_read_through_their_folded_forms)
{
    CHECK(asks("轉數快限額幾多") & KB_KIND_NUMBER);        /* 幾多 */
    CHECK(asks("幾時生效") & KB_KIND_DATE);                /* 幾時 */
    CHECK(asks("儲值卡喺邊度買") & KB_KIND_PLACE);          /* 喺邊度 */
    CHECK(asks("漫遊日費點樣登記") & KB_KIND_STEPS);         /* 點樣 */
    CHECK(asks("點解扣咗錢") & KB_KIND_REASON);              /* 點解 */
    CHECK(asks("電子帳單怎麼申請") & KB_KIND_STEPS);
    CHECK(asks("維修多久到府") & KB_KIND_DURATION);
    CHECK(asks("信用卡可唔可以登記外國電話") & KB_KIND_YESNO);
}

TEST(asking_what_to_say_is_a_script_question_not_a_steps_question)
{
    unsigned k = asks("开通漫游后跟客户怎么说");
    CHECK((k & KB_KIND_SCRIPT) && !(k & KB_KIND_STEPS));
    CHECK(asks("客户很生气第一句说什么") & KB_KIND_SCRIPT);
    CHECK(asks("这个怎么跟客户解释") & KB_KIND_SCRIPT);
    CHECK(asks("销户的话术") & KB_KIND_SCRIPT);
    CHECK(!(asks("国际漫游怎么开通") & KB_KIND_SCRIPT));
    /* 怎么样 asks how good, 怎么会 why: neither is steps. */
    CHECK(!(asks("这个套餐怎么样") & KB_KIND_STEPS));
    k = asks("怎么会扣费");
    CHECK((k & KB_KIND_REASON) && !(k & KB_KIND_STEPS));
}

TEST(figures_with_their_units_say_amount_duration_date_measure_or_age)
{
    CHECK(holds("普卡年费100元") & KB_KIND_NUMBER);
    CHECK(holds("折合年化利率0.80%") & KB_KIND_NUMBER);
    CHECK(holds("功能免费") & KB_KIND_NUMBER);
    CHECK(holds("一般24小时内处理") & KB_KIND_DURATION);
    CHECK(holds("3个工作日内上门") & KB_KIND_DURATION);
    CHECK(holds("三个月") & KB_KIND_DURATION);
    CHECK(holds("2014年6月10日收购") & KB_KIND_DATE);
    CHECK(holds("晚上21:00以后不回访") & KB_KIND_DATE);
    CHECK(holds("账单日后第20天") & KB_KIND_DATE);
    CHECK(holds("次月1日生效") & KB_KIND_DATE);
    CHECK(holds("全长1122米") & KB_KIND_MEASURE);
    CHECK(holds("年满18周岁") & KB_KIND_AGE);
    /* Digits in a code name something; 一 alone is no figure. */
    CHECK(!(holds("HX-5G-99套餐") & KB_KIND_NUMBER));
    CHECK(!(holds("支持5G网络") & KB_KIND_NUMBER));
    CHECK(holds("每月30GB流量") & KB_KIND_NUMBER);
    CHECK(!(holds("这是一种一般的情况") & KB_KIND_NUMBER));
}

TEST(words_say_place_list_steps_reason_and_yes_or_no)
{
    CHECK(holds("到营业厅办理") & KB_KIND_PLACE);
    CHECK(holds("位于江苏省扬州市") & KB_KIND_PLACE);
    CHECK(holds("驾驶证、行驶证、维修发票") & KB_KIND_LIST);
    CHECK(holds("材料包括身份证") & KB_KIND_LIST);
    CHECK(holds("登录APP，点击开通") & KB_KIND_STEPS);
    CHECK(holds("服务→漫游→开通") & KB_KIND_STEPS);
    CHECK(holds("由于商业的压力") & KB_KIND_REASON);
    CHECK(holds("宽带不支持移机") & KB_KIND_YESNO);
    CHECK(holds("不得用于购房") & KB_KIND_YESNO);
    CHECK(holds("漫游资费按目的地计算") == 0);
}

TEST(titles_and_headers_label_what_is_under_them)
{
    CHECK(labels("处理时限") & KB_KIND_DURATION);
    CHECK(labels("所需材料") & KB_KIND_LIST);
    CHECK(labels("主卡年费") & KB_KIND_NUMBER);
    CHECK(labels("开通方式") & KB_KIND_STEPS);
    CHECK(labels("到账时间") & KB_KIND_DATE);
    CHECK(labels("存期 | 年利率") & KB_KIND_NUMBER);
    CHECK(labels("注意事项") == 0);
}

TEST(script_sections_are_named_in_either_script)
{
    CHECK(names_script("参考话术"));
    CHECK(names_script("建议话术"));
    CHECK(names_script("建議對答"));
    CHECK(names_script("建議話術：「您好」"));
    CHECK(!names_script("办理步骤"));
}

TEST(pieces_of_question_phrases_are_question_words_and_content_words_are_not)
{
    CHECK(kb_passage_is_question_word("多长"));
    CHECK(kb_passage_is_question_word("有多"));
    CHECK(kb_passage_is_question_word("么时")); /* of 什么时候 */
    CHECK(kb_passage_is_question_word("哪里"));
    CHECK(!kb_passage_is_question_word("时间")); /* of 多长时间, but content */
    CHECK(!kb_passage_is_question_word("材料"));
    CHECK(!kb_passage_is_question_word("漫游"));
    CHECK(!kb_passage_is_question_word(""));
}

int main(void)
{
    char err[256];
    an = kb_analyzer_new(err, sizeof err);
    if (!an) {
        printf("FAIL analyzer_new: %s\n", err);
        return 1;
    }
    RUN(question_words_say_which_kind_of_answer_is_asked_for);
    RUN(traditional_and_cantonese_question_words_are_read_through_their_folded_forms);
    RUN(asking_what_to_say_is_a_script_question_not_a_steps_question);
    RUN(figures_with_their_units_say_amount_duration_date_measure_or_age);
    RUN(words_say_place_list_steps_reason_and_yes_or_no);
    RUN(titles_and_headers_label_what_is_under_them);
    RUN(script_sections_are_named_in_either_script);
    RUN(pieces_of_question_phrases_are_question_words_and_content_words_are_not);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
