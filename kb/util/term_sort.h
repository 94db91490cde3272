/*
 * util/term_sort.h — sort terms by their bytes, fast, for the indexer's two sorts: a document's
 * ~1,500 terms (every document, on the preparing threads) and a run's distinct terms (the bulk
 * builder, before writing postings in term order).
 *
 * Each term is represented by its first 8 bytes as a big-endian number (shorter terms padded
 * with zero bytes) and an index into the caller's array. An MSD radix sort orders those
 * numbers; terms whose first 8 bytes are equal are then ordered by the caller's comparison.
 * Several times cheaper than qsort with a string comparison, which pays a call per comparison.
 */
#ifndef KB_TERM_SORT_H
#define KB_TERM_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Byte order of two strings, a prefix before its extensions (memcmp's sign, as Xapian orders
 * terms and keys). */
static inline int kb_bytes_cmp(const void *a, size_t a_len, const void *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c) return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

typedef struct {
    uint64_t prefix;
    uint32_t index;
} kb_sort_item;

/* The first 8 bytes of s[0..len) as a big-endian number, zero-padded. */
uint64_t kb_sort_prefix(const char *s, size_t len);

/* Sort items[0..n) by byte order of the terms they stand for: by prefix, then, among items with
 * equal prefixes, by cmp(index_a, index_b, ctx) (< 0, 0, > 0 like memcmp). tmp has room for n
 * items. */
void kb_sort_terms(kb_sort_item *items, kb_sort_item *tmp, size_t n,
                   int (*cmp)(uint32_t a, uint32_t b, void *ctx), void *ctx);

#endif
