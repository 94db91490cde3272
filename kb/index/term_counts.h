/*
 * index/term_counts.h — count term occurrences of one document before handing them to Xapian.
 *
 * A 4 KB document yields ~4,000 term occurrences but only ~1,500 distinct terms; adding each
 * occurrence to a Xapian::Document costs a std::map insertion, so counting here first (one hash
 * probe per occurrence) and adding each distinct term once is several times cheaper.
 * Not thread-safe; reuse one per thread with kb_term_counts_clear().
 */
#ifndef KB_TERM_COUNTS_H
#define KB_TERM_COUNTS_H

#include <stddef.h>

typedef struct {
    const char *term; /* NUL-terminated, in the arena */
    unsigned count;
} kb_term_count;

typedef struct {
    kb_term_count *slots;  /* open addressing; term == NULL marks an empty slot */
    size_t capacity;       /* a power of two */
    size_t used;
    char *arena;
    size_t arena_used, arena_capacity;
} kb_term_counts;

void kb_term_counts_init(kb_term_counts *c);
void kb_term_counts_clear(kb_term_counts *c);
void kb_term_counts_free(kb_term_counts *c);
/* Add `count` to term's count. Returns 0, or -1 when memory ran out. */
int kb_term_counts_add(kb_term_counts *c, const char *term, unsigned count);

#endif
