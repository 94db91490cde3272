/*
 * review_report.c — help requests per agent or team and month: how many, the share the
 * knowledge base already answered, the trend, who stands out, and what each should study
 * (see kb/review.h; formulas in docs/GAPS.md, "Reports").
 *
 * One indexed range scan (help_requests_time) reads the requests of the trend window with their
 * effective verdict and the agent's team; everything else is counted in memory, per agent first
 * (teams are sums of their agents, and "stands out" is decided per agent). 100,000 requests are
 * counted in a few tens of milliseconds.
 */
#include "kb/review.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/strmap.h"
#include "review/review_internal.h"

#define MAX_MONTHS 24

/* ---------------------------------------------------------------- months */

int kb_review_parse_month(const char *text, int *year, int *month)
{
    int y, m;
    char tail;
    if (!text || strlen(text) != 7 || sscanf(text, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 ||
        y > 9999 || m < 1 || m > 12 || text[4] != '-')
        return -1;
    *year = y;
    *month = m;
    return 0;
}

static int64_t local_ms(int year, int month, int day)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

void kb_review_month_bounds(int year, int month, int64_t *start_ms, int64_t *end_ms)
{
    *start_ms = local_ms(year, month, 1);
    *end_ms = month == 12 ? local_ms(year + 1, 1, 1) : local_ms(year, month + 1, 1);
}

int kb_review_parse_date(const char *text, int64_t *start_ms)
{
    int y, m, d;
    char tail;
    if (!text || strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        text[4] != '-' || text[7] != '-' || y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *start_ms = local_ms(y, m, d);
    return 0;
}

void kb_report_defaults(kb_report_params *p)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    memset(p, 0, sizeof *p);
    p->year = tm.tm_year + 1900;
    p->month = tm.tm_mon + 1;
    p->months = 6;
    p->threshold = 0.5;
    p->min_requests = 3;
    p->persist = 3;
    p->study = 5;
}

/* ---------------------------------------------------------------- counting */

typedef struct {
    char *doc;
    int count;
} doc_count;

typedef struct {
    char *key;   /* agent id or team */
    char *name;  /* agents: from the agents list */
    char *team;
    int requests[MAX_MONTHS], answered[MAX_MONTHS];
    doc_count *docs;
    size_t n_docs, cap_docs;
    int persistent;
    int agents_in_month;     /* teams: agents with a request in the reported month */
    int persistent_agents;   /* teams: agents who stand out */
} row;

typedef struct {
    row *v;
    size_t n, cap;
    kb_strmap index; /* key -> position in v, as text */
} rows;

static row *row_for(rows *t, const char *key)
{
    const char *at = kb_strmap_get(&t->index, key);
    if (at) return &t->v[strtoul(at, NULL, 10)];
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        row *v = realloc(t->v, cap * sizeof *v);
        if (!v) return NULL;
        t->v = v;
        t->cap = cap;
    }
    row *r = &t->v[t->n];
    memset(r, 0, sizeof *r);
    r->key = strdup(key);
    char pos[24];
    snprintf(pos, sizeof pos, "%zu", t->n);
    if (!r->key || kb_strmap_put(&t->index, key, pos) != 0) {
        free(r->key);
        return NULL;
    }
    t->n++;
    return r;
}

static int add_doc(row *r, const char *doc, int count)
{
    for (size_t i = 0; i < r->n_docs; i++)
        if (strcmp(r->docs[i].doc, doc) == 0) {
            r->docs[i].count += count;
            return 0;
        }
    if (r->n_docs == r->cap_docs) {
        size_t cap = r->cap_docs ? r->cap_docs * 2 : 4;
        doc_count *v = realloc(r->docs, cap * sizeof *v);
        if (!v) return -1;
        r->docs = v;
        r->cap_docs = cap;
    }
    r->docs[r->n_docs].doc = strdup(doc);
    if (!r->docs[r->n_docs].doc) return -1;
    r->docs[r->n_docs++].count = count;
    return 0;
}

static void rows_free(rows *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].name);
        free(t->v[i].team);
        for (size_t d = 0; d < t->v[i].n_docs; d++) free(t->v[i].docs[d].doc);
        free(t->v[i].docs);
    }
    free(t->v);
    kb_strmap_free(&t->index);
}

static double share(int answered, int requests) { return requests ? (double)answered / requests : 0; }

/* A high month: enough requests, and at least the threshold answered by the knowledge base. */
static int high(const row *r, int m, const kb_report_params *p)
{
    return r->requests[m] >= p->min_requests &&
           share(r->answered[m], r->requests[m]) >= p->threshold;
}

/* Stands out: the last `persist` months of the window (ending with the reported one) are all
 * high. */
static int stands_out(const row *r, int n_months, const kb_report_params *p)
{
    int need = p->persist < 1 ? 1 : p->persist;
    if (need > n_months) return 0;
    for (int m = n_months - need; m < n_months; m++)
        if (!high(r, m, p)) return 0;
    return 1;
}

static int cmp_docs(const void *a, const void *b)
{
    const doc_count *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->doc, y->doc);
}

/* Most answered-by-the-KB requests in the reported month (index *arg) first. */
static int cmp_rows(const void *a, const void *b, void *arg)
{
    const row *x = a, *y = b;
    int m = *(const int *)arg;
    if (x->answered[m] != y->answered[m]) return y->answered[m] - x->answered[m];
    double sx = share(x->answered[m], x->requests[m]), sy = share(y->answered[m], y->requests[m]);
    if (sx != sy) return sy > sx ? 1 : -1;
    if (x->requests[m] != y->requests[m]) return y->requests[m] - x->requests[m];
    return strcmp(x->key, y->key);
}

static double round4(double v) { return (double)(long long)(v * 10000 + 0.5) / 10000; }

static void add_share(cJSON *o, const char *key, int answered, int requests)
{
    if (requests) cJSON_AddNumberToObject(o, key, round4(share(answered, requests)));
    else cJSON_AddNullToObject(o, key);
}

/* ---------------------------------------------------------------- the report */

cJSON *kb_review_report(kb_review *rv, const kb_report_params *params)
{
    rv->code = KB_REVIEW_OK;
    kb_report_params p = *params;
    if (p.months < 1 || p.months > MAX_MONTHS) {
        kb_review_fail(rv, KB_REVIEW_INVALID, "months must be from 1 to %d", MAX_MONTHS);
        return NULL;
    }
    if (p.month < 1 || p.month > 12) {
        kb_review_fail(rv, KB_REVIEW_INVALID, "month must be YYYY-MM");
        return NULL;
    }
    if (!p.study) p.study = 5;
    /* The window covers the trend and the months that decide "stands out". */
    int n = p.months > p.persist ? p.months : (p.persist > MAX_MONTHS ? MAX_MONTHS : p.persist);
    int year[MAX_MONTHS], mon[MAX_MONTHS];
    int64_t start[MAX_MONTHS + 1];
    for (int i = 0; i < n; i++) {
        int back = n - 1 - i, y = p.year, m = p.month - back;
        while (m < 1) m += 12, y--;
        year[i] = y;
        mon[i] = m;
        int64_t end;
        kb_review_month_bounds(y, m, &start[i], &end);
        if (i == n - 1) start[n] = end;
    }

    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            rv->db,
            "SELECT h.agent, h.time_ms, coalesce(h.override_answerable, h.kb_answerable), "
            "CASE WHEN h.override_answerable IS NOT NULL THEN h.override_doc_id ELSE h.doc_id END, "
            "a.name, a.team FROM help_requests h LEFT JOIN agents a ON a.agent_id = h.agent "
            "WHERE h.time_ms >= ?1 AND h.time_ms < ?2",
            -1, &s, NULL) != SQLITE_OK) {
        kb_review_sql_fail(rv, "cannot read help requests");
        return NULL;
    }
    sqlite3_bind_int64(s, 1, start[0]);
    sqlite3_bind_int64(s, 2, start[n]);
    rows agents = {0};
    kb_strmap_init(&agents.index);
    int rc, oom = 0;
    /* Trend months shown: the last p.months of the window; "study" counts over those too. */
    int first_shown = n - p.months;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *agent = (const char *)sqlite3_column_text(s, 0);
        int64_t t = sqlite3_column_int64(s, 1);
        int m = 0;
        while (m + 1 < n && t >= start[m + 1]) m++;
        row *r = row_for(&agents, agent ? agent : "");
        if (!r) {
            oom = 1;
            break;
        }
        if (!r->name && sqlite3_column_type(s, 4) != SQLITE_NULL) {
            r->name = strdup((const char *)sqlite3_column_text(s, 4));
            r->team = strdup((const char *)sqlite3_column_text(s, 5));
        }
        r->requests[m]++;
        int answerable = sqlite3_column_int(s, 2) != 0;
        r->answered[m] += answerable;
        const char *doc = (const char *)sqlite3_column_text(s, 3);
        if (answerable && doc && m >= first_shown && add_doc(r, doc, 1) != 0) {
            oom = 1;
            break;
        }
    }
    sqlite3_finalize(s);
    if (oom || rc != SQLITE_DONE) {
        if (oom) kb_review_fail(rv, KB_REVIEW_ERROR, "out of memory");
        else kb_review_sql_fail(rv, "cannot read help requests");
        rows_free(&agents);
        return NULL;
    }
    for (size_t i = 0; i < agents.n; i++) agents.v[i].persistent = stands_out(&agents.v[i], n, &p);

    rows teams = {0};
    kb_strmap_init(&teams.index);
    rows *out_rows = &agents;
    if (p.by_team) {
        for (size_t i = 0; i < agents.n && !oom; i++) {
            const row *a = &agents.v[i];
            row *t = row_for(&teams, a->team ? a->team : "");
            if (!t) {
                oom = 1;
                break;
            }
            for (int m = 0; m < n; m++) {
                t->requests[m] += a->requests[m];
                t->answered[m] += a->answered[m];
            }
            t->agents_in_month += a->requests[n - 1] > 0;
            t->persistent_agents += a->persistent;
            for (size_t d = 0; d < a->n_docs && !oom; d++)
                if (add_doc(t, a->docs[d].doc, a->docs[d].count) != 0) oom = 1;
        }
        for (size_t i = 0; i < teams.n; i++) teams.v[i].persistent = stands_out(&teams.v[i], n, &p);
        out_rows = &teams;
    }
    if (oom) {
        kb_review_fail(rv, KB_REVIEW_ERROR, "out of memory");
        rows_free(&agents);
        rows_free(&teams);
        return NULL;
    }
    int last_month = n - 1;
    if (out_rows->n) /* qsort_r on a NULL array is undefined even for 0 elements */
        qsort_r(out_rows->v, out_rows->n, sizeof *out_rows->v, cmp_rows, &last_month);

    cJSON *out = cJSON_CreateObject();
    char label[16];
    cJSON_AddStringToObject(out, "by", p.by_team ? "team" : "agent");
    snprintf(label, sizeof label, "%04d-%02d", p.year % 10000, p.month % 100);
    cJSON_AddStringToObject(out, "month", label);
    cJSON *months = cJSON_AddArrayToObject(out, "months");
    for (int m = first_shown; m < n; m++) {
        snprintf(label, sizeof label, "%04d-%02d", year[m] % 10000, mon[m] % 100);
        cJSON_AddItemToArray(months, cJSON_CreateString(label));
    }
    cJSON_AddNumberToObject(out, "threshold", p.threshold);
    cJSON_AddNumberToObject(out, "min_requests", p.min_requests);
    cJSON_AddNumberToObject(out, "persist", p.persist);
    int total_req = 0, total_ans = 0;
    for (size_t i = 0; i < agents.n; i++) {
        total_req += agents.v[i].requests[n - 1];
        total_ans += agents.v[i].answered[n - 1];
    }
    cJSON *totals = cJSON_AddObjectToObject(out, "totals");
    cJSON_AddNumberToObject(totals, "requests", total_req);
    cJSON_AddNumberToObject(totals, "kb_answered", total_ans);
    add_share(totals, "share", total_ans, total_req);

    cJSON *list = cJSON_AddArrayToObject(out, "rows");
    for (size_t i = 0; i < out_rows->n; i++) {
        row *r = &out_rows->v[i];
        int shown = 0;
        for (int m = first_shown; m < n; m++) shown |= r->requests[m] > 0;
        if (!shown) continue;
        cJSON *o = cJSON_CreateObject();
        if (p.by_team) {
            cJSON_AddStringToObject(o, "team", r->key);
            cJSON_AddNumberToObject(o, "agents", r->agents_in_month);
        } else {
            cJSON_AddStringToObject(o, "agent", r->key);
            if (r->name) cJSON_AddStringToObject(o, "name", r->name);
            else cJSON_AddNullToObject(o, "name");
            if (r->team) cJSON_AddStringToObject(o, "team", r->team);
            else cJSON_AddNullToObject(o, "team");
        }
        int m = n - 1;
        cJSON_AddNumberToObject(o, "requests", r->requests[m]);
        cJSON_AddNumberToObject(o, "kb_answered", r->answered[m]);
        add_share(o, "share", r->answered[m], r->requests[m]);
        if (m >= 1) add_share(o, "previous_share", r->answered[m - 1], r->requests[m - 1]);
        else cJSON_AddNullToObject(o, "previous_share");
        if (m >= 1 && r->requests[m] && r->requests[m - 1])
            cJSON_AddNumberToObject(o, "change",
                                    round4(share(r->answered[m], r->requests[m]) -
                                           share(r->answered[m - 1], r->requests[m - 1])));
        else cJSON_AddNullToObject(o, "change");
        cJSON_AddBoolToObject(o, "persistent", r->persistent);
        if (p.by_team) cJSON_AddNumberToObject(o, "persistent_agents", r->persistent_agents);
        cJSON *trend = cJSON_AddArrayToObject(o, "trend");
        for (int k = first_shown; k < n; k++) {
            cJSON *t = cJSON_CreateObject();
            snprintf(label, sizeof label, "%04d-%02d", year[k] % 10000, mon[k] % 100);
            cJSON_AddStringToObject(t, "month", label);
            cJSON_AddNumberToObject(t, "requests", r->requests[k]);
            cJSON_AddNumberToObject(t, "kb_answered", r->answered[k]);
            add_share(t, "share", r->answered[k], r->requests[k]);
            cJSON_AddItemToArray(trend, t);
        }
        if (r->n_docs) qsort(r->docs, r->n_docs, sizeof *r->docs, cmp_docs);
        cJSON *study = cJSON_AddArrayToObject(o, "study");
        for (size_t d = 0; d < r->n_docs && d < p.study; d++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "doc_id", r->docs[d].doc);
            cJSON_AddNumberToObject(x, "count", r->docs[d].count);
            cJSON_AddItemToArray(study, x);
        }
        cJSON_AddItemToArray(list, o);
    }
    rows_free(&agents);
    rows_free(&teams);
    return out;
}
