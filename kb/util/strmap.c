/*
 * strmap.c — string → string hash map with open addressing (see util/strmap.h).
 * FNV-1a hashing, linear probing, grows at 50% load so probes stay short.
 */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

void kb_strmap_init(kb_strmap *m) { memset(m, 0, sizeof *m); }

void kb_strmap_free(kb_strmap *m)
{
    for (size_t i = 0; i < m->capacity; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(char *const *keys, size_t capacity, const char *key)
{
    size_t i = (size_t)kb_hash_str(key) & (capacity - 1);
    while (keys[i] && strcmp(keys[i], key) != 0) i = (i + 1) & (capacity - 1);
    return i;
}

static int grow(kb_strmap *m)
{
    size_t cap = m->capacity ? m->capacity * 2 : 64;
    char **keys = calloc(cap, sizeof *keys), **values = calloc(cap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return -1;
    }
    for (size_t i = 0; i < m->capacity; i++) {
        if (!m->keys[i]) continue;
        size_t j = slot_of(keys, cap, m->keys[i]);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->capacity = cap;
    return 0;
}

int kb_strmap_put(kb_strmap *m, const char *key, const char *value)
{
    if ((m->count + 1) * 2 > m->capacity && grow(m) < 0) return -1;
    size_t i = slot_of(m->keys, m->capacity, key);
    char *v = strdup(value ? value : "");
    if (!v) return -1;
    if (m->keys[i]) {
        free(m->values[i]);
        m->values[i] = v;
        return 0;
    }
    m->keys[i] = strdup(key);
    if (!m->keys[i]) {
        free(v);
        return -1;
    }
    m->values[i] = v;
    m->count++;
    return 0;
}

const char *kb_strmap_get(const kb_strmap *m, const char *key)
{
    if (!m->capacity) return NULL;
    size_t i = slot_of(m->keys, m->capacity, key);
    return m->keys[i] ? m->values[i] : NULL;
}
