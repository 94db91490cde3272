/*
 * search/passage_text.h — a block of a document as folded code points aligned with its bytes,
 * and its sentences.
 *
 * Snippets match the question's terms (folded: NFKC, lower case, Simplified) against the
 * editor's text and mark them in that text, so each code point of the block is folded in
 * place, one for one (kb_analyzer_fold_aligned, Traditional phrases included), and keeps the
 * byte offset it came from. Passages are chosen sentence by sentence, so the block is also cut
 * into sentences, each flagged when it is speech: a line in quotes that the agent reads out to
 * the customer (“您的号码已经开通…。”), which answers what to say, not what to do.
 */
#ifndef KB_PASSAGE_TEXT_H
#define KB_PASSAGE_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *orig;    /* code points as written */
    uint32_t *cps;     /* folded, one for one */
    uint32_t *byte_at; /* byte offset of each code point; byte_at[n] = text length */
    uint8_t *marked;   /* set by the caller: 1 where a query term matched */
    size_t n, cap;
} kb_passage_text;

typedef struct {
    uint32_t from, to; /* code points [from, to) of the block, ending after its punctuation */
    uint8_t speech;    /* most of it inside quotes that hold a whole sentence */
} kb_sentence;

/* Decode and fold text into p (buffers reused between calls; marks cleared). 0, or -1 when
 * memory ran out. */
int kb_passage_load(kb_passage_text *p, const char *text);
void kb_passage_free(kb_passage_text *p);

/* Cut the loaded block into sentences, appended to *out (a growing array of *cap, which the
 * caller frees); *n is set to the count. A sentence ends at 。！？；!?; or a line break, with
 * the closing quotes and brackets that follow; a full stop inside a number or name (0.80%,
 * www.x.cn) is no end, nor is punctuation inside brackets (（…）, 《CDTV×Sacas！》).
 * Returns 0, or -1 when memory ran out. */
int kb_passage_sentences(const kb_passage_text *p, kb_sentence **out, size_t *n, size_t *cap);

/* 1 when the sentence cps[0..n) (folded) leans on the one before it: it opens with a word
 * that points back (这, 此, 其, 因此, 但, 随后, 赛后 …) or a parenthesis, so what it says
 * needs the sentence before (这次事件是一次突破性的发现 names the discovery only there). */
int kb_passage_leans_back(const uint32_t *cps, size_t n);

/* 1 when code point c (folded) ends a sentence by itself. */
int kb_passage_is_sentence_end(uint32_t c);

#endif
