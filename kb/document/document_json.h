/*
 * kb_document_json.h — a document as the JSON object the document view returns
 * (GET /api/documents/{id}; the layout is in docs/API.md).
 */
#ifndef KB_DOCUMENT_JSON_H
#define KB_DOCUMENT_JSON_H

#include "kb/document.h"

/* malloc'd; NULL when memory ran out. Every field of the document but the blocks' lines. */
char *kb_document_to_json(const kb_document *doc);

#endif
