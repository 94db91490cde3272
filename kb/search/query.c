/*
 * query.c — weighted query terms from a question (see search/query.h).
 *
 * Why weights by kind rather than one flat OR: a question like 范廷颂是什么时候被任为主教的
 * yields ~30 terms, most of them straddling bigrams (颂是, 教的) and single characters that
 * occur everywhere. A flat OR lets those drown the few terms that carry the meaning; scaling
 * them down keeps their partial credit without letting them rank.
 */
#include "search/query.h"

#include "analysis/synonyms.h"
#include "util/index_schema.h"
#include "search/passage_types.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

/* Weights by kind of term, tuned on the shared evaluation sets (docs/SEARCH.md). They are
 * compile-time constants; bench/tune.sh rebuilds kb-query with -D overrides to explore them. */
#ifndef KB_W_WORD
#define KB_W_WORD 1.0
#endif
#ifndef KB_W_BIGRAM
#define KB_W_BIGRAM 1.0
#endif
#ifndef KB_W_CROSS
#define KB_W_CROSS 0.6
#endif
#ifndef KB_W_UNIGRAM
#define KB_W_UNIGRAM 0.5
#endif
#ifndef KB_W_STOP
#define KB_W_STOP 0.2
#endif
/* Pruning: what a term costs is the length of its posting list (documents to visit), and a
 * term in thousands of documents tells little apart. Terms in more documents than these are
 * dropped when something more informative is left, so a query stays cheap however large the
 * knowledge base grows, while small knowledge bases keep every term. Single characters are
 * pruned sooner than words and bigrams. Tuned with bench/kb-query on 100,000 kbgen documents. */
#ifndef KB_UNIGRAM_MAX_POSTINGS
#define KB_UNIGRAM_MAX_POSTINGS 5000
#endif
#ifndef KB_TERM_MAX_POSTINGS
#define KB_TERM_MAX_POSTINGS 10000
#endif
/* A synonym added by expansion weighs this much of the term it stands in for. */
#ifndef KB_W_SYNONYM
#define KB_W_SYNONYM 0.7
#endif

static double kind_weight(kb_term_kind k)
{
    switch (k) {
    case KB_TERM_WORD: return KB_W_WORD;
    case KB_TERM_BIGRAM: return KB_W_BIGRAM;
    case KB_TERM_BIGRAM_CROSS: return KB_W_CROSS;
    case KB_TERM_UNIGRAM: return KB_W_UNIGRAM;
    case KB_TERM_LATIN: return 1.0;
    case KB_TERM_NUMBER: return 0.8;
    case KB_TERM_CODE: return 1.2;
    }
    return 1.0;
}

/* Question and function words, in folded (Simplified) form. They say how something is asked,
 * not what about; documents rarely contain them the way questions do. Sorted for bsearch. */
static const char *const STOPWORDS[] = {
    "一下", "一个", "不是", "么", "也", "了", "什么", "什么时候", "他", "他们", "会", "何", "你",
    "你们", "吗", "吧", "呀", "呢", "咋", "和", "哪", "哪个", "哪些", "哪儿", "哪里", "啊", "啥",
    "在", "多少", "她", "如何", "就", "怎", "怎么", "怎么办", "怎么样", "怎样", "想", "我", "我们",
    "或", "或者", "是", "是不是", "是否", "是什", "时候", "有", "有没有", "的", "能不能", "能否",
    "被", "要", "请问", "谁", "这", "这个", "那", "那个", "都", "还", "为什么", "为何", "几",
    "您", "嘛", "与", "及", "把", "着", "过", "得", "地", "之", "其", "则", "该", "请",
};
static const char *sorted_stop[sizeof STOPWORDS / sizeof STOPWORDS[0]];
static const size_t n_stop = sizeof STOPWORDS / sizeof STOPWORDS[0];
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* bsearch needs byte order, which is not the order a person would write the list in. */
static void sort_stopwords(void)
{
    memcpy(sorted_stop, STOPWORDS, sizeof sorted_stop);
    qsort(sorted_stop, n_stop, sizeof sorted_stop[0], cmp_str);
}

int kb_query_is_stopword(const char *term)
{
    pthread_once(&stop_once, sort_stopwords);
    return bsearch(&term, sorted_stop, n_stop, sizeof sorted_stop[0], cmp_str) != NULL;
}

/* 1 when a character of the term is a function word by itself (的, 在, 是, 有 …). */
static int holds_function_char(const char *term)
{
    char one[8];
    for (const char *p = term; *p;) {
        size_t len = 1;
        while (((unsigned char)p[len] & 0xC0) == 0x80) len++;
        if (len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (kb_query_is_stopword(one)) return 1;
        }
        p += len;
    }
    return 0;
}

void kb_query_free(kb_query *q)
{
    for (size_t i = 0; i < q->n_terms; i++) {
        free(q->terms[i].text);
        free(q->terms[i].origin);
    }
    free(q->terms);
    free(q->folded);
    memset(q, 0, sizeof *q);
}

/* Priority for keeping a term when there are too many: how much it can tell apart. */
static double priority(const kb_query_term *t)
{
    return t->weight * t->idf * (t->stop ? 0.1 : 1.0);
}

static int cmp_priority_desc(const void *a, const void *b)
{
    double pa = priority(a), pb = priority(b);
    return pa < pb ? 1 : pa > pb ? -1 : 0;
}

/* Index of the term with this text, or n_terms. */
static size_t find_term(const kb_query *q, const char *text)
{
    size_t j;
    for (j = 0; j < q->n_terms; j++)
        if (strcmp(q->terms[j].text, text) == 0) break;
    return j;
}

/* Add the synonyms of the typed words as extra terms. */
static int expand_synonyms(kb_query *q)
{
    size_t typed = q->n_terms;
    for (size_t i = 0; i < typed; i++) {
        const char *syn[KB_SYNONYMS_MAX];
        size_t n = kb_synonyms_of(q->terms[i].text, syn);
        if (n == 0) continue;
        kb_query_term *grown = realloc(q->terms, (q->n_terms + n) * sizeof *grown);
        if (!grown) return -1;
        q->terms = grown;
        double w = q->terms[i].weight * KB_W_SYNONYM;
        for (size_t k = 0; k < n; k++) {
            size_t j = find_term(q, syn[k]);
            if (j < q->n_terms) continue; /* typed as well, or added already */
            kb_query_term *t = &q->terms[q->n_terms];
            memset(t, 0, sizeof *t);
            t->text = strdup(syn[k]);
            if (!t->text) return -1;
            t->origin = strdup(q->terms[i].text);
            if (!t->origin) {
                free(t->text);
                return -1;
            }
            t->kind = KB_TERM_WORD;
            t->weight = w;
            t->expansion = 1;
            q->n_terms++;
        }
    }
    return 0;
}

/* The length in bytes of the first UTF-8 character of s (1 for a bad byte). */
static size_t first_char_len(const char *s)
{
    int32_t i = 0;
    UChar32 c;
    U8_NEXT((const uint8_t *)s, i, (int32_t)strlen(s), c);
    (void)c;
    return i > 0 ? (size_t)i : 1;
}

/* 1 when bigram b ends with the character that bigram next starts with: two overlapping bigrams
 * of one run of Han characters, as the analyzer emits them in order. */
static int overlaps(const char *b, const char *next)
{
    size_t first = first_char_len(b);
    size_t last = strlen(b) - first;
    return last > 0 && strncmp(b + first, next, last) == 0;
}

/* The knowledge base's own words: ICU's dictionary does not know much call-centre vocabulary
 * (停机, 话费, 余额 come out as single characters), so in 客户要停机 the bigram 要停 counts as
 * an in-word bigram, rare and so heavily weighted, and a document quoting "要停机" outranked the
 * one titled 停机与复机. A bigram the editors list among a document's keywords (an XK term of
 * the index) is a word: the bigrams on either side of it straddle a word's edge and are weighed
 * as such (KB_TERM_BIGRAM_CROSS). One term lookup per bigram of the question. */
static void mark_keyword_edges(kbx_reader *r, kb_term_list *terms)
{
    kb_term *prev = NULL;     /* the previous bigram of the question, in text order */
    int prev_is_keyword = 0;
    char key[256];
    for (size_t i = 0; i < terms->count; i++) {
        kb_term *t = &terms->terms[i];
        if (t->kind != KB_TERM_BIGRAM && t->kind != KB_TERM_BIGRAM_CROSS) continue;
        int adjacent = prev && overlaps(prev->text, t->text);
        int is_keyword = 0;
        if (strlen(t->text) + sizeof KB_TERM_KEYWORD <= sizeof key) {
            snprintf(key, sizeof key, KB_TERM_KEYWORD "%s", t->text);
            is_keyword = kbx_reader_termfreq(r, key) > 0;
        }
        if (adjacent && is_keyword && !prev_is_keyword) prev->kind = KB_TERM_BIGRAM_CROSS;
        if (adjacent && prev_is_keyword && !is_keyword) t->kind = KB_TERM_BIGRAM_CROSS;
        prev = t;
        prev_is_keyword = is_keyword;
    }
}

#ifndef KB_W_CROSS_FUNCTION
#define KB_W_CROSS_FUNCTION 0.4
#endif

/* A bigram across a word's edge whose outer character is a function word (要停 of 要|停机, 颂是
 * of 范廷颂|是) joins the grammar of the question to a word: it says nothing the word does not. */
static int pairs_a_function_char(const char *bigram)
{
    char first[8];
    size_t n = first_char_len(bigram);
    if (n >= sizeof first || !bigram[n]) return 0;
    memcpy(first, bigram, n);
    first[n] = '\0';
    return kb_query_is_stopword(first) || kb_query_is_stopword(bigram + n);
}

static double term_weight(const kb_term *t)
{
    double w = kind_weight(t->kind);
    if (t->kind == KB_TERM_BIGRAM_CROSS && pairs_a_function_char(t->text)) w *= KB_W_CROSS_FUNCTION;
    return w;
}

/* Distinct terms of the analyzed question, each with the highest weight any of its
 * occurrences earned. */
static int distinct_terms(const kb_term_list *terms, kb_query *out)
{
    out->terms = calloc(terms->count ? terms->count : 1, sizeof *out->terms);
    if (!out->terms) return -1;
    for (size_t i = 0; i < terms->count; i++) {
        const kb_term *t = &terms->terms[i];
        double w = term_weight(t);
        size_t j = find_term(out, t->text);
        if (j < out->n_terms) {
            out->terms[j].count++;
            if (w > out->terms[j].weight) {
                out->terms[j].weight = w;
                out->terms[j].kind = t->kind;
            }
            continue;
        }
        kb_query_term *q = &out->terms[out->n_terms];
        q->text = strdup(t->text);
        if (!q->text) return -1;
        q->kind = t->kind;
        q->weight = w;
        q->count = 1;
        out->n_terms++;
    }
    return 0;
}

/* Document frequency, IDF and stop-word damping from the index; which terms get highlighted.
 * Returns 1 when the question has content (a word or bigram that is not a stop word). */
static int weigh_by_index(kbx_reader *r, kb_query *out)
{
    double n = out->doccount;
    int has_content = 0;
    for (size_t i = 0; i < out->n_terms; i++) {
        kb_query_term *q = &out->terms[i];
        q->df = kbx_reader_termfreq(r, q->text);
        q->idf = log((n + 1.0) / (q->df + 0.5));
        if (q->idf < 0.01) q->idf = 0.01;
        q->stop = kb_query_is_stopword(q->text);
        if (q->stop) q->weight *= KB_W_STOP;
        if (!q->stop && !q->expansion && q->kind != KB_TERM_UNIGRAM) has_content = 1;
    }
    /* Single characters and stop words are highlighted only when nothing better matched. */
    for (size_t i = 0; i < out->n_terms; i++) {
        kb_query_term *q = &out->terms[i];
        q->highlight = has_content ? (!q->stop && q->kind != KB_TERM_UNIGRAM) : !q->expansion;
    }
    return has_content;
}

/* Drop terms so common that they cost more than they tell (called only when something more
 * informative is left to search for). */
static void drop_common_terms(kb_query *out)
{
    size_t kept = 0;
    for (size_t i = 0; i < out->n_terms; i++) {
        kb_query_term *q = &out->terms[i];
        uint32_t max = q->kind == KB_TERM_UNIGRAM ? KB_UNIGRAM_MAX_POSTINGS : KB_TERM_MAX_POSTINGS;
        if (q->df > max) {
            free(q->text);
            free(q->origin);
            continue;
        }
        out->terms[kept++] = *q;
    }
    out->n_terms = kept;
}

/* Keep the KB_QUERY_MAX_TERMS most informative terms, sorted by priority; the rest only cost
 * time. */
static void keep_most_informative(kb_query *out)
{
    qsort(out->terms, out->n_terms, sizeof *out->terms, cmp_priority_desc);
    while (out->n_terms > KB_QUERY_MAX_TERMS) {
        out->n_terms--;
        free(out->terms[out->n_terms].text);
        free(out->terms[out->n_terms].origin);
    }
}

int kb_query_build(kb_analyzer *a, kbx_reader *r, const char *text, size_t len, kb_query *out)
{
    memset(out, 0, sizeof *out);
    kb_term_list terms;
    kb_term_list_init(&terms);
    int rc = kb_analyze(a, text, len, &terms);
    if (rc == 0) mark_keyword_edges(r, &terms);
    out->length = terms.count;
    if (rc == 0) rc = distinct_terms(&terms, out);
    kb_term_list_free(&terms);
    if (rc == 0) rc = expand_synonyms(out);
    if (rc == 0 && !(out->folded = kb_analyzer_fold(a, text, len))) rc = -1;
    if (rc == 0) out->asks = kb_passage_asks(out->folded);
    for (size_t i = 0; rc == 0 && i < out->n_terms; i++) {
        kb_query_term *t = &out->terms[i];
        t->question_word = kb_passage_is_question_word(t->text);
        t->glue = (t->kind == KB_TERM_BIGRAM || t->kind == KB_TERM_BIGRAM_CROSS) && holds_function_char(t->text);
    }
    if (rc < 0) {
        kb_query_free(out);
        return -1;
    }
    out->doccount = kbx_reader_doccount(r);
    if (weigh_by_index(r, out)) drop_common_terms(out);
    keep_most_informative(out);
    for (size_t i = 0; i < out->n_terms; i++) {
        out->kept_length += out->terms[i].count;
        if (!out->terms[i].stop && !out->terms[i].expansion)
            out->info_mass += out->terms[i].weight * out->terms[i].idf;
    }
    return 0;
}

uint64_t kb_query_matched_bits(const kb_query *q, uint64_t matcher_bits)
{
    uint64_t matched = 0;
    for (size_t i = 0, k = 0; i < q->n_terms && k < 64; i++) {
        if (q->terms[i].df == 0) continue;
        if (matcher_bits >> k & 1) matched |= (uint64_t)1 << i;
        k++;
    }
    return matched;
}
