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

/* The share (0..1) of what the document matched that its title holds: over the query terms
 * set in `matched` (bit i: q->terms[i]) that say what is asked (words, in-word bigrams, Latin
 * words, numbers, codes; by weight × IDF), the part found in the title, compared as folded text
 * so either script matches. A document about what was asked has it in its title; one that
 * mentions it in passing has not. 0 when nothing such matched, or when memory ran out (which
 * only loses the boost). */
double kb_structure_title_share(kb_analyzer *a, const kb_document *doc, const kb_query *q,
                                uint64_t matched);

/* 1 when one of the document's <questions> is the question itself, compared as
 * kb_analyzer_fold_compact makes them (compact_question: the question in that form): the
 * editors wrote down that agents ask exactly this, and the document is what they meant. Its
 * title share then counts as whole. */
int kb_structure_asked_verbatim(kb_analyzer *a, const kb_document *doc, const char *compact_question);

/* The factor (≥ 1) a hit's BM25 score is multiplied by, from its title and passage coverage
 * (each 0..1). */
double kb_structure_boost(double title_coverage, double passage_coverage);

#endif
