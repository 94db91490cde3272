/*
 * buf.c — a growable byte buffer (see util/buf.h).
 */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

int kb_buf_add(kb_buf *b, const void *bytes, size_t n)
{
    if (b->failed) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
