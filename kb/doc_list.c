/*
 * doc_list.c — every document of an index (see kb_doc_list.h).
 *
 * Xapian's empty term is its match-all query, so a one-term kbx_query with "" pages through
 * every document with the reader API alone; each hit carries the document's stored form
 * (kb_stored_doc.h), from which only the listing fields are kept.
 */
#include "kb_doc_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_stored_doc.h"
#include "kb_xapian.h"

#define PAGE 1000

static void info_free(kb_doc_info *d)
{
    free(d->id);
    free(d->title);
    for (size_t i = 0; i < d->n_categories; i++) free(d->categories[i]);
    free(d->categories);
}

/* Fill d from a document's stored form; -1 when it is unreadable or memory ran out. */
static int info_from_stored(kb_doc_info *d, kb_stored_doc_codec *codec, const char *data,
                            size_t len)
{
    memset(d, 0, sizeof *d);
    kb_document *doc = kb_stored_doc_read(codec, data, len);
    if (!doc) return -1;
    if (!doc->id[0]) { /* format 2's JSON without an id */
        free(doc);
        return -1;
    }
    int rc = -1;
    d->id = strdup(doc->id);
    d->title = strdup(doc->title);
    if (!d->id || !d->title) goto done;
    if (doc->n_categories > 0) {
        d->categories = calloc(doc->n_categories, sizeof *d->categories);
        if (!d->categories) goto done;
        for (size_t i = 0; i < doc->n_categories; i++) {
            char *c = strdup(doc->categories[i]);
            if (!c) goto done;
            d->categories[d->n_categories++] = c;
        }
    }
    memcpy(d->valid_until, doc->valid_until, sizeof d->valid_until);
    memcpy(d->updated, doc->updated, sizeof d->updated);
    rc = 0;
done:
    free(doc);
    if (rc != 0) info_free(d);
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const kb_doc_info *)a)->id, ((const kb_doc_info *)b)->id);
}

int kb_doc_list_read(const char *index_dir, kb_doc_list *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    kbx_reader *r = kbx_reader_open(index_dir);
    if (!r || kbx_reader_status(r) != KBX_OK) {
        snprintf(err, err_len, "cannot open the index %s: %s", index_dir,
                 r ? kbx_reader_errmsg(r) : "out of memory");
        kbx_reader_close(r);
        return -1;
    }
    out->revision = kbx_reader_revision(r);
    uint32_t total = kbx_reader_doccount(r);
    size_t cap = total ? total : 1;
    out->docs = calloc(cap, sizeof *out->docs);
    kb_stored_doc_codec *codec = kb_stored_doc_codec_new();
    if (!out->docs || !codec) {
        snprintf(err, err_len, "out of memory");
        kbx_reader_close(r);
        kb_stored_doc_codec_free(codec);
        kb_doc_list_free(out);
        return -1;
    }
    kbx_query_term all = {"", 1.0};
    for (uint32_t offset = 0;; offset += PAGE) {
        kbx_query q = {.terms = &all, .n_terms = 1, .offset = offset, .limit = PAGE};
        kbx_results res;
        if (kbx_reader_search(r, &q, &res) != KBX_OK) {
            snprintf(err, err_len, "cannot list the documents of %s: %s", index_dir,
                     kbx_reader_errmsg(r));
            kbx_reader_close(r);
            kb_stored_doc_codec_free(codec);
            kb_doc_list_free(out);
            return -1;
        }
        for (size_t i = 0; i < res.n_hits; i++) {
            if (out->n == cap) {
                kb_doc_info *grown = realloc(out->docs, cap * 2 * sizeof *grown);
                if (!grown) break;
                out->docs = grown;
                cap *= 2;
            }
            if (info_from_stored(&out->docs[out->n], codec, res.hits[i].data,
                                 res.hits[i].data_len) == 0)
                out->n++;
        }
        size_t got = res.n_hits;
        kbx_results_free(&res);
        if (got < PAGE) break;
    }
    kbx_reader_close(r);
    kb_stored_doc_codec_free(codec);
    qsort(out->docs, out->n, sizeof *out->docs, cmp_id);
    return 0;
}

void kb_doc_list_free(kb_doc_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) info_free(&l->docs[i]);
    free(l->docs);
    memset(l, 0, sizeof *l);
}

const kb_doc_info *kb_doc_list_find(const kb_doc_list *l, const char *id)
{
    kb_doc_info key = {.id = (char *)id};
    return l->n ? bsearch(&key, l->docs, l->n, sizeof *l->docs, cmp_id) : NULL;
}
