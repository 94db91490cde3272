/*
 * doc_list.c — every document of an index (see kb/doc_list.h).
 *
 * One pass over the document table (kbx_reader_each_document); of each document's stored form
 * (document/stored_doc.h) only the listing fields are kept.
 */
#include "kb/doc_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "document/stored_doc.h"
#include "xapian/xapian.h"

static void info_free(kb_doc_info *d)
{
    free(d->id);
    free(d->title);
    for (size_t i = 0; i < d->n_categories; i++) free(d->categories[i]);
    free(d->categories);
}

/* Fill d from a document's stored form: 0, 1 when the record is unreadable (it is left out, as
 * a search leaves it out of its hits), -1 when memory ran out. */
static int info_from_stored(kb_doc_info *d, kb_stored_doc_codec *codec, const char *data,
                            size_t len)
{
    memset(d, 0, sizeof *d);
    kb_document *doc = kb_stored_doc_read(codec, data, len);
    if (!doc) return 1;
    if (!doc->id[0]) { /* format 2's JSON without an id */
        free(doc);
        return 1;
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
    memcpy(d->valid_from, doc->valid_from, sizeof d->valid_from);
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

typedef struct {
    kb_doc_list *list;
    size_t cap;
    kb_stored_doc_codec *codec;
    int out_of_memory;
} collector;

static int collect(const char *data, size_t len, void *user)
{
    collector *c = user;
    kb_doc_list *l = c->list;
    if (l->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        kb_doc_info *grown = realloc(l->docs, cap * sizeof *grown);
        if (!grown) {
            c->out_of_memory = 1;
            return 1;
        }
        l->docs = grown;
        c->cap = cap;
    }
    int rc = info_from_stored(&l->docs[l->n], c->codec, data, len);
    if (rc == 0) l->n++;
    if (rc < 0) c->out_of_memory = 1;
    return rc < 0;
}

static void drop_docs(kb_doc_list *l)
{
    for (size_t i = 0; i < l->n; i++) info_free(&l->docs[i]);
    l->n = 0;
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
    collector c = {.list = out, .codec = kb_stored_doc_codec_new()};
    int rc = c.codec ? KBX_OK : KBX_NOMEM;
    /* A writer that commits twice while we read recycles our revision: start once more on the
     * newest one. */
    for (int attempt = 0; rc == KBX_OK && attempt < 2; attempt++) {
        out->revision = kbx_reader_revision(r);
        rc = kbx_reader_each_document(r, collect, &c);
        if (rc != KBX_MODIFIED || attempt == 1) break;
        drop_docs(out);
        int changed = 0;
        rc = kbx_reader_reopen(r, &changed);
    }
    if (rc == KBX_OK && c.out_of_memory) rc = KBX_NOMEM;
    if (rc != KBX_OK) {
        snprintf(err, err_len, "cannot list the documents of %s: %s", index_dir,
                 rc == KBX_NOMEM ? "out of memory" : kbx_reader_errmsg(r));
        kbx_reader_close(r);
        kb_stored_doc_codec_free(c.codec);
        kb_doc_list_free(out);
        return -1;
    }
    kbx_reader_close(r);
    kb_stored_doc_codec_free(c.codec);
    if (out->n) qsort(out->docs, out->n, sizeof *out->docs, cmp_id);
    return 0;
}

void kb_doc_list_free(kb_doc_list *l)
{
    if (!l) return;
    drop_docs(l);
    free(l->docs);
    memset(l, 0, sizeof *l);
}

const kb_doc_info *kb_doc_list_find(const kb_doc_list *l, const char *id)
{
    kb_doc_info key = {.id = (char *)id};
    return l->n ? bsearch(&key, l->docs, l->n, sizeof *l->docs, cmp_id) : NULL;
}
