/*
 * json_review.c — the leads' results as the HTTP API's JSON (see json_review.h).
 *
 * Field order, nulls and number forms are the API's (docs/API.md): text that libkb has as NULL is
 * null, shares that libkb has as NAN (none) are null.
 */
#include "json_review.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kb/gaps.h"

void searchd_json_add_text(cJSON *o, const char *key, const char *s)
{
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

void searchd_json_add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[32];
    kb_gaps_iso_time(ms, buf);
    cJSON_AddStringToObject(o, key, buf);
}

void searchd_json_add_share(cJSON *o, const char *key, double share)
{
    if (isnan(share)) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, share);
}

cJSON *searchd_json_add_item(cJSON *to, const char *key, cJSON *item)
{
    if (item && !(key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item))) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

cJSON *searchd_json_review_entry(const kb_review_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddBoolToObject(o, "kb_answerable", e->kb_answerable);
    searchd_json_add_text(o, "doc_id", e->doc_id);
    searchd_json_add_text(o, "by", e->by);
    searchd_json_add_time(o, "at", e->at_ms);
    searchd_json_add_text(o, "note", e->note);
    return o;
}

/* A help request as the list shows it (without its history). */
static cJSON *help_request(const kb_help_request_record *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)h->id);
    searchd_json_add_time(o, "time", h->time_ms);
    searchd_json_add_text(o, "agent", h->agent);
    searchd_json_add_text(o, "agent_name", h->agent_name);
    searchd_json_add_text(o, "team", h->team);
    searchd_json_add_text(o, "filed_by", h->filed_by);
    searchd_json_add_text(o, "question", h->question);
    searchd_json_add_text(o, "answer", h->answer);
    cJSON_AddBoolToObject(o, "kb_answerable", h->kb_answerable);
    searchd_json_add_text(o, "doc_id", h->doc_id);
    cJSON_AddNumberToObject(o, "confidence", h->confidence);
    if (h->reviewed) searchd_json_add_item(o, "review", searchd_json_review_entry(&h->review));
    else cJSON_AddNullToObject(o, "review");
    cJSON_AddBoolToObject(o, "answerable", h->answerable);
    searchd_json_add_text(o, "effective_doc_id", h->effective_doc_id);
    searchd_json_add_text(o, "doc_title", h->doc_title);
    cJSON_AddBoolToObject(o, "must_know", h->must_know);
    cJSON_AddBoolToObject(o, "must_know_miss", h->must_know_miss);
    return o;
}

cJSON *searchd_json_help_request(const kb_help_request_record *h)
{
    cJSON *o = help_request(h);
    cJSON *reviews = o ? cJSON_AddArrayToObject(o, "reviews") : NULL;
    for (size_t i = 0; reviews && i < h->n_reviews; i++)
        searchd_json_add_item(reviews, NULL, searchd_json_review_entry(&h->reviews[i]));
    return o;
}

cJSON *searchd_json_help_request_page(const kb_help_request_page *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "total", (double)p->total);
    cJSON_AddNumberToObject(o, "offset", (double)p->offset);
    cJSON_AddNumberToObject(o, "limit", (double)p->limit);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; items && i < p->n; i++) searchd_json_add_item(items, NULL, help_request(&p->items[i]));
    return o;
}

/* {"requests", "kb_answered", "share"}, with "month" first when with_month. */
static cJSON *month_counts(const kb_report_month *m, int with_month)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (with_month) cJSON_AddStringToObject(o, "month", m->month);
    cJSON_AddNumberToObject(o, "requests", m->requests);
    cJSON_AddNumberToObject(o, "kb_answered", m->kb_answered);
    searchd_json_add_share(o, "share", m->share);
    cJSON_AddNumberToObject(o, "must_know_misses", m->must_know_misses);
    searchd_json_add_share(o, "must_know_share", m->must_know_share);
    return o;
}

static cJSON *report_row(const kb_report_row *r, int by_team, int n_months)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (by_team) {
        searchd_json_add_text(o, "team", r->team);
        cJSON_AddNumberToObject(o, "agents", r->agents);
    } else {
        searchd_json_add_text(o, "agent", r->agent);
        searchd_json_add_text(o, "name", r->name);
        searchd_json_add_text(o, "team", r->team);
    }
    cJSON_AddNumberToObject(o, "requests", r->requests);
    cJSON_AddNumberToObject(o, "kb_answered", r->kb_answered);
    searchd_json_add_share(o, "share", r->share);
    searchd_json_add_share(o, "previous_share", r->previous_share);
    searchd_json_add_share(o, "change", r->change);
    cJSON_AddBoolToObject(o, "persistent", r->persistent);
    if (by_team) cJSON_AddNumberToObject(o, "persistent_agents", r->persistent_agents);
    cJSON_AddNumberToObject(o, "must_know_misses", r->must_know_misses);
    searchd_json_add_share(o, "must_know_share", r->must_know_share);
    cJSON_AddBoolToObject(o, "must_know_persistent", r->must_know_persistent);
    if (by_team)
        cJSON_AddNumberToObject(o, "must_know_persistent_agents", r->must_know_persistent_agents);
    cJSON *trend = cJSON_AddArrayToObject(o, "trend");
    for (int k = 0; trend && k < n_months; k++)
        searchd_json_add_item(trend, NULL, month_counts(&r->trend[k], 1));
    cJSON *study = cJSON_AddArrayToObject(o, "study");
    for (size_t d = 0; study && d < r->n_study; d++) {
        cJSON *x = searchd_json_add_item(study, NULL, cJSON_CreateObject());
        if (!x) continue;
        cJSON_AddStringToObject(x, "doc_id", r->study[d].doc_id);
        cJSON_AddNumberToObject(x, "count", r->study[d].count);
    }
    return o;
}

cJSON *searchd_json_report(const kb_report *rep)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "by", rep->by_team ? "team" : "agent");
    cJSON_AddStringToObject(o, "month", rep->month);
    cJSON *months = cJSON_AddArrayToObject(o, "months");
    for (int m = 0; months && m < rep->n_months; m++)
        searchd_json_add_item(months, NULL, cJSON_CreateString(rep->months[m]));
    cJSON_AddNumberToObject(o, "threshold", rep->threshold);
    cJSON_AddNumberToObject(o, "min_requests", rep->min_requests);
    cJSON_AddNumberToObject(o, "persist", rep->persist);
    cJSON_AddNumberToObject(o, "must_know_min", rep->must_know_min);
    searchd_json_add_item(o, "totals", month_counts(&rep->totals, 0));
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (size_t i = 0; rows && i < rep->n_rows; i++)
        searchd_json_add_item(rows, NULL, report_row(&rep->rows[i], rep->by_team, rep->n_months));
    return o;
}

cJSON *searchd_json_agents(const kb_agent_list *l)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *list = o ? cJSON_AddArrayToObject(o, "agents") : NULL;
    for (size_t i = 0; list && i < l->n; i++) {
        cJSON *a = searchd_json_add_item(list, NULL, cJSON_CreateObject());
        if (!a) continue;
        searchd_json_add_text(a, "id", l->v[i].id);
        searchd_json_add_text(a, "name", l->v[i].name);
        searchd_json_add_text(a, "team", l->v[i].team);
    }
    return o;
}

/* ---------------------------------------------------------------- PUT /api/agents */

int searchd_json_parse_agents(const cJSON *array, kb_agent_list *out, char *err, size_t err_len)
{
    static const char *const what[] = {"id", "name", "team"};
    memset(out, 0, sizeof *out);
    if (!cJSON_IsArray(array)) {
        snprintf(err, err_len, "agents must be an array of {\"id\", \"name\", \"team\"}");
        return -1;
    }
    int i = 0;
    for (const cJSON *a = array->child; a; a = a->next, i++) {
        const char *v[3];
        /* Field by field, the JSON type and then libkb's rule, so the first thing wrong is
         * named. A missing or null name or team is empty; a missing id is libkb's "is
         * required". */
        for (int k = 0; k < 3; k++) {
            const cJSON *given = cJSON_GetObjectItemCaseSensitive(a, what[k]);
            if (given && !cJSON_IsNull(given) && !cJSON_IsString(given)) {
                snprintf(err, err_len, "agents[%d].%s must be a string", i, what[k]);
                kb_agent_list_free(out);
                return -1;
            }
            v[k] = cJSON_IsString(given) ? given->valuestring : k ? "" : NULL;
            const char *problem = !v[k] ? "is required"
                                  : k == 0 ? kb_agent_id_problem(v[k])
                                           : kb_agent_text_problem(v[k]);
            if (problem) {
                snprintf(err, err_len, "agents[%d].%s %s", i, what[k], problem);
                kb_agent_list_free(out);
                return -1;
            }
        }
        char why[256];
        int rc = kb_agent_list_add(out, v[0], v[1], v[2], why, sizeof why);
        if (rc != KB_OK) {
            /* what is left: a repeated id, or no memory */
            if (rc == KB_INVALID) snprintf(err, err_len, "agents[%d].%s", i, why);
            else snprintf(err, err_len, "%s", why);
            kb_agent_list_free(out);
            return -1;
        }
    }
    return 0;
}
