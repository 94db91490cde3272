/*
 * json_coaching.c — the coaching results as the HTTP API's JSON (see json_coaching.h).
 *
 * The conventions are json_review.c's (whose helpers it uses): text libkb has as NULL is null,
 * shares it has as NAN are null, times are ISO 8601 in UTC.
 */
#include "json_coaching.h"

#include "json_review.h"

cJSON *searchd_json_study_item(const kb_study_item *it)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    searchd_json_add_text(o, "doc_id", it->doc_id);
    searchd_json_add_text(o, "title", it->title);
    cJSON_AddBoolToObject(o, "must_know", it->must_know);
    cJSON_AddNumberToObject(o, "count", it->count);
    cJSON_AddNumberToObject(o, "must_know_count", it->must_know_count);
    searchd_json_add_time(o, "first_asked", it->first_ms);
    searchd_json_add_time(o, "last_asked", it->last_ms);
    cJSON_AddBoolToObject(o, "studied", it->studied);
    if (it->studied) searchd_json_add_time(o, "studied_at", it->studied_ms);
    else cJSON_AddNullToObject(o, "studied_at");
    cJSON_AddNumberToObject(o, "asked_since_studied", it->asked_since_studied);
    return o;
}

cJSON *searchd_json_study_list(const char *agent, const kb_study_list *l)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    searchd_json_add_text(o, "agent", agent);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; items && i < l->n; i++)
        searchd_json_add_item(items, NULL, searchd_json_study_item(&l->items[i]));
    return o;
}

cJSON *searchd_json_coaching_session(const kb_coaching_session *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    searchd_json_add_text(o, "agent", s->agent);
    searchd_json_add_text(o, "agent_name", s->agent_name);
    searchd_json_add_text(o, "team", s->team);
    searchd_json_add_text(o, "lead", s->lead);
    cJSON_AddStringToObject(o, "date", s->day);
    searchd_json_add_text(o, "note", s->note);
    searchd_json_add_time(o, "recorded_at", s->recorded_ms);
    cJSON *docs = cJSON_AddArrayToObject(o, "documents");
    for (size_t i = 0; docs && i < s->n_docs; i++) {
        cJSON *d = searchd_json_add_item(docs, NULL, cJSON_CreateObject());
        if (!d) continue;
        searchd_json_add_text(d, "doc_id", s->docs[i].doc_id);
        searchd_json_add_text(d, "title", s->docs[i].title);
    }
    return o;
}

cJSON *searchd_json_coaching_page(const kb_coaching_page *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "total", (double)p->total);
    cJSON_AddNumberToObject(o, "offset", (double)p->offset);
    cJSON_AddNumberToObject(o, "limit", (double)p->limit);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; items && i < p->n; i++)
        searchd_json_add_item(items, NULL, searchd_json_coaching_session(&p->items[i]));
    return o;
}

/* {"requests", "kb_answered", "share", "must_know_misses", "must_know_share"} */
static cJSON *window(const kb_effect_window *w)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "requests", w->requests);
    cJSON_AddNumberToObject(o, "kb_answered", w->kb_answered);
    searchd_json_add_share(o, "share", w->share);
    cJSON_AddNumberToObject(o, "must_know_misses", w->must_know_misses);
    searchd_json_add_share(o, "must_know_share", w->must_know_share);
    return o;
}

static cJSON *effect_row(const kb_effect_row *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "session_id", (double)r->session_id);
    cJSON_AddStringToObject(o, "date", r->day);
    searchd_json_add_text(o, "agent", r->agent);
    searchd_json_add_text(o, "agent_name", r->agent_name);
    searchd_json_add_text(o, "team", r->team);
    searchd_json_add_text(o, "lead", r->lead);
    cJSON_AddNumberToObject(o, "documents", (double)r->n_docs);
    searchd_json_add_item(o, "before", window(&r->before));
    searchd_json_add_item(o, "after", window(&r->after));
    searchd_json_add_share(o, "share_change", r->share_change);
    cJSON_AddNumberToObject(o, "must_know_change", r->must_know_change);
    cJSON_AddNumberToObject(o, "asked_again", r->asked_again);
    cJSON *docs = cJSON_AddArrayToObject(o, "asked_again_docs");
    for (size_t i = 0; docs && i < r->n_asked_again_docs; i++)
        searchd_json_add_item(docs, NULL, cJSON_CreateString(r->asked_again_docs[i]));
    cJSON_AddBoolToObject(o, "complete", r->complete);
    return o;
}

static cJSON *effect_team(const kb_effect_team *t)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    searchd_json_add_text(o, "team", t->team);
    cJSON_AddNumberToObject(o, "sessions", t->sessions);
    cJSON_AddNumberToObject(o, "coached_agents", t->coached_agents);
    cJSON_AddNumberToObject(o, "uncoached_agents", t->uncoached_agents);
    searchd_json_add_item(o, "coached_before", window(&t->coached_before));
    searchd_json_add_item(o, "coached_after", window(&t->coached_after));
    searchd_json_add_item(o, "uncoached_before", window(&t->uncoached_before));
    searchd_json_add_item(o, "uncoached_after", window(&t->uncoached_after));
    searchd_json_add_share(o, "coached_change", t->coached_change);
    searchd_json_add_share(o, "uncoached_change", t->uncoached_change);
    searchd_json_add_share(o, "coached_must_know_change", t->coached_must_know_change);
    searchd_json_add_share(o, "uncoached_must_know_change", t->uncoached_must_know_change);
    searchd_json_add_share(o, "difference", t->difference);
    return o;
}

cJSON *searchd_json_effect_report(const kb_effect_report *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "weeks", r->weeks);
    cJSON *rows = cJSON_AddArrayToObject(o, "sessions");
    for (size_t i = 0; rows && i < r->n_rows; i++)
        searchd_json_add_item(rows, NULL, effect_row(&r->rows[i]));
    cJSON *teams = cJSON_AddArrayToObject(o, "teams");
    for (size_t i = 0; teams && i < r->n_teams; i++)
        searchd_json_add_item(teams, NULL, effect_team(&r->teams[i]));
    return o;
}
