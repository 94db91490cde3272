/*
 * index/index_prepared.h — what the two halves of indexing share (kb/index/index_prepare.c builds
 * prepared documents, kb/index/index.c writes them): the layout of a prepared document, and the
 * preparer's constructor, which only the writer calls (kb_index_writer_new_preparer), so that
 * the choice between the bulk builder and Xapian's writer stays inside kb/index. Private to
 * libkb.
 */
#ifndef KB_INDEX_PREPARED_H
#define KB_INDEX_PREPARED_H

#include <stddef.h>

#include "index/glass/glass.h"
#include "kb/index.h"
#include "xapian/xapian.h"

/* What kb_index_prepare() computes and the writers need. The terms, values and stored form are
 * laid out as the bulk builder takes them (kb_glass_doc: terms sorted and distinct, boolean
 * terms with wdf 0). For Xapian's writer the preparing thread also builds the same document as
 * a Xapian document: filling it costs a fifth of Xapian's time, and Xapian's writer (one
 * thread) is then the bottleneck of indexing. */
struct kb_prepared_doc {
    char *id;
    char *where;              /* "file:line", for messages about this document */
    char hash[17];            /* content hash, hex */
    kb_glass_doc doc;         /* points into the fields below */
    kb_glass_term *terms;
    char *term_bytes;
    char *data;
    char dates[3][9];         /* valid from, valid until, updated: "YYYYMMDD" */
    kbx_doc *xdoc;            /* NULL when prepared for the bulk builder */
};

/* A preparer for the bulk builder (bulk 1: terms only) or for Xapian's writer (bulk 0: also the
 * Xapian document). NULL on failure, with the reason in err. */
kb_index_preparer *kb_index_preparer_new(int bulk, char *err, size_t err_len);

/* Is this run a bulk build (the index was empty; index/glass/glass.h)? For tests and the writer. */
int kb_index_writer_is_bulk(const kb_index_writer *w);

#endif
