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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/strmap.h"
#include "review/review_internal.h"

#define MAX_MONTHS KB_REPORT_MAX_MONTHS

/* ---------------------------------------------------------------- months */

/* The n digits at s as a number, or -1 when any of them is not a digit (sscanf's %d would also
 * take a sign or a blank there). */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int kb_review_parse_month(const char *text, int *year, int *month)
{
    if (!text || strlen(text) != 7 || text[4] != '-') return -1;
    int y = digits(text, 4), m = digits(text + 5, 2);
    if (y < 1970 || m < 1 || m > 12) return -1;
    *year = y;
    *month = m;
    return 0;
}

/* Days in a month of the Gregorian calendar. */
static int month_days(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
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
    /* A day the calendar has, not one mktime would move into the next month (2026-02-30 is
     * no March 2nd: whoever typed it meant another day, and should say which). */
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-') return -1;
    int y = digits(text, 4), m = digits(text + 5, 2), d = digits(text + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m)) return -1;
    *start_ms = local_ms(y, m, d);
    return 0;
}

int kb_review_window_reversed(const char *from, const char *to)
{
    int64_t a, b;
    /* Days are YYYY-MM-DD, so their byte order is their order in time. */
    return from && to && kb_review_parse_date(from, &a) == 0 && kb_review_parse_date(to, &b) == 0 &&
           strcmp(from, to) > 0;
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
    p->must_know_min = 1;
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
    int requests[MAX_MONTHS], answered[MAX_MONTHS], must_know[MAX_MONTHS];
    doc_count *docs;
    size_t n_docs, cap_docs;
    int persistent, must_know_persistent;
    int agents_in_month;     /* teams: agents with a request in the reported month */
    int persistent_agents;   /* teams: agents who stand out */
    int must_know_persistent_agents; /* teams: agents who stand out on must-know */
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

/* Stands out on must-know: each of the last `persist` months of the window had at least
 * must_know_min must-know misses (a month without requests breaks the run: nothing was missed). */
static int stands_out_must_know(const row *r, int n_months, const kb_report_params *p)
{
    int need = p->persist < 1 ? 1 : p->persist, min = p->must_know_min < 1 ? 1 : p->must_know_min;
    if (need > n_months) return 0;
    for (int m = n_months - need; m < n_months; m++)
        if (r->must_know[m] < min) return 0;
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

/* To 4 decimals, halves away from zero (a change of share is often negative). */
static double round4(double v) { return round(v * 10000) / 10000; }

/* The rounded share, or NAN (no share) when there were no requests. */
static double share_or_none(int answered, int requests)
{
    return requests ? round4(share(answered, requests)) : NAN;
}

/* "2026-10" (years from 1970 on, so the remainders only keep the label within its 8 bytes). */
static void month_label(char out[8], int year, int month)
{
    snprintf(out, 8, "%04u-%02u", (unsigned)year % 10000u, (unsigned)month % 100u);
}

void kb_report_free(kb_report *rep)
{
    if (!rep) return;
    for (size_t i = 0; i < rep->n_rows; i++) {
        kb_report_row *o = &rep->rows[i];
        free(o->agent);
        free(o->name);
        free(o->team);
        free(o->trend);
        for (size_t d = 0; d < o->n_study; d++) free(o->study[d].doc_id);
        free(o->study);
    }
    free(rep->rows);
    memset(rep, 0, sizeof *rep);
}

/* The months counted: the trend's and those that decide "stands out", oldest first. */
typedef struct {
    int n;           /* months in the window; the last is the reported one */
    int first_shown; /* the trend shows (and "study" counts) months first_shown .. n - 1 */
    int year[MAX_MONTHS], mon[MAX_MONTHS];
    int64_t start[MAX_MONTHS + 1]; /* month i is [start[i], start[i + 1]) */
} window;

static void window_for(const kb_report_params *p, window *w)
{
    w->n = p->months > p->persist ? p->months : (p->persist > MAX_MONTHS ? MAX_MONTHS : p->persist);
    w->first_shown = w->n - p->months;
    for (int i = 0; i < w->n; i++) {
        int back = w->n - 1 - i, y = p->year, m = p->month - back;
        while (m < 1) m += 12, y--;
        w->year[i] = y;
        w->mon[i] = m;
        int64_t end;
        kb_review_month_bounds(y, m, &w->start[i], &end);
        if (i == w->n - 1) w->start[w->n] = end;
    }
}

/* One indexed range scan: every request of the window, counted per agent with its effective
 * verdict. KB_OK or the failure. */
static int count_agents(kb_review *rv, const window *w, const kb_report_params *p, rows *agents)
{
    kb_db_stmt *s;
    if (kb_db_prepare(rv->conn.kdb, "SELECT h.agent, h.time_ms, coalesce(h.override_answerable, h.kb_answerable), "
            "CASE WHEN h.override_answerable IS NOT NULL THEN h.override_doc_id ELSE h.doc_id END, "
            "a.name, a.team, h.must_know FROM help_requests h LEFT JOIN agents a ON a.agent_id = h.agent "
            "WHERE h.time_ms >= ?1 AND h.time_ms < ?2", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&rv->conn, "cannot read help requests");
    kb_db_bind_int64(s, 1, w->start[0]);
    kb_db_bind_int64(s, 2, w->start[w->n]);
    int rc, oom = 0;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        const char *agent = kb_db_column_text(s, 0);
        int64_t t = kb_db_column_int64(s, 1);
        int m = 0;
        while (m + 1 < w->n && t >= w->start[m + 1]) m++;
        row *r = row_for(agents, agent ? agent : "");
        if (!r) {
            oom = 1;
            break;
        }
        if (!r->name && !kb_db_column_is_null(s, 4)) {
            r->name = strdup(kb_db_column_text(s, 4));
            r->team = strdup(kb_db_column_text(s, 5));
            if (!r->name || !r->team) {
                oom = 1;
                break;
            }
        }
        r->requests[m]++;
        int answerable = (int)kb_db_column_int64(s, 2) != 0;
        r->answered[m] += answerable;
        r->must_know[m] += answerable && (int)kb_db_column_int64(s, 6) != 0;
        const char *doc = kb_db_column_text(s, 3);
        if (answerable && doc && m >= w->first_shown && add_doc(r, doc, 1) != 0) {
            oom = 1;
            break;
        }
    }
    kb_db_finalize(s);
    if (oom) return kb_store_conn_fail(&rv->conn, KB_ERROR, "out of memory");
    if (rc != KB_DB_DONE) return kb_store_conn_sql_fail(&rv->conn, "cannot read help requests");
    for (size_t i = 0; i < agents->n; i++) {
        agents->v[i].persistent = stands_out(&agents->v[i], w->n, p);
        agents->v[i].must_know_persistent = stands_out_must_know(&agents->v[i], w->n, p);
    }
    return KB_OK;
}

/* Teams are the sums of their agents; "stands out" is decided for the team's sums too. 0, or -1
 * when out of memory. */
static int sum_teams(const rows *agents, const window *w, const kb_report_params *p, rows *teams)
{
    for (size_t i = 0; i < agents->n; i++) {
        const row *a = &agents->v[i];
        row *t = row_for(teams, a->team ? a->team : "");
        if (!t) return -1;
        for (int m = 0; m < w->n; m++) {
            t->requests[m] += a->requests[m];
            t->answered[m] += a->answered[m];
            t->must_know[m] += a->must_know[m];
        }
        t->agents_in_month += a->requests[w->n - 1] > 0;
        t->persistent_agents += a->persistent;
        t->must_know_persistent_agents += a->must_know_persistent;
        for (size_t d = 0; d < a->n_docs; d++)
            if (add_doc(t, a->docs[d].doc, a->docs[d].count) != 0) return -1;
    }
    for (size_t i = 0; i < teams->n; i++) {
        teams->v[i].persistent = stands_out(&teams->v[i], w->n, p);
        teams->v[i].must_know_persistent = stands_out_must_know(&teams->v[i], w->n, p);
    }
    return 0;
}

/* Copy a counted row into the report's row o: the reported month is the window's last, the
 * trend its shown months. 0, or -1 when out of memory. */
static int fill_row(kb_report_row *o, row *r, const window *w, const kb_report *rep, size_t study)
{
    if (rep->by_team) {
        o->team = strdup(r->key);
        o->agents = r->agents_in_month;
        o->persistent_agents = r->persistent_agents;
        o->must_know_persistent_agents = r->must_know_persistent_agents;
        if (!o->team) return -1;
    } else {
        o->agent = strdup(r->key);
        if (!o->agent || (r->name && !(o->name = strdup(r->name))) ||
            (r->team && !(o->team = strdup(r->team))))
            return -1;
    }
    int m = w->n - 1;
    o->requests = r->requests[m];
    o->kb_answered = r->answered[m];
    o->share = share_or_none(r->answered[m], r->requests[m]);
    o->previous_share = m >= 1 ? share_or_none(r->answered[m - 1], r->requests[m - 1]) : NAN;
    o->change = m >= 1 && r->requests[m] && r->requests[m - 1]
                    ? round4(share(r->answered[m], r->requests[m]) -
                             share(r->answered[m - 1], r->requests[m - 1]))
                    : NAN;
    o->persistent = r->persistent;
    o->must_know_misses = r->must_know[m];
    o->must_know_share = share_or_none(r->must_know[m], r->requests[m]);
    o->must_know_persistent = r->must_know_persistent;
    o->trend = calloc((size_t)rep->n_months, sizeof *o->trend);
    if (!o->trend) return -1;
    for (int k = w->first_shown; k < w->n; k++) {
        kb_report_month *t = &o->trend[k - w->first_shown];
        memcpy(t->month, rep->months[k - w->first_shown], sizeof t->month);
        t->requests = r->requests[k];
        t->kb_answered = r->answered[k];
        t->share = share_or_none(r->answered[k], r->requests[k]);
        t->must_know_misses = r->must_know[k];
        t->must_know_share = share_or_none(r->must_know[k], r->requests[k]);
    }
    if (r->n_docs) qsort(r->docs, r->n_docs, sizeof *r->docs, cmp_docs);
    size_t n_study = r->n_docs < study ? r->n_docs : study;
    if (n_study && !(o->study = calloc(n_study, sizeof *o->study))) return -1;
    for (; o->n_study < n_study; o->n_study++) {
        o->study[o->n_study].count = r->docs[o->n_study].count;
        if (!(o->study[o->n_study].doc_id = strdup(r->docs[o->n_study].doc))) return -1;
    }
    return 0;
}

/* The report from the counted rows (sorted here): the parameters, the totals over all agents,
 * and each row with a request in the trend months. 0, or -1 when out of memory. */
static int fill_report(kb_report *out, rows *counted, const rows *agents, const window *w,
                       const kb_report_params *p)
{
    int last_month = w->n - 1;
    if (counted->n) /* qsort_r on a NULL array is undefined even for 0 elements */
        qsort_r(counted->v, counted->n, sizeof *counted->v, cmp_rows, &last_month);
    out->by_team = p->by_team;
    month_label(out->month, p->year, p->month);
    out->n_months = p->months;
    for (int m = w->first_shown; m < w->n; m++)
        month_label(out->months[m - w->first_shown], w->year[m], w->mon[m]);
    out->threshold = p->threshold;
    out->min_requests = p->min_requests;
    out->persist = p->persist;
    out->must_know_min = p->must_know_min;
    memcpy(out->totals.month, out->month, sizeof out->month);
    for (size_t i = 0; i < agents->n; i++) {
        out->totals.requests += agents->v[i].requests[last_month];
        out->totals.kb_answered += agents->v[i].answered[last_month];
        out->totals.must_know_misses += agents->v[i].must_know[last_month];
    }
    out->totals.share = share_or_none(out->totals.kb_answered, out->totals.requests);
    out->totals.must_know_share =
        share_or_none(out->totals.must_know_misses, out->totals.requests);
    if (counted->n && !(out->rows = calloc(counted->n, sizeof *out->rows))) return -1;
    for (size_t i = 0; i < counted->n; i++) {
        row *r = &counted->v[i];
        int shown = 0;
        for (int m = w->first_shown; m < w->n; m++) shown |= r->requests[m] > 0;
        if (!shown) continue;
        /* counted before filling, so kb_report_free frees a half-filled row too */
        if (fill_row(&out->rows[out->n_rows++], r, w, out, p->study) != 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the report */

int kb_review_report(kb_review *rv, const kb_report_params *params, kb_report *out)
{
    rv->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_report_params p = *params;
    if (p.months < 1 || p.months > MAX_MONTHS)
        return kb_store_conn_fail(&rv->conn, KB_INVALID, "months must be from 1 to %d", MAX_MONTHS);
    if (p.month < 1 || p.month > 12)
        return kb_store_conn_fail(&rv->conn, KB_INVALID, "month must be YYYY-MM");
    if (!p.study) p.study = 5;
    if (p.must_know_min < 1) p.must_know_min = 1;
    window w;
    window_for(&p, &w);
    rows agents = {0}, teams = {0};
    kb_strmap_init(&agents.index);
    kb_strmap_init(&teams.index);
    int rc = count_agents(rv, &w, &p, &agents);
    if (rc == KB_OK &&
        ((p.by_team && sum_teams(&agents, &w, &p, &teams) != 0) ||
         fill_report(out, p.by_team ? &teams : &agents, &agents, &w, &p) != 0))
        rc = kb_store_conn_fail(&rv->conn, KB_ERROR, "out of memory");
    rows_free(&agents);
    rows_free(&teams);
    if (rc != KB_OK) kb_report_free(out);
    return rc;
}
