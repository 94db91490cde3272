/*
 * search/doc_cache.h — the stored documents one search has decoded, by Xapian docid.
 *
 * Decoding a stored document (a zstd frame, document/stored_doc.h) is, after matching, the
 * dearest step of a search, and several steps read the same documents: the learned phrasings'
 * gate reads the first hits' titles and questions, the learned side checks that a document it
 * found may be shown, and the page then builds snippets from the same documents. Each step asks
 * this cache, so a document is decoded once per search. The cache lives for one search
 * (kb_doc_cache_clear at its end): docids are only meaningful for the index it searched.
 */
#ifndef KB_SEARCH_DOC_CACHE_H
#define KB_SEARCH_DOC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "kb/document.h"
#include "document/stored_doc.h"

typedef struct {
    uint32_t *docid;
    kb_document **doc;
    size_t n, cap;
} kb_doc_cache;

#define KB_DOC_CACHE_INIT {0}

/* The document with this docid, decoded from data the first time it is asked for; the cache
 * keeps it. NULL when it cannot be decoded or memory ran out. */
const kb_document *kb_doc_cache_get(kb_doc_cache *c, kb_stored_doc_codec *codec, uint32_t docid,
                                    const char *data, size_t len);

/* The document with this docid for the caller to keep (and free): the cached one taken out,
 * else decoded now. NULL when it cannot be decoded. */
kb_document *kb_doc_cache_take(kb_doc_cache *c, kb_stored_doc_codec *codec, uint32_t docid,
                               const char *data, size_t len);

/* Free every document still held, and the cache's arrays. */
void kb_doc_cache_clear(kb_doc_cache *c);

#endif
