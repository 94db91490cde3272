/*
 * test_snippet.c — the passage an agent reads for a hit (kb/search/snippet.h): the block that
 * answers the question, its matches in <mark>, the document's own text HTML-escaped and in its
 * own script, cut to KB_SNIPPET_MAX_CHARS characters on character boundaries.
 *
 * Queries are written out by hand as kb_query_build makes them (folded, Simplified terms with a
 * weight and an idf), so each test says exactly which terms count for how much.
 */
#include "check.h"
#include "search/snippet.h"

#include <stdlib.h>

/* ---------------------------------------------------------------- building inputs */

#define MAX_TERMS 8
#define MAX_BLOCKS 8

typedef struct {
    kb_query q;
    kb_query_term terms[MAX_TERMS];
} test_query;

/* A query of highlighted terms worth 1 each; add() for other values. */
static void query(test_query *t, const char *const *words, size_t n)
{
    memset(t, 0, sizeof *t);
    t->q.terms = t->terms;
    for (size_t i = 0; i < n && i < MAX_TERMS; i++) {
        t->terms[i].text = (char *)words[i];
        t->terms[i].kind = KB_TERM_WORD;
        t->terms[i].weight = 1;
        t->terms[i].idf = 1;
        t->terms[i].highlight = 1;
        t->q.n_terms++;
    }
}

static kb_query_term *add(test_query *t, const char *word, double idf)
{
    kb_query_term *x = &t->terms[t->q.n_terms++];
    memset(x, 0, sizeof *x);
    x->text = (char *)word;
    x->kind = KB_TERM_WORD;
    x->weight = 1;
    x->idf = idf;
    x->highlight = 1;
    return x;
}

typedef struct {
    kb_document doc;
    kb_section sections[2];
    kb_block blocks[2][MAX_BLOCKS];
} test_doc;

/* A document whose section s (0 or 1, ids "s0"/"s1") holds the given blocks. */
static void blocks(test_doc *d, int s, kb_block_kind kind, const char *const *texts, size_t n)
{
    if (d->doc.n_sections <= (size_t)s) d->doc.n_sections = (size_t)s + 1;
    d->doc.sections = d->sections;
    d->doc.id = "doc";
    d->doc.title = "标题";
    kb_section *sec = &d->sections[s];
    sec->id = s ? "s1" : "s0";
    sec->title = s ? "第二节" : "第一节";
    sec->blocks = d->blocks[s];
    for (size_t i = 0; i < n && sec->n_blocks < MAX_BLOCKS; i++) {
        kb_block *b = &d->blocks[s][sec->n_blocks++];
        b->kind = kind;
        b->text = (char *)texts[i];
        b->line = (int)i + 1;
    }
}

/* The snippet of one paragraph for the query's terms (static buffer). */
static const char *snippet_of(const char *text, test_query *q)
{
    static char out[8192];
    test_doc d;
    memset(&d, 0, sizeof d);
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, &text, 1);
    kb_snippet s;
    if (kb_snippet_best(&d.doc, &q->q, &s) != 0) return "(error)";
    snprintf(out, sizeof out, "%s", s.html);
    kb_snippet_free(&s);
    return out;
}

/* ---------------------------------------------------------------- reading the output */

/* The text a reader sees: tags and the "…" marks of a cut removed (escapes kept). */
static void visible(const char *html, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = html; *p && n + 1 < cap;) {
        if (*p == '<') {
            const char *e = strchr(p, '>');
            p = e ? e + 1 : p + strlen(p);
        } else if (strncmp(p, "…", 3) == 0) {
            p += 3;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with_ellipsis(const char *s)
{
    return strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "…") == 0;
}

static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* 1 when s is well-formed UTF-8. */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0
              : (*p & 0xE0) == 0xC0 ? 1
              : (*p & 0xF0) == 0xE0 ? 2
              : (*p & 0xF8) == 0xF0 ? 3
                                    : -1;
        if (n < 0) return 0;
        for (int k = 1; k <= n; k++)
            if ((p[k] & 0xC0) != 0x80) return 0;
        p += n + 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- choosing the passage */

TEST(the_passage_holding_the_most_informative_terms_is_chosen)
{
    /* 开通 three times is worth less than 漫游 once: the value of a term is weight × idf, counted
     * once per passage. */
    test_query q;
    query(&q, NULL, 0);
    add(&q, "开通", 1.0);
    add(&q, "漫游", 5.0);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *first[] = {"请先开通，开通后再开通一次。"};
    const char *second[] = {"办理须知。", "国际漫游资费按目的地计算。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, first, 1);
    blocks(&d, 1, KB_BLOCK_PARAGRAPH, second, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "国际<mark>漫游</mark>资费按目的地计算。");
    CHECK_STR_EQ(s.section_id, "s1");
    CHECK_STR_EQ(s.section_title, "第二节");
    CHECK(s.score == 5.0);
    kb_snippet_free(&s);
}

TEST(a_passage_answering_more_of_the_question_beats_one_repeating_a_word)
{
    test_query q;
    const char *w[] = {"漫游", "开通"};
    query(&q, w, 2);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"漫游漫游漫游漫游漫游。", "漫游需要先开通。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>漫游</mark>需要先<mark>开通</mark>。");
    CHECK(s.score == 2.0);
    kb_snippet_free(&s);
}

TEST(between_equally_informative_passages_the_one_with_more_matches_wins)
{
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"漫游说明。", "漫游资费与漫游流量。", "再谈漫游。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 3);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>漫游</mark>资费与<mark>漫游</mark>流量。");
    kb_snippet_free(&s);
}

TEST(question_words_count_far_less_than_a_content_word)
{
    test_query q;
    query(&q, NULL, 0);
    kb_query_term *stop = add(&q, "怎么", 5.0);
    stop->stop = 1;
    add(&q, "漫游", 1.0);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"怎么办？怎么说？怎么做？", "国际漫游。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "国际<mark>漫游</mark>。");
    kb_snippet_free(&s);
}

TEST(terms_not_meant_for_highlighting_are_neither_marked_nor_counted)
{
    /* kb_query_build leaves single characters unmarked when words matched. */
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    add(&q, "费", 3.0)->highlight = 0;
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"费用费用费用。", "漫游资费。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>漫游</mark>资费。");
    CHECK(s.score == 1.0);
    kb_snippet_free(&s);
}

TEST(a_table_row_is_a_passage_of_its_own)
{
    test_query q;
    const char *w[] = {"5g", "套餐"};
    query(&q, w, 2);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *intro[] = {"各套餐的月费如下表。"};
    const char *rows[] = {"套餐 | 月费 | 流量", "畅享套餐 | 128元 | 30GB", "5G套餐 | 199元 | 60GB"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, intro, 1);
    blocks(&d, 1, KB_BLOCK_ROW, rows, 3);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>5G套餐</mark> | 199元 | 60GB");
    CHECK_STR_EQ(s.section_id, "s1");
    kb_snippet_free(&s);
}

TEST(text_outside_sections_gives_an_empty_section_id)
{
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"国际漫游。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 1);
    d.sections[0].id = "";
    d.sections[0].title = "";
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "");
    CHECK_STR_EQ(s.section_title, "");
    kb_snippet_free(&s);
}

TEST(a_document_without_text_gives_an_empty_snippet)
{
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    d.doc.id = "empty";
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0); /* no sections at all */
    CHECK_STR_EQ(s.html, "");
    CHECK_STR_EQ(s.section_id, "");
    CHECK(s.score == 0);
    kb_snippet_free(&s);
    const char *b[] = {"", ""};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2); /* only empty blocks */
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "");
    kb_snippet_free(&s);
    /* And a query without terms still shows the text. */
    query(&q, NULL, 0);
    const char *t[] = {"国际漫游。"};
    memset(&d, 0, sizeof d);
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, t, 1);
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "国际漫游。");
    kb_snippet_free(&s);
}

/* ---------------------------------------------------------------- marking */

TEST(every_occurrence_is_marked_and_touching_matches_merge)
{
    test_query q;
    const char *w[] = {"国际", "漫游"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("国际漫游和国际长途，漫游费。", &q),
                 "<mark>国际漫游</mark>和<mark>国际</mark>长途，<mark>漫游</mark>费。");
    const char *o[] = {"游漫"}; /* a match may start inside another word */
    query(&q, o, 1);
    CHECK_STR_EQ(snippet_of("漫游漫游", &q), "漫<mark>游漫</mark>游");
    const char *overlap[] = {"漫游", "游开"}; /* overlapping matches make one mark */
    query(&q, overlap, 2);
    CHECK_STR_EQ(snippet_of("漫游开通", &q), "<mark>漫游开</mark>通");
}

TEST(a_simplified_query_marks_traditional_text_in_its_own_script)
{
    test_query q;
    const char *w[] = {"账单", "漫游"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("帳單查詢與國際漫遊。", &q),
                 "<mark>帳單</mark>查詢與國際<mark>漫遊</mark>。");
}

TEST(full_width_and_capital_letters_are_matched_and_kept_as_written)
{
    test_query q;
    const char *w[] = {"app", "5g"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("登录ＡＰＰ或App开通５Ｇ。", &q),
                 "登录<mark>ＡＰＰ</mark>或<mark>App</mark>开通<mark>５Ｇ</mark>。");
}

TEST(document_text_is_html_escaped_inside_and_outside_the_marks)
{
    test_query q;
    const char *w[] = {"漫游", "a&b"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("<img src=x onerror=\"alert('漫游')\">&amp; A&B", &q),
                 "&lt;img src=x onerror=&quot;alert(&#39;<mark>漫游</mark>&#39;)&quot;&gt;&amp;amp; "
                 "<mark>A&amp;B</mark>");
    const char *none[] = {"无"};
    query(&q, none, 1);
    CHECK_STR_EQ(snippet_of("<script>alert(1)</script>", &q),
                 "&lt;script&gt;alert(1)&lt;/script&gt;");
}

TEST(html_escaping_appends_to_a_growing_buffer)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CHECK(kb_html_escape_append(&buf, &len, &cap, "a<b", 3) == 0);
    CHECK(kb_html_escape_append(&buf, &len, &cap, "&\"'>x", 5) == 0);
    CHECK(kb_html_escape_append(&buf, &len, &cap, "漫游", 6) == 0);
    CHECK(kb_html_escape_append(&buf, &len, &cap, "", 0) == 0);
    CHECK_STR_EQ(buf, "a&lt;b&amp;&quot;&#39;&gt;x漫游");
    CHECK(len == strlen(buf) && cap > len);
    /* Only n bytes are read: what follows is not part of the text. */
    CHECK(kb_html_escape_append(&buf, &len, &cap, "<<<", 1) == 0);
    CHECK_STR_EQ(buf, "a&lt;b&amp;&quot;&#39;&gt;x漫游&lt;");
    free(buf);
    /* The worst case: every byte becomes the longest escape, six bytes. */
    char quotes[1000];
    memset(quotes, '"', sizeof quotes);
    buf = NULL;
    len = cap = 0;
    CHECK(kb_html_escape_append(&buf, &len, &cap, quotes, sizeof quotes) == 0);
    CHECK(len == 6 * sizeof quotes && cap > len && strncmp(buf + len - 6, "&quot;", 6) == 0);
    free(buf);
}

/* ---------------------------------------------------------------- cutting */

TEST(a_passage_of_the_longest_length_is_shown_whole_and_a_longer_one_is_cut)
{
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    char text[KB_SNIPPET_MAX_CHARS * 3 + 8];
    size_t n = 0;
    memcpy(text, "漫游", 6);
    n = 6;
    while (n < (size_t)KB_SNIPPET_MAX_CHARS * 3) {
        memcpy(text + n, "说", 3);
        n += 3;
    }
    text[n] = 0; /* exactly KB_SNIPPET_MAX_CHARS characters */
    const char *s = snippet_of(text, &q);
    CHECK(strstr(s, "…") == NULL);
    char v[8192];
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    memcpy(text + n, "明", 4); /* one more */
    s = snippet_of(text, &q);
    CHECK(starts_with(s, "<mark>漫游</mark>"));
    CHECK(ends_with_ellipsis(s));
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
}

/* 40 sentences "第0句话说明一些事情。" … "第39句话说明一些事情。" in one paragraph. */
static const char *forty_sentences(void)
{
    static char text[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "第%d句话说明一些事情。", i);
    return text;
}

TEST(a_long_passage_is_cut_to_start_at_the_sentence_of_its_first_match)
{
    test_query q;
    const char *w[] = {"第10句"};
    query(&q, w, 1);
    const char *s = snippet_of(forty_sentences(), &q);
    CHECK(starts_with(s, "…<mark>第10句</mark>话说明一些事情。第11句"));
    CHECK(ends_with_ellipsis(s));
    char v[8192];
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    CHECK(strstr(forty_sentences(), v) != NULL); /* a piece of the text, not a rewrite */
}

TEST(a_match_near_the_end_shows_the_last_characters_of_the_passage)
{
    test_query q;
    const char *w[] = {"第38句"};
    query(&q, w, 1);
    const char *s = snippet_of(forty_sentences(), &q);
    CHECK(starts_with(s, "…"));
    CHECK(!ends_with_ellipsis(s));
    CHECK(strstr(s, "<mark>第38句</mark>") != NULL);
    char v[8192];
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    const char *all = forty_sentences();
    CHECK(strcmp(all + strlen(all) - strlen(v), v) == 0);
}

TEST(without_a_sentence_end_nearby_the_cut_starts_just_before_the_match)
{
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(text + n, sizeof text - n, "说");
    n += (size_t)snprintf(text + n, sizeof text - n, "漫游");
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(text + n, sizeof text - n, "明");
    const char *s = snippet_of(text, &q);
    CHECK(starts_with(s, "…说说说说说说说说说说<mark>漫游</mark>明"));
}

TEST(the_cut_window_holds_the_densest_matches)
{
    /* One match early, four close together later: the window goes to the four. */
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "漫游。");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(text + n, sizeof text - n, "说");
    n += (size_t)snprintf(text + n, sizeof text - n, "。漫游一漫游二漫游三漫游四。");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(text + n, sizeof text - n, "明");
    const char *s = snippet_of(text, &q);
    size_t marks = 0;
    for (const char *p = s; (p = strstr(p, "<mark>")); p++) marks++;
    CHECK(marks == 4);
}

TEST(cuts_fall_between_characters_of_every_utf8_length)
{
    /* 1-, 2-, 3- and 4-byte characters around a match in a passage far over the limit. */
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 120; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "a\xc3\xa9\xe8\xaf\xb4\xf0\x9f\x98\x80");
    n += (size_t)snprintf(text + n, sizeof text - n, "漫游");
    for (int i = 0; i < 120; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "\xf0\x9f\x98\x80\xe8\xaf\xb4\xc3\xa9" "b");
    const char *s = snippet_of(text, &q);
    CHECK(valid_utf8(s));
    CHECK(strstr(s, "<mark>漫游</mark>") != NULL);
    char v[8192];
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    CHECK(strstr(text, v) != NULL);
}

TEST(when_nothing_matches_the_first_passage_is_shown_from_its_start)
{
    /* A document found by its title or keywords only: the snippet is the beginning of its text,
     * not a window from somewhere in the middle. */
    test_query q;
    const char *w[] = {"标题里的词"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {forty_sentences(), "第二段。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK(starts_with(s.html, "第0句话说明一些事情。"));
    CHECK(ends_with_ellipsis(s.html));
    char v[8192];
    visible(s.html, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    CHECK(s.score == 0);
    kb_snippet_free(&s);
}

int main(void)
{
    /* The passage fold table (kb_analyzer_fold_table) is built with the first analyzer. */
    char err[256];
    kb_analyzer *an = kb_analyzer_new(err, sizeof err);
    if (!an) {
        printf("FAIL analyzer_new: %s\n", err);
        return 1;
    }
    RUN(the_passage_holding_the_most_informative_terms_is_chosen);
    RUN(a_passage_answering_more_of_the_question_beats_one_repeating_a_word);
    RUN(between_equally_informative_passages_the_one_with_more_matches_wins);
    RUN(question_words_count_far_less_than_a_content_word);
    RUN(terms_not_meant_for_highlighting_are_neither_marked_nor_counted);
    RUN(a_table_row_is_a_passage_of_its_own);
    RUN(text_outside_sections_gives_an_empty_section_id);
    RUN(a_document_without_text_gives_an_empty_snippet);
    RUN(every_occurrence_is_marked_and_touching_matches_merge);
    RUN(a_simplified_query_marks_traditional_text_in_its_own_script);
    RUN(full_width_and_capital_letters_are_matched_and_kept_as_written);
    RUN(document_text_is_html_escaped_inside_and_outside_the_marks);
    RUN(html_escaping_appends_to_a_growing_buffer);
    RUN(a_passage_of_the_longest_length_is_shown_whole_and_a_longer_one_is_cut);
    RUN(a_long_passage_is_cut_to_start_at_the_sentence_of_its_first_match);
    RUN(a_match_near_the_end_shows_the_last_characters_of_the_passage);
    RUN(without_a_sentence_end_nearby_the_cut_starts_just_before_the_match);
    RUN(the_cut_window_holds_the_densest_matches);
    RUN(cuts_fall_between_characters_of_every_utf8_length);
    RUN(when_nothing_matches_the_first_passage_is_shown_from_its_start);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
