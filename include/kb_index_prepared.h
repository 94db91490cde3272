/*
 * kb_index_prepared.h — the layout of a prepared document, shared by the two halves of indexing
 * (kb/index_prepare.c builds it, kb/index.c writes it). Private to libkb.
 */
#ifndef KB_INDEX_PREPARED_H
#define KB_INDEX_PREPARED_H

#include <stddef.h>

#include "kb_index.h"

#define KB_INDEX_N_SLOTS 5

struct kb_prepared_doc {
    char *id;
    char *where;              /* "file:line", for messages about this document */
    char *json;               /* stored document data */
    char hash[17];            /* content hash, hex */
    char **terms;             /* ranked terms ... */
    unsigned *wdf;            /* ... and their within-document frequencies */
    size_t n_terms;
    char **booleans;          /* filter terms (Q, XC, XK, XF prefixes) */
    size_t n_booleans;
    char *values[KB_INDEX_N_SLOTS];
};

#endif
