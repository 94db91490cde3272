/*
 * search.c — answer a question from the index (see kb/search.h).
 *
 * Flow: question → weighted terms (query.c) → Xapian BM25 over an OR of the terms, filtered by
 * validity window and categories → hits → best passage per hit (snippet.c) → confidence.
 *
 * Confidence is about the top hit only: does it answer the question? Its features and model are
 * in confidence.c; here the matcher is asked for enough hits to read them (KB_CONFIDENCE_HITS),
 * whatever the page.
 */
#include "kb/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/analyzer.h"
#include "kb/document.h"
#include "util/index_schema.h"
#include "search/confidence.h"
#include "search/doc_cache.h"
#include "search/learned.h"
#include "search/query.h"
#include "search/snippet.h"
#include "search/structure.h"
#include "document/stored_doc.h"
#include "xapian/xapian.h"

/* Below this confidence the search is unresolved: the top hit more likely does not answer than
 * does (confidence is calibrated: search/confidence.h). */
#define UNRESOLVED_BELOW 0.5
/* BM25 parameters (compile-time tunables, see bench/tune.sh). */
#ifndef KB_BM25_K1
#define KB_BM25_K1 1.5
#endif
#ifndef KB_BM25_B
#define KB_BM25_B 0.75
#endif

struct kb_searcher {
    kbx_reader *db;
    kb_analyzer *analyzer;
    kb_stored_doc_codec *codec;
    kb_learned_index *learned;   /* what agents taught (search/learned.h), or NULL */
    kb_learned_scratch learned_scratch;
    char err[512];
};

kb_searcher *kb_searcher_open(const char *index_dir, char *err, size_t err_len)
{
    kb_searcher *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->analyzer = kb_analyzer_new(err, err_len);
    s->codec = kb_stored_doc_codec_new();
    if (!s->analyzer || !s->codec) {
        if (s->analyzer) snprintf(err, err_len, "out of memory"); /* else the analyzer said why */
        kb_searcher_close(s);
        return NULL;
    }
    s->db = kbx_reader_open(index_dir);
    if (!s->db || kbx_reader_status(s->db) != KBX_OK) {
        snprintf(err, err_len, "no usable index at %s (%s): run kb-indexer --index %s PATH... first",
                 index_dir, s->db ? kbx_reader_errmsg(s->db) : "out of memory", index_dir);
        kb_searcher_close(s);
        return NULL;
    }
    return s;
}

void kb_searcher_close(kb_searcher *s)
{
    if (!s) return;
    kbx_reader_close(s->db);
    kb_analyzer_free(s->analyzer);
    kb_stored_doc_codec_free(s->codec);
    kb_learned_index_release(s->learned);
    kb_learned_scratch_free(&s->learned_scratch);
    free(s);
}

void kb_searcher_set_learned(kb_searcher *s, kb_learned_index *idx)
{
    kb_learned_index *old = s->learned;
    s->learned = kb_learned_index_retain(idx);
    kb_learned_index_release(old);
}

int kb_searcher_refresh(kb_searcher *s)
{
    int changed = 0;
    if (kbx_reader_reopen(s->db, &changed) != KBX_OK) {
        snprintf(s->err, sizeof s->err, "cannot reopen the index: %s", kbx_reader_errmsg(s->db));
        return -1;
    }
    return changed;
}

uint32_t kb_searcher_doccount(kb_searcher *s) { return kbx_reader_doccount(s->db); }
uint64_t kb_searcher_revision(kb_searcher *s) { return kbx_reader_revision(s->db); }

int64_t kb_searcher_published_ms(kb_searcher *s)
{
    char buf[32] = "";
    if (kbx_reader_get_metadata(s->db, KB_META_PUBLISHED_AT, buf, sizeof buf) != KBX_OK || !buf[0])
        return 0;
    char *end;
    long long secs = strtoll(buf, &end, 10);
    return *end == '\0' && secs > 0 ? (int64_t)secs * 1000 : 0;
}

double kb_searcher_term_idf(kb_searcher *s, const char *term)
{
    uint32_t n = kbx_reader_doccount(s->db);
    if (!n) return -1;
    return log((n + 1.0) / (kbx_reader_termfreq(s->db, term) + 0.5));
}
const char *kb_searcher_errmsg(const kb_searcher *s) { return s->err; }

/* ---------------------------------------------------------------- helpers */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Today as YYYYMMDD, from "YYYY-MM-DD" when given, else the local date. */
static void today_compact(const char *given, char out[9])
{
    if (given && kb_document_date_compact(given, out)) return;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
}

/* Compare a "YYYY-MM-DD" date with a "YYYYMMDD" one: <0, 0, >0. An empty date compares 0. */
static int date_cmp(const char *dashed, const char *compact)
{
    char c[9];
    if (!kb_document_date_compact(dashed, c)) return 0;
    return strcmp(c, compact);
}

/* Fill one hit from the stored document. */
static int fill_hit(kb_searcher *s, kb_doc_cache *docs, kb_hit *h, const kbx_hit *xh,
                    const kb_query *q, const char *today, double *snippet_score,
                    kb_document **doc_out)
{
    kb_document *doc = kb_doc_cache_take(docs, s->codec, xh->docid, xh->data, xh->data_len);
    if (!doc) return -1;
    int rc = 0;
    h->score = xh->score;
    h->id = strdup(doc->id);
    h->title = strdup(doc->title);
    memcpy(h->updated, doc->updated, sizeof h->updated);
    memcpy(h->valid_until, doc->valid_until, sizeof h->valid_until);
    /* Outside its window: ended before today, or starts after today. */
    h->expired = date_cmp(h->valid_until, today) < 0 || date_cmp(doc->valid_from, today) > 0;
    h->categories = calloc(doc->n_categories ? doc->n_categories : 1, sizeof *h->categories);
    if (!h->categories) rc = -1;
    for (size_t i = 0; rc == 0 && i < doc->n_categories; i++)
        if (!(h->categories[h->n_categories++] = strdup(doc->categories[i]))) rc = -1;
    h->must_know = doc->must_know;
    if (rc == 0 && doc->n_must_know_teams) {
        h->must_know_teams = calloc(doc->n_must_know_teams, sizeof *h->must_know_teams);
        if (!h->must_know_teams) rc = -1;
        for (size_t i = 0; rc == 0 && i < doc->n_must_know_teams; i++)
            if (!(h->must_know_teams[h->n_must_know_teams++] = strdup(doc->must_know_teams[i])))
                rc = -1;
    }
    kb_snippet snip;
    if (rc == 0 && kb_snippet_best(doc, q, &snip) == 0) {
        if (snippet_score) *snippet_score = snip.score;
        h->snippet = snip.html;
        h->section_id = snip.section_id;
        h->section_title = snip.section_title;
    } else {
        rc = -1;
    }
    *doc_out = doc;
    if (!h->id || !h->title) rc = -1;
    return rc;
}

static void free_hit(kb_hit *h)
{
    free(h->id);
    free(h->title);
    free(h->snippet);
    free(h->section_id);
    free(h->section_title);
    free(h->explain.learned_phrasing);
    for (size_t i = 0; i < h->n_categories; i++) free(h->categories[i]);
    free(h->categories);
    for (size_t i = 0; i < h->n_must_know_teams; i++) free(h->must_know_teams[i]);
    free(h->must_know_teams);
}

int kb_hit_must_know_for(const kb_hit *hit, const char *team)
{
    return hit ? kb_must_know_applies(hit->must_know, hit->must_know_teams,
                                      hit->n_must_know_teams, team)
               : 0;
}

void kb_search_result_free(kb_search_result *res)
{
    for (size_t i = 0; i < res->n_hits; i++) free_hit(&res->hits[i]);
    free(res->hits);
    free(res->top_id);
    memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- search */

/* The matcher's terms: the query's, less those in no document. The matched-term bits Xapian
 * returns refer to positions in this list (see kb_confidence_hit_coverage). */
static kbx_query_term *matcher_terms(const kb_query *q, size_t *n_out)
{
    kbx_query_term *terms = calloc(q->n_terms ? q->n_terms : 1, sizeof *terms);
    size_t n = 0;
    for (size_t i = 0; terms && i < q->n_terms; i++) {
        if (q->terms[i].df == 0) continue; /* cannot match anything */
        terms[n].term = q->terms[i].text;
        terms[n].weight = q->terms[i].weight;
        n++;
    }
    *n_out = n;
    return terms;
}

/* One XC<folded path> filter term per requested category (any level; a trailing '/' ignored).
 * NULL when memory ran out. */
static char **category_filters(kb_searcher *s, const kb_search_request *req)
{
    char **filters = calloc(req->n_categories ? req->n_categories : 1, sizeof *filters);
    for (size_t i = 0; filters && i < req->n_categories; i++) {
        const char *cat = req->categories[i];
        size_t cl = strlen(cat);
        while (cl > 0 && cat[cl - 1] == '/') cl--;
        char *folded = kb_analyzer_fold(s->analyzer, cat, cl);
        if (folded) filters[i] = malloc(strlen(folded) + sizeof KB_TERM_CATEGORY);
        if (!folded || !filters[i]) {
            free(folded);
            for (size_t j = 0; j < i; j++) free(filters[j]);
            free(filters);
            return NULL;
        }
        sprintf(filters[i], KB_TERM_CATEGORY "%s", folded);
        free(folded);
    }
    return filters;
}

/* One hit of the matcher's ranking, while the page is being built. */
typedef struct {
    kbx_hit x;          /* the matcher's hit; its score becomes the re-ranked score */
    kb_hit hit;         /* filled when the page or the re-ranking needs it */
    int filled;
    double passage;     /* the idf mass of its best passage (kb_snippet.score) */
    double boost;       /* its structure boost (1 when not re-ranked) */
    kb_structure_facts facts; /* what its structure says (search/structure.h; the re-ranked head) */
    kb_learned_part learned; /* the learned phrasings' part (search/learned.h) */
} ranked_hit;

/* Read the hits the page [offset, offset + limit) and the re-ranked head need, and multiply the
 * head's scores by their structure boost (search/structure.h). A hit whose stored data cannot
 * be read stays unfilled and keeps its BM25 score. */
static void fill_ranked(kb_searcher *s, kb_doc_cache *docs, ranked_hit *r, size_t n, size_t head,
                        uint32_t offset, uint32_t limit, const kb_query *q, const char *asked,
                        const char *today)
{
    for (size_t i = 0; i < n; i++) {
        if (i >= head && (i < offset || i - offset >= limit)) continue;
        kb_document *doc = NULL;
        if (fill_hit(s, docs, &r[i].hit, &r[i].x, q, today, &r[i].passage, &doc) < 0) {
            free_hit(&r[i].hit);
            memset(&r[i].hit, 0, sizeof r[i].hit);
            free(doc);
            continue;
        }
        r[i].filled = 1;
        if (i < head && q->info_mass > 0) {
            r[i].facts = kb_structure_read(s->analyzer, doc, q, kb_query_matched_bits(q, r[i].x.matched), asked);
            r[i].boost = kb_structure_boost(r[i].facts.title_share, r[i].passage / q->info_mass);
            /* The structure boosts what the document itself matched; what its taught phrasings
             * add is counted beside it (search/learned.h). */
            r[i].x.score = r[i].learned.bm25 * r[i].boost + r[i].learned.learned;
        }
        free(doc);
    }
}

/* Re-ranked score first; the matcher's order among equals (a stable insertion sort: the head is
 * a page long). */
static void sort_head(ranked_hit *r, size_t head)
{
    for (size_t i = 1; i < head; i++) {
        ranked_hit t = r[i];
        size_t j = i;
        while (j > 0 && r[j - 1].x.score < t.x.score) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = t;
    }
}

/* The first page's place for what agents taught (search/learned.h): when the structure boost
 * moved the slotted hit below it, it goes back up, its learned part raised to match. */
static void keep_slot(ranked_hit *r, size_t head)
{
    const size_t pos = KB_LEARNED_SLOT_POS;
    for (size_t i = pos + 1; i < head; i++) {
        if (!r[i].learned.slot) continue;
        ranked_hit t = r[i];
        double score = r[pos].x.score + fabs(r[pos].x.score) * 1e-6 + 1e-9;
        t.learned.learned += score - t.x.score;
        t.x.score = score;
        memmove(r + pos + 1, r + pos, (i - pos) * sizeof *r);
        r[pos] = t;
        return;
    }
}

/* Why the hit ranked (kb_hit.explain). */
static void explain_hit(kb_searcher *s, ranked_hit *r, int with_phrasing)
{
    r->hit.explain.bm25 = r->learned.bm25;
    r->hit.explain.learned = r->learned.learned;
    r->hit.explain.learned_sim = r->learned.sim;
    r->hit.explain.structure_boost = r->boost;
    const char *text = kb_learned_phrasing_text(s->learned, r->learned.phrasing);
    if (with_phrasing && text) r->hit.explain.learned_phrasing = strdup(text);
}

/* Rank, fill the page [offset, offset + limit) of res and judge the top hit. Only the first
 * KB_STRUCTURE_RERANK_DEPTH hits are re-ranked, on every page alike, so pages never overlap.
 * KB_ERROR when no hit of a non-empty page could be read. */
static int build_page(kb_searcher *s, kbx_results *xr, const kb_learned_part *parts,
                      kb_doc_cache *docs, uint32_t offset, uint32_t limit, const kb_query *q,
                      const char *asked, const char *today, int explain, kb_search_result *res)
{
    size_t n = xr->n_hits;
    if (n == 0) return KB_OK;
    size_t head = n < KB_STRUCTURE_RERANK_DEPTH ? n : KB_STRUCTURE_RERANK_DEPTH;
    ranked_hit *r = calloc(n, sizeof *r);
    res->hits = calloc(n > offset ? n - offset : 1, sizeof *res->hits);
    if (!r || !res->hits) {
        free(r);
        snprintf(s->err, sizeof s->err, "out of memory");
        return KB_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        r[i].x = xr->hits[i];
        r[i].boost = 1;
        r[i].learned = parts ? parts[i] : (kb_learned_part){xr->hits[i].score, 0, 0, -1, 0};
    }
    fill_ranked(s, docs, r, n, head, offset, limit, q, asked, today);
    sort_head(r, head);
    keep_slot(r, head);
    for (size_t i = 0; i < n; i++) {
        xr->hits[i] = r[i].x;
        r[i].hit.score = r[i].x.score;
    }

    kb_confidence_features(q, xr, &res->features);
    /* A top hit that a taught phrasing ranked holds what was asked as much as that phrasing is
     * like the question. */
    if (r[0].learned.learned > 0) {
        res->features.taught = r[0].learned.sim;
        if (r[0].learned.sim > res->features.coverage) res->features.coverage = r[0].learned.sim;
    }
    if (r[0].filled) res->top_id = strdup(r[0].hit.id);
    kb_confidence_set_passage(q, r[0].filled ? r[0].passage : -1, &res->features);
    /* What the top two hits' titles state of the question, and whether they hold an answer
     * beyond the title (search/structure.h); confidence reads them. */
    res->features.title_cover = r[0].facts.title_cover;
    res->features.answer = r[0].facts.answer;
    if (n > 1) {
        res->features.second_title_cover = r[1].facts.title_cover;
        res->features.second_answer = r[1].facts.answer;
    }
    /* What the top hit's title asks beyond the question; none when the question is one of its
     * <questions>, and no more than a taught phrasing that ranked it is unlike the question. */
    if (r[0].filled && !r[0].facts.verbatim) {
        double beyond = kb_confidence_title_beyond(s->analyzer, asked, r[0].hit.title);
        if (r[0].learned.learned > 0 && beyond > 1 - r[0].learned.sim) beyond = 1 - r[0].learned.sim;
        res->features.title_beyond = beyond;
    }
    size_t wanted = 0;
    for (size_t i = 0; i < n; i++) {
        int on_page = i >= offset && i - offset < limit;
        wanted += (size_t)on_page;
        if (on_page && r[i].filled) {
            r[i].hit.coverage = kb_confidence_hit_coverage(q, r[i].x.matched);
            r[i].hit.good = kb_confidence_hit_is_good(q, &r[i].x, r[0].x.score);
            explain_hit(s, &r[i], explain);
            res->hits[res->n_hits++] = r[i].hit;
        } else if (r[i].filled) {
            free_hit(&r[i].hit);
        }
    }
    free(r);
    if (wanted > 0 && res->n_hits == 0) {
        /* Matches whose stored data cannot be read: an index that is damaged or unreadable in
         * part (e.g. docdata.glass), not "no answer". */
        snprintf(s->err, sizeof s->err,
                 "%zu matching documents have no readable stored data (is the index's "
                 "docdata.glass readable?)", wanted);
        return KB_ERROR;
    }
    res->confidence = kb_confidence_of(&res->features);
    res->unresolved = res->confidence < UNRESOLVED_BELOW;
    /* The top hit of a resolved search is a good match whatever it holds. */
    if (offset == 0 && res->n_hits > 0 && res->top_id && strcmp(res->hits[0].id, res->top_id) == 0 &&
        !res->unresolved)
        res->hits[0].good = 1;
    for (size_t i = 0; i < res->n_hits; i++) res->good_matches += (uint32_t)res->hits[i].good;
    return KB_OK;
}

int kb_search(kb_searcher *s, const kb_search_request *req, kb_search_result *res)
{
    double start = now_ms();
    memset(res, 0, sizeof *res);
    res->unresolved = 1;
    const char *text = req->text ? req->text : "";
    size_t len = strnlen(text, KB_SEARCH_MAX_QUERY_BYTES);
    uint32_t limit = req->limit ? req->limit : 10;
    if (limit > KB_SEARCH_MAX_LIMIT) limit = KB_SEARCH_MAX_LIMIT;
    uint32_t offset = req->offset > KB_SEARCH_MAX_OFFSET ? KB_SEARCH_MAX_OFFSET : req->offset;

    kb_query q;
    if (kb_query_build(s->analyzer, s->db, text, len, &q) < 0) {
        snprintf(s->err, sizeof s->err, "out of memory");
        return KB_ERROR;
    }
    size_t n_terms = 0;
    kbx_query_term *terms = matcher_terms(&q, &n_terms);
    char **filters = category_filters(s, req);
    int rc = KB_OK;
    if (!terms || !filters) {
        snprintf(s->err, sizeof s->err, "out of memory");
        rc = KB_ERROR;
        goto out;
    }

    char today[9];
    today_compact(req->today, today);
    /* The page, and at least the head that structure re-ranks (search/structure.h) and the hits
     * confidence reads (search/confidence.h), so that neither depends on the page. */
    uint32_t depth = offset + limit;
    if (depth < KB_STRUCTURE_RERANK_DEPTH) depth = KB_STRUCTURE_RERANK_DEPTH;
    if (depth < KB_CONFIDENCE_HITS) depth = KB_CONFIDENCE_HITS;
    kbx_query xq = {
        .terms = terms,
        .n_terms = n_terms,
        .any_of = (const char *const *)filters,
        .n_any_of = req->n_categories,
        .valid_on = req->include_expired ? NULL : today,
        .valid_from_slot = KB_SLOT_VALID_FROM,
        .valid_until_slot = KB_SLOT_VALID_UNTIL,
        .offset = 0,
        .limit = depth,
        .bm25_k1 = KB_BM25_K1,
        .bm25_b = KB_BM25_B,
        .matched_hits = depth, /* each hit's coverage (cheap: noted while matching) */
    };
    kbx_results xr;
    if (kbx_reader_search(s->db, &xq, &xr) != KBX_OK) {
        snprintf(s->err, sizeof s->err, "search failed: %s", kbx_reader_errmsg(s->db));
        rc = KB_ERROR;
        goto out;
    }
    res->total_estimated = xr.matches_estimated;
    kb_learned_part *parts = NULL;
    kb_learned_filter lf = {xq.valid_on, (const char *const *)filters, req->n_categories};
    /* The documents decoded along the way, each once (search/doc_cache.h). */
    kb_doc_cache docs = KB_DOC_CACHE_INIT;
    if (kb_learned_merge(s->learned, &s->learned_scratch, s->db, s->codec, s->analyzer, &q, &lf,
                         depth, &xr, &docs, &parts) != 0)
        parts = NULL; /* out of memory: the documents' ranking alone */
    /* The question as compared with the editors' <questions> (NULL when memory ran out: then
     * no document is found asked verbatim, which only loses a boost). */
    char *asked = q.folded ? strdup(q.folded) : NULL; /* folded once, by kb_query_build */
    if (asked) kb_analyzer_compact(asked);
    rc = build_page(s, &xr, parts, &docs, offset, limit, &q, asked, today, req->explain, res);
    kb_doc_cache_clear(&docs);
    free(asked);
    free(parts);
    kbx_results_free(&xr);

out:
    for (size_t i = 0; filters && i < req->n_categories; i++) free(filters[i]);
    free(filters);
    free(terms);
    kb_query_free(&q);
    res->took_ms = now_ms() - start;
    if (rc != KB_OK) kb_search_result_free(res);
    return rc;
}

int kb_searcher_get_document(kb_searcher *s, const char *id, kb_document **out)
{
    char term[256];
    size_t n = strlen(id);
    *out = NULL;
    if (!kb_document_id_is_valid(id, n)) return KB_NOT_FOUND;
    snprintf(term, sizeof term, KB_TERM_ID "%s", id);
    char *data;
    size_t len;
    int rc = kbx_reader_get_data(s->db, term, &data, &len);
    if (rc == KBX_NOT_FOUND) return KB_NOT_FOUND;
    if (rc != KBX_OK) {
        snprintf(s->err, sizeof s->err, "cannot read document: %s", kbx_reader_errmsg(s->db));
        return KB_ERROR;
    }
    /* Every indexed document has its stored form. Xapian hands back empty data when the table
     * holding it cannot be opened (it opens that table lazily and takes an unreadable file for
     * an absent one). */
    if (len == 0) {
        free(data);
        snprintf(s->err, sizeof s->err,
                 "the index holds no data for document '%s' (is the index's docdata.glass readable?)", id);
        return KB_ERROR;
    }
    *out = kb_stored_doc_read(s->codec, data, len);
    free(data);
    if (!*out) {
        snprintf(s->err, sizeof s->err,
                 "cannot read document '%s': its stored form is corrupt (or memory ran out)", id);
        return KB_ERROR;
    }
    return KB_OK;
}

/* The stored form is read into one allocation (kb_stored_doc_read). */
void kb_searcher_document_free(kb_document *doc) { free(doc); }
