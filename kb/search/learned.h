/*
 * search/learned.h — the learned-phrasing index and its part in the ranking (issue 17).
 *
 * Agents' phrasings that the knowledge base learned (kb/learn.h) are not a lookup table of
 * questions: they are a small collection of their own, analyzed with the same analyzer as
 * documents and scored as a field of their own, with their own statistics — BM25 over the
 * phrasing collection (N phrasings, each term's phrasing frequency, phrasing lengths), so a word
 * that many taught phrasings share (办理, 怎么) says little and a word only one document's
 * phrasings hold says much. A question is compared with every phrasing that shares a term with it
 * (the posting lists of its terms only: the cost grows with those lists, not with the collection)
 * and each document takes its best phrasing's similarity, 0..1: that phrasing's BM25 over the
 * BM25 an ideal phrasing (every term of the question, once, at average length) would get.
 *
 * A document's learned evidence is its best phrasing's similarity plus KB_LEARNED_SECOND × its
 * second best (several taught phrasings that resemble the question say more than one).
 *
 * The gate: the documents' own words come first. The title and editors' <questions> of each
 * document the matcher found are scored exactly like phrasings; the learned evidence counts only
 * above base = KB_LEARNED_MIN_SIM + KB_LEARNED_GATE × (the best own similarity − MIN): when a
 * document already says what was asked in its title, a taught phrasing must resemble the
 * question more than that to move anything (this is what keeps untaught questions where they
 * were). Above the base a document gains
 *     KB_LEARNED_WEIGHT × ((sim − base) / (1 − base))^KB_LEARNED_POWER × the top document's BM25,
 * added after the structure boost (search/structure.h), so the very question taught (sim 1)
 * outranks any document's own match and a phrasing that barely clears the base barely counts. A
 * document found only through its phrasings is fetched by id (when it is still in the index,
 * valid and in the requested categories) and enters the hits with that part alone. With no
 * learned phrasing the ranking is exactly the documents'.
 *
 * The slot: an unseen phrasing of a taught document often resembles its taught phrasings less
 * than some other document's title resembles it, so the gate keeps it out; but the document
 * whose phrasings resemble the question most is the learned side's best guess. When its
 * evidence is at least KB_LEARNED_SLOT_MIN and KB_LEARNED_SLOT_REL × the base, it gets the
 * first page's fifth place (KB_LEARNED_SLOT_POS) if it ranked below: the documents' own first
 * four keep their places, one place goes to what agents taught.
 *
 * Keyword questions: a question carrying less than one rare word's information (Σ weight ×
 * IDF over the phrasing collection < KB_LEARNED_MIN_INFO × log(N + 1); "额度", a product name)
 * resembles every phrasing holding its word perfectly; for it only a phrasing it matches whole
 * (every informative term of the phrasing in the question) counts.
 *
 * The values were chosen on bq-dev-intents --learn 0.5 (docs/SEARCH.md, "Learning from
 * feedback", has every variant tried) and checked on four other splits of it.
 *
 * The index is immutable once built and shared by every searcher (reference counted); each
 * searcher keeps its own scratch for scoring (kb_learned_scratch).
 */
#ifndef KB_SEARCH_LEARNED_H
#define KB_SEARCH_LEARNED_H

#include <stddef.h>
#include <stdint.h>

#include "kb/analyzer.h"
#include "kb/search.h"
#include "document/stored_doc.h"
#include "search/doc_cache.h"
#include "search/query.h"
#include "xapian/xapian.h"

#ifndef KB_LEARNED_WEIGHT
#define KB_LEARNED_WEIGHT 4.0
#endif
#ifndef KB_LEARNED_MIN_SIM
#define KB_LEARNED_MIN_SIM 0.2
#endif
#ifndef KB_LEARNED_SECOND
#define KB_LEARNED_SECOND 0.5
#endif
#ifndef KB_LEARNED_GATE
#define KB_LEARNED_GATE 0.7
#endif
#ifndef KB_LEARNED_POWER
#define KB_LEARNED_POWER 1.5
#endif

/* A question carrying less than this × the information of one word found in a single phrasing
 * (Σ weight × IDF < KB_LEARNED_MIN_INFO × log(N + 1)) is a keyword: only phrasings it matches
 * whole count for it. */
#ifndef KB_LEARNED_MIN_INFO
#define KB_LEARNED_MIN_INFO 1.0
#endif

/* The slot: the best taught document is raised to this place of the first page (0-based: the
 * fifth hit) when its evidence is at least KB_LEARNED_SLOT_MIN and KB_LEARNED_SLOT_REL × the
 * gate's base, even below the base. */
#ifndef KB_LEARNED_SLOT_POS
#define KB_LEARNED_SLOT_POS 4
#endif
#ifndef KB_LEARNED_SLOT_MIN
#define KB_LEARNED_SLOT_MIN 0.3
#endif
#ifndef KB_LEARNED_SLOT_REL
#define KB_LEARNED_SLOT_REL 0.8
#endif

/* Terms in more phrasings than this are left out of the similarity (cost and little meaning). */
#ifndef KB_LEARNED_MAX_POSTINGS
#define KB_LEARNED_MAX_POSTINGS 5000
#endif

/* How many of the matcher's first hits the gate reads (their title and questions). */
#ifndef KB_LEARNED_GATE_HITS
#define KB_LEARNED_GATE_HITS 3
#endif

/* A searcher's scratch: per-phrasing and per-document accumulators, reset through the lists of
 * touched ones. */
typedef struct {
    const kb_learned_index *for_index; /* sized for this index */
    double *acc;            /* per phrasing: its BM25 for the question */
    uint16_t *matched;      /* per phrasing: how many of its terms the question holds */
    uint32_t *touched;
    size_t n_touched;
    double *best, *second;  /* per document: its best and second-best phrasing's similarity */
    int32_t *best_phrasing;
    uint32_t *docs;         /* the documents touched */
    size_t n_docs;
} kb_learned_scratch;

void kb_learned_scratch_free(kb_learned_scratch *sc);

/* The learned part of each hit, aligned with the matcher's hits after kb_learned_merge. */
typedef struct {
    double bm25;      /* the document's own score (before the structure boost) */
    double learned;   /* what its phrasings added (score units) */
    double sim;       /* its best phrasing's similarity, 0..1 (0: none; set even when the gate
                       * left the learned part at 0) */
    int32_t phrasing; /* that phrasing (kb_learned_phrasing_text), or -1 */
    int slot;         /* raised to the first page's slot (KB_LEARNED_SLOT_POS), where the
                       * search keeps it after the structure boost */
} kb_learned_part;

/* Where the page's documents must come from: today and categories, as kb_search filters. */
typedef struct {
    const char *valid_on;          /* "YYYYMMDD", or NULL to take expired documents too */
    const char *const *categories; /* "XC<folded path>" filter terms */
    size_t n_categories;
} kb_learned_filter;

/* Add the learned phrasings' part to the matcher's hits xr (re-sorted by the new score, at most
 * `depth` hits kept; documents found only through phrasings added, with their data). parts gets
 * one entry per hit of xr (malloc'd; NULL when idx is NULL or empty: then xr is untouched).
 * The documents it decodes stay in docs (search/doc_cache.h) for the page to take.
 * 0, or -1 when memory ran out (xr is then untouched). */
int kb_learned_merge(const kb_learned_index *idx, kb_learned_scratch *sc, kbx_reader *db,
                     kb_stored_doc_codec *codec, kb_analyzer *a, const kb_query *q,
                     const kb_learned_filter *f, size_t depth, kbx_results *xr,
                     kb_doc_cache *docs, kb_learned_part **parts);

/* The text of a phrasing (as taught, redacted). */
const char *kb_learned_phrasing_text(const kb_learned_index *idx, int32_t phrasing);

#endif
