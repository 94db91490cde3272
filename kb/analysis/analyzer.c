/*
 * analyzer.c — text to index terms, identical for documents and queries (see kb/analyzer.h).
 *
 * Pipeline: UTF-8 → UTF-16 (bad bytes become U+FFFD) → ICU NFKC_Casefold → Traditional→Simplified
 * (OpenCC's t2s rule and dictionaries, analysis/t2s.h; only for text with a character it changes) →
 * ICU word break iterator ("zh" locale, so Chinese runs are split with ICU's
 * dictionary) → terms.
 *
 * Why both words and bigrams: ICU's dictionary words are precise but segment documents and
 * questions inconsistently (a question's "漫游费" may be one word where the document has
 * "漫游" + "费"); bigrams match regardless of segmentation. Measured on the shared data, the
 * two together beat either alone. Unigrams are indexed so that one-character queries work; the
 * query side gives them little weight.
 */
#include "kb/analyzer.h"
#include "analysis/t2s.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

/* Longest term kept, in bytes; longer tokens (base64 blobs, URLs) are not useful search terms
 * and Xapian limits terms to 245 bytes. */
#define MAX_TERM_BYTES 64
/* Longest input analyzed at once; longer texts are analyzed in pieces of this size so that
 * buffers stay bounded (pieces are cut at a line or space where possible). */
#define MAX_PIECE_BYTES (256 * 1024)

struct kb_analyzer {
    const UNormalizer2 *nfkc_cf;
    UBreakIterator *words;
    UChar *u16;      /* input as UTF-16 */
    int32_t u16_cap;
    UChar *norm;     /* normalized UTF-16 */
    int32_t norm_cap;
    UChar *simp;     /* simplified UTF-16, segmented */
    int32_t simp_cap;
    char *simp8;     /* simp as UTF-8, so terms are slices of it (one conversion per text, not
                      * one per term: ICU's converter call costs more than the copy) */
    int32_t *at8;    /* at8[i]: offset in simp8 of UTF-16 unit i; at8[n] is the end */
    int32_t simp8_cap;
};

/* ---------------------------------------------------------------- term lists */

void kb_term_list_init(kb_term_list *l) { memset(l, 0, sizeof *l); }

void kb_term_list_clear(kb_term_list *l)
{
    l->count = 0;
    l->arena_used = 0;
}

void kb_term_list_free(kb_term_list *l)
{
    free(l->terms);
    free(l->arena);
    memset(l, 0, sizeof *l);
}

int kb_term_list_push(kb_term_list *l, const char *text, size_t len, kb_term_kind kind,
                      uint32_t position)
{
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 256;
        kb_term *t = realloc(l->terms, cap * sizeof *t);
        if (!t) return -1;
        l->terms = t;
        l->capacity = cap;
    }
    if (l->arena_used + len + 1 > l->arena_capacity) {
        size_t cap = l->arena_capacity ? l->arena_capacity : 4096;
        while (cap < l->arena_used + len + 1) cap *= 2;
        char *a = realloc(l->arena, cap);
        if (!a) return -1;
        /* Term texts point into the arena: rebase them after it moved. */
        if (a != l->arena)
            for (size_t i = 0; i < l->count; i++)
                l->terms[i].text = a + (l->terms[i].text - l->arena);
        l->arena = a;
        l->arena_capacity = cap;
    }
    char *dst = l->arena + l->arena_used;
    memcpy(dst, text, len);
    dst[len] = '\0';
    l->arena_used += len + 1;
    l->terms[l->count].text = dst;
    l->terms[l->count].kind = kind;
    l->terms[l->count].position = position;
    l->count++;
    return 0;
}

/* ---------------------------------------------------------------- variants OpenCC leaves apart */

/* Simplified characters that OpenCC t2s keeps distinct but that call-centre text uses
 * interchangeably, so that a Traditional 帳單 (→ 帐单) finds a Simplified 账单. Each pair is
 * (variant, preferred). Keep this list short and obvious: every pair merges two terms. */
static const UChar variant_pairs[][2] = {
    {0x5E10, 0x8D26}, /* 帐 → 账 (帳戶/帐户/账户, 帳單/账单) */
};

static UChar fold_variant(UChar c)
{
    for (size_t i = 0; i < sizeof variant_pairs / sizeof variant_pairs[0]; i++)
        if (variant_pairs[i][0] == c) return variant_pairs[i][1];
    return c;
}

/* ---------------------------------------------------------------- the per-code-point fold table */

/* fold_table[cp] for every BMP code point: what analysis turns it into when that is one BMP code
 * point, else cp itself. Built once from the same ICU normalizer and t2s conversion the
 * analyzer uses, so snippets can be matched against query terms position by position. */
static uint16_t *fold_table;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static int is_han(UChar32 c)
{
    UErrorCode e = U_ZERO_ERROR;
    return uscript_getScript(c, &e) == USCRIPT_HAN;
}

static void build_fold_table(void)
{
    uint16_t *table = malloc(65536 * sizeof *table);
    if (!table) return;
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nf = unorm2_getNFKCCasefoldInstance(&e);
    for (UChar32 c = 0; c < 65536; c++) {
        table[c] = (uint16_t)c;
        if (U_IS_SURROGATE(c) || U_FAILURE(e)) continue;
        UChar in[1] = {(UChar)c}, out[8];
        UErrorCode e2 = U_ZERO_ERROR;
        int32_t n = unorm2_normalize(nf, in, 1, out, 8, &e2);
        if (U_SUCCESS(e2) && n == 1) table[c] = out[0];
    }
    /* Traditional → Simplified for Han characters, by the character table of the same
     * conversion the analyzer applies to text (analysis/t2s.h). */
    if (kb_t2s_init() == 0) {
        for (UChar32 c = 0x2E80; c < 0x10000; c++) {
            if (U_IS_SURROGATE(c) || !is_han(table[c])) continue;
            UChar32 s = kb_t2s_char(table[c]);
            if (s > 0 && s < 0x10000) table[c] = fold_variant((UChar)s);
        }
    }
    fold_table = table;
}

uint32_t kb_analyzer_fold_codepoint(uint32_t cp)
{
    pthread_once(&fold_once, build_fold_table);
    if (cp < 65536 && fold_table) return fold_table[cp];
    return cp;
}

const uint16_t *kb_analyzer_fold_table(void)
{
    pthread_once(&fold_once, build_fold_table);
    return fold_table;
}

void kb_analyzer_fold_aligned(const uint32_t *text, size_t n, uint32_t *out)
{
    pthread_once(&fold_once, build_fold_table);
    /* Like the analyzer, phrases are looked for only in text holding a character that may
     * change (Simplified text skips the pass). */
    const uint8_t *changes = kb_t2s_change_bits();
    int traditional = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = text[i];
        if (c < 0x10000) {
            out[i] = fold_table ? fold_table[c] : c;
            traditional |= changes && (changes[c / 8] >> (c % 8) & 1);
        } else {
            out[i] = c;
        }
    }
    if (traditional) kb_analyzer_fold_phrases(text, n, out);
}

void kb_analyzer_fold_phrases(const uint32_t *text, size_t n, uint32_t *out)
{
    /* Phrase keys are unified Han ideographs, which NFKC_Casefold leaves as they are: for them
     * the analyzer's fold is the t2s conversion, phrases included, then the variant fold. */
    if (kb_t2s_phrases_aligned(text, n, out) == 0) return;
    for (size_t i = 0; i < n; i++)
        if (out[i] < 0x10000) out[i] = fold_variant((UChar)out[i]);
}

const uint8_t *kb_analyzer_traditional_bits(void)
{
    pthread_once(&fold_once, build_fold_table); /* which initialises t2s */
    return kb_t2s_change_bits();
}

/* ---------------------------------------------------------------- set-up */

kb_analyzer *kb_analyzer_new(char *err, size_t err_len)
{
    kb_analyzer *a = calloc(1, sizeof *a);
    if (!a) {
        if (err_len) snprintf(err, err_len, "out of memory");
        return NULL;
    }
    UErrorCode e = U_ZERO_ERROR;
    a->nfkc_cf = unorm2_getNFKCCasefoldInstance(&e);
    if (U_FAILURE(e)) {
        if (err_len) snprintf(err, err_len, "ICU NFKC_Casefold unavailable: %s", u_errorName(e));
        free(a);
        return NULL;
    }
    a->words = ubrk_open(UBRK_WORD, "zh", NULL, 0, &e);
    if (U_FAILURE(e)) {
        if (err_len) snprintf(err, err_len, "ICU word break iterator unavailable: %s", u_errorName(e));
        free(a);
        return NULL;
    }
    if (kb_t2s_init() != 0) {
        if (err_len) snprintf(err, err_len, "out of memory (Traditional→Simplified tables)");
        ubrk_close(a->words);
        free(a);
        return NULL;
    }
    pthread_once(&fold_once, build_fold_table);
    return a;
}

void kb_analyzer_free(kb_analyzer *a)
{
    if (!a) return;
    ubrk_close(a->words);
    free(a->u16);
    free(a->norm);
    free(a->simp);
    free(a->simp8);
    free(a->at8);
    free(a);
}

/* Make *buf hold at least n UChars. */
static int reserve16(UChar **buf, int32_t *cap, int32_t n)
{
    if (*cap >= n) return 0;
    int32_t c = *cap ? *cap : 1024;
    while (c < n) c *= 2;
    UChar *b = realloc(*buf, (size_t)c * sizeof **buf);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* Fold text[0..len) into a->simp (UTF-16, NFKC_Casefold + Traditional→Simplified).
 * Returns its length, or -1 on failure. */
static int32_t fold_to_simp(kb_analyzer *a, const char *text, size_t len)
{
    UErrorCode e = U_ZERO_ERROR;
    int32_t n16 = 0;
    if (reserve16(&a->u16, &a->u16_cap, (int32_t)len + 1) < 0) return -1;
    u_strFromUTF8WithSub(a->u16, a->u16_cap, &n16, text, (int32_t)len, 0xFFFD, NULL, &e);
    if (U_FAILURE(e)) return -1;

    /* NFKC never grows text by more than a small factor; retry once with the exact size. */
    if (reserve16(&a->norm, &a->norm_cap, n16 * 3 + 16) < 0) return -1;
    int32_t nn = unorm2_normalize(a->nfkc_cf, a->u16, n16, a->norm, a->norm_cap, &e);
    if (e == U_BUFFER_OVERFLOW_ERROR) {
        e = U_ZERO_ERROR;
        if (reserve16(&a->norm, &a->norm_cap, nn + 1) < 0) return -1;
        nn = unorm2_normalize(a->nfkc_cf, a->u16, n16, a->norm, a->norm_cap, &e);
    }
    if (U_FAILURE(e)) return -1;

    /* Only text with a character that Traditional→Simplified (or the variant fold) changes
     * needs the conversion with its phrase lookups. t2s answers that per unit, also for what the
     * fold table cannot show: characters only a phrase changes (瞭 of 瞭解 → 了解, 覆 of
     * 回覆 → 回复) and characters beyond the BMP or turned into one (𩀨 → 𫕚, 䂎 → 𥎝). */
    int needs_t2s = 0;
    for (int32_t i = 0; i < nn && !needs_t2s; i++)
        if (kb_t2s_may_change(a->norm[i]) ||
            (a->norm[i] >= 0x2E80 && !U16_IS_SURROGATE(a->norm[i]) && fold_table &&
             fold_table[a->norm[i]] != a->norm[i]))
            needs_t2s = 1;
    if (!needs_t2s) {
        if (reserve16(&a->simp, &a->simp_cap, nn + 1) < 0) return -1;
        memcpy(a->simp, a->norm, (size_t)nn * sizeof(UChar));
        return nn;
    }

    if (reserve16(&a->simp, &a->simp_cap, KB_T2S_OUT_MAX(nn)) < 0) return -1;
    int32_t ns = kb_t2s_convert(a->norm, nn, a->simp);
    for (int32_t i = 0; i < ns; i++) a->simp[i] = fold_variant(a->simp[i]);
    return ns;
}

char *kb_analyzer_fold(kb_analyzer *a, const char *text, size_t len)
{
    int32_t n = fold_to_simp(a, text, len);
    if (n < 0) return NULL;
    size_t cap = (size_t)n * 3 + 1;
    char *out = malloc(cap);
    if (!out) return NULL;
    UErrorCode e = U_ZERO_ERROR;
    int32_t n8 = 0;
    u_strToUTF8(out, (int32_t)cap, &n8, a->simp, n, &e);
    if (U_FAILURE(e)) {
        free(out);
        return NULL;
    }
    out[n8] = '\0';
    return out;
}

size_t kb_analyzer_compact(char *folded)
{
    /* Written in place: the kept text is never longer. */
    int32_t len = (int32_t)strlen(folded), i = 0;
    size_t o = 0;
    while (i < len) {
        int32_t start = i;
        UChar32 cp;
        U8_NEXT(folded, i, len, cp);
        if (cp < 0 || !u_isalnum(cp)) continue;
        memmove(folded + o, folded + start, (size_t)(i - start));
        o += (size_t)(i - start);
    }
    folded[o] = '\0';
    return o;
}

char *kb_analyzer_fold_compact(kb_analyzer *a, const char *text, size_t len)
{
    char *folded = kb_analyzer_fold(a, text, len);
    if (folded) kb_analyzer_compact(folded);
    return folded;
}

/* Convert a->simp[0..n) to UTF-8 in a->simp8, recording where each UTF-16 unit starts. A lone
 * surrogate (which normalized text should not hold) becomes U+FFFD. Returns 0 or -1. */
static int simp_to_utf8(kb_analyzer *a, int32_t n)
{
    if (n + 1 > a->simp8_cap) {
        int32_t cap = a->simp8_cap ? a->simp8_cap : 1024;
        while (cap < n + 1) cap *= 2;
        char *s8 = realloc(a->simp8, (size_t)cap * 3);
        if (s8) a->simp8 = s8;
        int32_t *at = realloc(a->at8, (size_t)cap * sizeof *at);
        if (at) a->at8 = at;
        if (!s8 || !at) return -1;
        a->simp8_cap = cap;
    }
    unsigned char *o = (unsigned char *)a->simp8;
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        a->at8[i] = k;
        UChar32 c = a->simp[i];
        if (U16_IS_LEAD(c) && i + 1 < n && U16_IS_TRAIL(a->simp[i + 1])) {
            c = U16_GET_SUPPLEMENTARY(c, a->simp[i + 1]);
            a->at8[++i] = k; /* inside the character: never a term boundary */
        } else if (U16_IS_SURROGATE(c)) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            o[k++] = (unsigned char)c;
        } else if (c < 0x800) {
            o[k++] = (unsigned char)(0xC0 | c >> 6);
            o[k++] = (unsigned char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            o[k++] = (unsigned char)(0xE0 | c >> 12);
            o[k++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            o[k++] = (unsigned char)(0xF0 | c >> 18);
            o[k++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            o[k++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    a->at8[n] = k;
    return 0;
}

/* ---------------------------------------------------------------- term emission */

/* Push a UTF-8 term. Terms over MAX_TERM_BYTES are dropped. */
static int push8(kb_term_list *out, const char *term, size_t n, kb_term_kind kind, uint32_t pos)
{
    if (n == 0 || n > MAX_TERM_BYTES) return 0;
    /* An ASCII capital would collide with the index's field prefixes; case folding removed them
     * already, this keeps the promise for any code point NFKC_Casefold leaves alone. */
    if (term[0] >= 'A' && term[0] <= 'Z') {
        char buf[MAX_TERM_BYTES];
        memcpy(buf, term, n);
        buf[0] = (char)(buf[0] - 'A' + 'a');
        return kb_term_list_push(out, buf, n, kind, pos);
    }
    return kb_term_list_push(out, term, n, kind, pos);
}

/* Push simp[from..to) as a term: a slice of its UTF-8 form. */
static int push16(const kb_analyzer *a, kb_term_list *out, int32_t from, int32_t to,
                  kb_term_kind kind, uint32_t pos)
{
    return push8(out, a->simp8 + a->at8[from], (size_t)(a->at8[to] - a->at8[from]), kind, pos);
}

/* Push a UTF-16 string that is not part of simp (a joined product code). */
static int push_utf16(kb_term_list *out, const UChar *s, int32_t len, kb_term_kind kind,
                      uint32_t pos)
{
    char buf[MAX_TERM_BYTES * 2];
    int32_t n = 0;
    UErrorCode e = U_ZERO_ERROR;
    if (len > MAX_TERM_BYTES) return 0;
    u_strToUTF8(buf, (int32_t)sizeof buf, &n, s, len, &e);
    if (U_FAILURE(e)) return 0;
    return push8(out, buf, (size_t)n, kind, pos);
}

/* Han characters of the current run, as UTF-16 offsets of each character's start. */
typedef struct {
    int32_t starts[64];
    uint32_t word[64];     /* which segment each character came from */
    uint8_t word_long[64]; /* 1 when that segment is a word of 2+ characters */
    int32_t end;   /* offset just past the last character */
    int count;
} han_run;

/* Emit the unigrams of the first `upto` characters of the run, and the bigram each of them
 * starts when the next character is known. */
static int emit_han_prefix(const kb_analyzer *a, const han_run *run, int upto,
                           kb_term_list *out, uint32_t pos)
{
    for (int i = 0; i < upto; i++) {
        int32_t from = run->starts[i];
        int32_t to = i + 1 < run->count ? run->starts[i + 1] : run->end;
        if (push16(a, out, from, to, KB_TERM_UNIGRAM, pos) < 0) return -1;
        if (i + 1 < run->count) {
            int32_t c = i + 2 < run->count ? run->starts[i + 2] : run->end;
            int cross = run->word[i] != run->word[i + 1] &&
                        (run->word_long[i] || run->word_long[i + 1]);
            if (push16(a, out, from, c, cross ? KB_TERM_BIGRAM_CROSS : KB_TERM_BIGRAM, pos) < 0)
                return -1;
        }
    }
    return 0;
}

/* Emit unigrams and bigrams for the whole run and empty it. */
static int flush_han_run(const kb_analyzer *a, han_run *run, kb_term_list *out, uint32_t pos)
{
    int rc = emit_han_prefix(a, run, run->count, out, pos);
    run->count = 0;
    return rc;
}

/* Add one character to the run. A full buffer is emitted except for its last character, which
 * starts the next chunk, so the bigram across the cut is not lost. */
static int han_run_add(const kb_analyzer *a, han_run *run, int32_t start, int32_t end,
                       int word_long, kb_term_list *out, uint32_t pos)
{
    if (run->count == 64) {
        if (emit_han_prefix(a, run, 63, out, pos) < 0) return -1;
        run->starts[0] = run->starts[63];
        run->word[0] = run->word[63];
        run->word_long[0] = run->word_long[63];
        run->count = 1;
    }
    run->starts[run->count] = start;
    run->word[run->count] = pos;
    run->word_long[run->count] = (uint8_t)word_long;
    run->count++;
    run->end = end;
    return 0;
}

/* A product code or number being assembled from parts joined by - _ . / (e.g. 4008-123-456). */
typedef struct {
    UChar joined[MAX_TERM_BYTES];
    int32_t len;
    int parts;
    int32_t last_end; /* offset just past the last part */
    int pending_sep;  /* a connector followed the last part */
} code_run;

static int flush_code_run(code_run *cr, kb_term_list *out, uint32_t pos)
{
    int rc = 0;
    if (cr->parts >= 2 && cr->len > 0) rc = push_utf16(out, cr->joined, cr->len, KB_TERM_CODE, pos);
    cr->len = 0;
    cr->parts = 0;
    cr->pending_sep = 0;
    return rc;
}

static int is_connector(UChar c) { return c == '-' || c == '_' || c == '.' || c == '/'; }

/* Emit a Latin/number token, and for a letter/digit mix (iphone15) its letter and digit parts. */
static int emit_alnum(const kb_analyzer *a, int32_t from, int32_t to, kb_term_list *out,
                      uint32_t pos)
{
    const UChar *s = a->simp;
    int has_alpha = 0, has_digit = 0;
    for (int32_t i = from; i < to; i++) {
        if (u_isdigit(s[i])) has_digit = 1;
        else has_alpha = 1;
    }
    kb_term_kind kind = has_alpha ? KB_TERM_LATIN : KB_TERM_NUMBER;
    if (push16(a, out, from, to, kind, pos) < 0) return -1;
    if (has_alpha && has_digit) {
        int32_t i = from;
        while (i < to) {
            int digit = u_isdigit(s[i]) != 0;
            int32_t j = i;
            while (j < to && (u_isdigit(s[j]) != 0) == digit) j++;
            /* One stray letter ("5g" → "g") is noise; digits alone are worth keeping. */
            if ((digit || j - i >= 2) && !(i == from && j == to))
                if (push16(a, out, i, j, digit ? KB_TERM_NUMBER : KB_TERM_LATIN, pos) < 0) return -1;
            i = j;
        }
    }
    return 0;
}

static int analyze_piece(kb_analyzer *a, const char *text, size_t len, kb_term_list *out,
                         uint32_t *pos)
{
    int32_t n = fold_to_simp(a, text, len);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (simp_to_utf8(a, n) < 0) return -1;
    const UChar *s = a->simp;
    UErrorCode e = U_ZERO_ERROR;
    ubrk_setText(a->words, s, n, &e);
    if (U_FAILURE(e)) return -1;

    han_run run = {.count = 0};
    code_run code = {.len = 0};
    int32_t start = ubrk_first(a->words);
    for (int32_t end = ubrk_next(a->words); end != UBRK_DONE; start = end, end = ubrk_next(a->words)) {
        int32_t status = ubrk_getRuleStatus(a->words);
        UChar32 first;
        U16_GET(s, 0, start, n, first);

        if (status >= UBRK_WORD_IDEO && status < UBRK_WORD_IDEO_LIMIT && is_han(first)) {
            if (flush_code_run(&code, out, *pos) < 0) return -1;
            /* A dictionary word: emit it when it has 2+ characters, then feed its characters to
             * the Han run for bigrams and unigrams. */
            int32_t chars = u_countChar32(s + start, end - start);
            int all_han = 1;
            for (int32_t i = start; i < end;) {
                UChar32 c;
                int32_t at = i;
                U16_NEXT(s, i, end, c);
                if (!is_han(c)) {
                    all_han = 0;
                    if (flush_han_run(a, &run, out, *pos) < 0) return -1;
                    continue;
                }
                if (han_run_add(a, &run, at, i, chars >= 2, out, *pos) < 0) return -1;
            }
            if (chars >= 2 && all_han)
                if (push16(a, out, start, end, KB_TERM_WORD, *pos) < 0) return -1;
            (*pos)++;
            continue;
        }

        if (flush_han_run(a, &run, out, *pos) < 0) return -1;

        if (status >= UBRK_WORD_NUMBER && status < UBRK_WORD_IDEO_LIMIT) {
            /* Letters, numbers, kana, or ideographs that are not Han. */
            if (!(code.pending_sep && code.last_end + 1 == start)) {
                if (flush_code_run(&code, out, *pos) < 0) return -1;
            }
            if (emit_alnum(a, start, end, out, *pos) < 0) return -1;
            if (code.len + (end - start) <= MAX_TERM_BYTES) {
                memcpy(code.joined + code.len, s + start, (size_t)(end - start) * sizeof(UChar));
                code.len += end - start;
                code.parts++;
            } else {
                code.len = 0;
                code.parts = 0;
            }
            code.last_end = end;
            code.pending_sep = 0;
            (*pos)++;
            continue;
        }

        /* Spaces and punctuation: a single connector right after a part keeps a code going. */
        if (end - start == 1 && is_connector(s[start]) && code.parts > 0 && !code.pending_sep &&
            code.last_end == start) {
            code.pending_sep = 1;
            continue;
        }
        if (flush_code_run(&code, out, *pos) < 0) return -1;
    }
    if (flush_han_run(a, &run, out, *pos) < 0) return -1;
    if (flush_code_run(&code, out, *pos) < 0) return -1;
    return 0;
}

int kb_analyze(kb_analyzer *a, const char *text, size_t len, kb_term_list *out)
{
    uint32_t pos = 0;
    while (len > 0) {
        size_t piece = len;
        if (piece > MAX_PIECE_BYTES) {
            /* Cut at a newline or space if there is one near the end, never inside a UTF-8
             * sequence. */
            piece = MAX_PIECE_BYTES;
            size_t cut = piece;
            while (cut > piece / 2 && text[cut] != '\n' && text[cut] != ' ') cut--;
            if (cut > piece / 2) piece = cut;
            while (piece > 0 && ((unsigned char)text[piece] & 0xC0) == 0x80) piece--;
            if (piece == 0) piece = MAX_PIECE_BYTES;
        }
        if (analyze_piece(a, text, piece, out, &pos) < 0) return -1;
        text += piece;
        len -= piece;
    }
    return 0;
}
