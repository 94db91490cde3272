/*
 * document_json.h — a document as the JSON object the document view returns
 * (GET /api/documents/{id}; the layout is in docs/API.md). libkb hands out the document as a
 * struct (kb_searcher_get_document); its JSON form is the daemon's business.
 */
#ifndef SEARCHD_DOCUMENT_JSON_H
#define SEARCHD_DOCUMENT_JSON_H

#include "kb/document.h"

/* malloc'd; NULL when memory ran out. Every field of the document but the blocks' lines. */
char *searchd_document_json(const kb_document *doc);

#endif
