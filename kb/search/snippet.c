/*
 * snippet.c — the passage of a hit that answers the question, with the query's terms marked
 * (see search/snippet.h for what is scored and why).
 *
 * The agent reads the snippet, not the document, while the customer waits: it has to be the
 * passage that answers, short, and with the words they typed visibly marked.
 *
 * One pass over the document folds and matches every block once, noting for each sentence or
 * row (a "unit") which query terms it holds and what kind of content it is; a second pass over
 * those notes scores the units; only the winner is folded again, to be cut and rendered.
 */
#include "search/snippet.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

#include "search/passage_text.h"
#include "search/passage_types.h"

/* ---------------------------------------------------------------- tunables */

/* Terms of the document's title found the document; in its text they say little about which
 * passage answers (every sentence of an article about 斯氏腔吻鳕 is about it). All of them
 * together count as one term worth this share of their mean value: a name the analyzer cuts
 * into four bigrams (蓝线, 线裸, 裸顶, 顶鲷) must not outweigh the one word (为食) that says
 * which sentence answers. */
#ifndef KB_SNIP_TITLE_TERM
#define KB_SNIP_TITLE_TERM 0.4
#endif
/* Terms found in a unit's context (its table's header row, its section's title), at this share
 * of their value: "3个月 | 0.80%" under 存期 | 年利率 in 存款利率 answers 三个月定期利率多少. */
#ifndef KB_SNIP_CONTEXT
#define KB_SNIP_CONTEXT 1.0
#endif
/* Terms elsewhere in the unit's block, at this share: a sentence in a paragraph about the
 * question beats the same sentence among unrelated ones. */
#ifndef KB_SNIP_BLOCK
#define KB_SNIP_BLOCK 0.2
#endif
/* How much a term held by many units of the document loses: its value is scaled between
 * 1 - KB_SNIP_SPREAD (held by every unit) and 1 (held by one). */
#ifndef KB_SNIP_SPREAD
#define KB_SNIP_SPREAD 0.6
#endif
/* A unit holding the kind of answer asked for (a duration for 多久) gains this share. */
#ifndef KB_SNIP_KIND
#define KB_SNIP_KIND 0.35
#endif
/* ... and this share when its section title or its table's header names that kind (处理时限
 * over a row, for 多久). */
#ifndef KB_SNIP_LABEL
#define KB_SNIP_LABEL 0.2
#endif
/* A script line counts at this share when the question does not ask what to say; when it does
 * (开通漫游后跟客户怎么说), a script line counts at KB_SNIP_SCRIPT_ASKED and any other passage at
 * KB_SNIP_SCRIPT (the question's 客户 and 说 are rarely in the script itself, which speaks
 * to the customer as 您). */
#ifndef KB_SNIP_SCRIPT
#define KB_SNIP_SCRIPT 0.5
#endif
#ifndef KB_SNIP_SCRIPT_ASKED
#define KB_SNIP_SCRIPT_ASKED 2.0
#endif
/* The window starts at the first sentence of the block (or the first item of a list) when the
 * chosen unit ends within this many code points of it: the agent reads the passage in order,
 * and what leads up to the answer (a step before, a condition) is often part of it. */
#ifndef KB_SNIP_LEAD_ROOM
#define KB_SNIP_LEAD_ROOM 115
#endif
/* A bigram of the question that holds a function character (木的 of 盾柱木的原产地, 昊在 of
 * 杨昊在场上) is glue, not content: passages count it at this share. Left whole, it would
 * choose the sentence that happens to hold 盾柱木的 over the one that holds 原产. */
#ifndef KB_SNIP_GLUE
#define KB_SNIP_GLUE 0.25
#endif
/* A single character of the question counts at this share of its weight (which the query
 * already halves), so that it only tells apart passages that hold the same words. */
#ifndef KB_SNIP_UNIGRAM
#define KB_SNIP_UNIGRAM 0.3
#endif
/* A sentence this short (code points) before the chosen one is shown with it ("开通方式：" or
 * a one-clause lead-in); so is one of up to LEAD_MAX before a sentence that leans on it
 * (passage_text.h, kb_passage_leans_back). */
#define SHORT_LEAD 16
#define LEAD_MAX 110
/* Between blocks shown together in one snippet (list items, paragraphs of a section). */
#define JOIN " · "
/* Between a header cell and its row's cell, and between cells. */
#define CELL_LABEL ": "
#define CELL_JOIN " | "

/* ---------------------------------------------------------------- needles */

typedef struct {
    uint32_t cps[64];
    size_t n;
    double raw;   /* weight * idf, 0.01 for stop words: what kb_snippet.score adds up (0 for
                   * a single character, which the score never counted) */
    double value; /* less for glue, question words and single characters: what passage choice
                   * adds up */
    uint8_t marked; /* shown in <mark> (kb_query_term.highlight) */
    uint8_t han;    /* Chinese text, not a number or Latin word */
    uint8_t unigram; /* a single character, not marked */
    int next;     /* next needle in the same first-code-point bucket, -1 at the end */
} needle;

/* Needles chained by the low byte of their first code point, so that each position of a
 * passage is compared only with the needles that can start there. Needles beyond 64 are marked
 * but not scored (a query keeps at most 48 terms). */
typedef struct {
    needle *needles;
    size_t n;
    int head[256];
} needle_set;

/* 1 when a character of the term is a function word by itself (的, 在, 是, 有 …). */
static int holds_function_char(const char *term)
{
    char one[8];
    for (const char *p = term; *p;) {
        size_t len = 1;
        while (((unsigned char)p[len] & 0xC0) == 0x80) len++;
        if (len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (kb_query_is_stopword(one)) return 1;
        }
        p += len;
    }
    return 0;
}

/* Chinese numerals match figures: 一年 finds 1年, 三个月 finds 3个月 (one character for one,
 * so 十二 does not find 12). Only matching sees this; kinds of content read the text as it is. */
static uint32_t match_fold(uint32_t c)
{
    switch (c) {
    case 0x96F6: case 0x3007: return '0'; /* 零 〇 */
    case 0x4E00: return '1';
    case 0x4E8C: case 0x4E24: return '2'; /* 二 两 */
    case 0x4E09: return '3';
    case 0x56DB: return '4';
    case 0x4E94: return '5';
    case 0x516D: return '6';
    case 0x4E03: return '7';
    case 0x516B: return '8';
    case 0x4E5D: return '9';
    }
    return c;
}

static int load_needles(const kb_query *q, needle_set *set)
{
    set->needles = calloc(q->n_terms ? q->n_terms : 1, sizeof *set->needles);
    if (!set->needles) return -1;
    set->n = 0;
    for (int b = 0; b < 256; b++) set->head[b] = -1;
    for (size_t i = 0; i < q->n_terms; i++) {
        const kb_query_term *t = &q->terms[i];
        /* Single characters are left unmarked when words matched (query.c), but still tell
         * passages apart a little: 取 of ATM一天能取多少钱 finds the row ATM取现. */
        int unigram = !t->highlight && t->kind == KB_TERM_UNIGRAM && !t->expansion;
        if (!t->highlight && !unigram) continue;
        int32_t k = 0, len = (int32_t)strlen(t->text);
        needle *x = &set->needles[set->n];
        while (k < len && x->n < 64) {
            UChar32 c;
            U8_NEXT((const uint8_t *)t->text, k, len, c);
            x->cps[x->n++] = match_fold((uint32_t)(c < 0 ? 0xFFFD : c));
        }
        if (x->n == 0) continue;
        x->marked = (uint8_t)t->highlight;
        x->han = x->cps[0] >= 0x2E80;
        x->raw = !t->highlight ? 0 : t->stop ? 0.01 : t->weight * t->idf;
        x->value = t->stop || kb_passage_is_question_word(t->text) ? 0 : t->weight * t->idf;
        if ((t->kind == KB_TERM_BIGRAM || t->kind == KB_TERM_BIGRAM_CROSS) && holds_function_char(t->text))
            x->value *= KB_SNIP_GLUE;
        if (unigram) x->value *= KB_SNIP_UNIGRAM;
        x->unigram = (uint8_t)unigram;
        x->next = set->head[x->cps[0] & 0xFF];
        set->head[x->cps[0] & 0xFF] = (int)set->n;
        set->n++;
    }
    return 0;
}

static int is_alnum(uint32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }
static int same_class(uint32_t a, uint32_t b)
{
    return ((a >= '0' && a <= '9') && (b >= '0' && b <= '9')) || ((a >= 'a' && a <= 'z') && (b >= 'a' && b <= 'z'));
}

/* Does needle nd occur at position i of p? A number or Latin word matches whole: 16 not inside
 * 1616, app not inside apple (Chinese has no such boundaries, so Han needles match anywhere). */
static int needle_at(const kb_passage_text *p, size_t i, const needle *nd)
{
    if (nd->cps[0] != match_fold(p->cps[i]) || i + nd->n > p->n) return 0;
    for (size_t j = 1; j < nd->n; j++)
        if (nd->cps[j] != match_fold(p->cps[i + j])) return 0;
    uint32_t first = nd->cps[0], last = nd->cps[nd->n - 1];
    if (is_alnum(first) && i > 0 && same_class(match_fold(p->cps[i - 1]), first)) return 0;
    if (is_alnum(last) && i + nd->n < p->n && same_class(match_fold(p->cps[i + nd->n]), last)) return 0;
    return 1;
}

/* Called for every occurrence of needle k at position `at`. An occurrence inside a longer one
 * (the bigrams 信用 and 用卡 inside the word 信用卡) is `inside`: the question's word is one
 * term, and counting its pieces again would let long words outweigh the rest of the question. */
typedef void (*match_fn)(size_t k, size_t at, int inside, void *user);

/* Mark every occurrence of every needle in p; return the needles found. */
static uint64_t match(kb_passage_text *p, const needle_set *set, match_fn on_match, void *user)
{
    uint64_t found = 0;
    size_t covered = 0; /* end of the furthest-reaching occurrence that started before i */
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = match_fold(p->cps[i]);
        size_t longest = 0;
        for (int k = set->head[c & 0xFF]; k >= 0; k = set->needles[k].next)
            if (needle_at(p, i, &set->needles[k]) && set->needles[k].n > longest)
                longest = set->needles[k].n;
        if (!longest) continue;
        for (int k = set->head[c & 0xFF]; k >= 0; k = set->needles[k].next) {
            const needle *nd = &set->needles[k];
            if (!needle_at(p, i, nd)) continue;
            if (nd->marked) memset(p->marked + i, 1, nd->n);
            if (k < 64) found |= (uint64_t)1 << k;
            if (on_match) on_match((size_t)k, i, nd->n < longest || i + nd->n <= covered, user);
        }
        if (i + longest > covered) covered = i + longest;
    }
    return found;
}

static double mass(const needle_set *set, uint64_t mask)
{
    double m = 0;
    for (size_t k = 0; k < set->n && k < 64; k++)
        if (mask >> k & 1) m += set->needles[k].raw;
    return m;
}

/* ---------------------------------------------------------------- the document's units */

/* A sentence of a paragraph or list item, or a whole table row: what passage choice scores. */
typedef struct {
    uint64_t own;      /* needles in its text */
    uint32_t block;    /* index into the document's blocks, in reading order */
    uint32_t from, to; /* code points of the block */
    uint32_t prev_from; /* where it is best read from: itself, or the sentence before it when
                         * that one is a short lead-in or this one leans on it */
    unsigned holds;    /* kinds of content (passage_types.h) */
    unsigned labels;   /* kinds its section title and table header name */
    uint8_t script;    /* a script line, or in a script section */
} unit;

typedef struct {
    const kb_section *sec;
    const kb_block *b;
    uint64_t mask;    /* needles in the block, as a term of their own (see match_fn) */
    uint64_t found;   /* needles in the block, also inside longer ones */
    unsigned labels;  /* kinds a header row names */
    int32_t header;   /* the header row heading this row, or -1 */
    uint8_t is_header; /* a header row (written with <th>, or taken to be one): never alone */
    uint8_t script;   /* the block or its section is a script */
} block_info;

typedef struct {
    needle_set needles;
    kb_passage_text text;
    kb_sentence *sentences;
    size_t n_sentences, sentences_cap;
    unit *units;
    size_t n_units, units_cap;
    block_info *blocks;
    size_t n_blocks;
    uint64_t *section_mask; /* needles in each section's title */
    unsigned *section_labels; /* kinds each section's title names */
    uint64_t title_mask;    /* needles in the document's title */
    size_t cursor;          /* match_units: the unit the last match fell in */
    int failed;
} scan;

static unit *add_unit(scan *s)
{
    if (s->n_units == s->units_cap) {
        size_t c = s->units_cap ? s->units_cap * 2 : 32;
        unit *grown = realloc(s->units, c * sizeof *grown);
        if (!grown) {
            s->failed = 1;
            return NULL;
        }
        s->units = grown;
        s->units_cap = c;
    }
    unit *u = &s->units[s->n_units++];
    memset(u, 0, sizeof *u);
    return u;
}

/* A needle matched at `at` of the block being scanned: note it on the unit holding `at` (units
 * of a block are in order and matches come in order, so a cursor finds it). */
static void match_units(size_t k, size_t at, int inside, void *user)
{
    scan *s = user;
    if (inside) return;
    while (s->cursor + 1 < s->n_units && s->units[s->cursor].to <= at) s->cursor++;
    unit *u = &s->units[s->cursor];
    if (k < 64 && at >= u->from && at < u->to) u->own |= (uint64_t)1 << k;
}

/* Cells of a row's text ("a | b | c"): how many, the longest in code points, and whether any
 * holds a digit. */
typedef struct {
    size_t cells, longest, total;
    int digits;
} row_shape;

static row_shape shape_of(const char *text)
{
    row_shape r = {1, 0, 0, 0};
    size_t cell = 0;
    for (const char *p = text; *p;) {
        if (!strncmp(p, CELL_JOIN, 3)) {
            r.cells++;
            if (cell > r.longest) r.longest = cell;
            cell = 0;
            p += 3;
            continue;
        }
        if (*p >= '0' && *p <= '9') r.digits = 1;
        if (((unsigned char)*p & 0xC0) != 0x80) {
            cell++;
            r.total++;
        }
        p++;
    }
    if (cell > r.longest) r.longest = cell;
    return r;
}

/* A table written without <th> (or indexed before header rows were kept): its first row is
 * taken as the header when that is safe, i.e. when it looks like labels over the rows below:
 * at least two rows follow with as many cells, its cells are short and hold no figures, and it
 * is shorter than the rows it would head. */
static int looks_like_header(const kb_section *sec, size_t first)
{
    row_shape h = shape_of(sec->blocks[first].text);
    if (h.cells < 2 || h.digits || h.longest > 12) return 0;
    size_t rows = 0, total = 0;
    for (size_t j = first + 1; j < sec->n_blocks && sec->blocks[j].kind == KB_BLOCK_ROW; j++) {
        row_shape r = shape_of(sec->blocks[j].text);
        if (r.cells != h.cells) return 0;
        rows++;
        total += r.total;
    }
    return rows >= 2 && h.total * rows <= total;
}

/* Which row heads which: a header row heads the rows after it, up to the next block that is
 * not a row. */
static void find_headers(scan *s, size_t first_block, const kb_section *sec)
{
    int32_t head = -1;
    for (size_t j = 0; j < sec->n_blocks; j++) {
        block_info *bi = &s->blocks[first_block + j];
        const kb_block *b = &sec->blocks[j];
        if (b->kind == KB_BLOCK_HEADER) {
            bi->is_header = 1;
            head = (int32_t)(first_block + j);
        } else if (b->kind == KB_BLOCK_ROW) {
            int starts_run = j == 0 || (sec->blocks[j - 1].kind != KB_BLOCK_ROW &&
                                        sec->blocks[j - 1].kind != KB_BLOCK_HEADER);
            if (starts_run && looks_like_header(sec, j)) {
                bi->is_header = 1;
                head = (int32_t)(first_block + j);
            } else {
                bi->header = head;
            }
        } else {
            head = -1;
        }
    }
}

/* Fold and match one block, adding its units. */
static int scan_block(scan *s, uint32_t index)
{
    block_info *bi = &s->blocks[index];
    if (kb_passage_load(&s->text, bi->b->text) < 0) return -1;
    kb_passage_text *p = &s->text;
    /* A block that opens as a script ("建议话术：「…」") is one throughout. */
    if (kb_passage_names_script(p->cps, p->n < 6 ? p->n : 6)) bi->script = 1;
    size_t first_unit = s->n_units;
    if (bi->is_header) {
        bi->found = bi->mask = match(p, &s->needles, NULL, NULL);
        bi->labels = kb_passage_labels(p->cps, p->n);
        return 0;
    }
    if (bi->b->kind == KB_BLOCK_ROW) {
        unit *u = add_unit(s);
        if (!u) return -1;
        *u = (unit){.block = index, .from = 0, .to = (uint32_t)p->n};
        u->holds = kb_passage_holds(p->cps, p->n);
        u->script = bi->script;
    } else {
        if (kb_passage_sentences(p, &s->sentences, &s->n_sentences, &s->sentences_cap) < 0) return -1;
        for (size_t k = 0; k < s->n_sentences; k++) {
            const kb_sentence *st = &s->sentences[k];
            unit *u = add_unit(s);
            if (!u) return -1;
            *u = (unit){.block = index, .from = st->from, .to = st->to, .prev_from = st->from};
            if (k > 0) {
                size_t before = st->from - s->sentences[k - 1].from;
                if (before <= SHORT_LEAD ||
                    (before <= LEAD_MAX && kb_passage_leans_back(p->cps + st->from, st->to - st->from)))
                    u->prev_from = s->sentences[k - 1].from;
            }
            u->holds = kb_passage_holds(p->cps + st->from, st->to - st->from);
            /* A list item is one of a list: an enumeration, and often a step. */
            if (bi->b->kind == KB_BLOCK_ITEM) u->holds |= KB_KIND_LIST | KB_KIND_STEPS;
            u->script = bi->script || st->speech;
        }
    }
    s->cursor = first_unit;
    bi->found = match(p, &s->needles, s->n_units > first_unit ? match_units : NULL, s);
    for (size_t k = first_unit; k < s->n_units; k++) bi->mask |= s->units[k].own;
    return 0;
}

/* Needles in a short folded text (a title). */
static uint64_t match_text(scan *s, const char *text, int *names_script, unsigned *labels)
{
    if (!text || !*text) return 0;
    if (kb_passage_load(&s->text, text) < 0) {
        s->failed = 1;
        return 0;
    }
    if (names_script) *names_script = kb_passage_names_script(s->text.cps, s->text.n);
    if (labels) *labels = kb_passage_labels(s->text.cps, s->text.n);
    return match(&s->text, &s->needles, NULL, NULL);
}

/* The needles that name the document's topic: Chinese ones whose every character is in its
 * title (国际漫游 and 通漫 for 国际及港澳台漫游开通与关闭, though neither occurs in it as such).
 * Numbers and codes are left out: a title that lists HX-5G-99/129/199 names the rows below it,
 * and 199 is what picks one of them. */
static uint64_t title_terms(scan *s, const char *title)
{
    if (!title || !*title) return 0;
    if (kb_passage_load(&s->text, title) < 0) {
        s->failed = 1;
        return 0;
    }
    uint64_t mask = 0;
    for (size_t k = 0; k < s->needles.n && k < 64; k++) {
        const needle *nd = &s->needles.needles[k];
        if (!nd->han) continue;
        size_t found = 0;
        for (size_t j = 0; j < nd->n; j++)
            for (size_t i = 0; i < s->text.n; i++)
                if (match_fold(s->text.cps[i]) == nd->cps[j]) {
                    found++;
                    break;
                }
        if (found < nd->n) continue;
        mask |= (uint64_t)1 << k;
        /* A single character of the title tells nothing the title's words did not. */
        if (nd->unigram) s->needles.needles[k].value = 0;
    }
    return mask;
}

static int scan_document(scan *s, const kb_document *doc)
{
    size_t total = 0;
    for (size_t i = 0; i < doc->n_sections; i++) total += doc->sections[i].n_blocks;
    s->blocks = calloc(total ? total : 1, sizeof *s->blocks);
    s->section_mask = calloc(doc->n_sections ? doc->n_sections : 1, sizeof *s->section_mask);
    s->section_labels = calloc(doc->n_sections ? doc->n_sections : 1, sizeof *s->section_labels);
    if (!s->blocks || !s->section_mask || !s->section_labels) return -1;
    s->title_mask = title_terms(s, doc->title);
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        int script = 0;
        s->section_mask[i] = match_text(s, sec->title, &script, &s->section_labels[i]);
        size_t first = s->n_blocks;
        for (size_t j = 0; j < sec->n_blocks; j++) {
            block_info *bi = &s->blocks[s->n_blocks++];
            *bi = (block_info){.sec = sec, .b = &sec->blocks[j], .header = -1, .script = (uint8_t)script};
        }
        find_headers(s, first, sec);
    }
    if (s->failed) return -1;
    for (uint32_t k = 0; k < s->n_blocks; k++) {
        if (!s->blocks[k].b->text || !*s->blocks[k].b->text) continue;
        if (scan_block(s, k) < 0 || s->failed) return -1;
    }
    return 0;
}

static void scan_free(scan *s)
{
    free(s->needles.needles);
    kb_passage_free(&s->text);
    free(s->sentences);
    free(s->units);
    free(s->blocks);
    free(s->section_mask);
    free(s->section_labels);
}

/* ---------------------------------------------------------------- choosing */

static size_t section_index(const kb_document *doc, const kb_section *sec)
{
    return (size_t)(sec - doc->sections);
}

/* The unit that best answers, or -1 when the document has none (no text, or headers only). */
static long choose_unit(const scan *s, const kb_document *doc, unsigned asks)
{
    size_t n = s->n_units;
    if (n == 0) return -1;
    /* The value of each needle for telling units apart. */
    double local[64] = {0};
    size_t spread[64] = {0};
    for (size_t u = 0; u < n; u++)
        for (size_t k = 0; k < s->needles.n && k < 64; k++) spread[k] += s->units[u].own >> k & 1;
    size_t in_title = 0;
    for (size_t k = 0; k < s->needles.n && k < 64; k++) in_title += s->title_mask >> k & 1;
    for (size_t k = 0; k < s->needles.n && k < 64; k++) {
        double v = s->needles.needles[k].value;
        if (n > 1 && spread[k] > 1)
            v *= 1.0 - KB_SNIP_SPREAD * log((double)spread[k]) / log((double)n);
        if (s->title_mask >> k & 1) v *= KB_SNIP_TITLE_TERM / (double)in_title;
        local[k] = v;
    }
    long best = -1;
    double best_score = -1;
    for (size_t i = 0; i < n; i++) {
        const unit *u = &s->units[i];
        const block_info *bi = &s->blocks[u->block];
        size_t si = section_index(doc, bi->sec);
        uint64_t context = s->section_mask[si];
        unsigned labels = s->section_labels[si];
        if (bi->header >= 0) {
            context |= s->blocks[bi->header].mask;
            labels |= s->blocks[bi->header].labels;
        }
        context &= ~u->own;
        uint64_t rest = bi->mask & ~u->own & ~context;
        double score = 0;
        for (size_t k = 0; k < s->needles.n && k < 64; k++) {
            uint64_t bit = (uint64_t)1 << k;
            if (u->own & bit) score += local[k];
            else if (context & bit) score += KB_SNIP_CONTEXT * local[k];
            else if (rest & bit) score += KB_SNIP_BLOCK * local[k];
        }
        unsigned wanted = asks & ~(unsigned)KB_KIND_SCRIPT;
        if (u->holds & wanted) score *= 1.0 + KB_SNIP_KIND;
        if (labels & wanted) score *= 1.0 + KB_SNIP_LABEL;
        if (asks & KB_KIND_SCRIPT) score *= u->script ? KB_SNIP_SCRIPT_ASKED : KB_SNIP_SCRIPT;
        else if (u->script) score *= KB_SNIP_SCRIPT;
        /* Between units that match nothing, one of the kind asked for comes first. */
        if ((u->holds & wanted) && !(u->script && !(asks & KB_KIND_SCRIPT))) score += 1e-9;
        if (score > best_score) {
            best_score = score;
            best = (long)i;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- rendering */

/* Make room for `more` bytes plus a NUL after *len. */
static int reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
    if (*len + more + 1 <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < *len + more + 1) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

int kb_html_escape_append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (reserve(buf, len, cap, n * 6) < 0) return -1; /* "&quot;" is the longest escape */
    char *o = *buf + *len;
    for (size_t i = 0; i < n; i++) {
        switch (text[i]) {
        case '&': memcpy(o, "&amp;", 5); o += 5; break;
        case '<': memcpy(o, "&lt;", 4); o += 4; break;
        case '>': memcpy(o, "&gt;", 4); o += 4; break;
        case '"': memcpy(o, "&quot;", 6); o += 6; break;
        case '\'': memcpy(o, "&#39;", 5); o += 5; break;
        default: *o++ = text[i];
        }
    }
    *o = '\0';
    *len = (size_t)(o - *buf);
    return 0;
}

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} out_buf;

/* Append markup of our own (never needs escaping). */
static void put_raw(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (o->failed || reserve(&o->buf, &o->len, &o->cap, n) < 0) {
        o->failed = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

/* Append code points [from, to) of p (whose text is `text`), escaped, matches in <mark>. */
static void put_marked(out_buf *o, const kb_passage_text *p, const char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to && !o->failed;) {
        size_t j = i;
        while (j < to && p->marked[j] == p->marked[i]) j++;
        if (p->marked[i]) put_raw(o, "<mark>");
        if (!o->failed &&
            kb_html_escape_append(&o->buf, &o->len, &o->cap, text + p->byte_at[i],
                                  p->byte_at[j] - p->byte_at[i]) < 0)
            o->failed = 1;
        if (p->marked[i]) put_raw(o, "</mark>");
        i = j;
    }
}

/* Where the window over a unit starts: at the unit (a sentence), or at the sentence before
 * when that one is a short lead-in; within a unit longer than the window whose matches lie
 * beyond its first KB_SNIPPET_MAX_CHARS, at the clause before the densest matches. */
static size_t window_start(const kb_passage_text *p, const unit *u)
{
    size_t w = KB_SNIPPET_MAX_CHARS;
    size_t start = u->prev_from;
    if (u->to - start <= w) return start;
    size_t last = u->to;
    while (last > u->from && !p->marked[last - 1]) last--;
    if (last == u->from || last + 20 <= start + w) return start; /* no match, or all in view */
    /* The densest window of marks inside the unit. */
    size_t best = u->from, marks = 0, best_marks = 0;
    for (size_t i = u->from; i < u->from + w; i++) marks += p->marked[i];
    best_marks = marks;
    for (size_t s = u->from + 1; s + w <= u->to; s++) {
        marks += p->marked[s + w - 1];
        marks -= p->marked[s - 1];
        if (marks > best_marks) {
            best_marks = marks;
            best = s;
        }
    }
    size_t first = best;
    while (first < best + w && !p->marked[first]) first++;
    /* Back to the start of its clause when near, else a little before the match. */
    size_t s = first;
    while (s > u->from && first - s < 40 && !kb_passage_is_sentence_end(p->cps[s - 1]) &&
           p->cps[s - 1] != 0xFF0C /* ， */ && p->cps[s - 1] != ',' && p->cps[s - 1] != 0xFF1A /* ： */)
        s--;
    if (s > u->from && first - s >= 40) s = first > u->from + 10 ? first - 10 : u->from;
    return s;
}

static size_t count_cps(const char *text)
{
    size_t n = 0;
    for (; *text; text++) n += ((unsigned char)*text & 0xC0) != 0x80;
    return n;
}

/* May block k be shown after (or before) a block of `sec` in one snippet: a paragraph or list
 * item of the same section. */
static int joins(const block_info *bi, const kb_section *sec)
{
    return bi->sec == sec && !bi->is_header && bi->b->kind != KB_BLOCK_ROW &&
           bi->b->kind != KB_BLOCK_HEADER && *bi->b->text;
}

/* The text shown for a sentence or list item: blocks first..u->block, then the paragraphs and
 * items that follow in its section while the window is not full, joined by JOIN. malloc'd. */
static char *view_text(const scan *s, size_t first, const unit *u)
{
    const block_info *bi = &s->blocks[u->block];
    size_t need = (size_t)(u->to + KB_SNIPPET_MAX_CHARS) * 4; /* bytes enough for the window */
    size_t used = 0, last = u->block;
    for (size_t k = first; k <= u->block; k++) used += strlen(s->blocks[k].b->text) + strlen(JOIN);
    while (used < need && last + 1 < s->n_blocks && joins(&s->blocks[last + 1], bi->sec)) {
        last++;
        used += strlen(JOIN) + strlen(s->blocks[last].b->text);
    }
    char *text = malloc(used + 1);
    if (!text) return NULL;
    size_t at = 0;
    for (size_t k = first; k <= last; k++) {
        size_t l = strlen(s->blocks[k].b->text);
        if (k > first) {
            memcpy(text + at, JOIN, strlen(JOIN));
            at += strlen(JOIN);
        }
        memcpy(text + at, s->blocks[k].b->text, l);
        at += l;
    }
    text[at] = '\0';
    return text;
}

/* A sentence or list item: its view, cut to the window. It is read from its own start (or its
 * lead-in's, see unit.prev_from), or from an earlier sentence of its block, or an earlier item
 * of its list, when the chosen unit still ends within KB_SNIP_LEAD_ROOM code points of that:
 * the agent reads the passage in order, and what leads up to the answer (the sentence naming
 * what "it" is, the step before) is often part of it. */
static int render_sentence(scan *s, const unit *chosen, out_buf *o)
{
    unit u = *chosen;
    const block_info *bi = &s->blocks[u.block];
    int listed = chosen >= s->units && chosen < s->units + s->n_units;
    if (listed) {
        for (const unit *before = chosen; before > s->units && before[-1].block == u.block; before--) {
            if (u.to - before[-1].from > KB_SNIP_LEAD_ROOM) break;
            if (before[-1].from < u.prev_from) u.prev_from = before[-1].from;
        }
    }
    size_t first = u.block, offset = 0;
    while (listed && u.prev_from == 0 && bi->b->kind == KB_BLOCK_ITEM && first > 0 &&
           joins(&s->blocks[first - 1], bi->sec) && s->blocks[first - 1].b->kind == KB_BLOCK_ITEM) {
        size_t more = count_cps(s->blocks[first - 1].b->text) + count_cps(JOIN);
        if (offset + more + u.to > KB_SNIP_LEAD_ROOM) break;
        offset += more;
        first--;
    }
    int from_view_start = first < u.block;
    u.from += (uint32_t)offset;
    u.to += (uint32_t)offset;
    u.prev_from += (uint32_t)offset;
    char *text = view_text(s, first, chosen);
    if (!text || kb_passage_load(&s->text, text) < 0) {
        free(text);
        return -1;
    }
    kb_passage_text *p = &s->text;
    match(p, &s->needles, NULL, NULL);
    size_t from = from_view_start ? 0 : window_start(p, &u);
    size_t to = from + KB_SNIPPET_MAX_CHARS < p->n ? from + KB_SNIPPET_MAX_CHARS : p->n;
    if (from > 0) put_raw(o, "…");
    put_marked(o, p, text, from, to);
    if (to < p->n) put_raw(o, "…");
    free(text);
    return 0;
}

/* Byte ranges of the cells of a row's text ("a | b"): at most max, returns how many. */
static size_t cells_of(const char *text, size_t *from, size_t *to, size_t max)
{
    size_t n = 0, start = 0, len = strlen(text);
    for (size_t i = 0; i <= len && n < max; i++) {
        if (i == len || !strncmp(text + i, CELL_JOIN, 3)) {
            from[n] = start;
            to[n] = i;
            n++;
            start = i + 3;
            if (i < len) i += 2;
        }
    }
    return n;
}

/* The code point at byte offset b of p (b is a cell boundary, so one exists). */
static size_t cp_at(const kb_passage_text *p, size_t b)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->byte_at[mid] < b) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#define MAX_CELLS 32

/* A table row under its header: "header cell: row cell | …", cut at the window's length. A
 * row whose cells do not line up with the header's is shown as it is. */
static int render_row(scan *s, const unit *u, out_buf *o)
{
    const block_info *bi = &s->blocks[u->block];
    size_t hf[MAX_CELLS], ht[MAX_CELLS], rf[MAX_CELLS], rt[MAX_CELLS];
    size_t nh = 0, nr = cells_of(bi->b->text, rf, rt, MAX_CELLS);
    const char *htext = bi->header >= 0 ? s->blocks[bi->header].b->text : NULL;
    if (htext) nh = cells_of(htext, hf, ht, MAX_CELLS);
    kb_passage_text head = {0};
    int rc = 0;
    if (nh != nr || nr >= MAX_CELLS || kb_passage_load(&head, htext) < 0) {
        kb_passage_free(&head);
        return render_sentence(s, u, o);
    }
    match(&head, &s->needles, NULL, NULL);
    if (kb_passage_load(&s->text, bi->b->text) < 0) rc = -1;
    kb_passage_text *p = &s->text;
    if (rc == 0) match(p, &s->needles, NULL, NULL);
    size_t room = KB_SNIPPET_MAX_CHARS, shown = 0;
    for (size_t c = 0; rc == 0 && c < nr && room > 0; c++) {
        size_t r0 = cp_at(p, rf[c]), r1 = cp_at(p, rt[c]);
        if (r0 == r1) continue; /* an empty cell says nothing */
        size_t h0 = cp_at(&head, hf[c]), h1 = cp_at(&head, ht[c]);
        if (shown++) {
            put_raw(o, CELL_JOIN);
            room = room > 3 ? room - 3 : 0;
        }
        if (h1 > h0 && room > 0) {
            size_t take = h1 - h0 < room ? h1 - h0 : room;
            put_marked(o, &head, htext, h0, h0 + take);
            room -= take;
            put_raw(o, CELL_LABEL);
            room = room > 2 ? room - 2 : 0;
        }
        size_t take = r1 - r0 < room ? r1 - r0 : room;
        put_marked(o, p, bi->b->text, r0, r0 + take);
        room -= take;
        if (room == 0 && (take < r1 - r0 || c + 1 < nr)) put_raw(o, "…");
    }
    kb_passage_free(&head);
    return rc;
}

/* ---------------------------------------------------------------- the snippet */

int kb_snippet_best(const kb_document *doc, const kb_query *q, kb_snippet *snip)
{
    memset(snip, 0, sizeof *snip);
    scan s = {0};
    out_buf o = {0};
    int rc = 0;
    if (load_needles(q, &s.needles) < 0 || scan_document(&s, doc) < 0) {
        rc = -1;
        goto done;
    }
    /* The score confidence reads: the informative mass of the best block, as before passages
     * were chosen by sentence (search.c's passage_coverage). */
    double best_block = 0;
    for (size_t k = 0; k < s.n_blocks; k++) {
        double m = mass(&s.needles, s.blocks[k].found);
        if (m > best_block) best_block = m;
    }
    long chosen = choose_unit(&s, doc, kb_passage_asks(q->folded));
    const kb_section *sec = NULL;
    if (chosen >= 0) {
        const unit *u = &s.units[chosen];
        const block_info *bi = &s.blocks[u->block];
        sec = bi->sec;
        rc = bi->b->kind == KB_BLOCK_ROW && bi->header >= 0 ? render_row(&s, u, &o)
                                                            : render_sentence(&s, u, &o);
    } else {
        /* Nothing but header rows: shown, as there is nothing else. */
        for (size_t k = 0; k < s.n_blocks && !sec; k++) {
            if (!*s.blocks[k].b->text) continue;
            unit whole = {.block = (uint32_t)k, .from = 0, .to = 0};
            sec = s.blocks[k].sec;
            rc = render_sentence(&s, &whole, &o);
        }
    }
    if (rc == 0 && !o.buf) put_raw(&o, "");
    if (o.failed) rc = -1;
    snip->html = o.buf;
    o.buf = NULL;
    snip->section_id = strdup(sec && sec->id ? sec->id : "");
    snip->section_title = strdup(sec && sec->title ? sec->title : "");
    snip->score = best_block;
    if (!snip->html || !snip->section_id || !snip->section_title) rc = -1;
done:
    free(o.buf);
    scan_free(&s);
    if (rc != 0) kb_snippet_free(snip);
    return rc;
}

void kb_snippet_free(kb_snippet *snip)
{
    free(snip->html);
    free(snip->section_id);
    free(snip->section_title);
    memset(snip, 0, sizeof *snip);
}
