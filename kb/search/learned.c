/*
 * learned.c — the learned-phrasing index and its part in the ranking (see search/learned.h).
 *
 * Layout: every distinct term of the phrasings has one slot in an open-addressing table, holding
 * its phrasing frequency and where its postings start in two flat arrays (phrasing number, term
 * frequency). Scoring a question walks the postings of its terms only, accumulating per phrasing
 * in the searcher's scratch, which is reset through the list of phrasings it touched.
 *
 * A rebuild (kb_learned_index_rebuild) starts from the index before: its terms keep their
 * numbers, each old phrasing's (term, frequency) list is read back from the postings, and only
 * texts it did not hold are analyzed (analysis is most of a build's cost).
 */
#include "search/learned.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/document.h"
#include "util/hash.h"
#include "search/query.h"
#include "util/index_schema.h"

/* BM25 over the phrasing collection. Phrasings are short and their lengths vary little, so
 * length normalization matters less than for documents. */
#ifndef KB_LEARNED_K1
#define KB_LEARNED_K1 1.2
#endif
#ifndef KB_LEARNED_B
#define KB_LEARNED_B 0.5
#endif
/* Longest phrasing analyzed (bytes), as a search's question. */
#define MAX_TEXT KB_SEARCH_MAX_QUERY_BYTES

typedef struct {
    char *term;   /* NULL: empty slot */
    uint32_t df;  /* phrasings holding it */
    uint32_t start;
} term_slot;

struct kb_learned_index {
    atomic_int refs;
    size_t n;           /* phrasings */
    uint32_t *doc_of;   /* phrasing -> document number */
    uint16_t *len;      /* terms in the phrasing */
    char **texts;       /* phrasing -> text as taught */
    double avglen;
    size_t n_docs;
    char **doc_ids;     /* document number -> id */
    term_slot *slots;
    size_t cap;         /* slots, a power of two */
    uint32_t *post_phrasing;
    uint16_t *post_tf;
    size_t n_postings;
    uint16_t *n_info;   /* phrasing -> its distinct informative terms (not stop words, not in
                         * more than KB_LEARNED_MAX_POSTINGS phrasings): those a question must
                         * hold to match it whole */
};

/* ---------------------------------------------------------------- string interning */

typedef struct {
    char **keys;
    uint32_t *vals;
    size_t cap, count;
} intern_table;

static int intern_grow(intern_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **keys = calloc(cap, sizeof *keys);
    uint32_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i]) continue;
        size_t j = kb_hash_str(t->keys[i]) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
        vals[j] = t->vals[i];
    }
    free(t->keys);
    free(t->vals);
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
    return 0;
}

/* The number of key (a new one gets the next number, *added set). -1 when memory ran out. */
static int64_t intern(intern_table *t, const char *key, int *added)
{
    if ((t->count + 1) * 2 > t->cap && intern_grow(t) != 0) return -1;
    size_t j = kb_hash_str(key) & (t->cap - 1);
    while (t->keys[j]) {
        if (!strcmp(t->keys[j], key)) {
            if (added) *added = 0;
            return t->vals[j];
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (!(t->keys[j] = strdup(key))) return -1;
    t->vals[j] = (uint32_t)t->count++;
    if (added) *added = 1;
    return t->vals[j];
}

/* The keys by number (moved out of the table, which is freed). */
static char **intern_take(intern_table *t)
{
    char **by_num = calloc(t->count ? t->count : 1, sizeof *by_num);
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i]) {
            if (by_num) by_num[t->vals[i]] = t->keys[i];
            else free(t->keys[i]);
        }
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
    return by_num;
}

static void intern_free(intern_table *t)
{
    for (size_t i = 0; i < t->cap; i++) free(t->keys[i]);
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- building */

static const term_slot *find_term(const kb_learned_index *idx, const char *term)
{
    if (!idx->cap) return NULL;
    size_t j = kb_hash_str(term) & (idx->cap - 1);
    while (idx->slots[j].term) {
        if (!strcmp(idx->slots[j].term, term)) return &idx->slots[j];
        j = (j + 1) & (idx->cap - 1);
    }
    return NULL;
}

static void index_free(kb_learned_index *idx)
{
    if (!idx) return;
    for (size_t i = 0; idx->texts && i < idx->n; i++) free(idx->texts[i]);
    for (size_t i = 0; idx->doc_ids && i < idx->n_docs; i++) free(idx->doc_ids[i]);
    for (size_t i = 0; idx->slots && i < idx->cap; i++) free(idx->slots[i].term);
    free(idx->texts);
    free(idx->doc_ids);
    free(idx->slots);
    free(idx->doc_of);
    free(idx->len);
    free(idx->post_phrasing);
    free(idx->post_tf);
    free(idx->n_info);
    free(idx);
}

/* One phrasing's distinct terms, as term numbers with their frequency. */
typedef struct {
    uint32_t term, phrasing;
    uint16_t tf;
} term_tf;

/* What a rebuild reuses of the index before it: its terms, numbered in its slot order, each
 * phrasing's (term number, frequency) list read back from the postings, and its phrasings by
 * text. A phrasing whose text was there is not analyzed again. */
typedef struct {
    const kb_learned_index *idx;
    uint32_t *fwd_start;   /* phrasing -> its run in fwd (n + 1 entries) */
    term_tf *fwd;          /* .term: the term's number in the new build's table */
    intern_table texts;    /* text -> its number in by_text */
    uint32_t *by_text;     /* that number -> the first phrasing with the text */
} previous;

static void previous_free(previous *pv)
{
    free(pv->fwd_start);
    free(pv->fwd);
    free(pv->by_text);
    intern_free(&pv->texts);
    memset(pv, 0, sizeof *pv);
}

/* Seed the new build's term table with prev's terms and read prev back. 0, or -1 (out of
 * memory). */
static int previous_load(previous *pv, const kb_learned_index *prev, intern_table *terms)
{
    memset(pv, 0, sizeof *pv);
    pv->idx = prev;
    pv->fwd_start = calloc(prev->n + 1, sizeof *pv->fwd_start);
    pv->fwd = malloc((prev->n_postings ? prev->n_postings : 1) * sizeof *pv->fwd);
    if (!pv->fwd_start || !pv->fwd) return -1;
    for (size_t k = 0; k < prev->n_postings; k++) pv->fwd_start[prev->post_phrasing[k] + 1]++;
    for (size_t p = 0; p < prev->n; p++) pv->fwd_start[p + 1] += pv->fwd_start[p];
    uint32_t *fill = calloc(prev->n ? prev->n : 1, sizeof *fill);
    if (!fill) return -1;
    for (size_t j = 0; j < prev->cap; j++) {
        const term_slot *sl = &prev->slots[j];
        if (!sl->term) continue;
        int64_t t = intern(terms, sl->term, NULL);
        if (t < 0) {
            free(fill);
            return -1;
        }
        for (uint32_t k = sl->start; k < sl->start + sl->df; k++) {
            uint32_t p = prev->post_phrasing[k];
            pv->fwd[pv->fwd_start[p] + fill[p]++] = (term_tf){(uint32_t)t, p, prev->post_tf[k]};
        }
    }
    free(fill);
    pv->by_text = malloc((prev->n ? prev->n : 1) * sizeof *pv->by_text);
    if (!pv->by_text) return -1;
    for (size_t p = 0; p < prev->n; p++) {
        int added = 0;
        int64_t v = intern(&pv->texts, prev->texts[p], &added);
        if (v < 0) return -1;
        if (added) pv->by_text[v] = (uint32_t)p;
    }
    return 0;
}

/* The phrasing of prev with this text, or -1. */
static int64_t previous_find(previous *pv, const char *text)
{
    if (!pv->idx || !pv->texts.cap) return -1;
    size_t j = kb_hash_str(text) & (pv->texts.cap - 1);
    while (pv->texts.keys[j]) {
        if (!strcmp(pv->texts.keys[j], text)) return pv->by_text[pv->texts.vals[j]];
        j = (j + 1) & (pv->texts.cap - 1);
    }
    return -1;
}

/* Every phrasing's distinct terms, in phrasing order, and each term's phrasing frequency. */
typedef struct {
    term_tf *v;
    size_t n, cap;
    uint32_t *df;
    size_t cap_df;
} pair_list;

/* Make df hold term numbers below n_terms. 0, or -1 (out of memory). */
static int pairs_df_cover(pair_list *pl, size_t n_terms)
{
    if (n_terms <= pl->cap_df) return 0;
    size_t nc = pl->cap_df ? pl->cap_df : 4096;
    while (nc < n_terms) nc *= 2;
    uint32_t *nd = realloc(pl->df, nc * sizeof *nd);
    if (!nd) return -1;
    memset(nd + pl->cap_df, 0, (nc - pl->cap_df) * sizeof *nd);
    pl->df = nd;
    pl->cap_df = nc;
    return 0;
}

/* One occurrence of term t in the phrasing whose pairs start at first (tf of them at once when
 * it is known to be new). 0, or -1 (out of memory). */
static int pairs_add(pair_list *pl, size_t first, uint32_t t, uint32_t phrasing, uint16_t tf,
                     int known_new)
{
    if (!known_new) {
        for (size_t p = first; p < pl->n; p++)
            if (pl->v[p].term == t) {
                if (pl->v[p].tf < UINT16_MAX) pl->v[p].tf++;
                return 0;
            }
    }
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? pl->cap * 2 : 4096;
        term_tf *nv = realloc(pl->v, nc * sizeof *nv);
        if (!nv) return -1;
        pl->v = nv;
        pl->cap = nc;
    }
    if (pairs_df_cover(pl, (size_t)t + 1) != 0) return -1;
    pl->v[pl->n++] = (term_tf){t, phrasing, tf};
    pl->df[t]++;
    return 0;
}

kb_learned_index *kb_learned_index_build(const kb_learned_entry *entries, size_t n, char *err,
                                         size_t err_len)
{
    return kb_learned_index_rebuild(NULL, entries, n, err, err_len);
}

kb_learned_index *kb_learned_index_rebuild(const kb_learned_index *prev,
                                           const kb_learned_entry *entries, size_t n, char *err,
                                           size_t err_len)
{
    kb_learned_index *idx = calloc(1, sizeof *idx);
    kb_analyzer *a = kb_analyzer_new(err, err_len);
    intern_table terms = {0}, docs = {0};
    pair_list pl = {0};
    previous pv = {0};
    kb_term_list tl;
    kb_term_list_init(&tl);
    if (!idx || !a) goto fail;
    atomic_init(&idx->refs, 1);
    if (prev && previous_load(&pv, prev, &terms) != 0) goto oom;
    idx->doc_of = calloc(n ? n : 1, sizeof *idx->doc_of);
    idx->len = calloc(n ? n : 1, sizeof *idx->len);
    idx->texts = calloc(n ? n : 1, sizeof *idx->texts);
    if (!idx->doc_of || !idx->len || !idx->texts) goto oom;
    double total_len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = entries[i].text ? entries[i].text : "";
        size_t tlen = strnlen(text, MAX_TEXT);
        int64_t d = intern(&docs, entries[i].doc_id ? entries[i].doc_id : "", NULL);
        if (d < 0 || !(idx->texts[idx->n] = strndup(text, tlen))) goto oom;
        size_t first = pl.n;
        int64_t old = previous_find(&pv, idx->texts[idx->n]);
        if (old >= 0) { /* analyzed before: its terms as they were */
            for (uint32_t k = pv.fwd_start[old]; k < pv.fwd_start[old + 1]; k++)
                if (pairs_add(&pl, first, pv.fwd[k].term, (uint32_t)idx->n, pv.fwd[k].tf, 1) != 0)
                    goto oom;
            idx->len[idx->n] = prev->len[old];
        } else {
            kb_term_list_clear(&tl);
            if (kb_analyze(a, text, tlen, &tl) != 0) goto oom;
            for (size_t k = 0; k < tl.count; k++) {
                int64_t t = intern(&terms, tl.terms[k].text, NULL);
                if (t < 0 || pairs_add(&pl, first, (uint32_t)t, (uint32_t)idx->n, 1, 0) != 0)
                    goto oom;
            }
            idx->len[idx->n] = (uint16_t)(tl.count < UINT16_MAX ? tl.count : UINT16_MAX);
        }
        idx->doc_of[idx->n] = (uint32_t)d;
        total_len += idx->len[idx->n];
        idx->n++;
    }
    previous_free(&pv);
    if (pairs_df_cover(&pl, terms.count) != 0) goto oom;
    term_tf *pairs = pl.v;
    size_t n_pairs = pl.n;
    uint32_t *df = pl.df;
    idx->avglen = idx->n ? total_len / (double)idx->n : 1;
    if (idx->avglen <= 0) idx->avglen = 1;
    idx->n_docs = docs.count;
    if (!(idx->doc_ids = intern_take(&docs))) goto oom;

    /* Postings: each term's run, found by prefix sums of df. */
    size_t n_terms = terms.count;
    char **term_text = intern_take(&terms);
    uint32_t *start = calloc(n_terms + 1, sizeof *start), *fill = calloc(n_terms + 1, sizeof *fill);
    idx->cap = 16;
    while (idx->cap < n_terms * 2) idx->cap *= 2;
    idx->slots = calloc(idx->cap, sizeof *idx->slots);
    idx->n_postings = n_pairs;
    idx->post_phrasing = malloc((n_pairs ? n_pairs : 1) * sizeof *idx->post_phrasing);
    idx->post_tf = malloc((n_pairs ? n_pairs : 1) * sizeof *idx->post_tf);
    idx->n_info = calloc(idx->n ? idx->n : 1, sizeof *idx->n_info);
    if (!term_text || !start || !fill || !idx->slots || !idx->post_phrasing || !idx->post_tf ||
        !idx->n_info) {
        if (term_text)
            for (size_t t = 0; t < n_terms; t++) free(term_text[t]);
        free(term_text);
        free(start);
        free(fill);
        goto oom;
    }
    for (size_t t = 0; t < n_terms; t++) start[t + 1] = start[t] + df[t];
    for (size_t p = 0; p < n_pairs; p++) {
        uint32_t pos = start[pairs[p].term] + fill[pairs[p].term]++;
        idx->post_phrasing[pos] = pairs[p].phrasing;
        idx->post_tf[pos] = pairs[p].tf;
    }
    /* Each phrasing's informative terms: those a question's would be scored by (usable_term). */
    for (size_t t = 0; t < n_terms; t++) {
        if (df[t] > KB_LEARNED_MAX_POSTINGS || kb_query_is_stopword(term_text[t])) continue;
        for (uint32_t k = start[t]; k < start[t] + df[t]; k++)
            if (idx->n_info[idx->post_phrasing[k]] < UINT16_MAX) idx->n_info[idx->post_phrasing[k]]++;
    }
    for (size_t t = 0; t < n_terms; t++) {
        if (!df[t]) { /* a term of the index before that no phrasing holds now */
            free(term_text[t]);
            continue;
        }
        size_t j = kb_hash_str(term_text[t]) & (idx->cap - 1);
        while (idx->slots[j].term) j = (j + 1) & (idx->cap - 1);
        idx->slots[j] = (term_slot){term_text[t], df[t], start[t]};
    }
    free(term_text); /* the texts moved into the slots */
    free(start);
    free(fill);
    free(pl.v);
    free(pl.df);
    kb_term_list_free(&tl);
    kb_analyzer_free(a);
    return idx;
oom:
    snprintf(err, err_len, "out of memory building the learned-phrasing index");
fail:
    kb_term_list_free(&tl);
    kb_analyzer_free(a);
    intern_free(&terms);
    intern_free(&docs);
    previous_free(&pv);
    free(pl.v);
    free(pl.df);
    index_free(idx);
    return NULL;
}

kb_learned_index *kb_learned_index_retain(kb_learned_index *idx)
{
    if (idx) atomic_fetch_add(&idx->refs, 1);
    return idx;
}

void kb_learned_index_release(kb_learned_index *idx)
{
    if (idx && atomic_fetch_sub(&idx->refs, 1) == 1) index_free(idx);
}

size_t kb_learned_index_size(const kb_learned_index *idx) { return idx ? idx->n : 0; }

const char *kb_learned_phrasing_text(const kb_learned_index *idx, int32_t phrasing)
{
    return idx && phrasing >= 0 && (size_t)phrasing < idx->n ? idx->texts[phrasing] : NULL;
}

void kb_learned_scratch_free(kb_learned_scratch *sc)
{
    free(sc->acc);
    free(sc->matched);
    free(sc->touched);
    free(sc->best);
    free(sc->second);
    free(sc->best_phrasing);
    free(sc->docs);
    memset(sc, 0, sizeof *sc);
}

/* ---------------------------------------------------------------- scoring */

/* Size the scratch for idx. 0, or -1 when memory ran out. */
static int scratch_for(kb_learned_scratch *sc, const kb_learned_index *idx)
{
    if (sc->for_index == idx && sc->acc) return 0;
    kb_learned_scratch_free(sc);
    size_t nd = idx->n_docs ? idx->n_docs : 1;
    sc->acc = calloc(idx->n, sizeof *sc->acc);
    sc->matched = calloc(idx->n, sizeof *sc->matched);
    sc->touched = malloc(idx->n * sizeof *sc->touched);
    sc->best = calloc(nd, sizeof *sc->best);
    sc->second = calloc(nd, sizeof *sc->second);
    sc->best_phrasing = calloc(nd, sizeof *sc->best_phrasing);
    sc->docs = malloc(nd * sizeof *sc->docs);
    if (!sc->acc || !sc->matched || !sc->touched || !sc->best || !sc->second ||
        !sc->best_phrasing || !sc->docs) {
        kb_learned_scratch_free(sc);
        return -1;
    }
    sc->for_index = idx;
    return 0;
}

/* One document's best phrasing. */
typedef struct {
    uint32_t doc;
    int32_t phrasing;
    double sim;       /* the document's evidence: its best phrasing's similarity, plus
                       * KB_LEARNED_SECOND × its second best */
    double best, second;
    uint32_t docid; /* in the index being searched; 0 when not there */
    int in_hits;    /* among the matcher's hits */
} candidate;

static int by_sim_desc(const void *x, const void *y)
{
    const candidate *a = x, *b = y;
    if (a->sim != b->sim) return a->sim < b->sim ? 1 : -1;
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

/* Whether a query term takes part in phrasing similarity. */
static int scored_term(const kb_query_term *t)
{
    return !t->stop;
}

/* Whether query term t takes part, with its slot in the collection (NULL: in no phrasing) and
 * its inverse phrasing frequency. A term in very many phrasings (a character of every other
 * question) tells them little apart and costs the most: left out, as the query leaves out such
 * terms. */
static int usable_term(const kb_learned_index *idx, const kb_query_term *t, const term_slot **slot,
                       double *idf)
{
    if (!scored_term(t)) return 0;
    *slot = find_term(idx, t->text);
    if (*slot && (*slot)->df > KB_LEARNED_MAX_POSTINGS) return 0;
    *idf = log(((double)idx->n + 1) / ((*slot ? (*slot)->df : 0) + 0.5));
    if (*idf < 0) *idf = 0;
    return 1;
}

/* The similarity (0..1) of the question to one of the document's own texts (its title, an
 * editor's <q>), scored exactly like a taught phrasing: what the document says it is about
 * competes with what agents taught on the same scale. */
static double own_text_sim(const kb_learned_index *idx, kb_analyzer *a, const kb_query *q,
                           const char *text, kb_term_list *tl)
{
    kb_term_list_clear(tl);
    if (kb_analyze(a, text, strnlen(text, MAX_TEXT), tl) != 0 || !tl->count) return 0;
    double score = 0, norm = 0, len_norm = 1 - KB_LEARNED_B + KB_LEARNED_B * tl->count / idx->avglen;
    for (size_t i = 0; i < q->n_terms; i++) {
        const kb_query_term *t = &q->terms[i];
        const term_slot *slot;
        double idf;
        if (!usable_term(idx, t, &slot, &idf)) continue;
        if (!t->expansion) norm += t->weight * idf;
        unsigned tf = 0;
        for (size_t k = 0; k < tl->count; k++) tf += strcmp(tl->terms[k].text, t->text) == 0;
        if (tf) score += t->weight * idf * tf * (KB_LEARNED_K1 + 1) / (tf + KB_LEARNED_K1 * len_norm);
    }
    double sim = norm > 0 ? score / norm : 0;
    return sim > 1 ? 1 : sim;
}

/* The best similarity of the question to the document's title and questions. */
static double own_sim(const kb_learned_index *idx, kb_analyzer *a, const kb_query *q,
                      const kb_document *doc, kb_term_list *tl)
{
    if (!doc) return 0;
    double best = own_text_sim(idx, a, q, doc->title, tl);
    for (size_t i = 0; i < doc->n_questions; i++) {
        double s = own_text_sim(idx, a, q, doc->questions[i], tl);
        if (s > best) best = s;
    }
    return best;
}

/* Score the question against the phrasings that share a term with it; the documents whose
 * evidence reaches KB_LEARNED_MIN_SIM into cands (best first, at most max). Their count, or -1
 * when memory ran out. */
static long score_phrasings(const kb_learned_index *idx, kb_learned_scratch *sc, const kb_query *q,
                            candidate *cands, size_t max)
{
    double norm = 0;
    sc->n_touched = 0;
    sc->n_docs = 0;
    for (size_t i = 0; i < q->n_terms; i++) {
        const kb_query_term *t = &q->terms[i];
        const term_slot *slot;
        double idf;
        if (!usable_term(idx, t, &slot, &idf)) continue;
        /* The ideal phrasing holds each typed term once at average length: what the question's
         * own terms could score. Expansions stand in for typed terms and add nothing to it. */
        if (!t->expansion) norm += t->weight * idf;
        if (!slot) continue;
        const uint32_t *ph = idx->post_phrasing + slot->start;
        const uint16_t *tf = idx->post_tf + slot->start;
        for (uint32_t k = 0; k < slot->df; k++) {
            double len_norm = 1 - KB_LEARNED_B + KB_LEARNED_B * idx->len[ph[k]] / idx->avglen;
            double part = t->weight * idf * tf[k] * (KB_LEARNED_K1 + 1) / (tf[k] + KB_LEARNED_K1 * len_norm);
            if (sc->acc[ph[k]] == 0) sc->touched[sc->n_touched++] = ph[k];
            sc->acc[ph[k]] += part;
            sc->matched[ph[k]] += 1;
        }
    }
    /* A question that says less than one word found in a single phrasing ("额度", a product's
     * name) is a keyword, not a way of asking: every phrasing holding that word would resemble
     * it perfectly, and the documents' own words are the better guide. Only a phrasing it
     * matches whole (the very question taught) counts then. */
    int keyword = norm < KB_LEARNED_MIN_INFO * log((double)idx->n + 1);
    /* Best and second-best phrasing per document. */
    for (size_t k = 0; k < sc->n_touched; k++) {
        uint32_t p = sc->touched[k];
        double sim = norm > 0 ? sc->acc[p] / norm : 0;
        if (sim > 1) sim = 1;
        if (keyword && (sim < 0.999 || sc->matched[p] < idx->n_info[p])) sim = 0;
        sc->acc[p] = 0;
        sc->matched[p] = 0;
        if (sim <= 0) continue;
        uint32_t d = idx->doc_of[p];
        if (sc->best[d] == 0) sc->docs[sc->n_docs++] = d;
        if (sim > sc->best[d]) {
            sc->second[d] = sc->best[d];
            sc->best[d] = sim;
            sc->best_phrasing[d] = (int32_t)p;
        } else if (sim > sc->second[d]) {
            sc->second[d] = sim;
        }
    }
    size_t n_cands = 0;
    for (size_t k = 0; k < sc->n_docs; k++) {
        uint32_t d = sc->docs[k];
        double best = sc->best[d], second = sc->second[d];
        sc->best[d] = sc->second[d] = 0;
        double ev = best + KB_LEARNED_SECOND * second;
        if (ev < KB_LEARNED_MIN_SIM) continue;
        size_t c;
        if (n_cands == max) { /* full: replace the weakest when better */
            size_t w = 0;
            for (size_t j = 1; j < n_cands; j++)
                if (cands[j].sim < cands[w].sim) w = j;
            if (ev <= cands[w].sim) continue;
            c = w;
        } else {
            c = n_cands++;
        }
        cands[c] = (candidate){d, sc->best_phrasing[d], ev, best, second, 0, 0};
    }
    qsort(cands, n_cands, sizeof *cands, by_sim_desc);
    return (long)n_cands;
}

/* Whether a document found through its phrasings may be shown: valid on the day, in one of the
 * requested categories. */
static int passes(kb_analyzer *a, const kb_learned_filter *f, const kb_document *doc)
{
    if (!f->valid_on && !f->n_categories) return 1;
    if (!doc) return 0;
    int ok = 1;
    char c[9];
    if (f->valid_on) {
        if (kb_document_date_compact(doc->valid_from, c) && strcmp(c, f->valid_on) > 0) ok = 0;
        if (kb_document_date_compact(doc->valid_until, c) && strcmp(c, f->valid_on) < 0) ok = 0;
    }
    if (ok && f->n_categories) {
        size_t plen = strlen(KB_TERM_CATEGORY);
        ok = 0;
        for (size_t i = 0; !ok && i < doc->n_categories; i++) {
            char *folded = kb_analyzer_fold(a, doc->categories[i], strlen(doc->categories[i]));
            for (size_t j = 0; folded && !ok && j < f->n_categories; j++) {
                const char *want = f->categories[j] + plen;
                size_t wl = strlen(want);
                ok = strncmp(folded, want, wl) == 0 && (folded[wl] == '\0' || folded[wl] == '/');
            }
            free(folded);
        }
    }
    return ok;
}

typedef struct {
    kbx_hit hit;
    kb_learned_part part;
    size_t order;
    const char *unread_id; /* found only through its phrasings and not read yet: its id (whether
                            * it may be shown is checked only if it reaches the kept hits) */
} merged;

static int by_score_desc(const void *x, const void *y)
{
    const merged *a = x, *b = y;
    if (a->hit.score != b->hit.score) return a->hit.score < b->hit.score ? 1 : -1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Read the stored data of a hit found only through its phrasings into m->hit (decoded into
 * docs, where the page takes it). 0 when it may be shown (passes), -1 when it may not or cannot
 * be read. */
static int read_shown(kbx_reader *db, kb_stored_doc_codec *codec, kb_analyzer *a,
                      const kb_learned_filter *f, kb_doc_cache *docs, merged *m)
{
    char term[KB_DOC_ID_MAX + 8];
    snprintf(term, sizeof term, KB_TERM_ID "%s", m->unread_id);
    m->unread_id = NULL;
    char *data = NULL;
    size_t len = 0;
    if (kbx_reader_get_data(db, term, &data, &len) != KBX_OK || !len ||
        !passes(a, f, kb_doc_cache_get(docs, codec, m->hit.docid, data, len))) {
        free(data);
        return -1;
    }
    m->hit.data = data;
    m->hit.data_len = len;
    return 0;
}

/* What a phrasing of similarity sim adds, in units of the best document's BM25: nothing at
 * the threshold, KB_LEARNED_WEIGHT for the very question taught, so that a phrasing that barely
 * resembles the question barely counts. */
static double learned_score_above(double sim, double base, double unit)
{
    if (sim <= base) return 0;
    return KB_LEARNED_WEIGHT * unit * pow((sim - base) / (1 - base), KB_LEARNED_POWER);
}


/* Raise the hit docid (in m, sorted best first) to KB_LEARNED_SLOT_POS when it is below: its
 * learned part becomes what puts it just above the hit there. The documents' first hits keep
 * their places; one page place goes to what agents taught. */
static void place_in_slot(merged *m, size_t n, uint32_t docid)
{
    size_t at = 0, want = KB_LEARNED_SLOT_POS;
    while (at < n && m[at].hit.docid != docid) at++;
    if (at >= n || at <= want) return;
    double score = m[want].hit.score + fabs(m[want].hit.score) * 1e-6 + 1e-9;
    m[at].part.learned += score - m[at].hit.score;
    m[at].part.slot = 1;
    m[at].hit.score = score;
    merged t = m[at];
    memmove(m + want + 1, m + want, (at - want) * sizeof *m);
    m[want] = t;
}

int kb_learned_merge(const kb_learned_index *idx, kb_learned_scratch *sc, kbx_reader *db,
                     kb_stored_doc_codec *codec, kb_analyzer *a, const kb_query *q,
                     const kb_learned_filter *f, size_t depth, kbx_results *xr,
                     kb_doc_cache *docs, kb_learned_part **parts)
{
    *parts = NULL;
    if (!idx || !idx->n || !depth) return 0;
    if (scratch_for(sc, idx) != 0) return -1;
    candidate *cands = calloc(depth, sizeof *cands);
    if (!cands) return -1;
    long n_cands = score_phrasings(idx, sc, q, cands, depth);
    merged *m = calloc(xr->n_hits + (size_t)(n_cands > 0 ? n_cands : 0) + 1, sizeof *m);
    *parts = calloc(xr->n_hits + (size_t)(n_cands > 0 ? n_cands : 0) + 1, sizeof **parts);
    if (n_cands < 0 || !m || !*parts) {
        free(cands);
        free(m);
        free(*parts);
        *parts = NULL;
        return -1;
    }
    /* The unit the learned part is counted in: the best document's BM25 for this question, so
     * it weighs the same against documents on every question. */
    double unit = xr->n_hits && xr->hits[0].score > 0 ? xr->hits[0].score : 1.0;
    char term[KB_DOC_ID_MAX + 8];
    for (long c = 0; c < n_cands; c++) {
        snprintf(term, sizeof term, KB_TERM_ID "%s", idx->doc_ids[cands[c].doc]);
        if (kbx_reader_docid(db, term, &cands[c].docid) != KBX_OK) cands[c].docid = 0;
    }
    size_t n = 0;
    kb_term_list tl;
    kb_term_list_init(&tl);
    /* Gate: the phrasings must resemble the question more than the best document's own title
     * or questions do, or the documents' own words already say where the answer is. */
    double base = KB_LEARNED_MIN_SIM;
    /* Only the first hits: the document whose title says most of the question is almost always
     * among them, and reading and analyzing a document is the dear part of this step. */
    for (size_t i = 0; n_cands > 0 && i < xr->n_hits && i < KB_LEARNED_GATE_HITS; i++) {
        const kbx_hit *h = &xr->hits[i];
        double own = own_sim(idx, a, q, kb_doc_cache_get(docs, codec, h->docid, h->data, h->data_len), &tl);
        double gate = KB_LEARNED_MIN_SIM + KB_LEARNED_GATE * (own - KB_LEARNED_MIN_SIM);
        if (gate > base) base = gate < 0.95 ? gate : 0.95;
    }
    for (size_t i = 0; i < xr->n_hits; i++, n++) {
        m[n].hit = xr->hits[i];
        m[n].order = n;
        m[n].part = (kb_learned_part){xr->hits[i].score, 0, 0, -1, 0};
        for (long c = 0; c < n_cands; c++)
            if (cands[c].docid && cands[c].docid == xr->hits[i].docid) {
                m[n].part.sim = cands[c].best;
                m[n].part.phrasing = cands[c].phrasing;
                m[n].part.learned = learned_score_above(cands[c].sim, base, unit);
                m[n].hit.score += m[n].part.learned;
                cands[c].in_hits = 1;
            }
    }
    kb_term_list_free(&tl);
    /* The first page's place for the best taught document: the one whose phrasings resemble
     * the question most, when they resemble it nearly as much as the gate asks. */
    double slot_min = KB_LEARNED_SLOT_REL * base;
    if (slot_min < KB_LEARNED_SLOT_MIN) slot_min = KB_LEARNED_SLOT_MIN;
    long slot = -1;
    /* Documents found only through their phrasings: still in the index, valid, in the
     * categories asked for. Reading and decoding a document is the dear part of this step, so
     * it is done only for the slot's document, which must be known now, and, after sorting,
     * for those that reach the kept hits. */
    for (long c = 0; c < n_cands; c++) {
        if (cands[c].in_hits) {
            if (slot < 0) slot = c;
            continue;
        }
        if (!cands[c].docid) continue;
        double learned = learned_score_above(cands[c].sim, base, unit);
        /* not more like the question than the documents' own words, nor the slot's */
        if (learned <= 0 && !(slot < 0 && cands[c].sim >= slot_min)) continue;
        m[n].hit = (kbx_hit){.docid = cands[c].docid, .score = learned};
        m[n].part = (kb_learned_part){0, learned, cands[c].best, cands[c].phrasing, 0};
        m[n].order = n;
        m[n].unread_id = idx->doc_ids[cands[c].doc];
        if (slot < 0) { /* the slot's document: the first that may be shown */
            if (read_shown(db, codec, a, f, docs, &m[n]) != 0) continue;
            slot = c;
        }
        n++;
    }
    qsort(m, n, sizeof *m, by_score_desc);
    /* Read those that are kept; one that may not be shown leaves its place to the next. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept < depth && m[i].unread_id && read_shown(db, codec, a, f, docs, &m[i]) != 0) continue;
        m[kept++] = m[i];
    }
    n = kept;
    if (slot >= 0 && cands[slot].sim >= slot_min) place_in_slot(m, n, cands[slot].docid);
    free(cands);
    size_t keep = n < depth ? n : depth;
    if (n > xr->n_hits) {
        kbx_hit *grown = realloc(xr->hits, n * sizeof *grown);
        if (!grown) {
            for (size_t i = 0; i < n; i++)
                if (m[i].order >= xr->n_hits) free(m[i].hit.data);
            free(m);
            free(*parts);
            *parts = NULL;
            /* xr's scores were not changed: its hits were copied into m */
            return -1;
        }
        xr->hits = grown;
    }
    for (size_t i = 0; i < n; i++) {
        if (i < keep) {
            xr->hits[i] = m[i].hit;
            (*parts)[i] = m[i].part;
        } else {
            free(m[i].hit.data);
        }
    }
    xr->n_hits = keep;
    free(m);
    return 0;
}
