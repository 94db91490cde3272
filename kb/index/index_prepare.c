/*
 * index_prepare.c — the analysis half of indexing: a parsed document becomes everything the
 * writers need (see kb/index.h, "preparing in parallel").
 *
 * Field weighting is done with within-document frequencies: a term in the title counts
 * KB_WDF_TITLE times, in the body once. That keeps one term space (so a query needs one
 * posting list per term, not one per field) while BM25 still favours title and question hits.
 * Terms are counted per document first (index/term_counts.h), then sorted by their bytes with the
 * filter terms (the order both the bulk builder and Xapian's term lists keep them in).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/analyzer.h"
#include "util/buf.h"
#include "kb/document.h"
#include "util/hash.h"
#include "util/index_schema.h"
#include "kb/index.h"
#include "index/index_prepared.h"
#include "document/stored_doc.h"
#include "index/term_counts.h"
#include "util/term_sort.h"

/* Xapian terms are limited to 245 bytes; boolean terms longer than this are hashed. */
#define MAX_BOOLEAN_TERM 200

struct kb_index_preparer {
    kb_analyzer *analyzer;
    kb_term_list terms;
    kb_term_counts counts;
    kb_stored_doc_codec *codec;
    int bulk;           /* prepare for the bulk builder: no Xapian document */
    kb_buf booleans;    /* the document's filter terms, each NUL-terminated */
    size_t n_booleans;
    kb_sort_item *sort, *sort_tmp;
    size_t sort_cap;
};

kb_index_preparer *kb_index_preparer_new(int bulk, char *err, size_t err_len)
{
    kb_index_preparer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    p->bulk = bulk;
    p->analyzer = kb_analyzer_new(err, err_len);
    if (!p->analyzer) {
        free(p);
        return NULL;
    }
    kb_term_list_init(&p->terms);
    kb_term_counts_init(&p->counts);
    p->codec = kb_stored_doc_codec_new();
    if (!p->codec) {
        snprintf(err, err_len, "out of memory");
        kb_index_preparer_free(p);
        return NULL;
    }
    return p;
}

void kb_index_preparer_free(kb_index_preparer *p)
{
    if (!p) return;
    kb_analyzer_free(p->analyzer);
    kb_term_list_free(&p->terms);
    kb_term_counts_free(&p->counts);
    kb_stored_doc_codec_free(p->codec);
    free(p->booleans.data);
    free(p->sort);
    free(p->sort_tmp);
    free(p);
}

void kb_prepared_doc_free(kb_prepared_doc *d)
{
    if (!d) return;
    free(d->id);
    free(d->where);
    free(d->terms);
    free(d->term_bytes);
    free(d->data);
    kbx_doc_free(d->xdoc);
    free(d);
}

const char *kb_prepared_doc_where(const kb_prepared_doc *d) { return d->where; }

/* ---------------------------------------------------------------- terms */

/* Analyze text and count every term with the field's wdf. */
static int add_text(kb_index_preparer *p, const char *text, unsigned wdf)
{
    if (!text || !*text) return 0;
    kb_term_list_clear(&p->terms);
    if (kb_analyze(p->analyzer, text, strlen(text), &p->terms) < 0) return -1;
    for (size_t i = 0; i < p->terms.count; i++)
        if (kb_term_counts_add(&p->counts, p->terms.terms[i].text, wdf) < 0) return -1;
    return 0;
}

/* Append prefix + value as a boolean term, hashing values too long for Xapian. */
static int add_boolean(kb_index_preparer *p, const char *prefix, const char *value,
                       size_t len)
{
    char term[MAX_BOOLEAN_TERM + 32];
    size_t plen = strlen(prefix);
    if (plen + len <= MAX_BOOLEAN_TERM) {
        memcpy(term, prefix, plen);
        memcpy(term + plen, value, len);
        term[plen + len] = '\0';
    } else {
        snprintf(term, sizeof term, "%s#%016llx", prefix,
                 (unsigned long long)kb_hash_bytes(value, len, KB_HASH_SEED));
    }
    p->n_booleans++;
    return kb_buf_add(&p->booleans, term, strlen(term) + 1);
}

/* Categories are filterable at every level: 业务办理/漫游 gives XC业务办理 and XC业务办理/漫游.
 * They are folded like text, so a filter in either script matches. */
static int add_category_terms(kb_index_preparer *p, const char *category)
{
    char *folded = kb_analyzer_fold(p->analyzer, category, strlen(category));
    if (!folded) return -1;
    int rc = 0;
    for (char *c = folded; rc == 0; c++) {
        if (*c == '/' || *c == '\0') rc = add_boolean(p, KB_TERM_CATEGORY, folded, (size_t)(c - folded));
        if (*c == '\0') break;
    }
    free(folded);
    return rc;
}

static int add_keyword_terms(kb_index_preparer *p, const char *keywords)
{
    char *folded = kb_analyzer_fold(p->analyzer, keywords, strlen(keywords));
    if (!folded) return -1;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(folded, " \t\n", &save); tok && rc == 0; tok = strtok_r(NULL, " \t\n", &save))
        rc = add_boolean(p, KB_TERM_KEYWORD, tok, strlen(tok));
    free(folded);
    return rc;
}

/* Set value slot to the date "2026-03-02" as "20260302", or to fallback when there is none
 * (an empty value is no value). */
static void set_date(kb_prepared_doc *d, int which, unsigned slot, const char *date,
                     const char *fallback)
{
    char *out = d->dates[which];
    if (!kb_document_date_compact(date, out)) snprintf(out, sizeof d->dates[which], "%s", fallback);
    d->doc.values[slot] = out;
    d->doc.value_lens[slot] = strlen(out);
}

static void set_value(kb_prepared_doc *d, unsigned slot, const char *value)
{
    d->doc.values[slot] = value;
    d->doc.value_lens[slot] = strlen(value);
}

/* ---------------------------------------------------------------- sorting the terms */

static int term_cmp(const kb_glass_term *a, const kb_glass_term *b)
{
    return kb_bytes_cmp(a->text, a->len, b->text, b->len);
}

static int term_index_cmp(uint32_t a, uint32_t b, void *terms)
{
    const kb_glass_term *t = terms;
    return term_cmp(&t[a], &t[b]);
}

/* The counted terms and the filter terms, sorted, each once (wdfs of equal terms add up, as
 * Xapian adds them), copied into the prepared document. */
static int collect_terms(kb_index_preparer *p, kb_prepared_doc *d)
{
    size_t n = p->counts.used + p->n_booleans;
    if (n > p->sort_cap) {
        free(p->sort);
        free(p->sort_tmp);
        p->sort = malloc(n * sizeof *p->sort);
        p->sort_tmp = malloc(n * sizeof *p->sort_tmp);
        p->sort_cap = p->sort && p->sort_tmp ? n : 0;
        if (!p->sort_cap) return -1;
    }
    kb_glass_term *unsorted = malloc((n ? n : 1) * sizeof *unsorted);
    d->terms = malloc((n ? n : 1) * sizeof *d->terms);
    if (!unsorted || !d->terms) {
        free(unsorted);
        return -1;
    }
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i < p->counts.capacity; i++) {
        const kb_term_count *tc = &p->counts.slots[i];
        if (!tc->term) continue;
        unsorted[k++] = (kb_glass_term){tc->term, strlen(tc->term), tc->count};
    }
    for (const char *t = p->booleans.data; k < n; t += strlen(t) + 1)
        unsorted[k++] = (kb_glass_term){t, strlen(t), 0};
    for (size_t i = 0; i < n; i++) {
        bytes += unsorted[i].len + 1;
        p->sort[i] = (kb_sort_item){kb_sort_prefix(unsorted[i].text, unsorted[i].len), (uint32_t)i};
    }
    kb_sort_terms(p->sort, p->sort_tmp, n, term_index_cmp, unsorted);

    d->term_bytes = malloc(bytes ? bytes : 1);
    if (!d->term_bytes) {
        free(unsorted);
        return -1;
    }
    char *at = d->term_bytes;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        const kb_glass_term *t = &unsorted[p->sort[i].index];
        if (out > 0 && term_cmp(&d->terms[out - 1], t) == 0) {
            d->terms[out - 1].wdf += t->wdf;
            continue;
        }
        memcpy(at, t->text, t->len);
        at[t->len] = '\0';
        d->terms[out++] = (kb_glass_term){at, t->len, t->wdf};
        at += t->len + 1;
    }
    free(unsorted);
    d->doc.terms = d->terms;
    d->doc.n_terms = out;
    return 0;
}

/* The same document for Xapian's writer. */
static int build_xapian_doc(kb_prepared_doc *d)
{
    d->xdoc = kbx_doc_new();
    if (!d->xdoc) return -1;
    for (size_t i = 0; i < d->doc.n_terms; i++) {
        const kb_glass_term *t = &d->doc.terms[i];
        int rc = t->wdf ? kbx_doc_add_term(d->xdoc, t->text, t->wdf)
                        : kbx_doc_add_boolean_term(d->xdoc, t->text);
        if (rc != KBX_OK) return -1;
    }
    for (unsigned slot = 0; slot < KB_GLASS_SLOTS; slot++)
        if (d->doc.value_lens[slot] &&
            kbx_doc_set_value(d->xdoc, slot, d->doc.values[slot], d->doc.value_lens[slot]) != KBX_OK)
            return -1;
    return kbx_doc_set_data(d->xdoc, d->doc.data, d->doc.data_len) == KBX_OK ? 0 : -1;
}

static int prepare(kb_index_preparer *p, const kb_document *doc, kb_prepared_doc *d)
{
    kb_term_counts_clear(&p->counts);
    p->booleans.len = 0;
    p->n_booleans = 0;
    if (add_text(p, doc->title, KB_WDF_TITLE) < 0) return -1;
    for (size_t i = 0; i < doc->n_questions; i++)
        if (add_text(p, doc->questions[i], KB_WDF_QUESTION) < 0) return -1;
    if (add_text(p, doc->keywords, KB_WDF_KEYWORD) < 0) return -1;
    for (size_t i = 0; i < doc->n_categories; i++) {
        /* The path's parts are text too ("漫游" in 业务办理/漫游 should match a query). */
        if (add_text(p, doc->categories[i], KB_WDF_CATEGORY) < 0) return -1;
        if (add_category_terms(p, doc->categories[i]) < 0) return -1;
    }
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        if (add_text(p, sec->title, KB_WDF_SECTION_TITLE) < 0) return -1;
        for (size_t j = 0; j < sec->n_blocks; j++)
            if (add_text(p, sec->blocks[j].text, KB_WDF_BODY) < 0) return -1;
    }
    if (doc->keywords && add_keyword_terms(p, doc->keywords) < 0) return -1;
    if (add_boolean(p, KB_TERM_ID, doc->id, strlen(doc->id)) < 0) return -1;
    if (doc->source && add_boolean(p, KB_TERM_SOURCE, doc->source, strlen(doc->source)) < 0) return -1;
    /* One term for all must-know documents, whatever their teams: reports and filters can count
     * or select them without reading stored documents; the teams are in the stored form. */
    if (doc->must_know && add_boolean(p, KB_TERM_MUST_KNOW, "", 0) < 0) return -1;
    if (p->booleans.failed || collect_terms(p, d) < 0) return -1;

    set_date(d, 0, KB_SLOT_VALID_FROM, doc->valid_from, "00000000");
    set_date(d, 1, KB_SLOT_VALID_UNTIL, doc->valid_until, "99999999");
    set_date(d, 2, KB_SLOT_UPDATED, doc->updated, "");
    set_value(d, KB_SLOT_HASH, d->hash);
    set_value(d, KB_SLOT_ID, d->id);
    return p->bulk ? 0 : build_xapian_doc(d);
}

kb_prepared_doc *kb_index_prepare(kb_index_preparer *p, const kb_document *doc)
{
    kb_prepared_doc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", doc->source ? doc->source : "?", doc->line);
    d->id = strdup(doc->id);
    d->where = strdup(where);
    size_t fields_len = 0;
    char *fields = kb_stored_doc_serialize(doc, &fields_len);
    d->data = fields ? kb_stored_doc_pack(p->codec, fields, fields_len, &d->doc.data_len) : NULL;
    d->doc.data = d->data;
    if (!d->id || !d->where || !d->data) {
        free(fields);
        goto fail;
    }
    snprintf(d->hash, sizeof d->hash, "%016llx",
             (unsigned long long)kb_hash_bytes(fields, fields_len,
                                               kb_hash_bytes(KB_INDEX_FORMAT, 1, KB_HASH_SEED)));
    free(fields);
    if (prepare(p, doc, d) < 0) goto fail;
    return d;
fail:
    kb_prepared_doc_free(d);
    return NULL;
}
