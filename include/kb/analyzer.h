/*
 * kb/analyzer.h — turn text into index terms; the same code serves documents and queries.
 *
 * Steps, in order:
 *   1. Unicode NFKC with case folding (ICU): full-width ＡＢＣ１２３ become abc123, ligatures split.
 *   2. Traditional → Simplified Chinese (OpenCC's t2s, phrase-aware; analysis/t2s.h), so either script finds both.
 *   3. Segmentation: ICU's dictionary word breaks for Chinese runs, UAX #29 words elsewhere.
 *   4. Terms:
 *        - Chinese: every dictionary word of two or more characters, every character bigram of a
 *          Han run (a two-character word is also reported as a bigram, so it weighs more in the
 *          index than a bigram that straddles words), and every single Han character (unigrams let one-character queries work and
 *          give short colloquial questions partial credit; queries use them with a low weight).
 *        - Latin words and numbers: lower-cased; a letter/digit mix such as "iphone15" also gives
 *          "iphone" and "15"; a code joined by - _ . / such as 4008-123-456 or SM-G9900 gives its
 *          parts and the joined form ("4008123456", "smg9900"), so agents can type it either way.
 *
 * Terms are plain UTF-8 strings that never start with an ASCII capital letter (those are left
 * for the index's field prefixes).
 *
 * An analyzer is not thread-safe: use one per thread. Creating one costs a few milliseconds.
 */
#ifndef KB_ANALYZER_H
#define KB_ANALYZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct kb_analyzer kb_analyzer;

/* What produced a term: the query side weights these differently. */
typedef enum {
    KB_TERM_WORD,    /* a Chinese dictionary word of 2+ characters */
    KB_TERM_BIGRAM,  /* two adjacent Han characters inside one word, or across two one-character
                        segments (unknown names are segmented that way) */
    KB_TERM_BIGRAM_CROSS, /* two adjacent Han characters across the edge of a dictionary word of
                             2+ characters ("颂是" in "范廷颂是…"): usually noise in a query */
    KB_TERM_UNIGRAM, /* one Han character */
    KB_TERM_LATIN,   /* a Latin/other-script word, lower-cased */
    KB_TERM_NUMBER,  /* digits only */
    KB_TERM_CODE     /* a joined product code / number built from parts */
} kb_term_kind;

typedef struct {
    const char *text;  /* NUL-terminated UTF-8, owned by the term list */
    kb_term_kind kind;
    uint32_t position; /* ordinal of the segment the term came from, for proximity */
} kb_term;

/* A growable list of terms; reuse one across calls to avoid allocations. */
typedef struct {
    kb_term *terms;
    size_t count;
    size_t capacity;
    char *arena;       /* term texts live here */
    size_t arena_used;
    size_t arena_capacity;
} kb_term_list;

/* Create an analyzer. On failure returns NULL and writes a message into err (if err_len > 0). */
kb_analyzer *kb_analyzer_new(char *err, size_t err_len);
void kb_analyzer_free(kb_analyzer *a);

/* Analyze `len` bytes of UTF-8 text and append its terms to `out` (which is not cleared).
 * Invalid UTF-8 sequences are treated as U+FFFD and never stop the analysis.
 * Returns 0, or -1 when memory ran out. */
int kb_analyze(kb_analyzer *a, const char *text, size_t len, kb_term_list *out);

/* Normalize text the way step 1 and 2 do (NFKC + case fold + Traditional→Simplified) without
 * segmenting it. Returns a malloc'd NUL-terminated string, or NULL when memory ran out. */
char *kb_analyzer_fold(kb_analyzer *a, const char *text, size_t len);

/* Keep only the letters and digits (Chinese characters are letters) of folded text, in place:
 * blanks, punctuation and symbols say nothing about what was asked, so "出国了，手机怎么用？" and
 * "出国了手机怎么用" compact alike. Returns the new length. */
size_t kb_analyzer_compact(char *folded);

/* kb_analyzer_fold, then kb_analyzer_compact: the form in which two questions are "the same
 * question" (learned phrasings, an editor's <q> asked verbatim). malloc'd, or NULL when memory
 * ran out. */
char *kb_analyzer_fold_compact(kb_analyzer *a, const char *text, size_t len);

/* Fold a single code point the way analysis does, for aligning snippets with the original
 * text: returns the folded code point (e.g. 'Ａ'→'a', '漫'→'漫', '遊'→'游'). Code points whose
 * fold is not a single code point are returned unchanged. Thread-safe after the first
 * kb_analyzer_new. */
uint32_t kb_analyzer_fold_codepoint(uint32_t cp);

/* The table behind kb_analyzer_fold_codepoint for the Basic Multilingual Plane (65,536
 * entries; code points above it fold to themselves), for loops that fold every character of a
 * text, such as snippets: one load a character instead of a call. NULL when memory ran out at
 * start-up (then use kb_analyzer_fold_codepoint). Builds the table on first use; thread-safe. */
const uint16_t *kb_analyzer_fold_table(void);

/* Fold text[0..n) (code points) the way analysis folds text, one code point out for each code
 * point in, so that a match found in out is a match at the same place of the original (snippets
 * mark the editor's own text). Each code point as kb_analyzer_fold_codepoint, and where the text
 * holds Traditional characters, also the phrase conversions that a fold one character at a time
 * misses (計畫 → 计划, 瞭解 → 了解, 回覆 → 回复), when they keep their length, as all of
 * OpenCC's do; the rest are folded character by character. Thread-safe after the first
 * kb_analyzer_new. */
void kb_analyzer_fold_aligned(const uint32_t *text, size_t n, uint32_t *out);

/* The second half of kb_analyzer_fold_aligned, for loops that fold each code point with
 * kb_analyzer_fold_table as they decode: out[0..n) holds text[0..n) folded code point by code
 * point, and text holds a character that may change under Traditional → Simplified (bit set in
 * kb_analyzer_traditional_bits); the phrase conversions are applied to out. */
void kb_analyzer_fold_phrases(const uint32_t *text, size_t n, uint32_t *out);

/* Bit c % 8 of byte c / 8: 1 when BMP code point c may change under Traditional → Simplified
 * (a character of the table or of a phrase). Text without such a character needs no
 * kb_analyzer_fold_phrases. NULL when the tables could not be built. */
const uint8_t *kb_analyzer_traditional_bits(void);

void kb_term_list_init(kb_term_list *l);
void kb_term_list_clear(kb_term_list *l); /* forget the terms, keep the memory */
void kb_term_list_free(kb_term_list *l);
/* Append one term; returns 0 or -1 when memory ran out. */
int kb_term_list_push(kb_term_list *l, const char *text, size_t len, kb_term_kind kind,
                      uint32_t position);

/* Blank text (kb/analysis/blank.c): ASCII space and \t..\r, U+00A0, U+2000..U+200B, U+3000 and
 * U+FEFF. kb_blank_at gives the bytes of the blank character s starts with (0: none);
 * kb_text_is_blank is 1 when s is NULL, empty or nothing but blanks. One rule for searches,
 * help requests, notes and categories, so none of them takes "\u00a0" for a question. */
size_t kb_blank_at(const char *s);
int kb_text_is_blank(const char *s);

#endif
