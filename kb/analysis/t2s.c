/*
 * t2s.c — Traditional → Simplified conversion by OpenCC's rule and dictionaries (see analysis/t2s.h).
 */
#include "analysis/t2s.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

/* The dictionaries as "key TAB value[ value…] LF" lines (generated, $(BUILD)/gen/t2s_data.c). */
extern const char kb_t2s_TSPhrases[];
extern const char kb_t2s_TSCharacters[];

#define PHRASE_MAX 32 /* UTF-16 units of a key or value; OpenCC's longest t2s phrase has 14 */

typedef struct {
    UChar key[PHRASE_MAX], value[PHRASE_MAX];
    int32_t key_len, value_len;
} phrase;

typedef struct {
    UChar32 from, to;
} char_pair;

static struct {
    UChar32 *bmp;            /* bmp[c]: the Simplified form of BMP code point c */
    char_pair *astral;       /* keys outside the BMP, sorted by from */
    size_t n_astral;
    phrase *phrases;         /* sorted by first unit, then longest key first */
    size_t n_phrases;
    uint8_t starts[65536 / 8]; /* bit c: some phrase starts with unit c */
    uint8_t changes[65536 / 8]; /* bit c: kb_t2s_may_change(c) */
    uint16_t *first_phrase;   /* [c]: index of the first phrase starting with c (when starts) */
    int ok;
} t;

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Decode UTF-8 s[0..len) into out (at most cap units); -1 when it does not fit or is invalid. */
static int32_t utf8_to_16(const char *s, int32_t len, UChar *out, int32_t cap)
{
    UErrorCode e = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(out, cap, &n, s, len, &e);
    return U_SUCCESS(e) ? n : -1; /* too long, or not UTF-8 */
}

/* Call fn(key, key_len, first_value, value_len) for each "key TAB value[ …]" line. */
static int each_entry(const char *text, int (*fn)(const char *, int32_t, const char *, int32_t))
{
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *tab = memchr(line, '\t', (size_t)(end - line));
        if (tab) {
            const char *v = tab + 1, *sp = memchr(v, ' ', (size_t)(end - v));
            const char *v_end = sp ? sp : end;
            if (fn(line, (int32_t)(tab - line), v, (int32_t)(v_end - v)) != 0) return -1;
        }
        line = nl ? nl + 1 : end;
    }
    return 0;
}

static size_t cap_astral, cap_phrases;

static int add_char(const char *k, int32_t kl, const char *v, int32_t vl)
{
    int32_t i = 0, j = 0;
    UChar32 from, to;
    U8_NEXT((const uint8_t *)k, i, kl, from);
    U8_NEXT((const uint8_t *)v, j, vl, to);
    if (from < 0 || to < 0 || i != kl || j != vl) return 0; /* not one character each: skip */
    if (from < 0x10000) {
        t.bmp[from] = to;
        return 0;
    }
    if (t.n_astral == cap_astral) {
        size_t cap = cap_astral ? cap_astral * 2 : 256;
        char_pair *p = realloc(t.astral, cap * sizeof *p);
        if (!p) return -1;
        t.astral = p;
        cap_astral = cap;
    }
    t.astral[t.n_astral++] = (char_pair){from, to};
    return 0;
}

static int add_phrase(const char *k, int32_t kl, const char *v, int32_t vl)
{
    if (t.n_phrases == cap_phrases) {
        size_t cap = cap_phrases ? cap_phrases * 2 : 256;
        phrase *p = realloc(t.phrases, cap * sizeof *p);
        if (!p) return -1;
        t.phrases = p;
        cap_phrases = cap;
    }
    phrase *p = &t.phrases[t.n_phrases];
    p->key_len = utf8_to_16(k, kl, p->key, PHRASE_MAX);
    p->value_len = utf8_to_16(v, vl, p->value, PHRASE_MAX);
    /* Too long, invalid, or growing text more than twice (KB_T2S_OUT_MAX relies on that; no
     * t2s phrase comes near it): skip. */
    if (p->key_len < 1 || p->value_len < 0 || p->value_len > 2 * p->key_len) return 0;
    t.n_phrases++;
    return 0;
}

static int by_from(const void *a, const void *b)
{
    UChar32 x = ((const char_pair *)a)->from, y = ((const char_pair *)b)->from;
    return x < y ? -1 : x > y;
}

static int by_first_then_longest(const void *a, const void *b)
{
    const phrase *x = a, *y = b;
    if (x->key[0] != y->key[0]) return x->key[0] < y->key[0] ? -1 : 1;
    return y->key_len - x->key_len;
}

static void build(void)
{
    t.bmp = malloc(65536 * sizeof *t.bmp);
    if (!t.bmp) return;
    for (UChar32 c = 0; c < 65536; c++) t.bmp[c] = c;
    if (each_entry(kb_t2s_TSCharacters, add_char) != 0 ||
        each_entry(kb_t2s_TSPhrases, add_phrase) != 0 || t.n_phrases == 0)
        return;
    qsort(t.astral, t.n_astral, sizeof *t.astral, by_from);
    qsort(t.phrases, t.n_phrases, sizeof *t.phrases, by_first_then_longest);
    for (size_t i = 0; i < t.n_phrases; i++) t.starts[t.phrases[i].key[0] / 8] |= (uint8_t)(1u << (t.phrases[i].key[0] % 8));
    /* Where each first unit's phrases begin, for text scanned phrase by phrase at every
     * position (kb_t2s_phrases_aligned): a load instead of a binary search. */
    t.first_phrase = t.n_phrases <= UINT16_MAX ? malloc(65536 * sizeof *t.first_phrase) : NULL;
    for (size_t i = t.n_phrases; t.first_phrase && i-- > 0;) t.first_phrase[t.phrases[i].key[0]] = (uint16_t)i;
    /* The units conversion may change: characters of the table, the lead surrogates of its
     * keys beyond the BMP, and the units a phrase replaces (where key and value differ, or all
     * of a key whose value has another length). */
    for (UChar32 c = 0; c < 65536; c++)
        if (t.bmp[c] != c) t.changes[c / 8] |= (uint8_t)(1u << (c % 8));
    for (size_t i = 0; i < t.n_astral; i++) {
        UChar lead = U16_LEAD(t.astral[i].from);
        t.changes[lead / 8] |= (uint8_t)(1u << (lead % 8));
    }
    for (size_t i = 0; i < t.n_phrases; i++) {
        const phrase *p = &t.phrases[i];
        for (int32_t j = 0; j < p->key_len; j++)
            if (p->key_len != p->value_len || p->key[j] != p->value[j])
                t.changes[p->key[j] / 8] |= (uint8_t)(1u << (p->key[j] % 8));
    }
    t.ok = 1;
}

int kb_t2s_init(void)
{
    pthread_once(&once, build);
    return t.ok ? 0 : -1;
}

UChar32 kb_t2s_char(UChar32 cp)
{
    if (!t.ok || cp < 0) return cp;
    if (cp < 0x10000) return t.bmp[cp];
    size_t lo = 0, hi = t.n_astral;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t.astral[mid].from == cp) return t.astral[mid].to;
        if (t.astral[mid].from < cp) lo = mid + 1;
        else hi = mid;
    }
    return cp;
}

int kb_t2s_may_change(UChar c)
{
    return t.ok && (t.changes[c / 8] >> (c % 8) & 1);
}

/* The index of the first phrase whose key starts with `first` (the phrases are sorted by key):
 * from the table when it was built, else by binary search. */
static size_t first_phrase_of(uint32_t first)
{
    if (t.first_phrase) return t.first_phrase[first];
    size_t lo = 0, hi = t.n_phrases;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t.phrases[mid].key[0] < first) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The longest phrase whose key starts in[i..n), or NULL. */
static const phrase *phrase_at(const UChar *in, int32_t i, int32_t n)
{
    UChar first = in[i];
    if (!(t.starts[first / 8] >> (first % 8) & 1)) return NULL;
    for (size_t k = first_phrase_of(first); k < t.n_phrases && t.phrases[k].key[0] == first; k++) {
        const phrase *p = &t.phrases[k];
        if (p->key_len <= n - i && memcmp(p->key, in + i, (size_t)p->key_len * sizeof(UChar)) == 0)
            return p; /* longest first */
    }
    return NULL;
}

int32_t kb_t2s_convert(const UChar *in, int32_t n, UChar *out)
{
    int32_t o = 0;
    for (int32_t i = 0; i < n;) {
        const phrase *p = phrase_at(in, i, n);
        if (p) {
            memcpy(out + o, p->value, (size_t)p->value_len * sizeof(UChar));
            o += p->value_len;
            i += p->key_len;
            continue;
        }
        UChar32 c;
        U16_NEXT(in, i, n, c);
        U16_APPEND_UNSAFE(out, o, kb_t2s_char(c));
    }
    return o;
}

/* 1 when p's conversion can replace its key unit for unit. */
static int keeps_alignment(const phrase *p)
{
    if (p->value_len != p->key_len) return 0;
    for (int32_t k = 0; k < p->value_len; k++)
        if (U16_IS_SURROGATE(p->value[k])) return 0;
    return 1;
}

/* The longest phrase whose key starts text[i..n) (code points), or NULL: phrase_at for text
 * that is not UTF-16 (a key never holds a surrogate pair, so units and code points agree). */
static const phrase *phrase_at_cp(const uint32_t *text, size_t i, size_t n)
{
    uint32_t first = text[i];
    if (first >= 0x10000 || !(t.starts[first / 8] >> (first % 8) & 1)) return NULL;
    for (size_t k = first_phrase_of(first); k < t.n_phrases && t.phrases[k].key[0] == first; k++) {
        const phrase *p = &t.phrases[k];
        if ((size_t)p->key_len > n - i) continue;
        int32_t j = 1;
        while (j < p->key_len && p->key[j] == text[i + (size_t)j]) j++;
        if (j == p->key_len) return p; /* longest first */
    }
    return NULL;
}

size_t kb_t2s_phrases_aligned(const uint32_t *text, size_t n, uint32_t *out)
{
    if (!t.ok) return 0;
    /* Every phrase key that changes anything holds a character that may change, so text
     * without one is left as the analyzer would leave it. */
    size_t written = 0;
    for (size_t i = 0; i < n;) {
        const phrase *p = phrase_at_cp(text, i, n);
        if (!p) {
            i++;
            continue;
        }
        /* The greedy match consumes the phrase either way; one that changes its length is
         * left to the characters (none of OpenCC's does). */
        if (keeps_alignment(p)) {
            for (int32_t k = 0; k < p->key_len; k++) out[i + (size_t)k] = p->value[k];
            written += (size_t)p->key_len;
        }
        i += (size_t)p->key_len;
    }
    return written;
}

const uint8_t *kb_t2s_change_bits(void) { return t.ok ? t.changes : NULL; }
