/*
 * glass_btree.c — write one glass B-tree table in a single sequential pass (see glass_btree.h).
 *
 * Block layout (Xapian backends/glass/glass_table.h), all integers big-endian:
 *   0  revision (4)   4  level (1)   5  max free (2)   7  total free (2)   9  directory end (2)
 *   11 directory: 2-byte offsets of the items, in key order; items fill the block from its end.
 * A leaf item is  I(2) K(1) key [X(2)] tag-part, where I is the item's size minus 3 with three
 * flags in its top bits (compressed, last part, first part) and X, present on all but the first
 * part of a tag, numbers the part. A branch item is  block(4) K(1) key X(2). The first leaf
 * holds a null item (empty key) before the first real key, and the first item of each branch
 * block is never compared, as in Xapian.
 */
#include "index/glass/glass_btree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/glass/glass_pack.h"
#include "util/term_sort.h"

enum {
    DIR_START = 11,
    D2 = 2,             /* a directory entry */
    I2 = 2,             /* the size field of a leaf item */
    K1 = 1,             /* the key length byte */
    X2 = 2,             /* the part number */
    BLOCK_NUMBER = 4,   /* a branch item's child */
    MAX_KEY = 255,
    MAX_LEVELS = 10,    /* Xapian's BTREE_CURSOR_LEVELS */
    /* Four items of the largest size must fit in a block (glass's BLOCK_CAPACITY). */
    MAX_ITEM_SIZE = (GLASS_BLOCK_SIZE - DIR_START - 4 * D2) / 4,
    MAX_PARTS = 0xffff  /* X is two bytes */
};

enum { FLAG_COMPRESSED = 0x80, FLAG_LAST = 0x40, FLAG_FIRST = 0x20 };

typedef struct {
    unsigned char *block;
    uint32_t number;
    int dir_end;    /* where the next directory entry goes */
    int item_start; /* the lowest byte used by items */
} open_block;

struct glass_btree {
    int fd;
    uint32_t compress_min;
    open_block levels[MAX_LEVELS];
    int top;                      /* the highest level in use */
    uint32_t next_block;
    uint32_t num_entries;
    unsigned char last_key[MAX_KEY];
    size_t last_key_len;
    int has_key;                  /* some key was added (last_key is set) */
    int failed;
    char err[512];
};

static int fail(glass_btree *t, const char *what)
{
    if (!t->failed) snprintf(t->err, sizeof t->err, "%s: %s", what, strerror(errno));
    t->failed = 1;
    return -1;
}

static int fail_msg(glass_btree *t, const char *msg)
{
    if (!t->failed) snprintf(t->err, sizeof t->err, "%s", msg);
    t->failed = 1;
    return -1;
}

/* ---------------------------------------------------------------- blocks */

static int start_block(glass_btree *t, int level)
{
    open_block *b = &t->levels[level];
    if (!b->block) {
        b->block = malloc(GLASS_BLOCK_SIZE);
        if (!b->block) return fail_msg(t, "out of memory");
    }
    memset(b->block, 0, GLASS_BLOCK_SIZE);
    glass_put4(b->block, GLASS_FIRST_REVISION);
    b->block[4] = (unsigned char)level;
    b->number = t->next_block++;
    b->dir_end = DIR_START;
    b->item_start = GLASS_BLOCK_SIZE;
    return 0;
}

static int block_free(const open_block *b) { return b->item_start - b->dir_end; }

/* Append an item at the end of the block's directory; the caller checked that it fits. */
static void put_item(open_block *b, const unsigned char *item, int size)
{
    b->item_start -= size;
    memcpy(b->block + b->item_start, item, (size_t)size);
    glass_put2(b->block + b->dir_end, (unsigned)b->item_start);
    b->dir_end += D2;
}

static int write_block(glass_btree *t, open_block *b)
{
    int free_bytes = block_free(b);
    glass_put2(b->block + 5, (unsigned)free_bytes); /* max free: the items are contiguous */
    glass_put2(b->block + 7, (unsigned)free_bytes); /* total free */
    glass_put2(b->block + 9, (unsigned)b->dir_end);
    off_t at = (off_t)b->number * GLASS_BLOCK_SIZE;
    size_t done = 0;
    while (done < GLASS_BLOCK_SIZE) {
        ssize_t n = pwrite(t->fd, b->block + done, GLASS_BLOCK_SIZE - done, at + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(t, "cannot write the index");
        done += (size_t)n;
    }
    return 0;
}

/* ---------------------------------------------------------------- branch levels */

static int form_branch_item(unsigned char *item, uint32_t child, const unsigned char *key,
                            size_t key_len, unsigned part)
{
    glass_put4(item, child);
    item[BLOCK_NUMBER] = (unsigned char)key_len;
    if (key_len) memcpy(item + BLOCK_NUMBER + K1, key, key_len); /* key is NULL for the null key */
    glass_put2(item + BLOCK_NUMBER + K1 + key_len, part);
    return (int)(BLOCK_NUMBER + K1 + key_len + X2);
}

static int add_branch_item(glass_btree *t, int level, const unsigned char *item, int size);

/* The tree gains a level: a new root whose first (null-key) item points at the old root. */
static int grow_root(glass_btree *t, uint32_t old_root)
{
    if (t->top + 1 >= MAX_LEVELS) return fail_msg(t, "index table too large for a B-tree");
    t->top++;
    if (start_block(t, t->top) < 0) return -1;
    unsigned char item[BLOCK_NUMBER + K1 + X2];
    int size = form_branch_item(item, old_root, NULL, 0, 0);
    put_item(&t->levels[t->top], item, size);
    return 0;
}

/* Add a branch item at `level`; when the block is full it is written, a new one started, and
 * the item's key entered one level up as the separator for the new block. */
static int add_branch_item(glass_btree *t, int level, const unsigned char *item, int size)
{
    open_block *b = &t->levels[level];
    if (block_free(b) < size + D2) {
        uint32_t full = b->number;
        if (write_block(t, b) < 0) return -1;
        if (start_block(t, level) < 0) return -1;
        if (level == t->top && grow_root(t, full) < 0) return -1;
        put_item(b, item, size);
        /* Between branch levels the key is copied whole: it was already the shortest
         * separator at the level below. */
        unsigned char up[BLOCK_NUMBER + K1 + MAX_KEY + X2];
        size_t key_len = item[BLOCK_NUMBER];
        memcpy(up + BLOCK_NUMBER, item + BLOCK_NUMBER, K1 + key_len + X2);
        glass_put4(up, b->number);
        return add_branch_item(t, level + 1, up, (int)(BLOCK_NUMBER + K1 + key_len + X2));
    }
    put_item(b, item, size);
    return 0;
}

/* ---------------------------------------------------------------- leaves */

/* Add one leaf item (one part of a tag). When the leaf is full it is written and a new leaf
 * started; the level above gets the shortest prefix of the new key that sorts after the last
 * key of the full leaf. */
static int add_leaf_item(glass_btree *t, const unsigned char *item, int size,
                         const unsigned char *key, size_t key_len, unsigned part)
{
    open_block *leaf = &t->levels[0];
    if (block_free(leaf) < size + D2) {
        uint32_t full = leaf->number;
        if (write_block(t, leaf) < 0) return -1;
        if (start_block(t, 0) < 0) return -1;
        if (t->top == 0 && grow_root(t, full) < 0) return -1;
        put_item(leaf, item, size);

        size_t common = 0;
        size_t shorter = key_len < t->last_key_len ? key_len : t->last_key_len;
        while (common < shorter && t->last_key[common] == key[common]) common++;
        if (common < key_len) common++;
        unsigned char sep[BLOCK_NUMBER + K1 + MAX_KEY + X2];
        int sep_size = form_branch_item(sep, leaf->number, key, common, part);
        return add_branch_item(t, 1, sep, sep_size);
    }
    put_item(leaf, item, size);
    return 0;
}

int glass_btree_add(glass_btree *t, const void *key_bytes, size_t key_len, const void *tag_bytes,
                    size_t tag_len, int compressed)
{
    const unsigned char *key = key_bytes;
    const unsigned char *tag = tag_bytes;
    if (t->failed) return -1;
    if (key_len == 0 || key_len > MAX_KEY) return fail_msg(t, "index key of invalid length");
    if (t->has_key) {
        if (kb_bytes_cmp(t->last_key, t->last_key_len, key, key_len) >= 0)
            return fail_msg(t, "index keys out of order (internal error)");
    }

    /* Split the tag into parts as Xapian does: each part fits an item of the largest size,
     * and the first part is made to fill the rest of the current leaf when that does not
     * cost an extra part. */
    const size_t cd = key_len + K1 + I2 + X2; /* bytes before the tag in a continuation */
    const size_t part_max = MAX_ITEM_SIZE - cd;
    size_t first = part_max + X2;             /* the first part has no X */
    if (tag_len <= first) {
        first = tag_len;
    } else {
        size_t n = (size_t)block_free(&t->levels[0]) % (MAX_ITEM_SIZE + D2);
        if (n > D2 + cd) {
            n -= D2 + cd;
            size_t last = (tag_len - X2) % part_max;
            if (n >= last) first = n + X2;
        }
    }
    size_t parts = (tag_len - first + part_max - 1) / part_max + 1;
    if (parts >= MAX_PARTS) return fail_msg(t, "index entry too large");

    unsigned char item[MAX_ITEM_SIZE + X2];
    size_t offset = 0;
    for (size_t i = 1; i <= parts; i++) {
        size_t len = i == parts ? tag_len - offset : (i == 1 ? first : part_max);
        size_t at = I2 + K1 + key_len;
        item[I2] = (unsigned char)key_len;
        memcpy(item + I2 + K1, key, key_len);
        if (i > 1) {
            glass_put2(item + at, (unsigned)i);
            at += X2;
        }
        memcpy(item + at, tag + offset, len);
        size_t size = at + len;
        glass_put2(item, (unsigned)(size - 3));
        item[0] |= (unsigned char)((compressed ? FLAG_COMPRESSED : 0) | (i == parts ? FLAG_LAST : 0) |
                                   (i == 1 ? FLAG_FIRST : 0));
        if (add_leaf_item(t, item, (int)size, key, key_len, (unsigned)i) < 0) return -1;
        memcpy(t->last_key, key, key_len);
        t->last_key_len = key_len;
        t->has_key = 1;
        offset += len;
    }
    t->num_entries++;
    return 0;
}

/* ---------------------------------------------------------------- table */

glass_btree *glass_btree_create(const char *path, uint32_t compress_min, char *err,
                                size_t err_len)
{
    glass_btree *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    t->compress_min = compress_min;
    t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (t->fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
        free(t);
        return NULL;
    }
    /* The first leaf starts with the null item (empty key, one part), as in Xapian. */
    if (start_block(t, 0) < 0) {
        snprintf(err, err_len, "%s", t->err);
        glass_btree_free(t);
        return NULL;
    }
    unsigned char null_item[I2 + K1] = {FLAG_FIRST | FLAG_LAST, 0, 0};
    put_item(&t->levels[0], null_item, sizeof null_item);
    return t;
}

int glass_btree_finish(glass_btree *t, glass_root_info *root)
{
    if (t->failed) return -1;
    memset(root, 0, sizeof *root);
    root->compress_min = t->compress_min;
    if (t->num_entries == 0) {
        /* Like a table Xapian never wrote to: no blocks, a fake root. */
        if (ftruncate(t->fd, 0) < 0) return fail(t, "cannot write the index");
        root->empty = 1;
        return 0;
    }
    for (int level = 0; level <= t->top; level++)
        if (write_block(t, &t->levels[level]) < 0) return -1;
    if (fsync(t->fd) < 0) return fail(t, "cannot flush the index to disk");
    root->root = t->levels[t->top].number;
    root->level = (uint32_t)t->top;
    root->num_entries = t->num_entries;
    root->blocks = t->next_block;
    return 0;
}

const char *glass_btree_errmsg(const glass_btree *t) { return t->err; }

void glass_btree_free(glass_btree *t)
{
    if (!t) return;
    if (t->fd >= 0) close(t->fd);
    for (int i = 0; i < MAX_LEVELS; i++) free(t->levels[i].block);
    free(t);
}

void glass_root_info_pack(kb_buf *b, const glass_root_info *r)
{
    glass_pack_uint(b, r->root);
    /* level, then "added sequentially" (0x02) and "root is fake" (0x01) */
    glass_pack_uint(b, (uint64_t)r->level << 2 | 0x02 | (r->empty ? 0x01 : 0));
    glass_pack_uint(b, r->num_entries);
    glass_pack_uint(b, GLASS_BLOCK_SIZE >> 11);
    glass_pack_uint(b, r->compress_min);
    if (r->empty) {
        glass_pack_uint(b, 0); /* no free-list state */
        return;
    }
    /* Free list: revision, first unused block, then the read and write cursors (block, offset
     * / 4) of an empty list. */
    kb_buf fl = {0};
    glass_pack_uint(&fl, GLASS_FIRST_REVISION);
    glass_pack_uint(&fl, r->blocks);
    glass_pack_uint(&fl, 0);
    glass_pack_uint(&fl, 0);
    glass_pack_uint(&fl, 0);
    glass_pack_uint(&fl, 0);
    if (fl.failed) b->failed = 1;
    else glass_pack_string(b, fl.data, fl.len);
    free(fl.data);
}
