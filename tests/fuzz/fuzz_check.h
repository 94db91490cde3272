/*
 * fuzz_check.h — invariant checks shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * A harness that only waits for a crash misses wrong answers: these helpers let each one assert
 * what callers rely on (valid UTF-8, HTML-safe snippets, JSON that parses) and stop with a
 * message naming the broken invariant. abort() makes libFuzzer save the input as a crash.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where broken invariants are reported: stderr, unless a harness whose code under test floods
 * stderr (the daemon's access log) runs with -close_fd_mask=2 and keeps a copy of it here. */
static FILE *fuzz_report_file;

#define FUZZ_REQUIRE(cond, ...)                                                                \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            FILE *out_ = fuzz_report_file ? fuzz_report_file : stderr;                         \
            fprintf(out_, "invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);     \
            fprintf(out_, __VA_ARGS__);                                                        \
            fprintf(out_, "\n");                                                               \
            fflush(out_);                                                                      \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* 1 when s[0..n) is well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
static inline int fuzz_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static inline int fuzz_utf8_valid_str(const char *s) { return s && fuzz_utf8_valid(s, strlen(s)); }

/* 1 when html is safe to insert into a page as it is: the only tags are <mark> and </mark>,
 * properly paired and not nested, and every & starts one of the entities the escaper writes. */
static inline int fuzz_html_safe(const char *html, const char **why) {
    int open = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '<') {
            if (!open && strncmp(p, "<mark>", 6) == 0) {
                open = 1;
                p += 5;
            } else if (open && strncmp(p, "</mark>", 7) == 0) {
                open = 0;
                p += 6;
            } else {
                *why = "raw '<' that is not a balanced <mark> or </mark>";
                return 0;
            }
        } else if (*p == '>') {
            *why = "raw '>' outside a <mark> tag";
            return 0;
        } else if (*p == '&') {
            static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;",
                                                   "&#x27;", "&apos;"};
            int ok = 0;
            for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++)
                if (strncmp(p, entities[i], strlen(entities[i])) == 0) ok = 1;
            if (!ok) {
                *why = "raw '&' that starts no entity";
                return 0;
            }
        } else if (*p == '"' || *p == '\'') {
            *why = "raw quote (snippets may end up in attributes)";
            return 0;
        }
    }
    if (open) {
        *why = "<mark> left open";
        return 0;
    }
    return 1;
}

#endif
