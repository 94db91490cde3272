/*
 * passage_text.c — folded, aligned text of a block and its sentences (see search/passage_text.h).
 */
#include "search/passage_text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

#include "kb/analyzer.h"

int kb_passage_load(kb_passage_text *p, const char *text)
{
    size_t len = strlen(text);
    if (len + 1 > p->cap) {
        /* One allocation for the four arrays; grown, never shrunk, while p is reused. */
        size_t cap = (len + 1) * 2 > 256 ? (len + 1) * 2 : 256;
        uint32_t *block = malloc(cap * (3 * sizeof(uint32_t) + 1));
        if (!block) return -1;
        free(p->orig);
        p->orig = block;
        p->cps = block + cap;
        p->byte_at = block + 2 * cap;
        p->marked = (uint8_t *)(block + 3 * cap);
        p->cap = cap;
    }
    /* Decoded and folded code point by code point in one pass; the Traditional phrases, which
     * only text holding a character that may change needs, in a second. */
    static const uint8_t none[65536 / 8];
    const uint16_t *fold = kb_analyzer_fold_table();
    const uint8_t *traditional = kb_analyzer_traditional_bits();
    if (!traditional) traditional = none;
    uint32_t *orig = p->orig, *cps = p->cps, *byte_at = p->byte_at;
    const uint8_t *u8 = (const uint8_t *)text;
    unsigned phrases = 0;
    size_t n = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        uint8_t b = u8[i];
        byte_at[n] = (uint32_t)i;
        /* ASCII and the three-byte characters of Chinese text decoded inline, a fraction of the
         * cost of U8_NEXT, which every other sequence and any malformed one goes through. */
        if (b < 0x80) {
            cp = b;
            i++;
        } else if ((b & 0xF0) == 0xE0 && i + 2 < len && ((u8[i + 1] & 0xC0) | (u8[i + 2] & 0xC0) >> 2) == 0xA0 &&
                   (cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(u8[i + 1] & 0x3F) << 6 | (u8[i + 2] & 0x3F)) >= 0x800 &&
                   (cp & 0xF800) != 0xD800) {
            i += 3;
        } else {
            int32_t at = (int32_t)i;
            UChar32 c;
            U8_NEXT(u8, at, (int32_t)len, c);
            i = (size_t)at;
            cp = c < 0 ? 0xFFFD : (uint32_t)c;
        }
        orig[n] = cp;
        if (cp < 0x10000) {
            cps[n] = fold ? fold[cp] : (uint32_t)kb_analyzer_fold_codepoint(cp);
            phrases |= traditional[cp >> 3] >> (cp & 7);
        } else {
            cps[n] = cp;
        }
        n++;
    }
    byte_at[n] = (uint32_t)len;
    p->n = n;
    if (phrases & 1) kb_analyzer_fold_phrases(orig, n, cps);
    memset(p->marked, 0, p->n);
    return 0;
}

void kb_passage_free(kb_passage_text *p)
{
    free(p->orig); /* the one allocation */
    memset(p, 0, sizeof *p);
}

static inline int is_end(uint32_t c)
{
    return c == 0x3002 /* 。 */ || c == 0xFF01 /* ！ */ || c == 0xFF1F /* ？ */ ||
           c == 0xFF1B /* ； */ || c == '!' || c == '?' || c == ';' || c == '\n';
}

int kb_passage_is_sentence_end(uint32_t c) { return is_end(c); }

/* Closing quotes and brackets, which belong to the sentence they close. */
static int is_closer(uint32_t c)
{
    return c == 0x201D /* ” */ || c == 0x300D /* 」 */ || c == 0x300F /* 』 */ ||
           c == 0xFF09 /* ） */ || c == ')' || c == 0x3011 /* 】 */ || c == '"' || c == 0x2019;
}

/* The quote that closes opener c, or 0 when c opens none. */
static uint32_t closer_of(uint32_t c)
{
    switch (c) {
    case 0x201C: return 0x201D; /* “ ” */
    case 0x300C: return 0x300D; /* 「 」 */
    case 0x300E: return 0x300F; /* 『 』 */
    }
    return 0;
}

/* A full stop ends a sentence unless it sits in a number (0.80%) or a word (www.x.cn). */
static int is_full_stop_end(const uint32_t *cps, size_t n, size_t i)
{
    if (cps[i] != '.') return 0;
    return i + 1 == n || cps[i + 1] == ' ';
}

/* Longest quote looked for, and most speech spans noted, in one block: bounds on the work a
 * block full of unmatched or countless quotes can cause. */
#define QUOTE_MAX 600
#define SPANS_MAX 64

typedef struct {
    uint32_t from, to;
} span;

/* Quotes that hold a whole sentence (a sentence end inside) are speech; quotes around a name
 * or a menu item (“角瓜”, “服务-漫游-开通”) are not. Fills spans (in order); returns how many. */
static size_t speech_spans(const uint32_t *cps, size_t n, span *spans)
{
    size_t count = 0;
    for (size_t i = 0; i < n && count < SPANS_MAX;) {
        uint32_t close = closer_of(cps[i]);
        if (!close) {
            i++;
            continue;
        }
        size_t j = i + 1, limit = i + QUOTE_MAX < n ? i + QUOTE_MAX : n;
        int ends = 0;
        for (; j < limit && cps[j] != close; j++)
            ends |= cps[j] != '\n' && is_end(cps[j]);
        if (j < limit && ends) {
            spans[count++] = (span){(uint32_t)i, (uint32_t)(j + 1)};
            i = j + 1;
        } else {
            i++;
        }
    }
    return count;
}

/* Brackets inside which punctuation ends no sentence: a title 《…！》 or an aside （…。）. */
static int bracket_depth_change(uint32_t c)
{
    switch (c) {
    case 0x300A: /* 《 */
    case 0xFF08: /* （ */
    case '(':
        return 1;
    case 0x300B: /* 》 */
    case 0xFF09: /* ） */
    case ')':
        return -1;
    }
    return 0;
}

/* An aside longer than this is taken for an unclosed bracket: sentences end inside it again. */
#define BRACKET_MAX 80

int kb_passage_sentences(const kb_passage_text *p, kb_sentence **out, size_t *n, size_t *cap)
{
    *n = 0;
    size_t start = 0, opened = 0;
    int depth = 0;
    for (size_t i = 0; i < p->n; i++) {
        int change = bracket_depth_change(p->cps[i]);
        if (change > 0 && depth++ == 0) opened = i;
        if (change < 0 && depth > 0) depth--;
        if (depth > 0 && i - opened > BRACKET_MAX) depth = 0;
        int end = depth == 0 && (is_end(p->cps[i]) || is_full_stop_end(p->cps, p->n, i));
        if (!end && i + 1 < p->n) continue;
        size_t to = i + 1;
        while (to < p->n && (is_closer(p->cps[to]) || is_end(p->cps[to]) ||
                             p->cps[to] == ' '))
            to++;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            kb_sentence *grown = realloc(*out, c * sizeof *grown);
            if (!grown) return -1;
            *out = grown;
            *cap = c;
        }
        kb_sentence *s = &(*out)[(*n)++];
        s->from = (uint32_t)start;
        s->to = (uint32_t)to;
        s->speech = 0;
        start = to;
        i = to - 1;
    }
    /* Speech, sentence by sentence: at least 60% of it in quotes that hold a sentence. */
    span spans[SPANS_MAX];
    size_t n_spans = speech_spans(p->cps, p->n, spans), first = 0;
    for (size_t k = 0; k < *n && n_spans; k++) {
        kb_sentence *s = &(*out)[k];
        while (first < n_spans && spans[first].to <= s->from) first++;
        size_t inside = 0;
        for (size_t q = first; q < n_spans && spans[q].from < s->to; q++) {
            uint32_t a = spans[q].from > s->from ? spans[q].from : s->from;
            uint32_t b = spans[q].to < s->to ? spans[q].to : s->to;
            inside += b - a;
        }
        s->speech = inside * 5 >= (size_t)(s->to - s->from) * 3;
    }
    return 0;
}

/* Openings that point back to the sentence before (folded). */
static const char *const LEANS_BACK[] = {
    "这", "此", "该", "其", "它", "因此", "所以", "于是", "因而", "故而", "但", "然而", "不过",
    "而", "并且", "同时", "此后", "之后", "随后", "后来", "当时", "同年", "次年", "翌年",
    "赛后", "战后", "事后", "为此", "对此", "由此", "（", "(",
};
#define N_LEANS (sizeof LEANS_BACK / sizeof LEANS_BACK[0])

/* LEANS_BACK as code points, decoded once. */
static struct {
    uint32_t cps[N_LEANS][4];
    uint8_t len[N_LEANS];
} leans;
static pthread_once_t leans_once = PTHREAD_ONCE_INIT;

static void decode_leans(void)
{
    for (size_t k = 0; k < N_LEANS; k++) {
        int32_t i = 0, len = (int32_t)strlen(LEANS_BACK[k]);
        while (i < len && leans.len[k] < 4) {
            UChar32 c;
            U8_NEXT((const uint8_t *)LEANS_BACK[k], i, len, c);
            leans.cps[k][leans.len[k]++] = (uint32_t)c;
        }
    }
}

int kb_passage_leans_back(const uint32_t *cps, size_t n)
{
    pthread_once(&leans_once, decode_leans);
    for (size_t k = 0; k < N_LEANS; k++) {
        size_t l = leans.len[k];
        if (l <= n && memcmp(cps, leans.cps[k], l * sizeof(uint32_t)) == 0) return 1;
    }
    return 0;
}
