/*
 * document_json.h — a document as the JSON object the document view returns
 * (GET /api/documents/{id}; the layout is in docs/API.md). libkb hands out the document as a
 * struct (kb_searcher_get_document); its JSON form is the daemon's business.
 */
#ifndef SEARCHD_DOCUMENT_JSON_H
#define SEARCHD_DOCUMENT_JSON_H

#include <cjson/cJSON.h>

#include "kb/document.h"

/* malloc'd; NULL when memory ran out. Every field of the document but the blocks' lines. */
char *searchd_document_json(const kb_document *doc);

/* Adds "must_know": true|false and "must_know_teams": [...] to o: the document view and the
 * search hits say it the same way (docs/API.md). */
void searchd_must_know_json(cJSON *o, int must_know, char *const *teams, size_t n_teams);

#endif
