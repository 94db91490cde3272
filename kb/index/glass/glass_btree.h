/*
 * glass_btree.h — write one table of a Xapian 1.4 glass database (a B-tree file such as
 * postlist.glass) in a single pass, from entries given in strictly increasing key order.
 * Private to libkb; used by the bulk builder (glass_build.c).
 *
 * The result is what Xapian's own writer produces when entries are added sequentially to an
 * empty table: full leaf blocks, each starting a new block when the next item does not fit, a
 * branch level above them holding the shortest key that separates each block from the one
 * before, and so on up to one root block. The block and item layout is glass's (Xapian
 * backends/glass/glass_table.h); `xapian-check` verifies every table this writes in the tests.
 */
#ifndef KB_GLASS_BTREE_H
#define KB_GLASS_BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Glass's default block size, which Xapian also uses when it later updates the table. */
#define GLASS_BLOCK_SIZE 8192
/* The revision every block is written at: the database's first revision. */
#define GLASS_FIRST_REVISION 1

/* What the version file (iamglass) records about a table. */
typedef struct {
    uint32_t root;          /* block number of the root */
    uint32_t level;         /* levels above the leaves */
    uint32_t num_entries;   /* keys added */
    uint32_t blocks;        /* blocks written: the first unused block number */
    int empty;              /* nothing was added: no file, the root is "fake" */
    uint32_t compress_min;  /* Xapian compresses tags longer than this when it updates them */
} glass_root_info;

typedef struct glass_btree glass_btree;

/* Create (truncate) the table file at path. compress_min is recorded for Xapian's later
 * updates; this writer stores tags as given. Returns NULL with err set on failure. */
glass_btree *glass_btree_create(const char *path, uint32_t compress_min, char *err,
                                size_t err_len);

/* Add key → tag. Keys must be strictly increasing (byte order, shorter first), 1..255 bytes.
 * compressed: the tag is a zlib raw deflate stream (Xapian inflates it on reading).
 * Returns 0, or -1 with the error available from glass_btree_errmsg(). */
int glass_btree_add(glass_btree *t, const void *key, size_t key_len, const void *tag,
                    size_t tag_len, int compressed);

/* Write the blocks still open, fsync the file, and fill *root. Returns 0 or -1. */
int glass_btree_finish(glass_btree *t, glass_root_info *root);

const char *glass_btree_errmsg(const glass_btree *t);
void glass_btree_free(glass_btree *t);

/* Append the serialised form of a table's root information, as the version file holds it. */
void glass_root_info_pack(kb_buf *b, const glass_root_info *r);

#endif
