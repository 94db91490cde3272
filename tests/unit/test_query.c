/*
 * test_query.c — a question turned into weighted query terms (kb/search/query.h): weights by
 * kind of term, question words kept light, synonyms added, terms too common to help pruned, at
 * most KB_QUERY_MAX_TERMS kept, and any input — empty, punctuation, huge, not UTF-8 — a query.
 *
 * The index is built term by term through the Xapian wrapper, so every document frequency the
 * query sees is known exactly (see build_index).
 */
#include "check.h"
#include "search/passage_types.h"
#include "search/query.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char index_dir[64];
static kb_analyzer *an;
static kbx_reader *reader;

/* Document frequencies of the index: the pruning limits and one step either side of them. */
#define N_DOCS 10001u
static const struct {
    const char *term;
    uint32_t df;
} DF[] = {
    {"套餐", 10001}, /* a word in more than KB_TERM_MAX_POSTINGS (10,000) documents */
    {"资费", 10000}, /* exactly at the limit */
    {"套", 5001},    /* a single character in more than KB_UNIGRAM_MAX_POSTINGS (5,000) */
    {"资", 5000},
    {"漫游", 3},
    {"国际", 40},
    {"XK停机", 2}, /* an editors' keyword: ICU's dictionary does not know 停机 */
};

static int build_index(void)
{
    kbx_writer *w = kbx_writer_open(index_dir);
    if (!w || kbx_writer_status(w) != KBX_OK) {
        printf("  cannot create %s: %s\n", index_dir, w ? kbx_writer_errmsg(w) : "out of memory");
        kbx_writer_close(w);
        return -1;
    }
    int rc = KBX_OK;
    for (uint32_t i = 0; i < N_DOCS && rc == KBX_OK; i++) {
        kbx_doc *d = kbx_doc_new();
        char id[32];
        snprintf(id, sizeof id, "Qdoc%u", i);
        rc = kbx_doc_add_boolean_term(d, id);
        for (size_t k = 0; k < sizeof DF / sizeof DF[0] && rc == KBX_OK; k++)
            if (i < DF[k].df) rc = kbx_doc_add_term(d, DF[k].term, 1);
        if (rc == KBX_OK) rc = kbx_doc_add_term(d, "filler", 1);
        if (rc == KBX_OK) rc = kbx_writer_replace(w, id, d);
        kbx_doc_free(d);
    }
    if (rc == KBX_OK) rc = kbx_writer_commit(w);
    if (rc != KBX_OK) printf("  building the index: %s\n", kbx_writer_errmsg(w));
    kbx_writer_close(w);
    return rc == KBX_OK ? 0 : -1;
}

static int build(const char *text, kb_query *q)
{
    return kb_query_build(an, reader, text, strlen(text), q);
}

static const kb_query_term *find(const kb_query *q, const char *text)
{
    for (size_t i = 0; i < q->n_terms; i++)
        if (strcmp(q->terms[i].text, text) == 0) return &q->terms[i];
    return NULL;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

static double idf(uint32_t df) { return log((N_DOCS + 1.0) / (df + 0.5)); }

/* 1 when s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n = c < 0x80 ? 0
                             : (c & 0xE0) == 0xC0 ? 1
                             : (c & 0xF0) == 0xE0 ? 2
                             : (c & 0xF8) == 0xF0 ? 3
                                                  : 9;
        if (n == 9 || (n == 1 && c < 0xC2)) return 0;
        uint32_t cp = n ? c & (0x3F >> n) : c;
        for (unsigned k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[k] & 0x3F);
        }
        if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) return 0;
        if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
        p += n + 1;
    }
    return 1;
}

TEST(each_kind_of_term_has_its_weight)
{
    kb_query q;
    CHECK(build("范廷颂是什么时候被任为主教的 iPhone 15 请拨打4008-123-456", &q) == 0);
    const kb_query_term *t;
    CHECK((t = find(&q, "主教")) && t->kind == KB_TERM_WORD && near(t->weight, 1.0));
    CHECK((t = find(&q, "范廷")) && t->kind == KB_TERM_BIGRAM && near(t->weight, 1.0));
    CHECK((t = find(&q, "为主")) && t->kind == KB_TERM_BIGRAM_CROSS && near(t->weight, 0.6));
    CHECK((t = find(&q, "范")) && t->kind == KB_TERM_UNIGRAM && near(t->weight, 0.5));
    CHECK((t = find(&q, "iphone")) && t->kind == KB_TERM_LATIN && near(t->weight, 1.0));
    CHECK((t = find(&q, "15")) && t->kind == KB_TERM_NUMBER && near(t->weight, 0.8));
    CHECK((t = find(&q, "4008123456")) && t->kind == KB_TERM_CODE && near(t->weight, 1.2));
    kb_query_free(&q);
}

TEST(the_question_is_kept_folded_with_what_it_asks_and_which_terms_are_glue_or_question_words)
{
    /* What passage choice reads (snippet.h), worked out once per search. */
    kb_query q;
    CHECK(build("東關街有多長？盾柱木的原產地", &q) == 0);
    CHECK_STR_EQ(q.folded, "东关街有多长?盾柱木的原产地"); /* NFKC: ？ is ? */
    CHECK(q.asks & KB_KIND_MEASURE);
    const kb_query_term *t;
    CHECK((t = find(&q, "多长")) && t->question_word && !t->glue);
    CHECK((t = find(&q, "木的")) && t->glue && !t->question_word);
    CHECK((t = find(&q, "原产")) && !t->glue && !t->question_word);
    kb_query_free(&q);
}

TEST(question_and_function_words_weigh_a_fifth_and_do_not_count_as_content)
{
    kb_query q;
    CHECK(build("范廷颂是什么时候被任为主教的", &q) == 0);
    const kb_query_term *t;
    CHECK((t = find(&q, "什么时候")) && t->stop && near(t->weight, 0.2)); /* a word: 1.0 × 0.2 */
    CHECK((t = find(&q, "的")) && t->stop && near(t->weight, 0.1)); /* a character: 0.5 × 0.2 */
    CHECK((t = find(&q, "主教")) && !t->stop);
    /* info_mass: weight × idf of the terms that are neither stop words nor expansions. */
    double mass = 0;
    for (size_t i = 0; i < q.n_terms; i++)
        if (!q.terms[i].stop && !q.terms[i].expansion) mass += q.terms[i].weight * q.terms[i].idf;
    CHECK(near(q.info_mass, mass));
    kb_query_free(&q);
    /* A stop word added after a break changes nothing the question is about. */
    kb_query a, b;
    CHECK(build("漫游", &a) == 0 && build("漫游 吗", &b) == 0);
    CHECK(near(a.info_mass, b.info_mass));
    CHECK(b.n_terms == a.n_terms + 1 && find(&b, "吗") && find(&b, "吗")->stop);
    kb_query_free(&a);
    kb_query_free(&b);
}

TEST(stop_words_are_the_folded_question_and_function_words)
{
    const char *stop[] = {"什么", "怎么", "如何", "吗", "的", "为什么", "怎么办", "请问", "是否"};
    const char *not_stop[] = {"漫游", "", "什", "什麼" /* Traditional: fold first */, "套餐", "what"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++) CHECK(kb_query_is_stopword(stop[i]));
    for (size_t i = 0; i < sizeof not_stop / sizeof not_stop[0]; i++)
        CHECK(!kb_query_is_stopword(not_stop[i]));
}

TEST(each_term_appears_once_with_the_highest_weight_it_earned)
{
    kb_query q;
    /* 游开 straddles a word's edge in the first part (0.6) and is a plain bigram in the second. */
    CHECK(build("国际漫游开通办理 游开 漫游漫游", &q) == 0);
    size_t n = 0;
    for (size_t i = 0; i < q.n_terms; i++) n += strcmp(q.terms[i].text, "游开") == 0;
    CHECK(n == 1);
    const kb_query_term *t = find(&q, "游开");
    CHECK(t && near(t->weight, 1.0) && t->kind == KB_TERM_BIGRAM);
    n = 0;
    for (size_t i = 0; i < q.n_terms; i++) n += strcmp(q.terms[i].text, "漫游") == 0;
    CHECK(n == 1);
    kb_query_free(&q);
}

TEST(idf_comes_from_the_index_and_never_reaches_zero)
{
    kb_query q;
    CHECK(build("国际漫游资费", &q) == 0);
    CHECK(q.doccount == N_DOCS);
    const kb_query_term *t;
    CHECK((t = find(&q, "漫游")) && t->df == 3 && near(t->idf, idf(3)));
    CHECK((t = find(&q, "国际")) && t->df == 40 && near(t->idf, idf(40)));
    CHECK((t = find(&q, "际漫")) && t->df == 0 && near(t->idf, idf(0))); /* in no document */
    /* 资费 is in all but one document: log(10002 / 10000.5) is below the floor of 0.01. */
    CHECK((t = find(&q, "资费")) && t->df == 10000 && near(t->idf, 0.01));
    kb_query_free(&q);
}

TEST(terms_in_too_many_documents_are_dropped_when_something_rarer_is_left)
{
    kb_query q;
    CHECK(build("套餐资费漫游", &q) == 0);
    CHECK(find(&q, "漫游") != NULL);
    CHECK(find(&q, "套餐") == NULL); /* a word in 10,001 of 10,001 documents */
    CHECK(find(&q, "资费") != NULL); /* in 10,000: at the limit, kept */
    CHECK(find(&q, "套") == NULL);   /* a single character in 5,001 */
    CHECK(find(&q, "资") != NULL);   /* in 5,000: kept */
    CHECK(find(&q, "餐") != NULL);   /* in none */
    kb_query_free(&q);
}

TEST(a_question_of_common_single_characters_only_keeps_them)
{
    /* Nothing more informative is left, so nothing is pruned: the agent still gets results. */
    kb_query q;
    CHECK(build("套", &q) == 0);
    const kb_query_term *t = find(&q, "套");
    CHECK(q.n_terms == 1 && t && t->df == 5001);
    CHECK(t && t->highlight); /* and it is what the snippet marks */
    kb_query_free(&q);
}

TEST(snippets_mark_content_terms_and_fall_back_to_characters_and_question_words)
{
    kb_query q;
    CHECK(build("漫游吗", &q) == 0);
    const kb_query_term *t;
    CHECK((t = find(&q, "漫游")) && t->highlight);
    CHECK((t = find(&q, "漫")) && !t->highlight);
    CHECK((t = find(&q, "吗")) && !t->highlight);
    kb_query_free(&q);
    /* Only a question word and characters: they are all there is to mark. */
    CHECK(build("什么", &q) == 0);
    CHECK(q.n_terms > 0);
    for (size_t i = 0; i < q.n_terms; i++) CHECK(q.terms[i].highlight);
    kb_query_free(&q);
}

TEST(a_service_word_brings_its_synonyms_at_a_lower_weight)
{
    kb_query q;
    CHECK(build("怎么更换套餐", &q) == 0);
    const char *syn[] = {"更改", "变更", "修改"};
    for (size_t i = 0; i < 3; i++) {
        const kb_query_term *t = find(&q, syn[i]);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK(t->expansion && t->origin && strcmp(t->origin, "更换") == 0);
        CHECK(t->kind == KB_TERM_WORD && near(t->weight, 0.7));
        CHECK(!t->stop && t->highlight); /* a document saying 变更 gets it marked */
    }
    const kb_query_term *typed = find(&q, "更换");
    CHECK(typed && !typed->expansion && typed->origin == NULL);
    /* Expansions do not count toward what the question is about. */
    double mass = 0;
    for (size_t i = 0; i < q.n_terms; i++)
        if (!q.terms[i].stop && !q.terms[i].expansion) mass += q.terms[i].weight * q.terms[i].idf;
    CHECK(near(q.info_mass, mass));
    kb_query_free(&q);
}

TEST(synonyms_are_found_for_traditional_words_and_never_duplicate_a_typed_one)
{
    kb_query q;
    CHECK(build("更換 变更", &q) == 0);
    const kb_query_term *t;
    CHECK((t = find(&q, "变更")) && !t->expansion && near(t->weight, 1.0)); /* typed: full weight */
    CHECK((t = find(&q, "更改")) && t->expansion && t->origin && strcmp(t->origin, "更换") == 0);
    size_t n = 0;
    for (size_t i = 0; i < q.n_terms; i++)
        n += strcmp(q.terms[i].text, "变更") == 0 || strcmp(q.terms[i].text, "修改") == 0;
    CHECK(n == 2);
    kb_query_free(&q);
}

TEST(empty_blank_and_punctuation_only_questions_give_an_empty_query)
{
    const char *empty[] = {"", "   ", "？！。，、……", "\t\r\n", "!!!???...", "——《》【】"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        kb_query q;
        CHECK(build(empty[i], &q) == 0);
        CHECK(q.n_terms == 0 && q.info_mass == 0 && q.doccount == N_DOCS);
        kb_query_free(&q);
    }
}

TEST(invalid_utf8_is_skipped_and_every_term_is_valid_utf8)
{
    const char bad[] = "\xff\xfe漫游\xc3\x28开通\xe4\xb8\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf国际\x00尾";
    kb_query q;
    CHECK(kb_query_build(an, reader, bad, sizeof bad - 1, &q) == 0);
    CHECK(find(&q, "漫游") && find(&q, "开通") && find(&q, "国际"));
    for (size_t i = 0; i < q.n_terms; i++) {
        if (!valid_utf8(q.terms[i].text)) {
            printf("  term %zu is not UTF-8\n", i);
            check_current_failed = 1;
        }
    }
    kb_query_free(&q);
}

TEST(a_huge_question_keeps_at_most_the_48_most_informative_terms_in_that_order)
{
    /* 1 MB of varied Chinese with a product code once in the middle: a code (1.2) in no
     * document has the highest weight × idf a term can have, so it is kept. */
    const char *chars[] = {"办", "理", "开", "通", "业", "务", "手", "机", "流", "量",
                           "充", "值", "话", "费", "查", "询", "宽", "带", "故", "障"};
    size_t n = 0, cap = 1 << 20;
    char *text = malloc(cap + 16);
    for (unsigned i = 0; n + 3 <= cap; i = i * 7 + 3) {
        memcpy(text + n, chars[i % 20], 3);
        n += 3;
        if (n == 3 * 150000) {
            memcpy(text + n, " SM-G9900 ", 10);
            n += 10;
        }
    }
    text[n] = 0;
    kb_query q;
    CHECK(kb_query_build(an, reader, text, n, &q) == 0);
    CHECK(q.n_terms == KB_QUERY_MAX_TERMS);
    CHECK(find(&q, "smg9900") != NULL);
    /* Most informative first: weight × idf, stop words at a tenth. */
    for (size_t i = 1; i < q.n_terms; i++) {
        const kb_query_term *a = &q.terms[i - 1], *b = &q.terms[i];
        CHECK(a->weight * a->idf * (a->stop ? 0.1 : 1) >= b->weight * b->idf * (b->stop ? 0.1 : 1));
    }
    kb_query_free(&q);
    free(text);
}

/* 47 characters that are neither question words nor in the test index, apart (so that each is
 * a single-character term and nothing else): 0.5 × idf(0) each. */
#define SPACED_47 "办 理 开 通 业 务 手 机 流 量 充 值 话 费 查 询 宽 带 故 障 信 用 卡 挂 失 密 码 " \
                  "重 置 发 票 邮 寄 积 分 兑 换 变 更 携 号 转 网 停 保 实 名 "

TEST(a_long_question_keeps_a_word_before_single_characters)
{
    /* 47 + 漫, 游 and 漫游 (a word in 3 documents, 1.0 × idf(3) beats 0.5 × idf(0)). */
    kb_query q;
    CHECK(build(SPACED_47 "漫游", &q) == 0);
    CHECK(q.n_terms == KB_QUERY_MAX_TERMS);
    CHECK(find(&q, "漫游") != NULL);
    kb_query_free(&q);
}

TEST(a_long_question_drops_a_question_word_before_even_a_common_character)
{
    /* 47 + 资 (in 5,000 of 10,001 documents: 0.5 × 0.69) + 吗 (0.1 × idf(0) = 0.99, counted at a
     * tenth when choosing): one must go, and it is 吗. */
    kb_query q;
    CHECK(build(SPACED_47 "资 吗", &q) == 0);
    CHECK(q.n_terms == KB_QUERY_MAX_TERMS);
    CHECK(find(&q, "资") != NULL);
    CHECK(find(&q, "吗") == NULL);
    kb_query_free(&q);
}

TEST(freeing_a_query_leaves_it_empty_and_freeing_twice_is_harmless)
{
    kb_query q;
    CHECK(build("更换套餐", &q) == 0);
    kb_query_free(&q);
    CHECK(q.terms == NULL && q.n_terms == 0 && q.info_mass == 0);
    kb_query_free(&q);
}

TEST(a_bigram_across_a_word_edge_weighs_less_when_it_glues_a_function_word_on)
{
    kb_query q;
    CHECK(build("范廷颂是什么时候被任为主教的", &q) == 0);
    const kb_query_term *t;
    /* 教的 and 候被: the word's last character and a function word after it. */
    CHECK((t = find(&q, "教的")) && t->kind == KB_TERM_BIGRAM_CROSS && near(t->weight, 0.6 * 0.4));
    CHECK((t = find(&q, "候被")) && t->kind == KB_TERM_BIGRAM_CROSS && near(t->weight, 0.6 * 0.4));
    CHECK((t = find(&q, "为主")) && near(t->weight, 0.6)); /* no function word: unchanged */
    kb_query_free(&q);
}

TEST(an_editors_keyword_is_a_word_so_the_bigrams_around_it_straddle_its_edge)
{
    /* ICU leaves 要停机 as three one-character segments: without the keyword, 要停 and 机了
     * are in-word bigrams as strong as 停机 itself. */
    kb_query q;
    CHECK(build("客户要停机了", &q) == 0);
    const kb_query_term *t;
    CHECK((t = find(&q, "停机")) && t->kind == KB_TERM_BIGRAM && near(t->weight, 1.0));
    CHECK((t = find(&q, "要停")) && t->kind == KB_TERM_BIGRAM_CROSS && near(t->weight, 0.6 * 0.4));
    CHECK((t = find(&q, "机了")) && t->kind == KB_TERM_BIGRAM_CROSS && near(t->weight, 0.6 * 0.4));
    kb_query_free(&q);
    /* Not a keyword: the same shape stays in-word. */
    CHECK(build("客户要销卡了", &q) == 0);
    CHECK((t = find(&q, "要销")) && t->kind == KB_TERM_BIGRAM && near(t->weight, 1.0));
    kb_query_free(&q);
}

int main(void)
{
    snprintf(index_dir, sizeof index_dir, "/tmp/kb-test-query-%d", (int)getpid());
    char err[256];
    an = kb_analyzer_new(err, sizeof err);
    if (!an) {
        printf("FAIL analyzer_new: %s\n", err);
        return 1;
    }
    if (build_index() != 0 || !(reader = kbx_reader_open(index_dir)) ||
        kbx_reader_status(reader) != KBX_OK) {
        printf("FAIL building the test index in %s\n", index_dir);
        return 1;
    }
    RUN(each_kind_of_term_has_its_weight);
    RUN(the_question_is_kept_folded_with_what_it_asks_and_which_terms_are_glue_or_question_words);
    RUN(question_and_function_words_weigh_a_fifth_and_do_not_count_as_content);
    RUN(a_bigram_across_a_word_edge_weighs_less_when_it_glues_a_function_word_on);
    RUN(an_editors_keyword_is_a_word_so_the_bigrams_around_it_straddle_its_edge);
    RUN(stop_words_are_the_folded_question_and_function_words);
    RUN(each_term_appears_once_with_the_highest_weight_it_earned);
    RUN(idf_comes_from_the_index_and_never_reaches_zero);
    RUN(terms_in_too_many_documents_are_dropped_when_something_rarer_is_left);
    RUN(a_question_of_common_single_characters_only_keeps_them);
    RUN(snippets_mark_content_terms_and_fall_back_to_characters_and_question_words);
    RUN(a_service_word_brings_its_synonyms_at_a_lower_weight);
    RUN(synonyms_are_found_for_traditional_words_and_never_duplicate_a_typed_one);
    RUN(empty_blank_and_punctuation_only_questions_give_an_empty_query);
    RUN(invalid_utf8_is_skipped_and_every_term_is_valid_utf8);
    RUN(a_huge_question_keeps_at_most_the_48_most_informative_terms_in_that_order);
    RUN(a_long_question_keeps_a_word_before_single_characters);
    RUN(a_long_question_drops_a_question_word_before_even_a_common_character);
    RUN(freeing_a_query_leaves_it_empty_and_freeing_twice_is_harmless);
    kbx_reader_close(reader);
    kb_analyzer_free(an);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", index_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", index_dir);
    CHECK_MAIN_END();
}
