/*
 * util/buf.h — a growable byte buffer, kept NUL-terminated, for building strings and records.
 *
 * Start from {0}; append with kb_buf_add; take data (malloc'd, the caller frees it). When memory
 * runs out the buffer remembers it: later appends do nothing, so a builder can append freely
 * and check `failed` once at the end.
 */
#ifndef KB_BUF_H
#define KB_BUF_H

#include <stddef.h>

typedef struct {
    char *data; /* NULL until the first append (even of 0 bytes), then NUL-terminated */
    size_t len;
    size_t cap;
    int failed; /* memory ran out on some append */
} kb_buf;

/* Append n bytes. Returns 0, or -1 when memory ran out, now or on an earlier append. */
int kb_buf_add(kb_buf *b, const void *bytes, size_t n);

#endif
