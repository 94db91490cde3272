/*
 * test_snippet.c — the passage an agent reads for a hit (kb/search/snippet.h): the sentence or
 * table row that answers the question (by its terms, by the kind of answer asked for, under its
 * table's header), its matches in <mark>, the document's own text HTML-escaped and in its own
 * script, cut to KB_SNIPPET_MAX_CHARS characters on character boundaries, from the start of a
 * sentence.
 *
 * Queries are written out by hand as kb_query_build makes them (folded, Simplified terms with a
 * weight and an idf, and the folded question that says what kind of answer is asked for), so
 * each test says exactly which terms count for how much.
 */
#include "check.h"
#include "search/passage_types.h"
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

/* The question as kb_query_build folds it (what passage_types.h reads the kind of answer from). */
static void asking(test_query *t, const char *folded_question)
{
    t->q.folded = (char *)folded_question;
    t->q.asks = kb_passage_asks(folded_question);
}

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

/* 1 when the visible text of html is a piece of `all` that begins at the start of a sentence
 * of it (at its start, or right after 。 ！ ？ ； or a closing quote). */
static int starts_at_sentence(const char *all, const char *html)
{
    char v[8192];
    visible(html, v, sizeof v);
    const char *at = strstr(all, v);
    if (!at) return 0;
    if (at == all) return 1;
    static const char *const ends[] = {"。", "！", "？", "；", "”", "」"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t l = strlen(ends[i]);
        if ((size_t)(at - all) >= l && strncmp(at - l, ends[i], l) == 0) return 1;
    }
    return 0;
}

/* 1 when the visible text of html contains `piece`. */
static int shows(const char *html, const char *piece)
{
    char v[8192];
    visible(html, v, sizeof v);
    return strstr(v, piece) != NULL;
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

TEST(repeating_a_word_does_not_make_a_sentence_better_and_the_section_fills_the_window)
{
    /* Each sentence holds 漫游 once or twice: the same term, so the first one is shown, and the
     * paragraphs after it in its section fill the rest of the window, joined by " · ". */
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"漫游说明。", "漫游资费与漫游流量。", "再谈漫游。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 3);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>漫游</mark>说明。 · <mark>漫游</mark>资费与<mark>漫游</mark>流量。 · "
                         "再谈<mark>漫游</mark>。");
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

TEST(a_table_row_is_a_passage_of_its_own_shown_under_its_header)
{
    /* A table written without <th> (or indexed before header rows were kept): its first row
     * reads as labels over the rows below (short cells, no figures), so it is taken as the
     * header, and the row that answers shows each cell under its label. */
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
    CHECK_STR_EQ(s.html, "<mark>套餐</mark>: <mark>5G套餐</mark> | 月费: 199元 | 流量: 60GB");
    CHECK_STR_EQ(s.section_id, "s1");
    kb_snippet_free(&s);
    /* A first row with figures is data, not labels: no header is taken, rows show as written. */
    const char *data[] = {"畅享套餐 | 128元 | 30GB", "5G套餐 | 199元 | 60GB", "基础套餐 | 58元 | 10GB"};
    memset(&d, 0, sizeof d);
    blocks(&d, 0, KB_BLOCK_ROW, data, 3);
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "<mark>5G套餐</mark> | 199元 | 60GB");
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

/* ---------------------------------------------------------------- what is asked */

/* The candidate sentences, each after a filler sentence of 90 characters, so that a window of
 * KB_SNIPPET_MAX_CHARS shows at most one of them. */
static const char *spaced(const char *const *sentences, size_t n)
{
    static char text[8192];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 89; k++) used += (size_t)snprintf(text + used, sizeof text - used, "述");
        used += (size_t)snprintf(text + used, sizeof text - used, "。%s", sentences[i]);
    }
    return text;
}

TEST(the_sentence_holding_the_kind_of_answer_asked_for_is_chosen_and_the_window_starts_at_a_sentence)
{
    /* Both sentences hold 漫游 and 生效; only one holds a duration, which 多久 asks for. */
    test_query q;
    const char *w[] = {"漫游", "生效"};
    query(&q, w, 2);
    const char *candidates[] = {"漫游申请生效后即可使用。", "漫游开通后一般在2小时内生效。"};
    const char *text = spaced(candidates, 2);
    asking(&q, "漫游多久生效");
    const char *s = snippet_of(text, &q);
    CHECK(shows(s, "开通后一般在2小时内") && !shows(s, "申请"));
    CHECK(starts_at_sentence(text, s));
    /* Without the question word, the first sentence holding both terms is shown. */
    asking(&q, "漫游生效");
    s = snippet_of(text, &q);
    CHECK(shows(s, "申请") && !shows(s, "2小时内"));
    CHECK(starts_at_sentence(text, s));
}

TEST(question_words_point_at_numbers_dates_places_lists_and_steps)
{
    test_query q;
    const char *w[] = {"补卡"};
    query(&q, w, 1);
    const char *candidates[] = {"补卡相关规定以公告为准。", "补卡工本费为10元。", "补卡可在营业厅或网上营业厅办理。",
                                "补卡须提供身份证、户口簿、原卡。", "补卡于每周一至周五受理。",
                                "补卡时先登录APP，然后点击补卡申请。"};
    const char *text = spaced(candidates, 6);
    struct {
        const char *question, *want;
    } cases[] = {
        {"补卡多少钱", "工本费"},
        {"补卡在哪里办", "营业厅或网上营业厅"},
        {"补卡要带什么", "身份证、户口簿"},
        {"补卡什么时候受理", "每周一至周五"},
        {"补卡怎么办理", "先登录APP"},
        {"补卡几多钱", "工本费"},    /* Cantonese 補卡幾多錢, as kb_query_build folds it */
        {"补卡喺边度办", "营业厅或网上营业厅"}, /* 喺邊度 */
        {"补卡", "相关规定"},          /* no question word: the first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asking(&q, cases[i].question);
        const char *s = snippet_of(text, &q);
        if (!shows(s, cases[i].want) || !starts_at_sentence(text, s)) {
            printf("  %s: got %s\n", cases[i].question, s);
            check_current_failed = 1;
        }
    }
}

TEST(steps_are_preferred_to_the_script_unless_the_question_asks_what_to_say)
{
    test_query q;
    const char *w[] = {"开通", "漫游"};
    query(&q, w, 2);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *steps[] = {"发送短信KTMY到10099开通漫游。", "在APP中开通漫游。"};
    const char *script[] = {"“您的号码已经开通国际漫游，到了当地开机就能用。”"};
    blocks(&d, 0, KB_BLOCK_ITEM, steps, 2);
    blocks(&d, 1, KB_BLOCK_PARAGRAPH, script, 1);
    d.sections[1].title = "参考话术";
    kb_snippet s;
    asking(&q, "国际漫游怎么开通");
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "s0");
    CHECK(starts_with(s.html, "发送短信KTMY到10099<mark>开通漫游</mark>。 · 在APP中"));
    kb_snippet_free(&s);
    asking(&q, "开通漫游后跟客户怎么说");
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "s1");
    kb_snippet_free(&s);
    /* A quoted line is a script line even in a section that does not say so. */
    d.sections[1].title = "说明";
    asking(&q, "国际漫游怎么开通");
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "s0");
    kb_snippet_free(&s);
}

/* ---------------------------------------------------------------- tables */

TEST(a_row_is_shown_under_its_header_and_chosen_with_its_header_and_section_title)
{
    /* 三个月定期利率多少: 三个月 is only in the row (as 3个月), 利率 only in the header and the
     * section title. */
    test_query q;
    const char *w[] = {"三个月", "定期", "利率"};
    query(&q, w, 3);
    asking(&q, "三个月定期利率多少");
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *intro[] = {"利率以存入当日挂牌利率为准，定期存款提前支取按活期计息。"};
    const char *head[] = {"存期 | 年利率"};
    const char *rows[] = {"活期 | 0.10%", "3个月 | 0.80%", "1年 | 1.10%"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, intro, 1);
    blocks(&d, 1, KB_BLOCK_HEADER, head, 1);
    blocks(&d, 1, KB_BLOCK_ROW, rows, 3);
    d.sections[1].title = "定期存款利率";
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "存期: <mark>3个月</mark> | 年<mark>利率</mark>: 0.80%");
    CHECK_STR_EQ(s.section_id, "s1");
    kb_snippet_free(&s);
}

TEST(a_word_in_most_documents_does_not_choose_the_row_and_a_section_titled_for_the_question_wins)
{
    /* 客户要停机 on a call centre's knowledge base of 109 documents: 客户 is in 72 of them, 停机
     * in 13 and in this document's title. The row of the types table that also says 客户 (who
     * reported the loss) must not win over the section about suspending a number; among the
     * passages that hold 停机, the one under the heading that is mostly 停机 (停机保号) is
     * about it, the one under 停机类型与复机方式 mentions it. */
    test_query q;
    memset(&q, 0, sizeof q);
    q.q.terms = q.terms;
    add(&q, "客户", 0.416)->df = 72;
    add(&q, "停机", 2.09)->df = 13;
    q.q.doccount = 109;
    asking(&q, "客户要停机");
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *head[] = {"停机类型 | 原因 | 复机方式"};
    const char *rows[] = {"欠费单停 | 余额不足 | 缴清欠费后自动复机", "挂失停机 | 客户报失 | 本人凭证件补卡"};
    const char *keep[] = {"停机保号收费5元/月，最长可办理12个月。"};
    blocks(&d, 0, KB_BLOCK_HEADER, head, 1);
    blocks(&d, 0, KB_BLOCK_ROW, rows, 2);
    blocks(&d, 1, KB_BLOCK_PARAGRAPH, keep, 1);
    d.doc.title = "停机与复机";
    d.sections[0].title = "停机类型与复机方式";
    d.sections[1].title = "停机保号";
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "s1");
    CHECK(shows(s.html, "12个月"));
    kb_snippet_free(&s);
    /* Where 客户 is rare it still counts: the row that says it is chosen. */
    q.terms[0].df = 5;
    q.terms[0].idf = 2.9;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.section_id, "s0");
    CHECK(shows(s.html, "客户报失"));
    kb_snippet_free(&s);
}

TEST(a_header_row_is_never_shown_alone)
{
    /* Only the header holds the question's words: the first row is shown under it. */
    test_query q;
    const char *w[] = {"所需材料"};
    query(&q, w, 1);
    asking(&q, "理赔需要什么材料");
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *head[] = {"情形 | 所需材料"};
    const char *rows[] = {"单方事故 | 驾驶证、行驶证、维修发票", "涉及人伤 | 病历、医疗费发票"};
    blocks(&d, 0, KB_BLOCK_HEADER, head, 1);
    blocks(&d, 0, KB_BLOCK_ROW, rows, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "情形: 单方事故 | <mark>所需材料</mark>: 驾驶证、行驶证、维修发票");
    kb_snippet_free(&s);
    /* A header over nothing (a table of one row) is shown only when the document has nothing
     * else; otherwise what else it has is shown. */
    memset(&d, 0, sizeof d);
    blocks(&d, 0, KB_BLOCK_HEADER, head, 1);
    const char *other[] = {"理赔请拨打客服热线。"};
    blocks(&d, 1, KB_BLOCK_PARAGRAPH, other, 1);
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "理赔请拨打客服热线。");
    kb_snippet_free(&s);
    memset(&d, 0, sizeof d);
    blocks(&d, 0, KB_BLOCK_HEADER, head, 1);
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "情形 | <mark>所需材料</mark>");
    kb_snippet_free(&s);
}

TEST(a_long_row_is_cut_at_the_window_with_its_labels)
{
    test_query q;
    const char *w[] = {"白金卡"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    char cell[1024];
    size_t n = 0;
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(cell + n, sizeof cell - n, "减");
    char row[1200];
    snprintf(row, sizeof row, "白金卡 | %s | 600元", cell);
    const char *head[] = {"卡种 | 条件 | 年费"};
    const char *rows[] = {row};
    blocks(&d, 0, KB_BLOCK_HEADER, head, 1);
    blocks(&d, 0, KB_BLOCK_ROW, rows, 1);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK(starts_with(s.html, "卡种: <mark>白金卡</mark> | 条件: 减减"));
    CHECK(ends_with_ellipsis(s.html));
    char v[8192];
    visible(s.html, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    kb_snippet_free(&s);
}

/* ---------------------------------------------------------------- windows */

TEST(a_sentence_that_leans_on_the_one_before_is_shown_with_it)
{
    /* 因此 points back: the answer to 为什么 is the sentence before. */
    test_query q;
    const char *w[] = {"笨蛋水果"};
    query(&q, w, 1);
    asking(&q, "为什么称猴面包树为笨蛋水果");
    const char *candidates[] = {"钙含量比菠菜高50%以上，维生素C含量是橙子的三倍。因此它有时也被称为笨蛋水果。"};
    const char *text = spaced(candidates, 1);
    const char *s = snippet_of(text, &q);
    CHECK(starts_with(s, "…钙含量比菠菜高50%以上"));
    CHECK(starts_at_sentence(text, s));
}

TEST(a_list_is_shown_from_its_first_item_when_the_chosen_one_is_near)
{
    test_query q;
    const char *w[] = {"余额"};
    query(&q, w, 1);
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *items[] = {"发送短信YE到10099查询。", "APP首页查看话费余额。", "拨打10099按1收听。"};
    blocks(&d, 0, KB_BLOCK_ITEM, items, 3);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK_STR_EQ(s.html, "发送短信YE到10099查询。 · APP首页查看话费<mark>余额</mark>。 · 拨打10099按1收听。");
    kb_snippet_free(&s);
}

/* ---------------------------------------------------------------- marking, more */

TEST(traditional_phrases_are_marked_where_characters_alone_would_not_match)
{
    /* 計畫 folds to 计划 as a phrase (计画 character by character), 瞭解 to 了解 (瞭 alone
     * stays 瞭): a Simplified question marks both in the Traditional text. */
    test_query q;
    const char *w[] = {"计划", "了解"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("請先瞭解資費計畫。", &q), "請先<mark>瞭解</mark>資費<mark>計畫</mark>。");
}

TEST(numbers_and_latin_words_match_whole_and_chinese_numerals_match_figures)
{
    test_query q;
    const char *w[] = {"16", "一年"};
    query(&q, w, 2);
    CHECK_STR_EQ(snippet_of("1616年与16年；定期1年。", &q), "1616年与<mark>16</mark>年；定期<mark>1年</mark>。");
    const char *a[] = {"app"};
    query(&q, a, 1);
    CHECK_STR_EQ(snippet_of("apple的APP", &q), "apple的<mark>APP</mark>");
}

TEST(the_score_is_the_informative_mass_of_the_best_block_as_confidence_reads_it)
{
    /* search.c divides it by the question's informative mass (passage_coverage): it stays what
     * the best-matching block holds, whichever sentence is shown. */
    test_query q;
    query(&q, NULL, 0);
    add(&q, "开通", 1.0);
    add(&q, "漫游", 2.0);
    add(&q, "多少", 3.0)->stop = 1;
    asking(&q, "开通漫游多少钱");
    test_doc d;
    memset(&d, 0, sizeof d);
    const char *b[] = {"开通漫游免费。", "漫游每天10元。"};
    blocks(&d, 0, KB_BLOCK_PARAGRAPH, b, 2);
    kb_snippet s;
    CHECK(kb_snippet_best(&d.doc, &q.q, &s) == 0);
    CHECK(s.score == 3.0);
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

TEST(a_long_passage_is_cut_to_start_at_a_sentence_before_its_match)
{
    /* Read from a sentence start, early enough that what leads up to the match is in view
     * (sentences that end within KB_SNIP_LEAD_ROOM of the start), not from the match itself. */
    test_query q;
    const char *w[] = {"第10句"};
    query(&q, w, 1);
    const char *s = snippet_of(forty_sentences(), &q);
    CHECK(starts_with(s, "…第"));
    CHECK(starts_at_sentence(forty_sentences(), s));
    CHECK(strstr(s, "<mark>第10句</mark>话说明一些事情。第11句") != NULL);
    CHECK(!shows(s, "第0句")); /* not from the passage's start: the match would end too late */
    CHECK(ends_with_ellipsis(s));
    char v[8192];
    visible(s, v, sizeof v);
    CHECK(code_points(v) == KB_SNIPPET_MAX_CHARS);
    CHECK(strstr(forty_sentences(), v) != NULL); /* a piece of the text, not a rewrite */
}

TEST(a_match_near_the_end_shows_its_sentence_to_the_end_of_the_passage)
{
    /* The window starts at a sentence, not wherever 160 characters before the end fall. */
    test_query q;
    const char *w[] = {"第38句"};
    query(&q, w, 1);
    const char *s = snippet_of(forty_sentences(), &q);
    CHECK(starts_with(s, "…第"));
    CHECK(starts_at_sentence(forty_sentences(), s));
    CHECK(strstr(s, "<mark>第38句</mark>") != NULL);
    CHECK(!ends_with_ellipsis(s));
    char v[8192];
    visible(s, v, sizeof v);
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
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(text + n, sizeof text - n, "说");
    n += (size_t)snprintf(text + n, sizeof text - n, "漫游");
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(text + n, sizeof text - n, "明");
    const char *s = snippet_of(text, &q);
    CHECK(starts_with(s, "…说说说说说说说说说说<mark>漫游</mark>明"));
}

TEST(in_a_sentence_longer_than_the_window_the_cut_goes_to_its_densest_matches)
{
    /* One sentence of 620 characters without a stop: one match early, four close together
     * beyond the first 160 characters. The window goes to the four. */
    test_query q;
    const char *w[] = {"漫游"};
    query(&q, w, 1);
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "漫游");
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(text + n, sizeof text - n, "说");
    n += (size_t)snprintf(text + n, sizeof text - n, "漫游一漫游二漫游三漫游四");
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
    RUN(repeating_a_word_does_not_make_a_sentence_better_and_the_section_fills_the_window);
    RUN(question_words_count_far_less_than_a_content_word);
    RUN(terms_not_meant_for_highlighting_are_neither_marked_nor_counted);
    RUN(a_table_row_is_a_passage_of_its_own_shown_under_its_header);
    RUN(text_outside_sections_gives_an_empty_section_id);
    RUN(a_document_without_text_gives_an_empty_snippet);
    RUN(the_sentence_holding_the_kind_of_answer_asked_for_is_chosen_and_the_window_starts_at_a_sentence);
    RUN(question_words_point_at_numbers_dates_places_lists_and_steps);
    RUN(steps_are_preferred_to_the_script_unless_the_question_asks_what_to_say);
    RUN(a_row_is_shown_under_its_header_and_chosen_with_its_header_and_section_title);
    RUN(a_word_in_most_documents_does_not_choose_the_row_and_a_section_titled_for_the_question_wins);
    RUN(a_header_row_is_never_shown_alone);
    RUN(a_long_row_is_cut_at_the_window_with_its_labels);
    RUN(a_sentence_that_leans_on_the_one_before_is_shown_with_it);
    RUN(a_list_is_shown_from_its_first_item_when_the_chosen_one_is_near);
    RUN(traditional_phrases_are_marked_where_characters_alone_would_not_match);
    RUN(numbers_and_latin_words_match_whole_and_chinese_numerals_match_figures);
    RUN(the_score_is_the_informative_mass_of_the_best_block_as_confidence_reads_it);
    RUN(every_occurrence_is_marked_and_touching_matches_merge);
    RUN(a_simplified_query_marks_traditional_text_in_its_own_script);
    RUN(full_width_and_capital_letters_are_matched_and_kept_as_written);
    RUN(document_text_is_html_escaped_inside_and_outside_the_marks);
    RUN(html_escaping_appends_to_a_growing_buffer);
    RUN(a_passage_of_the_longest_length_is_shown_whole_and_a_longer_one_is_cut);
    RUN(a_long_passage_is_cut_to_start_at_a_sentence_before_its_match);
    RUN(a_match_near_the_end_shows_its_sentence_to_the_end_of_the_passage);
    RUN(without_a_sentence_end_nearby_the_cut_starts_just_before_the_match);
    RUN(in_a_sentence_longer_than_the_window_the_cut_goes_to_its_densest_matches);
    RUN(cuts_fall_between_characters_of_every_utf8_length);
    RUN(when_nothing_matches_the_first_passage_is_shown_from_its_start);
    kb_analyzer_free(an);
    CHECK_MAIN_END();
}
