/*
 * search/snippet.h — choose the passage of a hit that answers the question, and mark the matches.
 *
 * An agent with a customer on the line reads the first hit's snippet and nothing else, so the
 * snippet has to hold the answer, not the passage that repeats the question's words most.
 * What is scored (docs/SEARCH.md, "Passages", has the measurements):
 *
 *   - Units, not blocks: each sentence of a paragraph or list item, and each table row.
 *   - A unit's terms: the distinct query terms it holds, each once (a word's bigrams inside it
 *     are the same term), weighted by weight × IDF, less for terms that many units of the
 *     document hold (they tell units apart poorly) and much less for terms of the document's
 *     title (they found the document; together they count as one term), for bigrams holding a
 *     function character (木的, 昊在) and for question words (多长, 有多).
 *   - Its context: the terms of its section's title and, for a row, of its table's header row
 *     (a row "3个月 | 0.80%" under 存期 | 年利率 in 定期存款利率 answers 三个月定期利率多少),
 *     and at a fifth of their value the terms elsewhere in its block.
 *   - What is asked (passage_types.h): 多少, 多久, 什么时候, 哪里, 需要什么, 怎么办理 … ask for
 *     figures, durations, dates, places, lists, steps; a unit holding that kind, or under a
 *     title or header that names it (处理时限, 所需材料), gains.
 *   - Script lines (话术 sections, quoted lines the agent says) count half, unless the
 *     question asks what to say (怎么说, 话术), when they count double.
 *
 * The snippet is the chosen unit's text from the start of a sentence: its own, the short
 * lead-in or the sentence it leans on (这, 因此 …), or earlier still while the unit ends within
 * the first KB_SNIP_LEAD_ROOM characters (what leads up to an answer is often part of it); the
 * paragraphs and items after it in its section fill the rest of the KB_SNIPPET_MAX_CHARS. A
 * table row shows each cell under its header ("情形: 车损 | 所需材料: …"); a header row is
 * never shown alone. The returned section is the chosen unit's.
 *
 * Matching folds each code point of the text in place (kb_analyzer_fold_aligned: NFKC, case,
 * Traditional → Simplified with its phrases, 計畫 → 计划), so matches found in folded form are
 * marked in the text the editor wrote (Traditional stays Traditional); Chinese numerals match
 * figures (一年 finds 1年), and numbers and Latin words match whole (16 not inside 1616).
 *
 * Cost: every block of the document is folded and matched once (O(text × needles that can
 * start at each position)), then the units are scored from bit masks; only the chosen passage
 * is folded again, to be cut and rendered.
 */
#ifndef KB_SNIPPET_H
#define KB_SNIPPET_H

#include "kb/document.h"
#include "search/query.h"

/* Longest snippet, in characters (before HTML escaping). */
#define KB_SNIPPET_MAX_CHARS 160

typedef struct {
    char *html;          /* HTML-escaped text with <mark>…</mark>, malloc'd */
    char *section_id;    /* malloc'd, "" for top-level text */
    char *section_title; /* malloc'd */
    double score;        /* informative idf mass of the query terms the best-matching block
                          * holds (each term once, stop words at 0.01): what confidence reads
                          * as passage coverage, whichever unit is shown */
} kb_snippet;

/* Fill snip from the document's sections (as read back from the index, document/stored_doc.h).
 * Returns 0, or -1 when memory ran out. A document with no text gives an empty snippet. */
int kb_snippet_best(const kb_document *doc, const kb_query *q, kb_snippet *snip);
void kb_snippet_free(kb_snippet *snip);

/* Append text[0..len) HTML-escaped (& < > " ') to a growing buffer; returns 0 or -1. */
int kb_html_escape_append(char **buf, size_t *len, size_t *cap, const char *text, size_t n);

#endif
