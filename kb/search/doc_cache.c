/*
 * doc_cache.c — the stored documents one search has decoded (see search/doc_cache.h).
 *
 * A search holds a few dozen documents at most, so the cache is a plain array searched
 * linearly: cheaper than hashing at that size.
 */
#include "search/doc_cache.h"

#include <stdlib.h>

static long find(const kb_doc_cache *c, uint32_t docid)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->docid[i] == docid) return (long)i;
    return -1;
}

const kb_document *kb_doc_cache_get(kb_doc_cache *c, kb_stored_doc_codec *codec, uint32_t docid,
                                    const char *data, size_t len)
{
    long at = find(c, docid);
    if (at >= 0) return c->doc[at];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        uint32_t *ids = realloc(c->docid, cap * sizeof *ids);
        if (!ids) return NULL;
        c->docid = ids;
        kb_document **docs = realloc(c->doc, cap * sizeof *docs);
        if (!docs) return NULL;
        c->doc = docs;
        c->cap = cap;
    }
    kb_document *doc = kb_stored_doc_read(codec, data, len);
    if (!doc) return NULL;
    c->docid[c->n] = docid;
    c->doc[c->n++] = doc;
    return doc;
}

kb_document *kb_doc_cache_take(kb_doc_cache *c, kb_stored_doc_codec *codec, uint32_t docid,
                               const char *data, size_t len)
{
    long at = find(c, docid);
    if (at < 0) return kb_stored_doc_read(codec, data, len);
    kb_document *doc = c->doc[at];
    c->n--;
    c->docid[at] = c->docid[c->n];
    c->doc[at] = c->doc[c->n];
    return doc;
}

void kb_doc_cache_clear(kb_doc_cache *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->doc[i]);
    free(c->docid);
    free(c->doc);
    *c = (kb_doc_cache)KB_DOC_CACHE_INIT;
}
