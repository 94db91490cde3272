/*
 * term_sort.c — MSD radix sort of term prefixes, then ties by the caller (see util/term_sort.h).
 *
 * Chinese terms are UTF-8 runs of 3-byte characters whose first byte takes few values, so the
 * first two radix levels split a document's terms into buckets of a handful, which insertion
 * sort finishes.
 */
#include "util/term_sort.h"

#include <string.h>

/* Buckets at most this small are finished by insertion sort. */
#define SMALL 24

uint64_t kb_sort_prefix(const char *s, size_t len)
{
    unsigned char b[8] = {0};
    memcpy(b, s, len < 8 ? len : 8);
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

static void insertion_by_prefix(kb_sort_item *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        kb_sort_item x = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].prefix > x.prefix) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Sort a[0..n) by prefix, given that bytes above `byte` (0 = most significant) are equal.
 * counts[byte] is a zeroed array of 256 counters for each level, left zeroed on return; only
 * the range of digits present is visited, since deep buckets hold few terms. */
static void radix(kb_sort_item *a, kb_sort_item *tmp, size_t n, unsigned byte,
                  size_t (*counts)[256])
{
    while (n > SMALL && byte < 8) {
        unsigned shift = 56 - 8 * byte;
        size_t *count = counts[byte];
        unsigned lo = 255, hi = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(a[i].prefix >> shift) & 0xff;
            count[d]++;
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        if (lo == hi) { /* one bucket: next byte */
            count[lo] = 0;
            byte++;
            continue;
        }
        size_t start[256], at = 0;
        for (unsigned d = lo; d <= hi; d++) {
            start[d] = at;
            at += count[d];
        }
        for (size_t i = 0; i < n; i++) tmp[start[(a[i].prefix >> shift) & 0xff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
        size_t from = 0;
        for (unsigned d = lo; d <= hi; from += count[d], count[d] = 0, d++)
            if (count[d] > 1) radix(a + from, tmp, count[d], byte + 1, counts);
        return;
    }
    if (byte < 8) insertion_by_prefix(a, n);
}

void kb_sort_terms(kb_sort_item *items, kb_sort_item *tmp, size_t n,
                   int (*cmp)(uint32_t a, uint32_t b, void *ctx), void *ctx)
{
    size_t counts[8][256];
    memset(counts, 0, sizeof counts);
    radix(items, tmp, n, 0, counts);
    /* Equal prefixes: the terms are 8+ bytes long or differ only in length; order by cmp. */
    for (size_t i = 1; i < n; i++) {
        if (items[i].prefix != items[i - 1].prefix) continue;
        kb_sort_item x = items[i];
        size_t j = i;
        while (j > 0 && items[j - 1].prefix == x.prefix && cmp(items[j - 1].index, x.index, ctx) > 0) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
}
