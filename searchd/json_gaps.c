/*
 * json_gaps.c — the editors' queue and content health as the API's JSON (see json_gaps.h).
 *
 * The key order is the one docs/API.md shows, and the browser page and scripts may rely on it:
 * keep it. Absent strings and times are null, never left out.
 */
#include "json_gaps.h"

#include <stdio.h>

/* Each add_* returns 0, or -1 when memory ran out. Callers chain them with || : left to right,
 * so the keys come in the order written, and the first failure stops the chain. */
static int add_num(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) ? 0 : -1;
}

static int add_text(cJSON *o, const char *key, const char *s)
{
    return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) ? 0 : -1;
}

static int add_time(cJSON *o, const char *key, int64_t ms)
{
    if (ms == KB_GAPS_NO_TIME) return cJSON_AddNullToObject(o, key) ? 0 : -1;
    char buf[32];
    kb_gaps_iso_time(ms, buf);
    return add_text(o, key, buf);
}

/* o, or NULL (o deleted) when an add failed. */
static cJSON *done(cJSON *o, int failed)
{
    if (!failed) return o;
    cJSON_Delete(o);
    return NULL;
}

/* Append item (NULL: memory ran out making it) to array a. 0, or -1 (item deleted). */
static int push(cJSON *a, cJSON *item)
{
    if (item && cJSON_AddItemToArray(a, item)) return 0;
    cJSON_Delete(item);
    return -1;
}

/* Add array `a` to o under key; 0, or -1 (a deleted) when a is NULL or memory ran out. */
static int add_array(cJSON *o, const char *key, cJSON *a)
{
    if (a && cJSON_AddItemToObject(o, key, a)) return 0;
    cJSON_Delete(a);
    return -1;
}

/* Confidence to four decimals, as the API always showed it. */
static double round4(double v)
{
    return (double)(long long)(v * 10000 + (v >= 0 ? 0.5 : -0.5)) / 10000;
}

/* Phrasings as [{"question", "count"}], with "last_seen" when with_last. */
static cJSON *variants_json(const kb_gap_variant *v, size_t n, int with_last)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (push(a, o) || add_text(o, "question", v[i].question) ||
            add_num(o, "count", (double)v[i].count) ||
            (with_last && add_time(o, "last_seen", v[i].last_seen_ms)))
            return done(a, 1);
    }
    return a;
}

/* The item's fields as the list shows them; in the detail, "variants" is the list of phrasings
 * instead of their number. */
static int add_item_fields(cJSON *o, const kb_gap_item *it, int detail)
{
    if (add_num(o, "id", (double)it->id) || add_text(o, "status", it->status) ||
        add_text(o, "question", it->question) || add_num(o, "count", (double)it->count) ||
        add_num(o, "agents", (double)it->agents) || add_num(o, "impact", (double)it->impact))
        return -1;
    if (detail ? add_array(o, "variants", variants_json(it->variants, it->n_variants, 1))
               : add_num(o, "variants", (double)it->variants_total))
        return -1;
    cJSON *src = cJSON_AddObjectToObject(o, "sources");
    if (!src || add_num(src, "search", (double)it->sources.search) ||
        add_num(src, "not_found", (double)it->sources.not_found) ||
        add_num(src, "help_request", (double)it->sources.help_request))
        return -1;
    if (add_time(o, "first_seen", it->first_seen_ms) ||
        add_time(o, "last_seen", it->last_seen_ms) ||
        add_text(o, "category", it->category) || add_text(o, "category_by", it->category_by) ||
        add_array(o, "top_variants", variants_json(it->top_variants, it->n_top_variants, 0)) ||
        add_text(o, "suggested_answer", it->suggested_answer) ||
        add_text(o, "suggested_title", it->suggested_title))
        return -1;
    if (it->suggested_confidence < 0 ? !cJSON_AddNullToObject(o, "suggested_confidence")
                                     : add_num(o, "suggested_confidence",
                                               round4(it->suggested_confidence)))
        return -1;
    if (add_time(o, "suggested_at", it->suggested_ms) ||
        add_text(o, "answer_doc_id", it->answer_doc_id) ||
        add_text(o, "status_by", it->status_by) || add_time(o, "status_at", it->status_ms) ||
        add_text(o, "note", it->note))
        return -1;
    return it->merged_from ? add_num(o, "merged_from", (double)it->merged_from) : 0;
}

cJSON *searchd_json_gap_item(const kb_gap_item *it)
{
    cJSON *o = cJSON_CreateObject();
    return o ? done(o, add_item_fields(o, it, 0)) : NULL;
}

static cJSON *questions_json(const kb_gap_question *q, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (push(a, o) || add_text(o, "source", q[i].source) || add_text(o, "ref", q[i].ref) ||
            add_time(o, "time", q[i].time_ms) || add_text(o, "agent", q[i].agent) ||
            add_text(o, "question", q[i].question) || add_text(o, "top_id", q[i].top_id))
            return done(a, 1);
    }
    return a;
}

cJSON *searchd_json_gap_detail(const kb_gap_item *it)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int failed = add_item_fields(o, it, 1) ||
                 add_num(o, "variants_total", (double)it->variants_total) ||
                 add_array(o, "questions", questions_json(it->questions, it->n_questions)) ||
                 add_num(o, "questions_total", (double)it->questions_total);
    return done(o, failed);
}

cJSON *searchd_json_gap_page(const kb_gap_page *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int failed = add_num(o, "total", (double)p->total) || add_num(o, "offset", (double)p->offset) ||
                 add_num(o, "limit", (double)p->limit);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; items && !failed && i < p->n; i++)
        failed = push(items, searchd_json_gap_item(&p->items[i]));
    return done(o, failed || !items);
}

/* ---------------------------------------------------------------- content health */

/* The lists of content health; each shows its own fields of a document (docs/API.md). */
typedef enum { NEVER_RETURNED, EXPIRED, NOT_ANSWERING } health_kind;

static cJSON *strings_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (push(a, cJSON_CreateString(v[i]))) return done(a, 1);
    return a;
}

static cJSON *health_doc_json(const kb_health_doc *d, health_kind kind)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int failed = add_text(o, "id", d->id) || add_text(o, "title", d->title);
    if (!failed && kind == NEVER_RETURNED)
        failed = add_array(o, "categories", strings_json(d->categories, d->n_categories)) ||
                 add_text(o, "updated", d->updated[0] ? d->updated : NULL);
    else if (!failed && kind == EXPIRED)
        failed = add_text(o, "valid_until", d->valid_until);
    else if (!failed)
        failed = add_num(o, "not_found", (double)d->not_found) ||
                 add_num(o, "help_overrides", (double)d->help_overrides) ||
                 add_num(o, "agents", (double)d->agents);
    return done(o, failed);
}

/* "NAME": [documents], "NAME_total": how many belong in the list. */
static int add_health_list(cJSON *o, const char *name, const kb_health_list *l, health_kind kind)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < l->n; i++)
        if (push(a, health_doc_json(&l->docs[i], kind))) a = done(a, 1);
    char total[40];
    snprintf(total, sizeof total, "%s_total", name);
    return add_array(o, name, a) || add_num(o, total, (double)l->total) ? -1 : 0;
}

cJSON *searchd_json_content_health(const kb_content_health *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int failed = add_num(o, "days", h->days) || add_num(o, "documents", (double)h->documents) ||
                 add_num(o, "index_revision", (double)h->index_revision) ||
                 add_health_list(o, "never_returned", &h->never_returned, NEVER_RETURNED) ||
                 add_health_list(o, "expired", &h->expired, EXPIRED) ||
                 add_health_list(o, "not_answering", &h->not_answering, NOT_ANSWERING);
    return done(o, failed);
}
