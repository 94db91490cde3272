/*
 * util/hash.h — the one string hash of libkb (FNV-1a, 64 bits), for hash tables and content hashes.
 *
 * KB_HASH_SEED is not FNV's published offset basis (one digit short), but it is what every hash
 * here has always started from, and the content hashes stored in indexes (kb/index.h,
 * KB_SLOT_HASH) depend on it: changing it would make every document look changed.
 */
#ifndef KB_HASH_H
#define KB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KB_HASH_SEED 1469598103934665603ULL

/* Hash n bytes, continuing from h (KB_HASH_SEED to start). */
static inline uint64_t kb_hash_bytes(const void *s, size_t n, uint64_t h)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Hash a NUL-terminated string from KB_HASH_SEED. */
static inline uint64_t kb_hash_str(const char *s)
{
    uint64_t h = KB_HASH_SEED;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

#endif
