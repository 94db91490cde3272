/*
 * test_synonyms.c — the groups of interchangeable service words (kb/analysis/synonyms.h):
 * lookup in every direction, unknown words, and the rules every group must keep (synonyms.c's
 * header comment) checked over the whole list.
 */
#include "check.h"
#include "analysis/synonyms.h"
#include "kb/analyzer.h"
#include "search/query.h"

#include <stdlib.h>

/* The list itself, to check its rules on every group: synonyms.c compiled a second time with
 * its function renamed, so only its static GROUPS table is used from this copy and every
 * lookup below goes through the library's kb_synonyms_of. */
#define kb_synonyms_of list_copy_of_synonyms_of
size_t list_copy_of_synonyms_of(const char *term, const char *out[KB_SYNONYMS_MAX]);
#include "analysis/synonyms.c"
#undef kb_synonyms_of

#define ROW_CAP (sizeof GROUPS[0] / sizeof GROUPS[0][0])

static kb_analyzer *an;

static size_t group_size(size_t g)
{
    size_t n = 0;
    while (n < ROW_CAP && GROUPS[g][n]) n++;
    return n;
}

/* 1 when list[0..n) holds word. */
static int holds(const char *const *list, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], word) == 0) return 1;
    return 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

TEST(a_word_finds_the_other_words_of_its_group)
{
    const char *out[KB_SYNONYMS_MAX];
    size_t n = kb_synonyms_of("更换", out);
    CHECK(n == 3);
    CHECK(holds(out, n, "更改") && holds(out, n, "变更") && holds(out, n, "修改"));
    CHECK(!holds(out, n, "更换")); /* never itself */
    n = kb_synonyms_of("宽带", out);
    CHECK(n == 1 && strcmp(out[0], "宽频") == 0);
}

TEST(lookup_works_from_every_member_not_only_the_first)
{
    const char *out[KB_SYNONYMS_MAX];
    size_t n = kb_synonyms_of("修改", out); /* the last of its group */
    CHECK(n == 3);
    CHECK(holds(out, n, "更换") && holds(out, n, "更改") && holds(out, n, "变更"));
    n = kb_synonyms_of("宽频", out); /* Hong Kong's word finds the mainland's */
    CHECK(n == 1 && strcmp(out[0], "宽带") == 0);
    n = kb_synonyms_of("借钱", out);
    CHECK(holds(out, n, "贷款") && holds(out, n, "借款") && holds(out, n, "借贷"));
}

TEST(words_in_no_group_have_no_synonyms)
{
    const char *out[KB_SYNONYMS_MAX];
    const char *unknown[] = {"", "漫游", "更", "换", "更换套餐", "换更", "国际漫游", "hello",
                             "更換" /* Traditional: the analyzer folds it to 更换 first */};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        CHECK(kb_synonyms_of(unknown[i], out) == 0);
}

TEST(every_member_of_every_group_finds_exactly_the_others)
{
    CHECK(N_GROUPS > 0);
    for (size_t g = 0; g < N_GROUPS; g++) {
        size_t size = group_size(g);
        for (size_t m = 0; m < size; m++) {
            const char *out[KB_SYNONYMS_MAX];
            size_t n = kb_synonyms_of(GROUPS[g][m], out);
            int same = n == size - 1 && !holds(out, n, GROUPS[g][m]);
            for (size_t o = 0; o < size && same; o++)
                if (o != m && !holds(out, n, GROUPS[g][o])) same = 0;
            if (!same) {
                printf("  %s: %zu synonyms found, its group has %zu other members\n",
                       GROUPS[g][m], n, size - 1);
                check_current_failed = 1;
            }
        }
    }
}

TEST(every_group_has_two_members_or_more_and_ends_with_null_within_its_row)
{
    /* A row of the table has ROW_CAP slots and the lookup stops at NULL: a group filling every
     * slot would run into the next one. Every other member must fit KB_SYNONYMS_MAX. */
    for (size_t g = 0; g < N_GROUPS; g++) {
        size_t size = group_size(g);
        if (size < 2 || size >= ROW_CAP || size - 1 > KB_SYNONYMS_MAX) {
            printf("  group %zu (%s …) has %zu members\n", g, GROUPS[g][0] ? GROUPS[g][0] : "",
                   size);
            check_current_failed = 1;
        }
    }
}

TEST(no_word_belongs_to_two_groups)
{
    /* The lookup stops at the first group holding the word: a second group would be ignored. */
    for (size_t g = 0; g < N_GROUPS; g++)
        for (size_t m = 0; GROUPS[g][m]; m++)
            for (size_t h = g; h < N_GROUPS; h++)
                for (size_t k = h == g ? m + 1 : 0; GROUPS[h][k]; k++)
                    if (strcmp(GROUPS[g][m], GROUPS[h][k]) == 0) {
                        printf("  %s is in group %zu and group %zu\n", GROUPS[g][m], g, h);
                        check_current_failed = 1;
                    }
}

TEST(every_member_is_a_simplified_word_of_two_or_more_characters)
{
    for (size_t g = 0; g < N_GROUPS; g++)
        for (size_t m = 0; GROUPS[g][m]; m++) {
            const char *w = GROUPS[g][m];
            char *folded = kb_analyzer_fold(an, w, strlen(w));
            if (utf8_chars(w) < 2 || !folded || strcmp(folded, w) != 0) {
                printf("  %s: %zu characters, folds to %s\n", w, utf8_chars(w),
                       folded ? folded : "(null)");
                check_current_failed = 1;
            }
            free(folded);
        }
}

TEST(no_member_is_a_question_or_function_word)
{
    for (size_t g = 0; g < N_GROUPS; g++)
        for (size_t m = 0; GROUPS[g][m]; m++)
            if (kb_query_is_stopword(GROUPS[g][m])) {
                printf("  %s is a stop word (kb/search/query.c)\n", GROUPS[g][m]);
                check_current_failed = 1;
            }
}

/* Members the analyzer never makes a term of: ICU's dictionary splits them (手机号码 gives 手机
 * and 号码), so expansion can neither start from them nor find them in a document, and the
 * groups made only of such words do nothing. Listed so that the gap is visible and cannot grow:
 * a new member must be a term of its own text, and a member that becomes one leaves this list. */
static const char *const NOT_A_TERM[] = {
    "手机号", "手机号码", "电话号码", "储蓄卡", "借记卡", "不成功", "没成功", "对账单",
    "验证码", "校验码", "动态码", "营业厅", "携号转网", "人工客服", "人工服务",
};

TEST(every_member_typed_alone_is_a_term_the_analyzer_makes_but_the_known_compounds)
{
    /* Expansion looks the query's terms up, and an added synonym is searched as a term: a
     * member the analyzer never produces could neither start an expansion nor match a
     * document. */
    size_t n_known = sizeof NOT_A_TERM / sizeof NOT_A_TERM[0];
    kb_term_list terms;
    kb_term_list_init(&terms);
    for (size_t g = 0; g < N_GROUPS; g++)
        for (size_t m = 0; GROUPS[g][m]; m++) {
            const char *w = GROUPS[g][m];
            kb_term_list_clear(&terms);
            int found = 0;
            if (kb_analyze(an, w, strlen(w), &terms) == 0)
                for (size_t i = 0; i < terms.count; i++)
                    found |= strcmp(terms.terms[i].text, w) == 0;
            if (found == holds(NOT_A_TERM, n_known, w)) {
                printf("  %s %s a term of its own text:", w, found ? "is now" : "is not");
                for (size_t i = 0; i < terms.count; i++) printf(" %s", terms.terms[i].text);
                printf("\n");
                check_current_failed = 1;
            }
        }
    kb_term_list_free(&terms);
    for (size_t k = 0; k < n_known; k++) {
        const char *out[KB_SYNONYMS_MAX];
        if (kb_synonyms_of(NOT_A_TERM[k], out) == 0) {
            printf("  %s is in no group any more: take it off NOT_A_TERM\n", NOT_A_TERM[k]);
            check_current_failed = 1;
        }
    }
}

int main(void)
{
    char err[256];
    an = kb_analyzer_new(err, sizeof err);
    if (!an) {
        printf("FAIL analyzer_new: %s\n", err);
        return 1;
    }
    RUN(a_word_finds_the_other_words_of_its_group);
    RUN(lookup_works_from_every_member_not_only_the_first);
    RUN(words_in_no_group_have_no_synonyms);
    RUN(every_member_of_every_group_finds_exactly_the_others);
    RUN(every_group_has_two_members_or_more_and_ends_with_null_within_its_row);
    RUN(no_word_belongs_to_two_groups);
    RUN(every_member_is_a_simplified_word_of_two_or_more_characters);
    RUN(no_member_is_a_question_or_function_word);
    RUN(every_member_typed_alone_is_a_term_the_analyzer_makes_but_the_known_compounds);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
