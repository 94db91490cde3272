/*
 * json_coaching.h — study lists, coaching sessions and the coaching-effect report (kb/coaching.h
 * structs) as the HTTP API's JSON; docs/API.md is the spec of every field.
 *
 * kb-report links this file too, so `kb-report --format json` prints what the API answers. Each
 * function returns a new cJSON value (the caller deletes it), or NULL when out of memory.
 */
#ifndef SEARCHD_JSON_COACHING_H
#define SEARCHD_JSON_COACHING_H

#include <cjson/cJSON.h>

#include "kb/coaching.h"

/* {"agent", "items": [{"doc_id", "title", "must_know", "count", "must_know_count",
 * "first_asked", "last_asked", "studied", "studied_at", "asked_since_studied"}]} */
cJSON *searchd_json_study_list(const char *agent, const kb_study_list *l);
/* One item of the list (POST /api/me/study/{doc_id} answers it). */
cJSON *searchd_json_study_item(const kb_study_item *it);
/* {"id", "agent", "agent_name", "team", "lead", "date", "note", "recorded_at", "documents"} */
cJSON *searchd_json_coaching_session(const kb_coaching_session *s);
/* {"total", "offset", "limit", "items"} */
cJSON *searchd_json_coaching_page(const kb_coaching_page *p);
/* GET /api/reports/coaching: {"weeks", "sessions": [...], "teams": [...]} */
cJSON *searchd_json_effect_report(const kb_effect_report *r);

#endif
