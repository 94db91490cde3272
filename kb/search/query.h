/*
 * search/query.h — turn a question into weighted query terms (used by kb_search).
 *
 * The question is analyzed like a document. Each distinct term gets a weight by kind: words,
 * in-word bigrams, Latin words, numbers and codes carry the meaning (1.0); bigrams straddling a
 * word's edge are mostly noise; single characters only give partial credit. Question and
 * function words (什么, 怎么, 如何, 吗, 的 …) are kept with a small weight and do not count
 * toward how much of the question a document covers. Terms so common they say nothing are
 * pruned, synonyms of service words are added at a lower weight (analysis/synonyms.h), and at most
 * KB_QUERY_MAX_TERMS are kept (the most informative), so every query stays
 * cheap for Xapian however long it is.
 */
#ifndef KB_QUERY_H
#define KB_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "kb/analyzer.h"
#include "xapian/xapian.h"

#ifndef KB_QUERY_MAX_TERMS
#define KB_QUERY_MAX_TERMS 48
#endif

typedef struct {
    char *text;
    kb_term_kind kind;
    double weight;    /* multiplies the term's BM25 contribution */
    uint32_t df;      /* documents containing the term */
    double idf;       /* log((N + 1) / (df + 0.5)) */
    int stop;         /* a question or function word */
    int highlight;    /* worth marking in snippets */
    int expansion;    /* added as a synonym of a typed term */
    char *origin;     /* for an expansion, the typed term it stands in for; else NULL */
    uint32_t count;   /* times the question holds it (0 for an expansion) */
    /* For passage choice (snippet.h), worked out once per search: */
    int question_word; /* part of how the question is asked (多长, 有多, 么时), not content */
    int glue;          /* a bigram holding a function character (木的, 昊在) */
} kb_query_term;

typedef struct {
    kb_query_term *terms;
    size_t n_terms;
    char *folded;     /* the question folded like documents (kb_analyzer_fold); may be NULL */
    unsigned asks;    /* the kinds of answer it asks for, read from folded once per search
                       * for passage choice (kb_passage_asks, search/passage_types.h) */
    double info_mass; /* sum of weight * idf over the informative (non-stop) terms */
    size_t length;    /* terms the analyzer made of the question, repeats included (its length
                       * as a document would have it, before any term was pruned) ... */
    size_t kept_length; /* ... and the part of it that the kept terms make up */
    uint32_t doccount;
} kb_query;

/* Build the query for text[0..len) against the open index. Returns 0, or -1 when memory ran
 * out. A query with no terms (empty, punctuation only) is not an error. */
int kb_query_build(kb_analyzer *a, kbx_reader *r, const char *text, size_t len, kb_query *out);
void kb_query_free(kb_query *q);

/* The matcher's matched-term bits (which refer to the terms as given to it: the query's in
 * order, those in no document left out) as bits of q's terms (bit i: q->terms[i], i < 64). */
uint64_t kb_query_matched_bits(const kb_query *q, uint64_t matcher_bits);

/* 1 when the folded term is a question or function word. */
int kb_query_is_stopword(const char *term);

#endif
