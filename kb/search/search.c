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
#include "search/query.h"
#include "search/snippet.h"
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
    free(s);
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
static int fill_hit(kb_searcher *s, kb_hit *h, const kbx_hit *xh, const kb_query *q,
                    const char *today, double *snippet_score)
{
    kb_document *doc = kb_stored_doc_read(s->codec, xh->data, xh->data_len);
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
    kb_snippet snip;
    if (rc == 0 && kb_snippet_best(doc, q, &snip) == 0) {
        if (snippet_score) *snippet_score = snip.score;
        h->snippet = snip.html;
        h->section_id = snip.section_id;
        h->section_title = snip.section_title;
    } else {
        rc = -1;
    }
    free(doc);
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
    for (size_t i = 0; i < h->n_categories; i++) free(h->categories[i]);
    free(h->categories);
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

/* Fill the hits of the page [offset, end) (the matcher may have found more, for confidence).
 * Hit 0's best passage is also a confidence feature: *top_passage gets its score when hit 0 is
 * on this page (so each stored document is parsed once per search), and stays -1 otherwise. Each
 * hit is marked good here by what it holds of the question (the top hit also once its confidence
 * is known). KB_ERROR when no hit of the page could be read. */
static int fill_page(kb_searcher *s, const kbx_results *xr, uint32_t offset, size_t end,
                     const kb_query *q, const char *today, kb_search_result *res,
                     double *top_passage)
{
    if (end > xr->n_hits) end = xr->n_hits;
    if (end <= offset) return KB_OK;
    res->hits = calloc(end - offset, sizeof *res->hits);
    if (!res->hits) {
        snprintf(s->err, sizeof s->err, "out of memory");
        return KB_ERROR;
    }
    for (size_t i = offset; i < end; i++) {
        if (fill_hit(s, &res->hits[res->n_hits], &xr->hits[i], q, today,
                     i == 0 ? top_passage : NULL) < 0) {
            free_hit(&res->hits[res->n_hits]);
            memset(&res->hits[res->n_hits], 0, sizeof res->hits[0]);
            if (i == 0) *top_passage = -1;
            continue;
        }
        if (i == 0) res->top_id = strdup(res->hits[0].id);
        res->hits[res->n_hits].coverage = kb_confidence_hit_coverage(q, xr->hits[i].matched);
        res->hits[res->n_hits].good = kb_confidence_hit_is_good(q, &xr->hits[i]);
        res->n_hits++;
    }
    if (res->n_hits == 0) {
        /* Matches whose stored data cannot be read: an index that is damaged or unreadable in
         * part (e.g. docdata.glass), not "no answer". */
        snprintf(s->err, sizeof s->err,
                 "%zu matching documents have no readable stored data (is the index's "
                 "docdata.glass readable?)", end - offset);
        return KB_ERROR;
    }
    return KB_OK;
}

/* Confidence, the unresolved flag and the good matches, once there is a top hit. On a later
 * page hit 0 was not filled by fill_page: read it here for its id and its passage. The top hit
 * of a resolved search is a good match whatever it holds. */
static void judge_top_hit(kb_searcher *s, const kbx_results *xr, uint32_t offset,
                          const kb_query *q, const char *today, double top_passage,
                          kb_search_result *res)
{
    if (xr->n_hits == 0) return;
    if (offset > 0) {
        kb_hit top = {0};
        if (fill_hit(s, &top, &xr->hits[0], q, today, &top_passage) == 0) {
            res->top_id = top.id;
            top.id = NULL;
        } else {
            top_passage = -1;
        }
        free_hit(&top);
    }
    kb_confidence_set_passage(q, top_passage, &res->features);
    res->confidence = kb_confidence_of(&res->features);
    res->unresolved = res->confidence < UNRESOLVED_BELOW;
    int top_on_page = offset == 0 && res->n_hits > 0 && res->top_id &&
                      strcmp(res->hits[0].id, res->top_id) == 0;
    if (top_on_page && !res->unresolved) res->hits[0].good = 1;
    for (size_t i = 0; i < res->n_hits; i++) res->good_matches += (uint32_t)res->hits[i].good;
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
    /* The page, and at least the hits confidence reads, so that it does not depend on the page. */
    uint32_t matcher_limit = offset + limit > KB_CONFIDENCE_HITS ? offset + limit : KB_CONFIDENCE_HITS;
    kbx_query xq = {
        .terms = terms,
        .n_terms = n_terms,
        .any_of = (const char *const *)filters,
        .n_any_of = req->n_categories,
        .valid_on = req->include_expired ? NULL : today,
        .valid_from_slot = KB_SLOT_VALID_FROM,
        .valid_until_slot = KB_SLOT_VALID_UNTIL,
        .offset = 0,
        .limit = matcher_limit,
        .bm25_k1 = KB_BM25_K1,
        .bm25_b = KB_BM25_B,
        .matched_hits = matcher_limit, /* each hit's coverage (cheap: noted while matching) */
    };
    kbx_results xr;
    if (kbx_reader_search(s->db, &xq, &xr) != KBX_OK) {
        snprintf(s->err, sizeof s->err, "search failed: %s", kbx_reader_errmsg(s->db));
        rc = KB_ERROR;
        goto out;
    }
    res->total_estimated = xr.matches_estimated;
    kb_confidence_features(&q, &xr, &res->features);
    double top_passage = -1;
    rc = fill_page(s, &xr, offset, offset + limit, &q, today, res, &top_passage);
    if (rc == KB_OK) judge_top_hit(s, &xr, offset, &q, today, top_passage, res);
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
