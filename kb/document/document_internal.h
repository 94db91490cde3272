/*
 * document_internal.h — what kb/document/document.c (reading and validating XML files) and
 * kb/document/document_check.c (turning one parsed <document> element into a kb_document) share.
 * Private to the document parser module; not installed, not used elsewhere.
 */
#ifndef KB_DOCUMENT_INTERNAL_H
#define KB_DOCUMENT_INTERNAL_H

#include <libxml/tree.h>
#include <stdarg.h>
#include <stdint.h>

#include "kb/document.h"

/* Deepest element nesting accepted (libxml2's own default limit). A valid file nests about 10
 * deep; the limit only stops hostile files. */
#define KB_DOCUMENT_MAX_DEPTH 256

/* Receives a problem found while checking one document: the line and the message (already
 * prefixed with the document's label, e.g. "document 'x': "). */
typedef void (*kb_document_report_fn)(void *ctx, int line, const char *message);

/* Checks the <document> element `el` (built by kb/document/document.c, with exact line numbers in
 * _private, see kb_document_node_line) and converts it. Every problem goes to `report`. Returns
 * the number of problems found; when it is 0, *out holds the document (free it with
 * kb_document_free). When the document has a syntactically valid id, it is copied to id_out
 * (even when the document has other problems, so that duplicates are still detected), else
 * id_out is "". */
size_t kb_document_convert(const xmlNode *el, const char *source, kb_document_report_fn report,
                           void *ctx, kb_document **out, char id_out[KB_DOC_ID_MAX + 1]);

void kb_document_free(kb_document *doc);

/* The line of an element built by the parser. The parser stores the exact line in the node's
 * _private field because libxml2's own node->line stops at 65535, and a file of 100,000
 * documents has millions of lines. */
static inline int kb_document_node_line(const xmlNode *node)
{
    if (node && node->_private) return (int)(intptr_t)node->_private;
    return node ? (int)xmlGetLineNo(node) : 0;
}

/* Helpers shared by both files. */

/* Writes into out (size outsz) a short printable excerpt of the UTF-8 text s[0..len): at most
 * max_chars characters, control characters shown as spaces, "…" appended when cut. Used to quote
 * user text in messages without flooding them. */
void kb_document_excerpt(const char *s, size_t len, size_t max_chars, char *out, size_t outsz);

/* What an element holding text is called in messages: "paragraph" for p, "list item" for item,
 * "table cell" for td and th, "question" for q... */
const char *kb_document_text_kind(const char *element);

/* Number of UTF-8 characters in s[0..len). */
size_t kb_document_utf8_chars(const char *s, size_t len);

/* Length of the well-formed UTF-8 sequence at s (at most `left` bytes), 0 when it is not one:
 * a stray or cut sequence, an overlong form, a surrogate or a code point above U+10FFFF. */
size_t kb_document_utf8_valid_len(const unsigned char *s, size_t left);

#endif
