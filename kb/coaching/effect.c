/*
 * effect.c — whether coaching worked (see kb/coaching.h; the definitions are in
 * docs/COACHING.md, "Coaching effect").
 *
 * For each session, the agent's help requests in the N weeks before the session day and the N
 * weeks after it (from the next day: the session day itself is in neither, since requests that
 * day may have come before or after the talk); per team, the coached agents' windows summed
 * against those of the team's agents without a session in the report's range, over the same
 * windows. Shape: one indexed range scan (help_requests_time) reads every request from the
 * earliest "before" window to the latest "after" window into an array in time order, with each
 * agent numbered once; each window is then a binary search and a walk, so the cost is the
 * requests inside windows, not the store's size.
 */
#include "kb/coaching.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/review.h"
#include "coaching/coaching_internal.h"
#include "util/strmap.h"

typedef struct {
    int64_t t;
    int agent;            /* index into the agents */
    unsigned char answerable, must_know;
    char *doc;            /* the answering document; NULL unless answerable */
} request;

typedef struct {
    char *id, *team;      /* team "" when the agent is not in the agents list or has none */
    int coached;          /* has a session in the report's range */
    int seen_for;         /* team index + 1 the agent was last counted for (distinct counts) */
} agent;

typedef struct {
    request *req;
    size_t n_req, cap_req;
    agent *agents;
    size_t n_agents, cap_agents;
    kb_strmap index;      /* agent id -> position, as text */
} data;

typedef struct {
    int requests, answered, must_know;
} tally;

static void data_free(data *d)
{
    for (size_t i = 0; i < d->n_req; i++) free(d->req[i].doc);
    free(d->req);
    for (size_t i = 0; i < d->n_agents; i++) {
        free(d->agents[i].id);
        free(d->agents[i].team);
    }
    free(d->agents);
    kb_strmap_free(&d->index);
}

/* The agent's number, added when new (team may be NULL). -1 when out of memory. */
static int agent_for(data *d, const char *id, const char *team)
{
    const char *at = kb_strmap_get(&d->index, id);
    if (at) return (int)strtol(at, NULL, 10);
    if (d->n_agents == d->cap_agents) {
        size_t cap = d->cap_agents ? d->cap_agents * 2 : 64;
        agent *v = realloc(d->agents, cap * sizeof *v);
        if (!v) return -1;
        d->agents = v;
        d->cap_agents = cap;
    }
    agent *a = &d->agents[d->n_agents];
    memset(a, 0, sizeof *a);
    a->id = strdup(id);
    a->team = strdup(team ? team : "");
    char pos[24];
    snprintf(pos, sizeof pos, "%zu", d->n_agents);
    if (!a->id || !a->team || kb_strmap_put(&d->index, id, pos) != 0) {
        free(a->id);
        free(a->team);
        return -1;
    }
    return (int)d->n_agents++;
}

static double round4(double v) { return round(v * 10000) / 10000; }

static void finish(kb_effect_window *w, const tally *t)
{
    w->requests = t->requests;
    w->kb_answered = t->answered;
    w->must_know_misses = t->must_know;
    w->share = t->requests ? round4((double)t->answered / t->requests) : NAN;
    w->must_know_share = t->requests ? round4((double)t->must_know / t->requests) : NAN;
}

static double change(double before, double after)
{
    return isnan(before) || isnan(after) ? NAN : round4(after - before);
}

/* The first request at or after t. */
static size_t first_at(const data *d, int64_t t)
{
    size_t lo = 0, hi = d->n_req;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->req[mid].t < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void add(tally *t, const request *r)
{
    t->requests++;
    t->answered += r->answerable;
    t->must_know += r->answerable && r->must_know;
}

void kb_effect_report_free(kb_effect_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_rows; i++) {
        kb_effect_row *o = &r->rows[i];
        free(o->agent);
        free(o->agent_name);
        free(o->team);
        free(o->lead);
        for (size_t k = 0; k < o->n_asked_again_docs; k++) free(o->asked_again_docs[k]);
        free(o->asked_again_docs);
    }
    free(r->rows);
    for (size_t i = 0; i < r->n_teams; i++) free(r->teams[i].team);
    free(r->teams);
    memset(r, 0, sizeof *r);
}

/* The sessions of the report, oldest first, with their documents. */
static int load_sessions(kb_coaching *c, const kb_effect_params *p, kb_coaching_page *out)
{
    memset(out, 0, sizeof *out);
    kb_db_stmt *s;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " SESSION_COLUMNS " FROM " SESSION_FROM
             " WHERE s.day >= ?1 AND s.day <= ?2%s ORDER BY s.day, s.id",
             p->team ? " AND coalesce(a.team, '') = ?3" : "");
    if (kb_db_prepare(c->conn.kdb, sql, &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot read coaching sessions");
    kb_db_bind_text(s, 1, p->from ? p->from : "0000-00-00");
    kb_db_bind_text(s, 2, p->to ? p->to : "9999-99-99");
    if (p->team) kb_db_bind_text(s, 3, p->team);
    size_t cap = 0;
    int step, rc = KB_OK;
    while ((step = kb_db_step(s)) == KB_DB_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            kb_coaching_session *v = realloc(out->items, cap * sizeof *v);
            if (!v) break;
            out->items = v;
        }
        if (kb_coaching_read_session(s, &out->items[out->n]) != 0) {
            kb_coaching_session_free(&out->items[out->n]);
            break;
        }
        out->n++;
    }
    kb_db_finalize(s);
    if (step == KB_DB_ROW) rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    else if (step != KB_DB_DONE) rc = kb_store_conn_sql_fail(&c->conn, "cannot read coaching sessions");
    for (size_t i = 0; rc == KB_OK && i < out->n; i++) rc = kb_coaching_read_docs(c, &out->items[i]);
    return rc;
}

/* Every request in [from, to) in time order, agents numbered. */
static int load_requests(kb_coaching *c, int64_t from, int64_t to, data *d)
{
    kb_db_stmt *s;
    if (kb_db_prepare(c->conn.kdb, "SELECT h.agent, h.time_ms, " COACHING_ANSWERABLE_SQL ", h.must_know, "
                           COACHING_DOC_SQL ", a.team FROM help_requests h LEFT JOIN agents a "
                           "ON a.agent_id = h.agent WHERE h.time_ms >= ?1 AND h.time_ms < ?2 "
                           "ORDER BY h.time_ms", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot read help requests");
    kb_db_bind_int64(s, 1, from);
    kb_db_bind_int64(s, 2, to);
    int step, oom = 0;
    while ((step = kb_db_step(s)) == KB_DB_ROW) {
        if (d->n_req == d->cap_req) {
            size_t cap = d->cap_req ? d->cap_req * 2 : 1024;
            request *v = realloc(d->req, cap * sizeof *v);
            if (!v) {
                oom = 1;
                break;
            }
            d->req = v;
            d->cap_req = cap;
        }
        const char *id = kb_db_column_text(s, 0);
        int a = agent_for(d, id ? id : "", kb_db_column_text(s, 5));
        if (a < 0) {
            oom = 1;
            break;
        }
        request *r = &d->req[d->n_req];
        r->t = kb_db_column_int64(s, 1);
        r->agent = a;
        r->answerable = (int)kb_db_column_int64(s, 2) != 0;
        r->must_know = (int)kb_db_column_int64(s, 3) != 0;
        r->doc = NULL;
        if (r->answerable && kb_db_column_dup(s, 4, &r->doc) != 0) {
            oom = 1;
            break;
        }
        d->n_req++;
    }
    kb_db_finalize(s);
    if (oom) return kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    if (step != KB_DB_DONE) return kb_store_conn_sql_fail(&c->conn, "cannot read help requests");
    return KB_OK;
}

/* A team's running sums while the sessions are walked. */
typedef struct {
    tally cb, ca, ub, ua; /* coached before/after, uncoached before/after */
    int sessions, coached_agents, uncoached_agents;
} team_sums;

/* The team's index in out->teams (added when new). -1 when out of memory. */
static int team_for(kb_effect_report *out, team_sums **sums, const char *team)
{
    for (size_t i = 0; i < out->n_teams; i++)
        if (!strcmp(out->teams[i].team, team)) return (int)i;
    kb_effect_team *v = realloc(out->teams, (out->n_teams + 1) * sizeof *v);
    if (!v) return -1;
    out->teams = v;
    team_sums *w = realloc(*sums, (out->n_teams + 1) * sizeof *w);
    if (!w) return -1;
    *sums = w;
    memset(&v[out->n_teams], 0, sizeof *v);
    memset(&w[out->n_teams], 0, sizeof *w);
    if (!(v[out->n_teams].team = strdup(team))) return -1;
    return (int)out->n_teams++;
}

/* One session's row, and its windows added to its team's sums. 0, or -1 when out of memory. */
static int count_session(const kb_coaching_session *s, const kb_effect_params *p, data *d,
                         int team, team_sums *ts, kb_effect_row *o)
{
    int64_t b0, b1, a0, a1;
    kb_coaching_day_ms(s->day, -7 * p->weeks, &b0);
    kb_coaching_day_ms(s->day, 0, &b1);
    kb_coaching_day_ms(s->day, 1, &a0);
    kb_coaching_day_ms(s->day, 1 + 7 * p->weeks, &a1);
    const char *at = kb_strmap_get(&d->index, s->agent);
    int me = at ? (int)strtol(at, NULL, 10) : -1;
    const char *team_name = me >= 0 ? d->agents[me].team : "";
    tally before = {0}, after = {0};
    char *asked = s->n_docs ? calloc(s->n_docs, 1) : NULL;
    if (s->n_docs && !asked) return -1;
    for (int side = 0; side < 2; side++) {
        int64_t from = side ? a0 : b0, to = side ? a1 : b1;
        for (size_t i = first_at(d, from); i < d->n_req && d->req[i].t < to; i++) {
            const request *r = &d->req[i];
            agent *who = &d->agents[r->agent];
            if (r->agent == me) {
                add(side ? &after : &before, r);
                for (size_t k = 0; side && r->doc && k < s->n_docs; k++)
                    if (!strcmp(r->doc, s->docs[k].doc_id)) {
                        o->asked_again++;
                        asked[k] = 1;
                    }
            } else if (!who->coached && !strcmp(who->team, team_name)) {
                add(side ? &ts->ua : &ts->ub, r);
                if (who->seen_for != team + 1) {
                    who->seen_for = team + 1;
                    ts->uncoached_agents++;
                }
            }
        }
    }
    finish(&o->before, &before);
    finish(&o->after, &after);
    o->share_change = change(o->before.share, o->after.share);
    o->must_know_change = after.must_know - before.must_know;
    o->complete = p->now_ms >= a1;
    ts->cb.requests += before.requests, ts->cb.answered += before.answered;
    ts->cb.must_know += before.must_know;
    ts->ca.requests += after.requests, ts->ca.answered += after.answered;
    ts->ca.must_know += after.must_know;
    ts->sessions++;
    int oom = 0;
    for (size_t k = 0; k < s->n_docs; k++) {
        if (!asked[k]) continue;
        if (!o->asked_again_docs && !(o->asked_again_docs = calloc(s->n_docs, sizeof(char *)))) {
            oom = 1;
            break;
        }
        if (!(o->asked_again_docs[o->n_asked_again_docs] = strdup(s->docs[k].doc_id))) {
            oom = 1;
            break;
        }
        o->n_asked_again_docs++;
    }
    free(asked);
    return oom ? -1 : 0;
}

static int cmp_teams(const void *a, const void *b)
{
    return strcmp(((const kb_effect_team *)a)->team, ((const kb_effect_team *)b)->team);
}

static int copy_row(kb_effect_row *o, const kb_coaching_session *s, const data *d)
{
    o->session_id = s->id;
    memcpy(o->day, s->day, sizeof o->day);
    o->n_docs = s->n_docs;
    const char *at = kb_strmap_get(&d->index, s->agent);
    const char *team = at ? d->agents[strtol(at, NULL, 10)].team : "";
    return !(o->agent = strdup(s->agent)) || !(o->lead = strdup(s->lead ? s->lead : "")) ||
                   !(o->team = strdup(team)) ||
                   (s->agent_name && !(o->agent_name = strdup(s->agent_name)))
               ? -1
               : 0;
}

int kb_coaching_effect(kb_coaching *c, const kb_effect_params *params, kb_effect_report *out)
{
    c->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_effect_params p = *params;
    if (!p.weeks) p.weeks = 4;
    if (p.weeks < 1 || p.weeks > KB_COACHING_MAX_WEEKS)
        return kb_store_conn_fail(&c->conn, KB_INVALID, "weeks must be from 1 to %d",
                                  KB_COACHING_MAX_WEEKS);
    int64_t ms;
    if ((p.from && kb_review_parse_date(p.from, &ms) != 0) ||
        (p.to && kb_review_parse_date(p.to, &ms) != 0))
        return kb_store_conn_fail(&c->conn, KB_INVALID, "from and to must be days, YYYY-MM-DD");
    out->weeks = p.weeks;
    kb_coaching_page sessions;
    data d = {0};
    kb_strmap_init(&d.index);
    team_sums *sums = NULL;
    int rc = load_sessions(c, &p, &sessions);
    if (rc != KB_OK || !sessions.n) goto done;
    int64_t from, to, t;
    kb_coaching_day_ms(sessions.items[0].day, -7 * p.weeks, &from);
    kb_coaching_day_ms(sessions.items[sessions.n - 1].day, 1 + 7 * p.weeks, &to);
    for (size_t i = 0; i < sessions.n; i++) { /* days sort as text; mktime may not agree on DST */
        if (kb_coaching_day_ms(sessions.items[i].day, -7 * p.weeks, &t) == 0 && t < from) from = t;
        if (kb_coaching_day_ms(sessions.items[i].day, 1 + 7 * p.weeks, &t) == 0 && t > to) to = t;
    }
    rc = load_requests(c, from, to, &d);
    if (rc != KB_OK) goto done;
    /* The coached agents, numbered too when they have no request in the windows. */
    for (size_t i = 0; i < sessions.n; i++) {
        int a = agent_for(&d, sessions.items[i].agent, sessions.items[i].team);
        if (a < 0) goto oom;
        d.agents[a].coached = 1;
    }
    if (!(out->rows = calloc(sessions.n, sizeof *out->rows))) goto oom;
    int *counted = calloc(d.n_agents, sizeof *counted); /* coached agents counted per team */
    if (!counted) goto oom;
    for (size_t i = 0; i < sessions.n; i++) {
        kb_effect_row *o = &out->rows[out->n_rows++];
        const kb_coaching_session *s = &sessions.items[i];
        int team;
        if (copy_row(o, s, &d) != 0 || (team = team_for(out, &sums, o->team)) < 0 ||
            count_session(s, &p, &d, team, &sums[team], o) != 0) {
            free(counted);
            goto oom;
        }
        int a = (int)strtol(kb_strmap_get(&d.index, s->agent), NULL, 10);
        if (!counted[a]) {
            counted[a] = 1;
            sums[team].coached_agents++;
        }
    }
    free(counted);
    for (size_t i = 0; i < out->n_teams; i++) {
        kb_effect_team *x = &out->teams[i];
        const team_sums *ts = &sums[i];
        x->sessions = ts->sessions;
        x->coached_agents = ts->coached_agents;
        x->uncoached_agents = ts->uncoached_agents;
        finish(&x->coached_before, &ts->cb);
        finish(&x->coached_after, &ts->ca);
        finish(&x->uncoached_before, &ts->ub);
        finish(&x->uncoached_after, &ts->ua);
        x->coached_change = change(x->coached_before.share, x->coached_after.share);
        x->uncoached_change = change(x->uncoached_before.share, x->uncoached_after.share);
        x->coached_must_know_change =
            change(x->coached_before.must_know_share, x->coached_after.must_know_share);
        x->uncoached_must_know_change =
            change(x->uncoached_before.must_know_share, x->uncoached_after.must_know_share);
        x->difference = change(x->uncoached_change, x->coached_change);
    }
    if (out->n_teams) qsort(out->teams, out->n_teams, sizeof *out->teams, cmp_teams);
    goto done;
oom:
    rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
done:
    free(sums);
    data_free(&d);
    kb_coaching_page_free(&sessions);
    if (rc != KB_OK) kb_effect_report_free(out);
    return rc;
}
