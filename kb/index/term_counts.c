/*
 * term_counts.c — per-document term counting (see index/term_counts.h).
 * FNV-1a, linear probing, grows at 50% load. Term texts are copied into one arena, so clearing
 * between documents frees nothing.
 */
#include "index/term_counts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

void kb_term_counts_init(kb_term_counts *c) { memset(c, 0, sizeof *c); }

void kb_term_counts_clear(kb_term_counts *c)
{
    if (c->used) memset(c->slots, 0, c->capacity * sizeof *c->slots);
    c->used = 0;
    c->arena_used = 0;
}

void kb_term_counts_free(kb_term_counts *c)
{
    free(c->slots);
    free(c->arena);
    memset(c, 0, sizeof *c);
}


static int grow(kb_term_counts *c)
{
    size_t cap = c->capacity ? c->capacity * 2 : 1024;
    kb_term_count *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < c->capacity; i++) {
        if (!c->slots[i].term) continue;
        size_t j = (size_t)kb_hash_str(c->slots[i].term) & (cap - 1);
        while (slots[j].term) j = (j + 1) & (cap - 1);
        slots[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = slots;
    c->capacity = cap;
    return 0;
}

/* Copy a term into the arena, moving the arena (and rebasing the stored pointers) when full. */
static const char *arena_copy(kb_term_counts *c, const char *term, size_t len)
{
    if (c->arena_used + len + 1 > c->arena_capacity) {
        size_t cap = c->arena_capacity ? c->arena_capacity * 2 : 65536;
        while (cap < c->arena_used + len + 1) cap *= 2;
        char *a = malloc(cap);
        if (!a) return NULL;
        if (c->arena_used) memcpy(a, c->arena, c->arena_used);
        for (size_t i = 0; i < c->capacity; i++)
            if (c->slots[i].term) c->slots[i].term = a + (c->slots[i].term - c->arena);
        free(c->arena);
        c->arena = a;
        c->arena_capacity = cap;
    }
    char *dst = c->arena + c->arena_used;
    memcpy(dst, term, len + 1);
    c->arena_used += len + 1;
    return dst;
}

int kb_term_counts_add(kb_term_counts *c, const char *term, unsigned count)
{
    if ((c->used + 1) * 2 > c->capacity && grow(c) < 0) return -1;
    size_t i = (size_t)kb_hash_str(term) & (c->capacity - 1);
    while (c->slots[i].term) {
        if (strcmp(c->slots[i].term, term) == 0) {
            c->slots[i].count += count;
            return 0;
        }
        i = (i + 1) & (c->capacity - 1);
    }
    const char *copy = arena_copy(c, term, strlen(term));
    if (!copy) return -1;
    c->slots[i].term = copy;
    c->slots[i].count = count;
    c->used++;
    return 0;
}
