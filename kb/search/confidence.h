/*
 * search/confidence.h — how likely the top hit answers the question (kb_search_result.confidence).
 *
 * Confidence is about the top hit only, and it must mean the same on every kind of knowledge
 * base: of the searches given 0.8, about eight in ten have the right top hit, whether the
 * knowledge base holds long passages, articles in sections or short FAQ entries. The editors'
 * queue (unresolved = confidence < 0.5), kb_answerable for help requests and the leads' review all
 * stand on it.
 *
 * So it is a model of the evidence, not one hand-made score: a few general features of the
 * ranking (how much of the question is words rather than single characters, the top hit's lead
 * over the second and the 10th weighed by how much the top hit and the question hold of each
 * other, a question of a word or two, an entry that only restates the question) through a
 * logistic curve whose weights were fitted once on all three kinds of evaluation data together
 * (bench/fit_confidence.py, docs/SEARCH.md). Nearly everything it reads is noted by the matcher
 * while ranking; the rest is the top hit's title, folded once, so it costs nothing measurable.
 */
#ifndef KB_CONFIDENCE_H
#define KB_CONFIDENCE_H

#include <stdint.h>

#include "kb/search.h"
#include "search/query.h"
#include "xapian/xapian.h"

/* The matcher is asked for at least this many hits, whatever the page: the features are read
 * from them, so a search's confidence does not depend on its limit or offset. */
#define KB_CONFIDENCE_HITS 10

/* Share of the question's informative weight (weight x IDF of its typed, non-stop terms) that a
 * hit holds, from the matcher's matched-term bits (which refer to the query's terms in order,
 * those in no document left out). A typed term counts as present when one of its synonyms is. */
double kb_confidence_hit_coverage(const kb_query *q, uint64_t xapian_bits);

/* The features of a search's ranking: f from the query and the matcher's results (all but
 * passage_coverage, which kb_confidence_set_passage adds once the top hit's passage is chosen).
 * Nothing is read when there is no hit. */
void kb_confidence_features(const kb_query *q, const kbx_results *xr, kb_search_features *f);

/* The top hit's best passage holds passage_score of the question's informative weight
 * (kb_snippet.score; negative when unknown). */
void kb_confidence_set_passage(const kb_query *q, double passage_score, kb_search_features *f);

/* The share (0..1) of a hit's title that the question does not state (kb_search_features
 * .title_beyond). compact_question is the question as kb_analyzer_fold_compact makes it; the
 * title is folded and compacted alike, so either script matches. A title character is stated
 * when it is in a pair of adjacent characters the question also holds (a one-character title:
 * when the question holds it); function characters (的, 吗, 你 …) are counted in neither part.
 * Pairs, not single characters, because a short entry shares single characters with any
 * question. 0 when either is empty or memory ran out. */
double kb_confidence_title_beyond(kb_analyzer *a, const char *compact_question, const char *title);

/* Confidence 0..1 from the features: the fitted model. */
double kb_confidence_of(const kb_search_features *f);

/* A hit holding at least this share of the question's informative weight, and scoring at least
 * KB_GOOD_MATCH_SCORE_SHARE of the top hit, is a good match. */
#define KB_GOOD_MATCH_COVERAGE 0.49
#define KB_GOOD_MATCH_SCORE_SHARE 0.5

/* 1 when a hit is a good match (kb_hit.good): it covers the question as well as an answer does,
 * whether or not it is the one that answers (a near tie of such hits makes the search less
 * confident, not the hits worse matches), and it ranks near the top hit (top_score): on a
 * knowledge base with many documents on one product, every one of them holds the product's
 * name, which alone is half of a short question ("N 条匹配度高" must not count them all). The
 * top hit of a resolved search is a good match too (search.c). */
int kb_confidence_hit_is_good(const kb_query *q, const kbx_hit *h, double top_score);

#endif
