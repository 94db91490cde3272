/*
 * snippet.c — the passage of a hit that answers the question, with the query's terms marked
 * (see search/snippet.h for what is scored and why).
 *
 * The agent reads the snippet, not the document, while the customer waits: it has to be the
 * passage that answers, short, and with the words they typed visibly marked.
 *
 * One pass over the document folds and matches every block once, noting for each sentence or
 * row (a "unit") of a block that holds some of the question which query terms it holds and
 * what kind of content it is; a second pass over those notes scores the units; only the text
 * around the winner is folded again, to be cut and rendered.
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
/* The snippet is read from an earlier sentence of the chosen unit's block (or an earlier item
 * of its list) while the unit still ends within this many code points of it: the agent reads
 * the passage in order, and what leads up to the answer (the sentence naming what 这 is, the
 * step before) is often part of it. 115 of the window's 160 leaves room for what follows. */
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
 * already halves), so that it mostly tells apart passages holding the same words (取 tells
 * ATM取现 from ATM转账). The title's own characters count nothing: they lifted the sentences
 * holding scattered characters of the topic over its definition (什么是乡里制). */
#ifndef KB_SNIP_UNIGRAM
#define KB_SNIP_UNIGRAM 0.3
#endif
/* A unit in a section whose title is mostly the question's words (停机保号 for 客户要停机) is
 * more about them than one under a broader heading that mentions them among others (停机类型与
 * 复机方式): its score gains this share of the part of its section title the question's words
 * cover. It decides between passages that hold the same words; articles without section titles
 * are untouched. */
#ifndef KB_SNIP_SECTION_FOCUS
#define KB_SNIP_SECTION_FOCUS 0.2
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
    uint32_t *cps; /* at most 64, in needle_set.pool */
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
    uint32_t *pool; /* the needles' code points */
    int head[256];
} needle_set;

/* Chinese numerals match figures: 一年 finds 1年, 三个月 finds 3个月 (one character for one,
 * so 十二 does not find 12). Only matching sees this; kinds of content read the text as it is. */
static inline uint32_t match_fold(uint32_t c)
{
    /* Bit (c & 63) of the numerals below: most characters are ruled out by one test. */
    const uint64_t sieve = 1ull << (0x96F6 & 63) | 1ull << (0x3007 & 63) | 1ull << (0x4E00 & 63) |
                           1ull << (0x4E8C & 63) | 1ull << (0x4E24 & 63) | 1ull << (0x4E09 & 63) |
                           1ull << (0x56DB & 63) | 1ull << (0x4E94 & 63) | 1ull << (0x516D & 63) |
                           1ull << (0x4E03 & 63) | 1ull << (0x516B & 63) | 1ull << (0x4E5D & 63);
    if (c < 0x3007 || c > 0x96F6 || !(sieve >> (c & 63) & 1)) return c;
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

/* What a word says about which passage answers: its Robertson-Sparck Jones weight,
 * log((N - df + 0.5) / (df + 0.5)), and nothing when that is not positive. A word in more than
 * half of the knowledge base's documents (客户 in a call centre's: 72 of 109 in the sample)
 * is as likely in a passage that does not answer as in one that does; with the query's
 * always-positive IDF it chose the row "挂失停机 | 客户报失" for 客户要停机 over the section on
 * 停机保号, as a row holding 客户 besides 停机. The query's IDF still ranks documents (BM25,
 * which must not drop such words: they are most of some questions), and the passage score
 * confidence reads (`raw`) keeps it. */
static double evidence(const kb_query_term *t, uint32_t doccount)
{
    /* Single characters keep their IDF: they only tell apart passages that hold the same
     * words (取 of 一天能取多少), and the common ones (查, 卡, 多) are what does that. */
    if (t->kind == KB_TERM_UNIGRAM || doccount == 0 || t->df == 0) return t->idf;
    double rsj = log(((double)doccount - t->df + 0.5) / (t->df + 0.5));
    return rsj > 0 ? rsj : 0;
}

static int load_needles(const kb_query *q, needle_set *set)
{
    size_t room = 0; /* code points of all terms, at most their bytes */
    for (size_t i = 0; i < q->n_terms; i++) room += strlen(q->terms[i].text);
    set->needles = malloc((q->n_terms ? q->n_terms : 1) * sizeof *set->needles);
    set->pool = malloc((room ? room : 1) * sizeof *set->pool);
    if (!set->needles || !set->pool) return -1;
    uint32_t *free_cps = set->pool;
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
        memset(x, 0, sizeof *x);
        x->cps = free_cps;
        while (k < len && x->n < 64) {
            UChar32 c;
            U8_NEXT((const uint8_t *)t->text, k, len, c);
            x->cps[x->n++] = match_fold((uint32_t)(c < 0 ? 0xFFFD : c));
        }
        if (x->n == 0) continue;
        free_cps += x->n;
        x->marked = (uint8_t)t->highlight;
        x->han = x->cps[0] >= 0x2E80;
        x->raw = !t->highlight ? 0 : t->stop ? 0.01 : t->weight * t->idf;
        x->value = t->stop || t->question_word ? 0 : t->weight * evidence(t, q->doccount);
        if (t->glue) x->value *= KB_SNIP_GLUE;
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

/* Does needle nd occur at position i of p, whose code point folded for matching is c? A number
 * or Latin word matches whole: 16 not inside 1616, app not inside apple (Chinese has no such
 * boundaries, so Han needles match anywhere). */
static int needle_at(const kb_passage_text *p, size_t i, uint32_t c, const needle *nd)
{
    if (nd->cps[0] != c || i + nd->n > p->n) return 0;
    for (size_t j = 1; j < nd->n; j++) {
        uint32_t x = p->cps[i + j], want = nd->cps[j];
        /* Only a figure of the needle can stand for another character of the text. */
        if (x != want && !(want >= '0' && want <= '9' && match_fold(x) == want)) return 0;
    }
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
    int here[64]; /* the needles found at i */
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = match_fold(p->cps[i]);
        size_t longest = 0, n_here = 0;
        for (int k = set->head[c & 0xFF]; k >= 0; k = set->needles[k].next) {
            const needle *nd = &set->needles[k];
            if (!needle_at(p, i, c, nd)) continue;
            if (nd->marked) memset(p->marked + i, 1, nd->n);
            if (k < 64) found |= (uint64_t)1 << k;
            if (nd->n > longest) longest = nd->n;
            if (n_here < 64) here[n_here++] = k;
        }
        for (size_t h = 0; on_match && h < n_here; h++) {
            size_t len = set->needles[here[h]].n;
            on_match((size_t)here[h], i, len < longest || i + len <= covered, user);
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

static size_t section_index(const kb_document *doc, const kb_section *sec)
{
    return (size_t)(sec - doc->sections);
}

/* A sentence of a paragraph or list item, or a whole table row: what passage choice scores. */
typedef struct {
    uint64_t own;      /* needles in its text */
    uint32_t block;    /* index into the document's blocks, in reading order */
    uint32_t from, to; /* code points of the block */
    uint32_t byte_from, byte_to; /* the same, in bytes of the block's text */
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
    double *section_focus;  /* share of each section's title that the question's words cover */
    uint64_t title_mask;    /* needles in the document's title */
    struct hit {
        uint32_t at, k;
    } *hits;                /* where each needle occurs in the block being scanned, as a term of
                             * its own (match_fn's inside = 0) */
    size_t n_hits, hits_cap;
    const kb_document *doc;
    unsigned wanted;        /* kinds of content the question asks for (not KB_KIND_SCRIPT) */
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

/* A needle matched at `at` of the block being scanned: noted, to be put on its unit once the
 * block is cut into units (only blocks with a match are). */
static void note_hit(size_t k, size_t at, int inside, void *user)
{
    scan *s = user;
    if (inside || k >= 64) return;
    if (s->n_hits == s->hits_cap) {
        size_t c = s->hits_cap ? s->hits_cap * 2 : 64;
        struct hit *grown = realloc(s->hits, c * sizeof *grown);
        if (!grown) {
            s->failed = 1;
            return;
        }
        s->hits = grown;
        s->hits_cap = c;
    }
    s->hits[s->n_hits++] = (struct hit){(uint32_t)at, (uint32_t)k};
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
    if (bi->is_header) {
        bi->found = bi->mask = match(p, &s->needles, NULL, NULL);
        bi->labels = kb_passage_labels(p->cps, p->n);
        return 0;
    }
    s->n_hits = 0;
    bi->found = match(p, &s->needles, note_hit, s);
    if (s->failed) return -1;
    uint64_t context = s->section_mask[section_index(s->doc, bi->sec)];
    if (bi->header >= 0) context |= s->blocks[bi->header].mask;
    size_t first_unit = s->n_units;
    if (!bi->found && !context) {
        /* Nothing of the question in or over it: one unit that scores nothing, shown (from
         * the block's start) only when nothing in the document matches. Not cut into
         * sentences: most blocks of a hit are like this, and cutting costs. */
        unit *u = add_unit(s);
        if (!u) return -1;
        *u = (unit){.block = index, .from = 0, .to = (uint32_t)p->n, .byte_to = p->byte_at[p->n]};
        return 0;
    }
    /* A block that opens as a script ("建议话术：「…」") is one throughout. */
    if (kb_passage_names_script(p->cps, p->n < 6 ? p->n : 6)) bi->script = 1;
    if (bi->b->kind == KB_BLOCK_ROW) {
        unit *u = add_unit(s);
        if (!u) return -1;
        *u = (unit){.block = index, .from = 0, .to = (uint32_t)p->n, .byte_to = p->byte_at[p->n]};
        u->script = bi->script;
    } else {
        if (kb_passage_sentences(p, &s->sentences, &s->n_sentences, &s->sentences_cap) < 0) return -1;
        for (size_t k = 0; k < s->n_sentences; k++) {
            const kb_sentence *st = &s->sentences[k];
            unit *u = add_unit(s);
            if (!u) return -1;
            *u = (unit){.block = index, .from = st->from, .to = st->to, .byte_from = p->byte_at[st->from],
                        .byte_to = p->byte_at[st->to]};
            /* A list item is one of a list: an enumeration, and often a step. */
            if (bi->b->kind == KB_BLOCK_ITEM) u->holds = KB_KIND_LIST | KB_KIND_STEPS;
            u->script = bi->script || st->speech;
        }
    }
    /* Each noted match on the unit holding it (both are in order). */
    size_t u = first_unit;
    for (size_t h = 0; h < s->n_hits && u < s->n_units; h++) {
        while (u + 1 < s->n_units && s->units[u].to <= s->hits[h].at) u++;
        s->units[u].own |= (uint64_t)1 << s->hits[h].k;
    }
    for (size_t k = first_unit; k < s->n_units; k++) bi->mask |= s->units[k].own;
    /* What its units hold matters only when the question asks for a kind. */
    if (s->wanted)
        for (size_t k = first_unit; k < s->n_units; k++) {
            unit *x = &s->units[k];
            x->holds |= kb_passage_holds(p->cps + x->from, x->to - x->from);
        }
    return 0;
}

/* The share of a matched text's letters, digits and Chinese characters that the question's
 * words (the marked needles) cover. */
static double focus_of(const kb_passage_text *p)
{
    size_t letters = 0, covered = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = p->cps[i];
        if (!(is_alnum(c) || (c >= 0x3400 && c <= 0x9FFF))) continue;
        letters++;
        covered += p->marked[i];
    }
    return letters ? (double)covered / (double)letters : 0;
}

/* Needles in a short text (a section title); whether it names a script, the kinds it labels,
 * and how much of it the question's words cover. */
static uint64_t match_text(scan *s, const char *text, int *names_script, unsigned *labels, double *focus)
{
    if (!text || !*text) return 0;
    if (kb_passage_load(&s->text, text) < 0) {
        s->failed = 1;
        return 0;
    }
    if (names_script) *names_script = kb_passage_names_script(s->text.cps, s->text.n);
    if (labels) *labels = kb_passage_labels(s->text.cps, s->text.n);
    uint64_t found = match(&s->text, &s->needles, NULL, NULL);
    if (focus) *focus = focus_of(&s->text);
    return found;
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
    /* The title's characters as a 256-bit sieve on their low bytes: most needle characters
     * are ruled out without a look at the title. */
    uint64_t sieve[4] = {0};
    for (size_t i = 0; i < s->text.n; i++) {
        uint32_t c = match_fold(s->text.cps[i]);
        sieve[(c >> 6) & 3] |= (uint64_t)1 << (c & 63);
    }
    uint64_t mask = 0;
    for (size_t k = 0; k < s->needles.n && k < 64; k++) {
        const needle *nd = &s->needles.needles[k];
        if (!nd->han) continue;
        size_t found = 0;
        for (size_t j = 0; j < nd->n && found == j; j++) {
            uint32_t c = nd->cps[j];
            if (!(sieve[(c >> 6) & 3] >> (c & 63) & 1)) break;
            for (size_t i = 0; i < s->text.n; i++)
                if (match_fold(s->text.cps[i]) == c) {
                    found++;
                    break;
                }
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
    s->doc = doc;
    size_t total = 0;
    for (size_t i = 0; i < doc->n_sections; i++) total += doc->sections[i].n_blocks;
    s->blocks = calloc(total ? total : 1, sizeof *s->blocks);
    s->section_mask = calloc(doc->n_sections ? doc->n_sections : 1, sizeof *s->section_mask);
    s->section_labels = calloc(doc->n_sections ? doc->n_sections : 1, sizeof *s->section_labels);
    s->section_focus = calloc(doc->n_sections ? doc->n_sections : 1, sizeof *s->section_focus);
    if (!s->blocks || !s->section_mask || !s->section_labels || !s->section_focus) return -1;
    s->title_mask = title_terms(s, doc->title);
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        int script = 0;
        s->section_mask[i] = match_text(s, sec->title, &script, &s->section_labels[i], &s->section_focus[i]);
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
    free(s->needles.pool);
    kb_passage_free(&s->text);
    free(s->sentences);
    free(s->units);
    free(s->hits);
    free(s->blocks);
    free(s->section_mask);
    free(s->section_labels);
    free(s->section_focus);
}

/* ---------------------------------------------------------------- choosing */

/* The unit that best answers, or -1 when the document has none (no text, or headers only). */
static long choose_unit(const scan *s, const kb_document *doc, unsigned asks)
{
    size_t n = s->n_units;
    if (n == 0) return -1;
    /* The value of each needle for telling units apart. */
    double local[64] = {0};
    size_t spread[64] = {0};
    for (size_t u = 0; u < n; u++)
        for (uint64_t m = s->units[u].own; m; m &= m - 1) spread[__builtin_ctzll(m)]++;
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
        double score = 0, in_context = 0, elsewhere = 0;
        for (uint64_t m = u->own; m; m &= m - 1) score += local[__builtin_ctzll(m)];
        for (uint64_t m = context; m; m &= m - 1) in_context += local[__builtin_ctzll(m)];
        for (uint64_t m = rest; m; m &= m - 1) elsewhere += local[__builtin_ctzll(m)];
        score += KB_SNIP_CONTEXT * in_context + KB_SNIP_BLOCK * elsewhere;
        score *= 1.0 + KB_SNIP_SECTION_FOCUS * s->section_focus[si];
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

/* Where the window starts in a view that begins at a sentence start (position 0) and holds
 * the chosen unit at [from, to): at 0 when the unit then ends within the window; else at the
 * unit; and in a unit longer than the window whose matches lie beyond its first
 * KB_SNIPPET_MAX_CHARS, at the clause before its densest matches. */
static size_t window_start(const kb_passage_text *p, size_t from, size_t to)
{
    size_t w = KB_SNIPPET_MAX_CHARS;
    if (to <= w) return 0;
    if (to - from <= w) return from;
    size_t last = to;
    while (last > from && !p->marked[last - 1]) last--;
    if (last == from || last + 20 <= from + w) return from; /* no match, or all in view */
    /* The densest window of marks inside the unit. */
    size_t best = from, marks = 0, best_marks = 0;
    for (size_t i = from; i < from + w; i++) marks += p->marked[i];
    best_marks = marks;
    for (size_t s = from + 1; s + w <= to; s++) {
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
    while (s > from && first - s < 40 && !kb_passage_is_sentence_end(p->cps[s - 1]) &&
           p->cps[s - 1] != 0xFF0C /* ， */ && p->cps[s - 1] != ',' && p->cps[s - 1] != 0xFF1A /* ： */)
        s--;
    if (s > from && first - s >= 40) s = first > from + 10 ? first - 10 : from;
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

/* Does the sentence at `u` lean on the one before (这, 因此 …)? Its first code points, folded. */
static int leans_back(const scan *s, const unit *u)
{
    const char *text = s->blocks[u->block].b->text + u->byte_from;
    uint32_t cps[4];
    size_t n = 0;
    int32_t i = 0, len = (int32_t)(u->byte_to - u->byte_from);
    while (i < len && n < 4) {
        UChar32 c;
        U8_NEXT((const uint8_t *)text, i, len, c);
        cps[n++] = kb_analyzer_fold_codepoint(c < 0 ? 0xFFFD : (uint32_t)c);
    }
    return kb_passage_leans_back(cps, n);
}

/* The sentence of u's block that the snippet is read from: an earlier one while u still ends
 * within KB_SNIP_LEAD_ROOM code points of it (the agent reads in order, and what leads up to
 * an answer is often part of it); else the one before u when that is a short lead-in or u
 * leans on it; else u. */
static const unit *read_from(const scan *s, const unit *u)
{
    const unit *start = u;
    while (start > s->units && start[-1].block == u->block && u->to - start[-1].from <= KB_SNIP_LEAD_ROOM)
        start--;
    if (start == u && u > s->units && u[-1].block == u->block) {
        size_t before = u->from - u[-1].from;
        if (before <= SHORT_LEAD || (before <= LEAD_MAX && leans_back(s, u))) start = u - 1;
    }
    return start;
}

/* Append text to a growing view; 0 or -1. */
static int view_add(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* A sentence or list item, read from read_from()'s sentence (or, for a list item read from its
 * start, from the first item of its list when those before it fit in KB_SNIP_LEAD_ROOM too:
 * step 1 before step 2), then on into the paragraphs and items after it in its section while
 * the window is not full, joined by JOIN; cut to the window. Only that much text is folded and
 * matched again, not the whole block. */
static int render_sentence(scan *s, const unit *chosen, out_buf *o)
{
    int listed = chosen >= s->units && chosen < s->units + s->n_units;
    const unit *start = listed ? read_from(s, chosen) : chosen;
    const block_info *bi = &s->blocks[chosen->block];
    char *text = NULL;
    size_t len = 0, cap = 0, offset = 0, first = chosen->block;
    int rc = 0;
    /* Items of its list before it. */
    while (listed && start->from == 0 && bi->b->kind == KB_BLOCK_ITEM && first > 0 &&
           joins(&s->blocks[first - 1], bi->sec) && s->blocks[first - 1].b->kind == KB_BLOCK_ITEM) {
        size_t more = count_cps(s->blocks[first - 1].b->text) + count_cps(JOIN);
        if (offset + more + chosen->to > KB_SNIP_LEAD_ROOM) break;
        offset += more;
        first--;
    }
    for (size_t k = first; k < chosen->block && rc == 0; k++) {
        rc |= view_add(&text, &len, &cap, s->blocks[k].b->text, strlen(s->blocks[k].b->text));
        rc |= view_add(&text, &len, &cap, JOIN, strlen(JOIN));
    }
    /* Its block from the start sentence, to a little more than a window past the unit. */
    const char *own = bi->b->text;
    size_t own_len = strlen(own), end = chosen->byte_to + (KB_SNIPPET_MAX_CHARS + 1) * 4;
    if (end > own_len) end = own_len;
    while (end < own_len && ((unsigned char)own[end] & 0xC0) == 0x80) end++;
    if (rc == 0) rc = view_add(&text, &len, &cap, own + start->byte_from, end - start->byte_from);
    /* The section's next paragraphs and items, while the window is not full. */
    size_t need = (offset + (size_t)(chosen->to - start->from) + KB_SNIPPET_MAX_CHARS) * 4;
    for (size_t k = chosen->block + 1; rc == 0 && end == own_len && len < need && k < s->n_blocks &&
                                       joins(&s->blocks[k], bi->sec);
         k++) {
        rc |= view_add(&text, &len, &cap, JOIN, strlen(JOIN));
        rc |= view_add(&text, &len, &cap, s->blocks[k].b->text, strlen(s->blocks[k].b->text));
    }
    if (rc != 0 || !text || kb_passage_load(&s->text, text) < 0) {
        free(text);
        return -1;
    }
    kb_passage_text *p = &s->text;
    match(p, &s->needles, NULL, NULL);
    /* Where the chosen unit is in the view. */
    size_t at = offset + (chosen->from - start->from), until = offset + (chosen->to - start->from);
    size_t from = first < chosen->block ? 0 : window_start(p, at, until);
    size_t to = from + KB_SNIPPET_MAX_CHARS < p->n ? from + KB_SNIPPET_MAX_CHARS : p->n;
    if (from > 0 || start->byte_from > 0) put_raw(o, "…"); /* the block goes on before it */
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
    unsigned asks = q->asks;
    s.wanted = asks & ~(unsigned)KB_KIND_SCRIPT;
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
    long chosen = choose_unit(&s, doc, asks);
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
