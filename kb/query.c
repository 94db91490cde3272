/*
 * query.c — weighted query terms from a question (see kb_query.h).
 *
 * Why weights by kind rather than one flat OR: a question like 范廷颂是什么时候被任为主教的
 * yields ~30 terms, most of them straddling bigrams (颂是, 教的) and single characters that
 * occur everywhere. A flat OR lets those drown the few terms that carry the meaning; scaling
 * them down keeps their partial credit without letting them rank.
 */
#include "kb_query.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Weight of a term by the kind of term it is. */
static double kind_weight(kb_term_kind k)
{
    switch (k) {
    case KB_TERM_WORD: return 1.0;
    case KB_TERM_BIGRAM: return 1.0;
    case KB_TERM_BIGRAM_CROSS: return 0.35;
    case KB_TERM_UNIGRAM: return 0.15;
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

void kb_query_free(kb_query *q)
{
    for (size_t i = 0; i < q->n_terms; i++) free(q->terms[i].text);
    free(q->terms);
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

int kb_query_build(kb_analyzer *a, kbx_reader *r, const char *text, size_t len, kb_query *out)
{
    memset(out, 0, sizeof *out);
    kb_term_list terms;
    kb_term_list_init(&terms);
    if (kb_analyze(a, text, len, &terms) < 0) {
        kb_term_list_free(&terms);
        return -1;
    }
    out->doccount = kbx_reader_doccount(r);
    out->terms = calloc(terms.count ? terms.count : 1, sizeof *out->terms);
    if (!out->terms) {
        kb_term_list_free(&terms);
        return -1;
    }

    /* Distinct terms, each with the highest weight any of its occurrences earned. */
    for (size_t i = 0; i < terms.count; i++) {
        const kb_term *t = &terms.terms[i];
        double w = kind_weight(t->kind);
        size_t j;
        for (j = 0; j < out->n_terms; j++)
            if (strcmp(out->terms[j].text, t->text) == 0) break;
        if (j < out->n_terms) {
            if (w > out->terms[j].weight) {
                out->terms[j].weight = w;
                out->terms[j].kind = t->kind;
            }
            continue;
        }
        kb_query_term *q = &out->terms[out->n_terms];
        q->text = strdup(t->text);
        if (!q->text) {
            kb_term_list_free(&terms);
            kb_query_free(out);
            return -1;
        }
        q->kind = t->kind;
        q->weight = w;
        out->n_terms++;
    }
    kb_term_list_free(&terms);

    double n = out->doccount;
    int has_content = 0;
    for (size_t i = 0; i < out->n_terms; i++) {
        kb_query_term *q = &out->terms[i];
        q->df = kbx_reader_termfreq(r, q->text);
        q->idf = log((n + 1.0) / (q->df + 0.5));
        if (q->idf < 0.01) q->idf = 0.01;
        q->stop = kb_query_is_stopword(q->text);
        if (q->stop) q->weight *= 0.2;
        if (!q->stop && q->kind != KB_TERM_UNIGRAM) has_content = 1;
    }
    /* Single characters and stop words are highlighted only when nothing better matched. */
    for (size_t i = 0; i < out->n_terms; i++) {
        kb_query_term *q = &out->terms[i];
        q->highlight = has_content ? (!q->stop && q->kind != KB_TERM_UNIGRAM) : 1;
    }

    /* Keep the most informative terms; the rest only cost time. */
    qsort(out->terms, out->n_terms, sizeof *out->terms, cmp_priority_desc);
    while (out->n_terms > KB_QUERY_MAX_TERMS) free(out->terms[--out->n_terms].text);

    for (size_t i = 0; i < out->n_terms; i++)
        if (!out->terms[i].stop) out->info_mass += out->terms[i].weight * out->terms[i].idf;
    return 0;
}
