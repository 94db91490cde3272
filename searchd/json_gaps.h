/*
 * json_gaps.h — the editors' queue and content health as the API's JSON (docs/API.md: GET
 * /api/gaps, GET and PUT /api/gaps/{id}, GET /api/content-health). libkb hands them out as
 * structs (kb/gaps.h); their JSON form is decided here, once: kb-report links this file too, so
 * `kb-report --format json` prints what the API answers.
 *
 * Uses nothing of the daemon but cJSON and the public API. Each function returns a new cJSON
 * object (the caller deletes it), or NULL when memory ran out.
 */
#ifndef SEARCHD_JSON_GAPS_H
#define SEARCHD_JSON_GAPS_H

#include <cjson/cJSON.h>

#include "kb/gaps.h"

/* {"total", "offset", "limit", "items": [item as json_gap_item]} (GET /api/gaps). */
cJSON *searchd_json_gap_page(const kb_gap_page *page);
/* One item as the list shows it, with "merged_from" when set (PUT /api/gaps/{id}). */
cJSON *searchd_json_gap_item(const kb_gap_item *item);
/* One item with everything behind it (GET /api/gaps/{id}): "variants" becomes the list of
 * phrasings (the count moves to "variants_total"), then "questions" and "questions_total". */
cJSON *searchd_json_gap_detail(const kb_gap_item *item);
/* GET /api/content-health. */
cJSON *searchd_json_content_health(const kb_content_health *health);

#endif
