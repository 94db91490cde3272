/*
 * util/strmap.h — a plain string → string hash map (open addressing, linear probing).
 *
 * Used where a run must remember many short strings, e.g. the document ids an indexing run has
 * seen and where each came from. Keys and values are copied. Not thread-safe.
 */
#ifndef KB_STRMAP_H
#define KB_STRMAP_H

#include <stddef.h>

typedef struct {
    char **keys;
    char **values;
    size_t capacity; /* a power of two */
    size_t count;
} kb_strmap;

void kb_strmap_init(kb_strmap *m);
void kb_strmap_free(kb_strmap *m);
/* Insert or overwrite. Returns 0, or -1 when memory ran out. */
int kb_strmap_put(kb_strmap *m, const char *key, const char *value);
/* The value stored for key, or NULL. */
const char *kb_strmap_get(const kb_strmap *m, const char *key);

#endif
