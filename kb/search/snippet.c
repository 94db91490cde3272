/*
 * snippet.c — the best passage of a hit, with the query's terms marked (see search/snippet.h).
 *
 * The agent reads the snippet, not the document, while the customer waits: it has to be the
 * passage that answers, short, and with the words they typed visibly marked.
 */
#include "search/snippet.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

#include "kb/analyzer.h"

/* A passage decoded into folded code points, each with its byte range in the original. */
typedef struct {
    uint32_t *cps;
    uint32_t *byte_at; /* byte offset of each code point; byte_at[n] = text length */
    uint8_t *marked;
    size_t n, cap;
} passage;

typedef struct {
    uint32_t cps[64];
    size_t n;
    double value; /* weight * idf, 0 for stop words */
    int next;     /* next needle in the same first-code-point bucket, -1 at the end */
} needle;

/* Needles chained by the low byte of their first code point, so that each position of a
 * passage is compared only with the needles that can start there. */
typedef struct {
    needle *needles;
    size_t n;
    int head[256];
} needle_set;

static int passage_load(passage *p, const char *text)
{
    size_t len = strlen(text);
    if (len + 1 > p->cap) {
        size_t cap = (len + 1) * 2;
        uint32_t *cps = realloc(p->cps, cap * sizeof *cps);
        if (!cps) return -1;
        p->cps = cps;
        uint32_t *at = realloc(p->byte_at, cap * sizeof *at);
        if (!at) return -1;
        p->byte_at = at;
        uint8_t *m = realloc(p->marked, cap);
        if (!m) return -1;
        p->marked = m;
        p->cap = cap;
    }
    p->n = 0;
    const uint16_t *fold = kb_analyzer_fold_table();
    int32_t i = 0;
    while ((size_t)i < len) {
        int32_t at = i;
        UChar32 c;
        U8_NEXT((const uint8_t *)text, i, (int32_t)len, c);
        if (c < 0) c = 0xFFFD;
        p->byte_at[p->n] = (uint32_t)at;
        p->cps[p->n] = fold && c < 0x10000 ? fold[c] : kb_analyzer_fold_codepoint((uint32_t)c);
        p->n++;
    }
    p->byte_at[p->n] = (uint32_t)len;
    memset(p->marked, 0, p->n);
    return 0;
}

static void passage_free(passage *p)
{
    free(p->cps);
    free(p->byte_at);
    free(p->marked);
}

/* Mark every occurrence of every needle; return the summed value of the needles found. */
static double passage_match(passage *p, const needle_set *set)
{
    double score = 0;
    uint64_t found = 0; /* bit k: needle k occurs (needles beyond 64 are not scored) */
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = p->cps[i];
        for (int k = set->head[c & 0xFF]; k >= 0; k = set->needles[k].next) {
            const needle *nd = &set->needles[k];
            if (nd->cps[0] != c || i + nd->n > p->n) continue;
            if (nd->n > 1 && memcmp(p->cps + i + 1, nd->cps + 1, (nd->n - 1) * sizeof(uint32_t)) != 0)
                continue;
            memset(p->marked + i, 1, nd->n);
            if (k < 64 && !(found >> k & 1)) {
                found |= (uint64_t)1 << k;
                score += nd->value;
            }
        }
    }
    return score;
}

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

/* Append markup of our own (never needs escaping). */
static int append_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (reserve(buf, len, cap, n) < 0) return -1;
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

static int is_sentence_end(uint32_t c)
{
    return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF1B || c == '.' || c == '!' ||
           c == '?' || c == ';' || c == '\n';
}

/* Choose [*from, *to) of at most KB_SNIPPET_MAX_CHARS code points around the densest marks. */
static void choose_window(const passage *p, size_t *from, size_t *to)
{
    size_t w = KB_SNIPPET_MAX_CHARS;
    if (p->n <= w) {
        *from = 0;
        *to = p->n;
        return;
    }
    size_t best = 0, marks = 0, best_marks = 0;
    for (size_t i = 0; i < w; i++) marks += p->marked[i];
    best_marks = marks;
    for (size_t s = 1; s + w <= p->n; s++) {
        marks += p->marked[s + w - 1];
        marks -= p->marked[s - 1];
        if (marks > best_marks) {
            best_marks = marks;
            best = s;
        }
    }
    /* No match in the passage (the document was found by its title, keywords or questions):
     * show its beginning, not a window from wherever the search for a first mark ran out. */
    if (best_marks == 0) {
        *from = 0;
        *to = w;
        return;
    }
    /* Start at the beginning of the sentence holding the first mark, when it is near. */
    size_t first = best;
    while (first < best + w && !p->marked[first]) first++;
    size_t s = first;
    while (s > 0 && first - s < 40 && !is_sentence_end(p->cps[s - 1])) s--;
    if (s > 0 && !is_sentence_end(p->cps[s - 1])) s = first > 10 ? first - 10 : 0;
    if (s + w > p->n) s = p->n - w;
    *from = s;
    *to = s + w;
}

static int render(const passage *p, const char *text, size_t from, size_t to, char **out)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    if (from > 0) rc |= append_raw(&buf, &len, &cap, "…");
    size_t i = from;
    while (i < to && rc == 0) {
        size_t j = i;
        while (j < to && p->marked[j] == p->marked[i]) j++;
        if (p->marked[i]) rc |= append_raw(&buf, &len, &cap, "<mark>");
        rc |= kb_html_escape_append(&buf, &len, &cap, text + p->byte_at[i],
                                    p->byte_at[j] - p->byte_at[i]);
        if (p->marked[i]) rc |= append_raw(&buf, &len, &cap, "</mark>");
        i = j;
    }
    if (to < p->n) rc |= append_raw(&buf, &len, &cap, "…");
    if (rc == 0 && !buf) rc = append_raw(&buf, &len, &cap, "");
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static int load_needles(const kb_query *q, needle_set *set)
{
    set->needles = calloc(q->n_terms ? q->n_terms : 1, sizeof *set->needles);
    if (!set->needles) return -1;
    set->n = 0;
    for (int b = 0; b < 256; b++) set->head[b] = -1;
    for (size_t i = 0; i < q->n_terms; i++) {
        const kb_query_term *t = &q->terms[i];
        if (!t->highlight) continue;
        int32_t k = 0, len = (int32_t)strlen(t->text);
        needle *x = &set->needles[set->n];
        while (k < len && x->n < 64) {
            UChar32 c;
            U8_NEXT((const uint8_t *)t->text, k, len, c);
            x->cps[x->n++] = (uint32_t)(c < 0 ? 0xFFFD : c);
        }
        if (x->n == 0) continue;
        x->value = t->stop ? 0.01 : t->weight * t->idf;
        x->next = set->head[x->cps[0] & 0xFF];
        set->head[x->cps[0] & 0xFF] = (int)set->n;
        set->n++;
    }
    return 0;
}

int kb_snippet_best(const kb_document *doc, const kb_query *q, kb_snippet *snip)
{
    memset(snip, 0, sizeof *snip);
    needle_set needles;
    if (load_needles(q, &needles) < 0) return -1;

    /* Two passages: the one being scored and the best so far, swapped when a block wins, so
     * the winner is rendered without folding and matching it again. */
    passage passages[2] = {{0}, {0}};
    passage *cur = &passages[0], *best = &passages[1];
    const char *best_text = NULL;
    const kb_section *best_section = NULL;
    double best_score = -1;
    size_t best_marks = 0;
    int rc = 0;

    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        for (size_t j = 0; j < sec->n_blocks; j++) {
            const char *text = sec->blocks[j].text;
            if (!text || !*text) continue;
            if (passage_load(cur, text) < 0) {
                rc = -1;
                goto done;
            }
            double score = passage_match(cur, &needles);
            size_t marks = 0;
            for (size_t k = 0; k < cur->n; k++) marks += cur->marked[k];
            if (score > best_score || (score == best_score && marks > best_marks)) {
                best_score = score;
                best_marks = marks;
                best_text = text;
                best_section = sec;
                passage *t = best;
                best = cur;
                cur = t;
            }
        }
    }

    if (best_text) {
        size_t from, to;
        choose_window(best, &from, &to);
        if (render(best, best_text, from, to, &snip->html) < 0) rc = -1;
    } else {
        snip->html = strdup("");
        if (!snip->html) rc = -1;
    }
    const char *sid = best_section ? best_section->id : NULL;
    const char *stitle = best_section ? best_section->title : NULL;
    snip->section_id = strdup(sid ? sid : "");
    snip->section_title = strdup(stitle ? stitle : "");
    snip->score = best_score > 0 ? best_score : 0;
    if (!snip->section_id || !snip->section_title) rc = -1;

done:
    passage_free(&passages[0]);
    passage_free(&passages[1]);
    free(needles.needles);
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
