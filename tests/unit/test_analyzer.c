/* test_analyzer.c — the analyzer: folding, Chinese words/bigrams/unigrams, Latin, codes. */
#include "check.h"
#include "kb/analyzer.h"

#include <stdlib.h>
#include <time.h>
#include <unicode/utf8.h>

static kb_analyzer *an;
static kb_term_list terms;

/* Analyze text and return 1 when term (of the given kind, or any kind when kind < 0) is produced. */
static int has_term(const char *text, const char *term, int kind)
{
    kb_term_list_clear(&terms);
    if (kb_analyze(an, text, strlen(text), &terms) != 0) return 0;
    for (size_t i = 0; i < terms.count; i++)
        if (strcmp(terms.terms[i].text, term) == 0 && (kind < 0 || (int)terms.terms[i].kind == kind))
            return 1;
    return 0;
}

static void dump(const char *text)
{
    kb_term_list_clear(&terms);
    kb_analyze(an, text, strlen(text), &terms);
    printf("  terms of \"%s\":", text);
    for (size_t i = 0; i < terms.count; i++) printf(" %s/%d", terms.terms[i].text, terms.terms[i].kind);
    printf("\n");
}

TEST(traditional_folds_to_simplified)
{
    CHECK(has_term("出國漫遊如何開通", "漫游", -1));
    CHECK(has_term("出國漫遊如何開通", "出国", -1));
    CHECK(has_term("國際漫遊", "国际", -1));
    CHECK(has_term("帳單查詢", "账单", -1));
    CHECK(!has_term("出國漫遊如何開通", "漫遊", -1));
}

TEST(chinese_text_gives_words_bigrams_and_single_characters)
{
    /* A 3+ character dictionary word is a WORD; every adjacent pair is a bigram. */
    CHECK(has_term("国际漫游开通办理", "国际", -1));
    CHECK(has_term("国际漫游开通办理", "际漫", KB_TERM_BIGRAM_CROSS));
    CHECK(has_term("国际漫游开通办理", "游开", KB_TERM_BIGRAM_CROSS));
    CHECK(has_term("国际漫游开通办理", "漫", KB_TERM_UNIGRAM));
    CHECK(has_term("什么时候开通", "什么时候", KB_TERM_WORD));
    /* A bigram straddling a dictionary word's edge is marked as such. */
    CHECK(has_term("范廷颂是什么时候被任为主教的", "是什", KB_TERM_BIGRAM_CROSS));
    CHECK(has_term("范廷颂是什么时候被任为主教的", "范廷", KB_TERM_BIGRAM));
    CHECK(has_term("范廷颂是什么时候被任为主教的", "么时", KB_TERM_BIGRAM));
    /* No bigram across punctuation or a Latin word. */
    CHECK(!has_term("漫游，开通", "游开", -1));
    CHECK(!has_term("漫游5G开通", "游开", -1));
}

TEST(full_width_and_capital_letters_fold_to_plain_lower_case)
{
    CHECK(has_term("５Ｇ套餐", "5g", KB_TERM_LATIN));
    CHECK(has_term("ＶｏＬＴＥ高清通话", "volte", -1));
    CHECK(has_term("iPhone 15", "iphone", -1));
    CHECK(has_term("iPhone 15", "15", KB_TERM_NUMBER));
    CHECK(has_term("ＡＰＰ登录", "app", -1));
}

TEST(letter_digit_mix_gives_parts)
{
    CHECK(has_term("iPhone15", "iphone15", KB_TERM_LATIN));
    CHECK(has_term("iPhone15", "iphone", KB_TERM_LATIN));
    CHECK(has_term("iPhone15", "15", KB_TERM_NUMBER));
    CHECK(!has_term("5G", "g", -1)); /* a stray letter is noise */
}

TEST(codes_are_joined_and_split)
{
    CHECK(has_term("请拨打4008-123-456", "4008123456", KB_TERM_CODE));
    CHECK(has_term("请拨打4008-123-456", "4008", KB_TERM_NUMBER));
    CHECK(has_term("请拨打4008-123-456", "456", KB_TERM_NUMBER));
    CHECK(has_term("套餐HX-5G-199", "hx5g199", KB_TERM_CODE));
    CHECK(has_term("SM-G9900", "smg9900", KB_TERM_CODE));
    /* A dash between words separated by spaces is not a code. */
    CHECK(!has_term("a - b", "ab", -1));
    CHECK(has_term("拨打10099", "10099", KB_TERM_NUMBER));
}

TEST(terms_never_start_with_capital_ascii)
{
    kb_term_list_clear(&terms);
    const char *t = "VoLTE ÉCOLE Straße İstanbul ＡＢＣ XCategory Qid";
    CHECK(kb_analyze(an, t, strlen(t), &terms) == 0);
    for (size_t i = 0; i < terms.count; i++) CHECK(!(terms.terms[i].text[0] >= 'A' && terms.terms[i].text[0] <= 'Z'));
    CHECK(has_term("Straße", "strasse", -1)); /* case folding, not just lower-casing */
}

TEST(odd_input_never_fails)
{
    const char bad[] = "\xff\xfe\xc3\x28 漫游 \xe4\xb8 \xf0\x9f\x98\x80 emoji \x00 tail";
    kb_term_list_clear(&terms);
    CHECK(kb_analyze(an, bad, sizeof bad - 1, &terms) == 0);
    CHECK(has_term("\xff\xfe漫游", "漫游", -1));
    kb_term_list_clear(&terms);
    CHECK(kb_analyze(an, "", 0, &terms) == 0);
    CHECK(terms.count == 0);
    CHECK(kb_analyze(an, "？！。，、……", strlen("？！。，、……"), &terms) == 0);
    CHECK(terms.count == 0);
}

TEST(long_han_runs_keep_every_bigram)
{
    /* 200 Han characters with no break: every bigram, including across the internal buffer cut. */
    char text[200 * 3 + 1];
    const char *chars[] = {"漫", "游", "开", "通", "办", "理", "资", "费"};
    size_t n = 0;
    for (int i = 0; i < 200; i++) { memcpy(text + n, chars[i % 8], 3); n += 3; }
    text[n] = 0;
    kb_term_list_clear(&terms);
    CHECK(kb_analyze(an, text, n, &terms) == 0);
    size_t bigrams = 0, unigrams = 0;
    for (size_t i = 0; i < terms.count; i++) {
        if (terms.terms[i].kind == KB_TERM_BIGRAM || terms.terms[i].kind == KB_TERM_BIGRAM_CROSS || (terms.terms[i].kind == KB_TERM_WORD && strlen(terms.terms[i].text) == 6)) bigrams++;
        if (terms.terms[i].kind == KB_TERM_UNIGRAM) unigrams++;
    }
    CHECK(unigrams == 200);
    CHECK(bigrams >= 199);
    CHECK(has_term(text, "费漫", -1));
}

TEST(huge_input_is_analyzed_in_pieces)
{
    size_t n = 3 * 1024 * 1024;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3) memcpy(big + i, "漫", 3);
    big[n] = 0;
    kb_term_list_clear(&terms);
    CHECK(kb_analyze(an, big, n, &terms) == 0);
    CHECK(terms.count > n / 3);
    free(big);
}

TEST(whole_texts_and_single_code_points_fold_alike)
{
    char *f = kb_analyzer_fold(an, "出國漫遊ＡＢＣ", strlen("出國漫遊ＡＢＣ"));
    CHECK_STR_EQ(f, "出国漫游abc");
    free(f);
    CHECK(kb_analyzer_fold_codepoint(0x904A) == 0x6E38); /* 遊 → 游 */
    CHECK(kb_analyzer_fold_codepoint(0xFF21) == 'a');    /* Ａ → a */
    CHECK(kb_analyzer_fold_codepoint(0x6F2B) == 0x6F2B); /* 漫 unchanged */
}

/* OpenCC's t2s rule (kb/t2s.c): a phrase of TSPhrases wins over character-by-character
 * conversion, the longest phrase first; characters outside phrases take their first candidate. */
TEST(phrases_convert_as_opencc_does)
{
    const struct {
        const char *in, *out;
    } cases[] = {
        {"這個計畫", "这个计划"},     /* phrase: 計畫 → 计划, not 计画 */
        {"畫畫", "画画"},             /* the same character outside the phrase */
        {"變徵之聲", "变徵之声"},     /* phrase keeps 徵, which alone becomes 征 */
        {"徵收", "征收"},
        {"帳單", "账单"},             /* t2s gives 帐单; the variant fold makes it 账单 */
        {"5G套餐", "5g套餐"},          /* nothing Traditional: unchanged but for case */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = kb_analyzer_fold(an, cases[i].in, strlen(cases[i].in));
        CHECK_STR_EQ(f, cases[i].out);
        free(f);
    }
}

/* Some phrases change characters that the character table leaves alone (瞭 in 瞭解 → 了解,
 * 覆 in 回覆 → 回复, 藉 in 藉由 → 借由), and some characters are or become characters beyond
 * the BMP, which the per-code-point fold table does not hold: each converts the same whether or
 * not the text around it holds another character that converts, so a short question finds the
 * document. */
TEST(a_text_converts_alike_alone_and_next_to_other_traditional_characters)
{
    const struct {
        const char *in, *out;
    } cases[] = {
        {"瞭解", "了解"},     {"我們需要瞭解", "我们需要了解"}, {"回覆", "回复"},
        {"如何回覆", "如何回复"}, {"藉由", "借由"},             {"沈默", "沉默"},
        {"一目瞭然", "一目了然"}, {"瞭望", "瞭望"}, /* a phrase that keeps its characters */
        {"𩀨", "𫕚"},         {"𩀨們", "𫕚们"},         {"䂎", "𥎝"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = kb_analyzer_fold(an, cases[i].in, strlen(cases[i].in));
        CHECK_STR_EQ(f, cases[i].out);
        free(f);
    }
    CHECK(has_term("回覆", "回复", -1));
    CHECK(!has_term("回覆", "回覆", -1));
}

/* The aligned fold (for snippets): one code point out for each code point in, the same as the
 * whole-text fold wherever that keeps the length, phrases included. */
TEST(the_aligned_fold_equals_the_text_fold_and_keeps_every_position)
{
    const char *texts[] = {"這個計畫需要瞭解，請回覆帳單。ＡＢＣ", "我们需要了解计划", "著名的著作",
                           "一目瞭然 Straße"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const char *s = texts[t];
        uint32_t cps[64], out[64];
        size_t n = 0;
        for (int32_t i = 0, len = (int32_t)strlen(s); i < len && n < 64;) {
            UChar32 c;
            U8_NEXT((const uint8_t *)s, i, len, c);
            cps[n++] = (uint32_t)c;
        }
        kb_analyzer_fold_aligned(cps, n, out);
        char got[256];
        size_t g = 0;
        for (size_t i = 0; i < n; i++) {
            UBool err = 0;
            U8_APPEND((uint8_t *)got, g, sizeof got - 1, (UChar32)out[i], err);
            CHECK(!err);
        }
        got[g] = 0;
        char *want = kb_analyzer_fold(an, s, strlen(s));
        if (t == 3) {
            CHECK_STR_EQ(got, "一目了然 straße"); /* ß → ss would grow: kept as one code point */
        } else {
            CHECK_STR_EQ(got, want);
        }
        free(want);
    }
    /* A character beyond the BMP keeps its place; the phrase after it still converts. */
    uint32_t in[] = {0x29028, 0x8A08, 0x756B}, out[3]; /* 𩀨計畫 */
    kb_analyzer_fold_aligned(in, 3, out);
    CHECK(out[0] == 0x29028 && out[1] == 0x8BA1 && out[2] == 0x5212); /* 𩀨计划 */
}

TEST(blank_text_is_nothing_but_spaces_of_any_kind)
{
    /* ASCII blanks, no-break space, en quad .. zero-width space, ideographic space, BOM. */
    CHECK(kb_text_is_blank(NULL) && kb_text_is_blank(""));
    CHECK(kb_text_is_blank(" \t\r\n\v\f"));
    CHECK(kb_text_is_blank("\xc2\xa0\xe2\x80\x80\xe2\x80\x8b\xe3\x80\x80\xef\xbb\xbf"));
    CHECK(!kb_text_is_blank("\xc2\xa0\xe6\xbc\xab")); /* NBSP then 漫 */
    CHECK(!kb_text_is_blank("\xe2\x80\x8c")); /* U+200C joins; not a space */
    CHECK(!kb_text_is_blank("x"));
    CHECK(kb_blank_at("\xe3\x80\x80" "a") == 3 && kb_blank_at("a ") == 0 && kb_blank_at("") == 0);
}

int main(void)
{
    char err[256];
    an = kb_analyzer_new(err, sizeof err);
    if (!an) { printf("FAIL analyzer_new: %s\n", err); return 1; }
    kb_term_list_init(&terms);
    if (getenv("KB_TEST_VERBOSE")) { dump("出國了手機怎麼用？iPhone 15 Pro 5G套餐 4008-123-456"); dump("范廷颂是什么时候被任为主教的？"); }
    RUN(blank_text_is_nothing_but_spaces_of_any_kind);
    RUN(traditional_folds_to_simplified);
    RUN(chinese_text_gives_words_bigrams_and_single_characters);
    RUN(full_width_and_capital_letters_fold_to_plain_lower_case);
    RUN(letter_digit_mix_gives_parts);
    RUN(codes_are_joined_and_split);
    RUN(terms_never_start_with_capital_ascii);
    RUN(odd_input_never_fails);
    RUN(long_han_runs_keep_every_bigram);
    RUN(huge_input_is_analyzed_in_pieces);
    RUN(whole_texts_and_single_code_points_fold_alike);
    RUN(the_aligned_fold_equals_the_text_fold_and_keeps_every_position);
    RUN(phrases_convert_as_opencc_does);
    RUN(a_text_converts_alike_alone_and_next_to_other_traditional_characters);
    kb_term_list_free(&terms);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
