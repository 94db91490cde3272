/*
 * kb_index_prepared.h — the layout of a prepared document, shared by the two halves of indexing
 * (kb/index_prepare.c builds it, kb/index.c writes it). Private to libkb.
 */
#ifndef KB_INDEX_PREPARED_H
#define KB_INDEX_PREPARED_H

#include <stddef.h>

#include "kb_index.h"
#include "kb_xapian.h"

/* What kb_index_prepare() computes and the writer needs. The Xapian document is built by the
 * preparing thread too: filling it costs as much as a fifth of the writer's time, and the
 * writer (one thread, Xapian's single writer) is the bottleneck of indexing. */
struct kb_prepared_doc {
    char *id;
    char *where;              /* "file:line", for messages about this document */
    char hash[17];            /* content hash, hex */
    kbx_doc *xdoc;            /* terms, filter terms, values and the stored form */
};

#endif
