/*
 * csv.c — kb-report's CSV output (see csv.h).
 */
#include "csv.h"

#include <math.h>
#include <string.h>

/* Whether a spreadsheet could run cell s as a formula: it starts with TAB or CR, or its first
 * character after leading whitespace (space, TAB, CR, LF, VT, FF, U+00A0, U+3000) is = + - or @.
 * Spreadsheets drop such whitespace on import, or take the cell for a formula anyway, so
 * "\t=HYPERLINK(...)" is as dangerous as "=HYPERLINK(...)". The leads' page builds its CSV by
 * the same rule (searchd/web/js/csv.js); both are tested against tests/data/csv-formulas.json. */
static int looks_like_formula(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (*p == '\t' || *p == '\r') return 1;
    for (;;) {
        if (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;                    /* TAB LF VT FF CR */
        else if (p[0] == 0xC2 && p[1] == 0xA0) p += 2;                       /* U+00A0 */
        else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) p += 3;       /* U+3000 */
        else break;
    }
    return *p == '=' || *p == '+' || *p == '-' || *p == '@';
}

/* A text field, quoted when needed; formula-like text defused with a leading apostrophe, so
 * that the spreadsheet reads the cell as text. */
static void text(FILE *out, const char *s)
{
    if (!s) return;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int formula = looks_like_formula(s);
    if (quote || formula) fputc('"', out);
    if (formula) fputc('\'', out);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', out);
        fputc(*p, out);
    }
    if (quote || formula) fputc('"', out);
}

/* A number cell as the JSON shows it: whole numbers as they are, others with 4 decimals; NAN
 * (JSON null) is an empty cell. */
static void value(FILE *out, double d)
{
    if (isnan(d)) return;
    if (d == (double)(long long)d) fprintf(out, "%lld", (long long)d);
    else fprintf(out, "%.4f", d);
}

/* A text cell after the separator (NULL: empty). */
static void field_str(FILE *out, const char *s)
{
    fputc(',', out);
    text(out, s);
}

static void field_int(FILE *out, int64_t v) { fprintf(out, ",%lld", (long long)v); }

/* A time cell after the separator: ISO 8601 UTC as in the JSON, empty for none. */
static void field_time(FILE *out, int64_t ms)
{
    char buf[32] = "";
    if (ms != KB_GAPS_NO_TIME) kb_gaps_iso_time(ms, buf);
    field_str(out, buf);
}

void report_csv_gaps(FILE *out, const kb_gap_page *page)
{
    fputs("id,status,impact,count,agents,variants,search,not_found,help_request,first_seen,"
          "last_seen,category,question,suggested_answer,answer_doc_id\r\n",
          out);
    for (size_t i = 0; i < page->n; i++) {
        const kb_gap_item *it = &page->items[i];
        fprintf(out, "%lld", (long long)it->id);
        field_str(out, it->status);
        field_int(out, it->impact);
        field_int(out, it->count);
        field_int(out, it->agents);
        field_int(out, it->variants_total);
        field_int(out, it->sources.search);
        field_int(out, it->sources.not_found);
        field_int(out, it->sources.help_request);
        field_time(out, it->first_seen_ms);
        field_time(out, it->last_seen_ms);
        field_str(out, it->category);
        field_str(out, it->question);
        field_str(out, it->suggested_answer);
        field_str(out, it->answer_doc_id);
        fputs("\r\n", out);
    }
}

static void field_value(FILE *out, double d)
{
    fputc(',', out);
    value(out, d);
}

void report_csv_help_requests(FILE *out, const kb_report *rep)
{
    fputs(rep->by_team ? "team,agents,month,requests,kb_answered,share,previous_share,change,"
                         "persistent,persistent_agents,must_know_misses,must_know_share,"
                         "must_know_persistent,must_know_persistent_agents"
                       : "agent,name,team,month,requests,kb_answered,share,previous_share,change,"
                         "persistent,must_know_misses,must_know_share,must_know_persistent",
          out);
    for (int m = 0; m < rep->n_months; m++) fprintf(out, ",share_%s", rep->months[m]);
    for (int m = 0; m < rep->n_months; m++) fprintf(out, ",must_know_misses_%s", rep->months[m]);
    fputs(",study\r\n", out);
    for (size_t i = 0; i < rep->n_rows; i++) {
        const kb_report_row *r = &rep->rows[i];
        if (rep->by_team) {
            text(out, r->team);
            field_value(out, r->agents);
        } else {
            text(out, r->agent);
            field_str(out, r->name);
            field_str(out, r->team);
        }
        field_str(out, rep->month);
        field_value(out, r->requests);
        field_value(out, r->kb_answered);
        field_value(out, r->share);
        field_value(out, r->previous_share);
        field_value(out, r->change);
        field_value(out, r->persistent);
        if (rep->by_team) field_value(out, r->persistent_agents);
        field_value(out, r->must_know_misses);
        field_value(out, r->must_know_share);
        field_value(out, r->must_know_persistent);
        if (rep->by_team) field_value(out, r->must_know_persistent_agents);
        for (int m = 0; m < rep->n_months; m++) field_value(out, r->trend[m].share);
        for (int m = 0; m < rep->n_months; m++) field_value(out, r->trend[m].must_know_misses);
        /* "doc:count;doc:count" */
        char buf[4096];
        size_t o = 0;
        buf[0] = '\0';
        for (size_t d = 0; d < r->n_study && o < sizeof buf - 1; d++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s:%d", o ? ";" : "",
                                  r->study[d].doc_id, r->study[d].count);
        field_str(out, buf);
        fputs("\r\n", out);
    }
}

/* The rows of one content-health list; only not_answering has counts. */
static void health_rows(FILE *out, const char *list, const kb_health_list *l, int counts)
{
    for (size_t i = 0; i < l->n; i++) {
        const kb_health_doc *d = &l->docs[i];
        fputs(list, out);
        field_str(out, d->id);
        field_str(out, d->title);
        field_str(out, d->valid_until); /* "" outside "expired" */
        if (counts) {
            field_int(out, d->not_found);
            field_int(out, d->help_overrides);
            field_int(out, d->agents);
        } else {
            fputs(",,,", out);
        }
        fputs("\r\n", out);
    }
}

void report_csv_health(FILE *out, const kb_content_health *health)
{
    fputs("list,id,title,valid_until,not_found,help_overrides,agents\r\n", out);
    health_rows(out, "never_returned", &health->never_returned, 0);
    health_rows(out, "expired", &health->expired, 0);
    health_rows(out, "not_answering", &health->not_answering, 1);
}

void report_csv_agents(FILE *out, const kb_agent_list *agents)
{
    fputs("id,name,team\r\n", out);
    for (size_t i = 0; i < agents->n; i++) {
        text(out, agents->v[i].id);
        field_str(out, agents->v[i].name);
        field_str(out, agents->v[i].team);
        fputs("\r\n", out);
    }
}

void report_csv_study(FILE *out, const char *agent, const kb_study_list *l)
{
    fputs("agent,doc_id,title,must_know,count,must_know_count,first_asked,last_asked,studied,"
          "studied_at,asked_since_studied\r\n",
          out);
    for (size_t i = 0; i < l->n; i++) {
        const kb_study_item *it = &l->items[i];
        text(out, agent);
        field_str(out, it->doc_id);
        field_str(out, it->title);
        field_int(out, it->must_know);
        field_int(out, it->count);
        field_int(out, it->must_know_count);
        field_time(out, it->first_ms);
        field_time(out, it->last_ms);
        field_int(out, it->studied);
        field_time(out, it->studied ? it->studied_ms : KB_GAPS_NO_TIME);
        field_int(out, it->asked_since_studied);
        fputs("\r\n", out);
    }
}

void report_csv_coaching_sessions(FILE *out, const kb_coaching_page *p)
{
    fputs("id,date,agent,agent_name,team,lead,documents,note,recorded_at\r\n", out);
    for (size_t i = 0; i < p->n; i++) {
        const kb_coaching_session *s = &p->items[i];
        fprintf(out, "%lld", (long long)s->id);
        field_str(out, s->day);
        field_str(out, s->agent);
        field_str(out, s->agent_name);
        field_str(out, s->team);
        field_str(out, s->lead);
        char buf[4096];
        size_t o = 0;
        buf[0] = '\0';
        for (size_t d = 0; d < s->n_docs && o < sizeof buf - 1; d++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? ";" : "", s->docs[d].doc_id);
        field_str(out, buf);
        field_str(out, s->note);
        field_time(out, s->recorded_ms);
        fputs("\r\n", out);
    }
}

/* requests, kb_answered, share, must_know_misses, must_know_share of a window. */
static void window_fields(FILE *out, const kb_effect_window *w)
{
    field_value(out, w->requests);
    field_value(out, w->kb_answered);
    field_value(out, w->share);
    field_value(out, w->must_know_misses);
    field_value(out, w->must_know_share);
}

void report_csv_coaching_effect(FILE *out, const kb_effect_report *r)
{
    /* One table: a row per session, then a row per team (kind tells them apart), so the file
     * opens as one sheet. */
    fputs("kind,session_id,date,agent,agent_name,team,lead,weeks,before_requests,"
          "before_kb_answered,before_share,before_must_know_misses,before_must_know_share,"
          "after_requests,after_kb_answered,after_share,after_must_know_misses,"
          "after_must_know_share,share_change,must_know_change,asked_again,asked_again_docs,"
          "complete,sessions,coached_agents,uncoached_agents,uncoached_before_requests,"
          "uncoached_before_kb_answered,uncoached_before_share,uncoached_before_must_know_misses,"
          "uncoached_before_must_know_share,uncoached_after_requests,uncoached_after_kb_answered,"
          "uncoached_after_share,uncoached_after_must_know_misses,uncoached_after_must_know_share,"
          "uncoached_change,difference\r\n",
          out);
    for (size_t i = 0; i < r->n_rows; i++) {
        const kb_effect_row *x = &r->rows[i];
        fprintf(out, "session,%lld", (long long)x->session_id);
        field_str(out, x->day);
        field_str(out, x->agent);
        field_str(out, x->agent_name);
        field_str(out, x->team);
        field_str(out, x->lead);
        field_int(out, r->weeks);
        window_fields(out, &x->before);
        window_fields(out, &x->after);
        field_value(out, x->share_change);
        field_value(out, x->must_know_change);
        field_value(out, x->asked_again);
        char buf[4096];
        size_t o = 0;
        buf[0] = '\0';
        for (size_t d = 0; d < x->n_asked_again_docs && o < sizeof buf - 1; d++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? ";" : "",
                                  x->asked_again_docs[d]);
        field_str(out, buf);
        field_int(out, x->complete);
        fputs(",,,,,,,,,,,,,,,\r\n", out);
    }
    for (size_t i = 0; i < r->n_teams; i++) {
        const kb_effect_team *t = &r->teams[i];
        fputs("team,,", out);
        fputs(",", out); /* agent */
        fputs(",", out); /* agent_name */
        field_str(out, t->team);
        fputs(",", out); /* lead */
        field_int(out, r->weeks);
        window_fields(out, &t->coached_before);
        window_fields(out, &t->coached_after);
        field_value(out, t->coached_change);
        fputs(",,,,", out); /* must_know_change, asked_again, asked_again_docs, complete */
        field_int(out, t->sessions);
        field_int(out, t->coached_agents);
        field_int(out, t->uncoached_agents);
        window_fields(out, &t->uncoached_before);
        window_fields(out, &t->uncoached_after);
        field_value(out, t->uncoached_change);
        field_value(out, t->difference);
        fputs("\r\n", out);
    }
}
