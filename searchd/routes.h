/*
 * routes.h — helpers shared by the route handlers (routes_*.c).
 */
#ifndef SEARCHD_ROUTES_H
#define SEARCHD_ROUTES_H

#include <stddef.h>

#include "http.h"
#include "kb/search.h"

/* Document ids: [A-Za-z0-9._:-]{1,128} (the KB format's rule). */
int searchd_routes_valid_doc_id(const char *id);

/* Check that the body field `field` names a document of the served index: 0 when it does;
 * otherwise answers 400 (not a document id, or no such document), or 503/500 when the index
 * cannot be read, and returns -1. Every document id a client sends that is stored (feedback,
 * reviews, gap answers) goes through it, so the store only ever holds ids of real documents. */
int searchd_routes_check_document(searchd_request *req, const char *field, const char *id);

/* searchd_routes_check_document, handing over the document (free with
 * kb_searcher_document_free) when it is one of the index: the must-know mark and the title the
 * leads' reviews and coaching sessions keep a snapshot of. */
int searchd_routes_fetch_document(searchd_request *req, const char *field, const char *id,
                                  kb_document **doc);

/* Check that the body field `field` names an agent: an agent id (kb_agent_id_problem), and one
 * of the agents list when there is one. 0, or -1 after answering 400 (or 500 when the list
 * cannot be read). Help requests filed for another agent and coaching sessions use it. */
int searchd_routes_check_agent(searchd_request *req, const char *field, const char *agent);

/* 32 lowercase hex digits from the kernel's random source (128 bits). */
void searchd_routes_new_search_id(char out[33]);

/* Run a search on the calling thread's searcher, retrying once on a fresh revision when the
 * searcher fails (e.g. the index changed twice under it). On failure answers 500/503 itself
 * and returns -1; on success res must be freed with kb_search_result_free. */
int searchd_routes_run_search(searchd_request *req, const kb_search_request *sreq,
                              kb_search_result *res);

/* A number rounded for JSON output (cJSON prints doubles with up to 17 digits). */
double searchd_routes_round(double v, int decimals);

#endif
