/*
 * document/stored_doc.h — the form in which a whole document is kept in the index, for snippets, the
 * hit list and the document view.
 *
 * Every search reads the stored form of its ten hits, so it is built to be read cheaply: a
 * 4-byte tag, then a zstd frame (level 1) of the fields as length-prefixed, NUL-terminated
 * strings in a fixed order (kb/document/stored_doc.c lists it). Reading one is a zstd decompression and
 * one pass that points into the decompressed bytes; the whole kb_document comes back as one
 * allocation. It replaced JSON inside Xapian's zlib (index format 2), which cost ~2M
 * instructions a search on ten hits; decoding still accepts that JSON, so a daemon upgraded
 * before its index is rebuilt keeps serving.
 *
 * Bytes from the index are not trusted: a truncated or corrupt record gives NULL, never a read
 * outside the record.
 */
#ifndef KB_STORED_DOC_H
#define KB_STORED_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "kb/document.h"

/* The fields of doc, uncompressed, as the bytes the stored form compresses (what the content
 * hash is computed over). malloc'd; NULL when memory ran out. */
char *kb_stored_doc_serialize(const kb_document *doc, size_t *len);

/* A compressor or decompressor keeps its zstd context between documents; one per thread. */
typedef struct kb_stored_doc_codec kb_stored_doc_codec;
kb_stored_doc_codec *kb_stored_doc_codec_new(void);
void kb_stored_doc_codec_free(kb_stored_doc_codec *c);

/* The stored form of serialized fields: tag + zstd frame. malloc'd; NULL when memory ran out or
 * the fields are larger than any document the parser accepts could give (the reader would
 * refuse them). */
char *kb_stored_doc_pack(kb_stored_doc_codec *c, const char *fields, size_t len, size_t *out_len);

/* Read a stored document (this form, its index format 3-5 version without the must-know mark, or
 * index format 2's JSON) into a kb_document that is one malloc'd block: free() it. Its source
 * points into the block; block lines are 0; dates are "YYYY-MM-DD" or "" as kb/document.h
 * promises (any other length is corruption). NULL when the record is corrupt or memory ran out. */
kb_document *kb_stored_doc_read(kb_stored_doc_codec *c, const char *data, size_t len);

#endif
