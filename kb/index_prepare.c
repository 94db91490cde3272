/*
 * index_prepare.c — the analysis half of indexing: a parsed document becomes everything the
 * Xapian writer needs (see kb_index.h, "preparing in parallel").
 *
 * Field weighting is done with within-document frequencies: a term in the title counts
 * KB_WDF_TITLE times, in the body once. That keeps one term space (so a query needs one
 * posting list per term, not one per field) while BM25 still favours title and question hits.
 * Terms are counted per document first (kb_term_counts.h), so Xapian gets each distinct term
 * once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_analyzer.h"
#include "kb_document.h"
#include "kb_index.h"
#include "kb_index_prepared.h"
#include "kb_stored_doc.h"
#include "kb_term_counts.h"

/* Xapian terms are limited to 245 bytes; boolean terms longer than this are hashed. */
#define MAX_BOOLEAN_TERM 200

struct kb_index_preparer {
    kb_analyzer *analyzer;
    kb_term_list terms;
    kb_term_counts counts;
    kb_stored_doc_codec *codec;
};

kb_index_preparer *kb_index_preparer_new(char *err, size_t err_len)
{
    kb_index_preparer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
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
    free(p);
}

void kb_prepared_doc_free(kb_prepared_doc *d)
{
    if (!d) return;
    free(d->id);
    free(d->where);
    kbx_doc_free(d->xdoc);
    free(d);
}

const char *kb_prepared_doc_where(const kb_prepared_doc *d) { return d->where; }

/* ---------------------------------------------------------------- terms */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

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
static int add_boolean(kb_prepared_doc *d, const char *prefix, const char *value,
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
                 (unsigned long long)fnv1a(value, len, 1469598103934665603ULL));
    }
    return kbx_doc_add_boolean_term(d->xdoc, term) == KBX_OK ? 0 : -1;
}

/* Categories are filterable at every level: 业务办理/漫游 gives XC业务办理 and XC业务办理/漫游.
 * They are folded like text, so a filter in either script matches. */
static int add_category_terms(kb_index_preparer *p, kb_prepared_doc *d,
                              const char *category)
{
    char *folded = kb_analyzer_fold(p->analyzer, category, strlen(category));
    if (!folded) return -1;
    int rc = 0;
    for (char *c = folded; rc == 0; c++) {
        if (*c == '/' || *c == '\0') rc = add_boolean(d, "XC", folded, (size_t)(c - folded));
        if (*c == '\0') break;
    }
    free(folded);
    return rc;
}

static int add_keyword_terms(kb_index_preparer *p, kb_prepared_doc *d,
                             const char *keywords)
{
    char *folded = kb_analyzer_fold(p->analyzer, keywords, strlen(keywords));
    if (!folded) return -1;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(folded, " \t\n", &save); tok && rc == 0; tok = strtok_r(NULL, " \t\n", &save))
        rc = add_boolean(d, "XK", tok, strlen(tok));
    free(folded);
    return rc;
}

/* Set value slot to the date "2026-03-02" as "20260302", or to fallback when there is none. */
static int set_date(kb_prepared_doc *d, unsigned slot, const char *date, const char *fallback)
{
    char out[9];
    if (!kb_document_date_compact(date, out)) snprintf(out, sizeof out, "%s", fallback);
    return kbx_doc_set_value(d->xdoc, slot, out, strlen(out)) == KBX_OK ? 0 : -1;
}

/* Put the counted terms into the Xapian document. */
static int take_terms(kb_index_preparer *p, kb_prepared_doc *d)
{
    for (size_t i = 0; i < p->counts.capacity; i++) {
        const kb_term_count *tc = &p->counts.slots[i];
        if (tc->term && kbx_doc_add_term(d->xdoc, tc->term, tc->count) != KBX_OK) return -1;
    }
    return 0;
}

static int prepare(kb_index_preparer *p, const kb_document *doc, kb_prepared_doc *d)
{
    kb_term_counts_clear(&p->counts);
    if (add_text(p, doc->title, KB_WDF_TITLE) < 0) return -1;
    for (size_t i = 0; i < doc->n_questions; i++)
        if (add_text(p, doc->questions[i], KB_WDF_QUESTION) < 0) return -1;
    if (add_text(p, doc->keywords, KB_WDF_KEYWORD) < 0) return -1;
    for (size_t i = 0; i < doc->n_categories; i++) {
        /* The path's parts are text too ("漫游" in 业务办理/漫游 should match a query). */
        if (add_text(p, doc->categories[i], KB_WDF_CATEGORY) < 0) return -1;
        if (add_category_terms(p, d, doc->categories[i]) < 0) return -1;
    }
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        if (add_text(p, sec->title, KB_WDF_SECTION_TITLE) < 0) return -1;
        for (size_t j = 0; j < sec->n_blocks; j++)
            if (add_text(p, sec->blocks[j].text, KB_WDF_BODY) < 0) return -1;
    }
    if (take_terms(p, d) < 0) return -1;
    if (doc->keywords && add_keyword_terms(p, d, doc->keywords) < 0) return -1;
    if (add_boolean(d, "Q", doc->id, strlen(doc->id)) < 0) return -1;
    if (doc->source && add_boolean(d, "XF", doc->source, strlen(doc->source)) < 0) return -1;

    if (set_date(d, KB_SLOT_VALID_FROM, doc->valid_from, "00000000") < 0 ||
        set_date(d, KB_SLOT_VALID_UNTIL, doc->valid_until, "99999999") < 0 ||
        set_date(d, KB_SLOT_UPDATED, doc->updated, "") < 0 ||
        kbx_doc_set_value(d->xdoc, KB_SLOT_HASH, d->hash, strlen(d->hash)) != KBX_OK ||
        kbx_doc_set_value(d->xdoc, KB_SLOT_ID, doc->id, strlen(doc->id)) != KBX_OK)
        return -1;
    return 0;
}

kb_prepared_doc *kb_index_prepare(kb_index_preparer *p, const kb_document *doc)
{
    kb_prepared_doc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", doc->source ? doc->source : "?", doc->line);
    d->id = strdup(doc->id);
    d->where = strdup(where);
    size_t fields_len = 0, stored_len = 0;
    char *fields = kb_stored_doc_serialize(doc, &fields_len);
    char *stored = fields ? kb_stored_doc_pack(p->codec, fields, fields_len, &stored_len) : NULL;
    d->xdoc = kbx_doc_new();
    if (!d->id || !d->where || !stored || !d->xdoc) {
        free(fields);
        free(stored);
        goto fail;
    }
    snprintf(d->hash, sizeof d->hash, "%016llx",
             (unsigned long long)fnv1a(fields, fields_len,
                                       fnv1a(KB_INDEX_FORMAT, 1, 1469598103934665603ULL)));
    int rc = kbx_doc_set_data(d->xdoc, stored, stored_len) == KBX_OK ? 0 : -1;
    free(fields);
    free(stored);
    if (rc < 0 || prepare(p, doc, d) < 0) goto fail;
    return d;
fail:
    kb_prepared_doc_free(d);
    return NULL;
}
