/*
 * kb/search.h — answer a question from the index: ranked hits, best passage, confidence.
 *
 * A query is analyzed exactly like documents (kb/analyzer.h). Its terms are OR-ed and weighted by
 * kind (words and bigrams carry the meaning; single characters only give partial credit), very
 * common terms are pruned so the query stays cheap, and Xapian's BM25 ranks with top-k bounds.
 *
 * For each hit the best passage (paragraph, list item or table row) is chosen by how much of the
 * question it covers, and returned as an HTML-safe snippet with the matches in <mark>…</mark>.
 *
 * `confidence` is the searcher's belief that the top hit answers the question, calibrated so that
 * it means the same on every kind of knowledge base (of the searches given 0.8, about eight in
 * ten have the right top hit): a model of the ranking's evidence fitted on passages, articles and
 * short FAQ entries together (kb/search/confidence.c). It grows with the share of the question
 * the top hit holds and its lead over the next hits; a near tie, a question of a word or two and
 * an entry that only restates the question lower it. `unresolved` is set when confidence is
 * below 0.5 (or when there is no hit). Each hit has its own coverage too, and `good_matches`
 * counts the hits that hold the question as an answer does.
 *
 * A kb_searcher is not thread-safe: open one per thread. kb_searcher_refresh() picks up a newly
 * published index between searches.
 */
#ifndef KB_SEARCH_H
#define KB_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "kb/document.h"
#include "kb/status.h"

#define KB_SEARCH_MAX_QUERY_BYTES 1024
#define KB_SEARCH_MAX_LIMIT 100
/* Deepest page start: agents read the first pages; deep paging only costs. */
#define KB_SEARCH_MAX_OFFSET 1000


typedef struct kb_searcher kb_searcher;

typedef struct {
    const char *text;          /* the question, UTF-8 (need not be valid: bad bytes are ignored) */
    uint32_t offset;           /* paging */
    uint32_t limit;            /* 1..KB_SEARCH_MAX_LIMIT */
    const char *const *categories; /* restrict to these category paths (any level); may be NULL */
    size_t n_categories;
    int include_expired;       /* also return documents outside their validity window */
    const char *today;         /* "YYYY-MM-DD" to judge validity by; NULL for the local date */
    int explain;               /* fill kb_hit.explain's learned_phrasing (the rest is always set) */
} kb_search_request;

/* Why a hit ranked where it did (the API's explain option): its score is
 * (bm25 + learned) × structure_boost. */
typedef struct {
    double bm25;             /* the document's own BM25 for the question */
    double learned;          /* what the phrasings agents taught it added (0: none) */
    double learned_sim;      /* the best such phrasing's similarity to the question, 0..1 */
    char *learned_phrasing;  /* that phrasing (only with kb_search_request.explain), or NULL */
    double structure_boost;  /* the title / passage factor (search/structure.h); 1 below the head */
} kb_hit_explain;

typedef struct {
    char *id;
    char *title;
    double score;
    char *snippet;       /* HTML-escaped best passage with <mark> around matches */
    char *section_id;    /* the section holding the best passage ("" for top-level text) */
    char *section_title;
    char **categories;
    size_t n_categories;
    char updated[11];    /* "YYYY-MM-DD" or "" */
    char valid_until[11];
    int expired;         /* 1 when outside its validity window (only with include_expired) */
    double coverage;     /* 0..1: share of the question's informative weight the document holds */
    int good;            /* 1 when a good match (kb_search_result.good_matches) */
    kb_hit_explain explain;
    /* The document's must-know mark (应知应会), copied from the stored document: see
     * kb_document.must_know. No teams means every team. */
    int must_know;
    char **must_know_teams;
    size_t n_must_know_teams;
} kb_hit;

/* 1 when the hit's document is must-know for an agent of team (the rule of
 * kb_must_know_applies in kb/document.h; team may be NULL or ""). */
int kb_hit_must_know_for(const kb_hit *hit, const char *team);

/* The evidence behind confidence, read from the ranking of the whole search whatever page was
 * asked for; the model that weighs it is kb/search/confidence.c. bench/kb-query --features prints
 * it and bench/fit_confidence.py fits the model on it (docs/SEARCH.md). */
typedef struct {
    double coverage;         /* share of the question's informative weight in the top hit */
    double passage_coverage; /* the same for the top hit's best passage alone */
    double top_score, second_score;
    size_t n_terms;          /* query terms after pruning */
    double word_coverage;    /* the part of coverage held in words, bigrams, Latin words, numbers
                              * and codes ... */
    double char_coverage;    /* ... and the part held only in single characters */
    double word_share;       /* share of the question's informative weight in words and the like */
    size_t n_words;          /* the question's informative words: dictionary words, in-word
                              * bigrams, Latin words, numbers, codes (not question words, bigrams
                              * across a word's edge or single characters) */
    double second_coverage;  /* the second hit's coverage (0 without one) */
    double tenth_score;      /* score of the 10th hit (0 when fewer documents match) */
    double beyond;           /* 0..1: share of the top document that is not the question's own
                              * terms (0: it restates the question and holds nothing more) */
    /* The top hit's and the second's title_cover and answer (search/structure.h): the share of
     * the question's informative weight in words that the title states (1 when asked
     * verbatim), and the share of the document's text that is body beyond the title (0 for an
     * entry that is a question alone). 0 for a hit whose stored form could not be read. */
    double title_cover, answer;
    double second_title_cover, second_answer;
    /* The share (0..1) of the top hit's title, in letters and digits, that the question does
     * not state (in no pair of adjacent characters the question holds; function characters not
     * counted): an FAQ entry that asks much more than the question is a different, narrower
     * question (腾讯征信 → 还款日当天晚几个小时会影响腾讯征信吗). */
    double title_beyond;
    /* 0..1: how like the question the agents' taught phrasing is that ranked the top hit
     * (search/learned.h; 0 when no taught phrasing did). What agents taught is evidence beyond
     * the words: confidence's correction for entries that are a question alone does not apply
     * to what they taught (search/confidence.c). */
    double taught;
} kb_search_features;

typedef struct {
    kb_hit *hits;
    size_t n_hits;
    uint32_t total_estimated; /* matching documents, estimated (most documents share a character
                               * with any question: not a count of answers) */
    uint32_t good_matches;    /* hits of this page that hold the question as an answer does
                               * (kb_hit.good): every hit covering at least 0.49 of the question,
                               * and the top hit when not unresolved. A near tie of such hits can
                               * leave the search unresolved: which one answers is unclear. */
    double confidence;        /* 0..1 */
    int unresolved;
    char *top_id;             /* id of the best hit regardless of paging, or NULL */
    double took_ms;
    kb_search_features features;
} kb_search_result;

/* Open a searcher on an index directory. Returns NULL when memory ran out or the index cannot be
 * opened; then err holds the reason. */
kb_searcher *kb_searcher_open(const char *index_dir, char *err, size_t err_len);
void kb_searcher_close(kb_searcher *s);

/* Switch to the newest published index revision if there is one. Returns 1 when it changed,
 * 0 when not, -1 on error (the searcher keeps serving the revision it had). */
int kb_searcher_refresh(kb_searcher *s);
uint32_t kb_searcher_doccount(kb_searcher *s);
uint64_t kb_searcher_revision(kb_searcher *s);
/* When kb-indexer published the revision being served (Unix ms), or 0 when it did not say. */
int64_t kb_searcher_published_ms(kb_searcher *s);
/* Inverse document frequency of an index term, log((N + 1) / (df + 0.5)), or a negative number
 * when the index is empty. Used to weigh the words of unanswered questions (kb/gaps.h). */
double kb_searcher_term_idf(kb_searcher *s, const char *term);

/* Learned phrasings (kb/learn.h; issue 17): what agents taught, as a collection the searcher
 * scores besides the documents (kb/search/learned.h says how). Built once by the caller from the
 * counted phrasings, then shared by any number of searchers (reference counted, immutable). */
typedef struct kb_learned_index kb_learned_index;
typedef struct {
    const char *doc_id;
    const char *text;   /* the phrasing as taught (it is analyzed like a document's text) */
} kb_learned_entry;

/* Build an index of n phrasings (NULL with the reason in err). Its reference count is 1. */
kb_learned_index *kb_learned_index_build(const kb_learned_entry *entries, size_t n, char *err,
                                         size_t err_len);
/* The same, reusing what prev (the index built before, or NULL) analyzed: a phrasing whose text
 * prev holds is not analyzed again, so a rebuild after a few teachings costs little more than
 * copying the postings. The result is the index kb_learned_index_build would give. */
kb_learned_index *kb_learned_index_rebuild(const kb_learned_index *prev,
                                           const kb_learned_entry *entries, size_t n, char *err,
                                           size_t err_len);
kb_learned_index *kb_learned_index_retain(kb_learned_index *idx);
/* Drop a reference; the last one frees the index. NULL is ignored. */
void kb_learned_index_release(kb_learned_index *idx);
size_t kb_learned_index_size(const kb_learned_index *idx);
/* Use idx (retained; NULL for none) from the next search on, releasing the one used before. */
void kb_searcher_set_learned(kb_searcher *s, kb_learned_index *idx);

/* Search. Returns KB_OK and fills res (free with kb_search_result_free), or
 * KB_ERROR with the reason in kb_searcher_errmsg(). An empty or all-punctuation query is
 * not an error: it gives no hits and unresolved = 1. */
int kb_search(kb_searcher *s, const kb_search_request *req, kb_search_result *res);
void kb_search_result_free(kb_search_result *res);

/* The whole document with that id, as it was indexed, into *doc (free it with
 * kb_searcher_document_free). KB_NOT_FOUND when no document has that id;
 * KB_ERROR, with the reason in kb_searcher_errmsg(), when its stored form is missing (an
 * unreadable docdata.glass) or corrupt. */
int kb_searcher_get_document(kb_searcher *s, const char *id, kb_document **doc);
void kb_searcher_document_free(kb_document *doc);

const char *kb_searcher_errmsg(const kb_searcher *s);

#endif
