/*
 * glass_pack.h — the integer and string encodings of Xapian 1.4's glass database format, for
 * the bulk builder (glass_build.c) that writes glass tables without Xapian's writer.
 * Private to libkb.
 *
 * Each function mirrors the one of the same name in Xapian's common/pack.h byte for byte; the
 * reader is Xapian itself, so any difference is a corrupt database. Appending to a kb_buf
 * records running out of memory in the buffer (util/buf.h), checked once per record.
 */
#ifndef KB_GLASS_PACK_H
#define KB_GLASS_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"

/* 7 bits a byte, least significant first, high bit set on all but the last byte. Written in
 * place when the buffer has room (the common case: this runs once or twice per posting). */
static inline void glass_pack_uint(kb_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    int in_place = b->cap - b->len > sizeof tmp && !b->failed;
    unsigned char *p = in_place ? (unsigned char *)b->data + b->len : tmp;
    size_t n = 0;
    while (v >= 128) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    if (!in_place) {
        kb_buf_add(b, tmp, n);
        return;
    }
    b->len += n;
    b->data[b->len] = '\0'; /* kb_buf keeps its data NUL-terminated */
}

/* pack_bool: '0' or '1'. */
static inline void glass_pack_bool(kb_buf *b, int v)
{
    char c = v ? '1' : '0';
    kb_buf_add(b, &c, 1);
}

/* pack_string: length as pack_uint, then the bytes. */
static inline void glass_pack_string(kb_buf *b, const void *s, size_t len)
{
    glass_pack_uint(b, len);
    kb_buf_add(b, s, len);
}

/* pack_uint_preserving_sort (glass variant): an encoding whose byte order is numeric order,
 * used for docids inside keys. Values below 0x8000 take 2 bytes; longer ones carry their length
 * in the leading 1 bits of the first byte. */
static inline void glass_pack_uint_sorted(kb_buf *b, uint32_t v)
{
    unsigned char tmp[9];
    if (v < 0x8000) {
        tmp[0] = (unsigned char)(v >> 8);
        tmp[1] = (unsigned char)v;
        kb_buf_add(b, tmp, 2);
        return;
    }
    /* len = ((32 + 5) - clz(v)) / 7, as Xapian computes it for a 32-bit docid. */
    size_t len = (size_t)((32 + 5) - __builtin_clz(v)) / 7;
    unsigned mask = 0xffu << (10 - len);
    for (size_t i = 1; i != len; ++i) {
        tmp[len - i] = (unsigned char)v;
        v >>= 8;
    }
    tmp[0] = (unsigned char)(v | mask);
    kb_buf_add(b, tmp, len);
}

/* pack_string_preserving_sort: NUL bytes are escaped as "\0\xff"; unless `last`, a "\0"
 * terminator follows (so a docid can be appended and keys still sort by string first). */
static inline void glass_pack_string_sorted(kb_buf *b, const char *s, size_t len, int last)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\0') continue;
        kb_buf_add(b, s + start, i + 1 - start);
        kb_buf_add(b, "\xff", 1);
        start = i + 1;
    }
    kb_buf_add(b, s + start, len - start);
    if (!last) kb_buf_add(b, "", 1);
}

/* Big-endian fixed-width integers of the B-tree block layout. */
static inline void glass_put2(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void glass_put4(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

#endif
