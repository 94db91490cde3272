/*
 * document_json.c — a document as the JSON object the document view returns
 * (see document_json.h).
 */
#include "document_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static cJSON *string_array(char *const *items, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static const char *block_kind_name(kb_block_kind k)
{
    switch (k) {
    case KB_BLOCK_ITEM: return "item";
    case KB_BLOCK_ROW: return "row";
    case KB_BLOCK_HEADER: return "header";
    default: return "p";
    }
}

void searchd_must_know_json(cJSON *o, int must_know, char *const *teams, size_t n_teams)
{
    cJSON_AddBoolToObject(o, "must_know", must_know != 0);
    cJSON_AddItemToObject(o, "must_know_teams", string_array(teams, must_know ? n_teams : 0));
}

char *searchd_document_json(const kb_document *doc)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", doc->id);
    cJSON_AddStringToObject(o, "title", doc->title);
    cJSON_AddStringToObject(o, "lang", doc->lang ? doc->lang : "");
    cJSON_AddItemToObject(o, "categories", string_array(doc->categories, doc->n_categories));
    cJSON_AddStringToObject(o, "keywords", doc->keywords ? doc->keywords : "");
    cJSON_AddStringToObject(o, "valid_from", doc->valid_from);
    cJSON_AddStringToObject(o, "valid_until", doc->valid_until);
    cJSON_AddStringToObject(o, "updated", doc->updated);
    cJSON_AddItemToObject(o, "questions", string_array(doc->questions, doc->n_questions));
    cJSON_AddStringToObject(o, "source", doc->source ? doc->source : "");
    cJSON_AddNumberToObject(o, "line", doc->line);
    searchd_must_know_json(o, doc->must_know, doc->must_know_teams, doc->n_must_know_teams);
    cJSON *sections = cJSON_AddArrayToObject(o, "sections");
    for (size_t i = 0; sections && i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        cJSON *s = cJSON_CreateObject();
        cJSON_AddItemToArray(sections, s);
        cJSON_AddStringToObject(s, "id", sec->id);
        cJSON_AddStringToObject(s, "title", sec->title);
        cJSON *blocks = cJSON_AddArrayToObject(s, "blocks");
        for (size_t j = 0; blocks && j < sec->n_blocks; j++) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToArray(blocks, b);
            cJSON_AddStringToObject(b, "kind", block_kind_name(sec->blocks[j].kind));
            cJSON_AddStringToObject(b, "text", sec->blocks[j].text);
        }
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

