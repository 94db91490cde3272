/*
 * search/structure.h — where in a document's structure a question matches, for ranking.
 *
 * BM25 sees one bag of terms per document, with the title and the editors' <questions> counted
 * several times (KB_WDF_* in util/index_schema.h). That is not enough on short, colloquial
 * questions: the counts saturate, a long document is normalised down, and a short document that
 * mentions the question's words once in a quoted script line, or holds one rare bigram that
 * straddles two words of the question, outranks the document whose title names what is asked
 * (客户要停机: the fraud warning, which quotes "要停机", before 停机与复机). So the first hits
 * are re-ranked with two facts BM25 cannot see:
 *   - title coverage: the share of the question's informative weight found in the document's
 *     title or its <questions> — what the editors say the document is about;
 *   - passage coverage: the share found in one passage (the best block, from the snippet), so a
 *     document that answers in one place beats one whose matches are scattered.
 * Each hit's BM25 score is multiplied by kb_structure_boost(), within the first
 * KB_STRUCTURE_RERANK_DEPTH hits only, so paging stays consistent and the cost stays the reading
 * of documents the hit list reads anyway.
 */
#ifndef KB_SEARCH_STRUCTURE_H
#define KB_SEARCH_STRUCTURE_H

#include <stdint.h>

#include "kb/analyzer.h"
#include "kb/document.h"
#include "search/query.h"

/* The first hits whose order the structure may change (the first page of an agent's search). */
#ifndef KB_STRUCTURE_RERANK_DEPTH
#define KB_STRUCTURE_RERANK_DEPTH 10
#endif

/* What a document's structure says of a question, read once per re-ranked hit. */
typedef struct {
    /* The share (0..1) of what the document matched that its title holds: over the query terms
     * set in `matched` (bit i: q->terms[i]) that say what is asked (words, in-word bigrams,
     * Latin words, numbers, codes; by weight × IDF), the part found in the title, compared as
     * folded text so either script matches. A document about what was asked has it in its
     * title; one that mentions it in passing has not. 1 when asked verbatim (below). What the
     * ranking boosts. */
    double title_share;
    /* The share (0..1) of the whole question's weight (its typed, informative terms, weight ×
     * IDF, q->info_mass) that says what is asked and is in the title (a term counts when it or
     * one of its synonyms is); 1 when asked verbatim. Unlike title_share it is not relative to
     * what the document matched: it says how much of the question the editors' name for the
     * document states, which confidence reads (search/confidence.h). */
    double title_cover;
    /* The share (0..1) of the document's text that is its body beyond the title: a body that
     * only repeats the title (an FAQ list of customers' questions without answers) counts
     * nothing, so such an entry gets 0 and an article ~1. */
    double answer;
    /* 1 when one of the document's <questions> is the question itself, compared as
     * kb_analyzer_fold_compact makes them: the editors wrote down that agents ask exactly
     * this, and the document is what they meant. */
    int verbatim;
} kb_structure_facts;

/* The facts of one document (compact_question: the question as kb_analyzer_fold_compact makes
 * it, or NULL). A fact that memory ran out for is 0 (which only loses a boost). */
kb_structure_facts kb_structure_read(kb_analyzer *a, const kb_document *doc, const kb_query *q,
                                     uint64_t matched, const char *compact_question);

/* The factor (≥ 1) a hit's BM25 score is multiplied by, from its title and passage coverage
 * (each 0..1). */
double kb_structure_boost(double title_coverage, double passage_coverage);

#endif
