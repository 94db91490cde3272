/*
 * search/snippet.h — choose a document's best passage for a query and mark the matches.
 *
 * Passages are the stored blocks (paragraph, list item, table row). Each is folded character
 * by character with kb_analyzer_fold_codepoint, which keeps a 1:1 alignment with the original
 * text, so matches found in folded form can be marked in the text the editor wrote (Traditional
 * stays Traditional). The best passage covers the most informative query terms; a long passage
 * is cut to the window around its densest matches.
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
    double score;        /* informative idf mass of the query terms the passage holds */
} kb_snippet;

/* Fill snip from the document's sections (as read back from the index, document/stored_doc.h).
 * Returns 0, or -1 when memory ran out. A document with no text gives an empty snippet. */
int kb_snippet_best(const kb_document *doc, const kb_query *q, kb_snippet *snip);
void kb_snippet_free(kb_snippet *snip);

/* Append text[0..len) HTML-escaped (& < > " ') to a growing buffer; returns 0 or -1. */
int kb_html_escape_append(char **buf, size_t *len, size_t *cap, const char *text, size_t n);

#endif
