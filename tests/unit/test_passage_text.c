/*
 * test_passage_text.c — a block as folded code points aligned with its bytes, and its
 * sentences (kb/search/passage_text.h): where sentences end, which are speech, which lean on
 * the one before.
 */
#include "check.h"
#include "search/passage_text.h"

#include <stdlib.h>
#include <unicode/utf8.h>

#include "kb/analyzer.h"

/* The sentences of text, as "[sentence]" or "[*sentence]" for speech, in one string. */
static const char *sentences_of(const char *text)
{
    static char out[4096];
    kb_passage_text p = {0};
    kb_sentence *s = NULL;
    size_t n = 0, cap = 0, used = 0;
    out[0] = 0;
    if (kb_passage_load(&p, text) == 0 && kb_passage_sentences(&p, &s, &n, &cap) == 0) {
        for (size_t k = 0; k < n; k++) {
            size_t a = p.byte_at[s[k].from], b = p.byte_at[s[k].to];
            used += (size_t)snprintf(out + used, sizeof out - used, "[%s%.*s]", s[k].speech ? "*" : "",
                                     (int)(b - a), text + a);
        }
    }
    free(s);
    kb_passage_free(&p);
    return out;
}

static int leans_back(const char *sentence)
{
    kb_passage_text p = {0};
    int r = kb_passage_load(&p, sentence) == 0 && kb_passage_leans_back(p.cps, p.n);
    kb_passage_free(&p);
    return r;
}

TEST(each_code_point_is_folded_in_place_and_keeps_its_bytes)
{
    kb_passage_text p = {0};
    CHECK(kb_passage_load(&p, "ＡＰＰ計畫瞭解é") == 0);
    CHECK(p.n == 8);
    const uint32_t want[] = {'a', 'p', 'p', 0x8BA1, 0x5212, 0x4E86, 0x89E3, 0xE9}; /* app计划了解é */
    for (size_t i = 0; i < 8 && i < p.n; i++) CHECK(p.cps[i] == want[i]);
    CHECK(p.byte_at[0] == 0 && p.byte_at[3] == 9 && p.byte_at[7] == 21 && p.byte_at[8] == 23);
    /* Reloading a shorter text reuses the buffers and clears the marks. */
    p.marked[0] = 1;
    CHECK(kb_passage_load(&p, "x") == 0 && p.n == 1 && p.marked[0] == 0);
    kb_passage_free(&p);
}

TEST(sentences_end_at_stops_with_their_closing_quotes)
{
    CHECK_STR_EQ(sentences_of("开通即时生效。回国后无需关闭！是吗？"),
                 "[开通即时生效。][回国后无需关闭！][是吗？]");
    CHECK_STR_EQ(sentences_of("一线坐席：权限内处理；超出权限转班长"), "[一线坐席：权限内处理；][超出权限转班长]");
    CHECK_STR_EQ(sentences_of("他说“好的。”然后走了。"), "[*他说“好的。”][然后走了。]"); /* mostly speech */
    CHECK_STR_EQ(sentences_of("第一行\n第二行"), "[第一行\n][第二行]");
    CHECK_STR_EQ(sentences_of(""), "");
}

TEST(a_stop_inside_a_number_a_name_or_brackets_ends_nothing)
{
    CHECK_STR_EQ(sentences_of("年利率0.80%，到期支取。"), "[年利率0.80%，到期支取。]");
    CHECK_STR_EQ(sentences_of("访问www.example.cn查询。"), "[访问www.example.cn查询。]");
    CHECK_STR_EQ(sentences_of("在《CDTV×Sacas！》节目中演唱。"), "[在《CDTV×Sacas！》节目中演唱。]");
    CHECK_STR_EQ(sentences_of("收费（首年免。次年100元）按年计。"), "[收费（首年免。次年100元）按年计。]");
    CHECK_STR_EQ(sentences_of("See the note. Then call."), "[See the note. ][Then call.]");
}

TEST(quoted_sentences_are_speech_and_quoted_names_are_not)
{
    CHECK_STR_EQ(sentences_of("“您的号码已经开通国际漫游，到了当地开机就能用。建议您订日包。”"),
                 "[*“您的号码已经开通国际漫游，到了当地开机就能用。][*建议您订日包。”]");
    CHECK_STR_EQ(sentences_of("建議話術：「門號不會被收回。」"), "[*建議話術：「門號不會被收回。」]");
    CHECK_STR_EQ(sentences_of("在APP“服务-国际漫游-开通”中办理。"), "[在APP“服务-国际漫游-开通”中办理。]");
    CHECK_STR_EQ(sentences_of("因此得名“角瓜”。"), "[因此得名“角瓜”。]");
}

TEST(a_sentence_that_points_back_leans_on_the_one_before)
{
    CHECK(leans_back("这次事件是一次突破性的发现。"));
    CHECK(leans_back("因此它有时也被称为笨蛋水果。"));
    CHECK(leans_back("但楚昭辅不愿侵占民地。"));
    CHECK(leans_back("赛后，占旭刚正式结束运动生涯。"));
    CHECK(leans_back("（吾无汗马劳。）"));
    CHECK(!leans_back("东关街是扬州的一条街道。"));
    CHECK(!leans_back(""));
}

int main(void)
{
    char err[256];
    kb_analyzer *an = kb_analyzer_new(err, sizeof err); /* builds the fold table */
    if (!an) {
        printf("FAIL analyzer_new: %s\n", err);
        return 1;
    }
    RUN(each_code_point_is_folded_in_place_and_keeps_its_bytes);
    RUN(sentences_end_at_stops_with_their_closing_quotes);
    RUN(a_stop_inside_a_number_a_name_or_brackets_ends_nothing);
    RUN(quoted_sentences_are_speech_and_quoted_names_are_not);
    RUN(a_sentence_that_points_back_leans_on_the_one_before);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
