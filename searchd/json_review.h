/*
 * json_review.h — the leads' results (kb/review.h structs) as the HTTP API's JSON, one function
 * per struct; docs/API.md is the spec of every field.
 *
 * kb-report links this file too, so `kb-report --format json` prints exactly what the API
 * answers. It depends on cJSON and the public API only. Each function returns a new cJSON
 * value (the caller deletes it), or NULL when out of memory.
 */
#ifndef SEARCHD_JSON_REVIEW_H
#define SEARCHD_JSON_REVIEW_H

#include <cjson/cJSON.h>

#include "kb/review.h"

/* Small helpers the leads' JSON shares (json_coaching.c too): text or null, an ISO time, a
 * share or null (NAN), and adding an item (NULL when creating it failed) to an object under key
 * or to an array when key is NULL: returns item, or NULL when there was none or it could not be
 * added (then deleted). */
void searchd_json_add_text(cJSON *o, const char *key, const char *s);
void searchd_json_add_time(cJSON *o, const char *key, int64_t ms);
void searchd_json_add_share(cJSON *o, const char *key, double share);
cJSON *searchd_json_add_item(cJSON *to, const char *key, cJSON *item);

/* {"kb_answerable", "doc_id", "by", "at", "note"} */
cJSON *searchd_json_review_entry(const kb_review_entry *e);
/* One help request as GET /api/help-requests/{id} answers it: the list's fields and "reviews". */
cJSON *searchd_json_help_request(const kb_help_request_record *h);
/* {"total", "offset", "limit", "items"}; an item is a help request without "reviews". */
cJSON *searchd_json_help_request_page(const kb_help_request_page *p);
/* GET /api/reports/help-requests: {"by", "month", "months", ..., "totals", "rows"}. */
cJSON *searchd_json_report(const kb_report *rep);
/* {"agents": [{"id", "name", "team"}]} (GET /api/agents adds "file"). */
cJSON *searchd_json_agents(const kb_agent_list *l);

/* The agents list from PUT /api/agents' "agents" array [{"id", "name", "team"}] into *out (free
 * with kb_agent_list_free). 0, or -1 with why in err ("agents[1].id is required", ...; nothing
 * to free). */
int searchd_json_parse_agents(const cJSON *array, kb_agent_list *out, char *err, size_t err_len);

#endif
