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

static void number(FILE *out, const cJSON *v)
{
    if (cJSON_IsNumber(v)) value(out, v->valuedouble);
    else if (cJSON_IsBool(v)) value(out, cJSON_IsTrue(v));
}

static void field_text(FILE *out, const cJSON *o, const char *key, int first)
{
    if (!first) fputc(',', out);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) text(out, v->valuestring);
}

static void field_num(FILE *out, const cJSON *o, const char *key)
{
    fputc(',', out);
    number(out, cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *items_of(const cJSON *o, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsArray(a) ? a->child : NULL;
}

void report_csv_gaps(FILE *out, const cJSON *list)
{
    fputs("id,status,impact,count,agents,variants,search,not_found,help_request,first_seen,"
          "last_seen,category,question,suggested_answer,answer_doc_id\r\n",
          out);
    for (const cJSON *it = items_of(list, "items"); it; it = it->next) {
        number(out, cJSON_GetObjectItemCaseSensitive(it, "id"));
        field_text(out, it, "status", 0);
        field_num(out, it, "impact");
        field_num(out, it, "count");
        field_num(out, it, "agents");
        field_num(out, it, "variants");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(it, "sources");
        field_num(out, src, "search");
        field_num(out, src, "not_found");
        field_num(out, src, "help_request");
        field_text(out, it, "first_seen", 0);
        field_text(out, it, "last_seen", 0);
        field_text(out, it, "category", 0);
        field_text(out, it, "question", 0);
        field_text(out, it, "suggested_answer", 0);
        field_text(out, it, "answer_doc_id", 0);
        fputs("\r\n", out);
    }
}

static void field_value(FILE *out, double d)
{
    fputc(',', out);
    value(out, d);
}

/* A text cell after the first. */
static void field_string(FILE *out, const char *s)
{
    fputc(',', out);
    text(out, s);
}

void report_csv_help_requests(FILE *out, const kb_report *rep)
{
    fputs(rep->by_team ? "team,agents,month,requests,kb_answered,share,previous_share,change,"
                         "persistent,persistent_agents"
                       : "agent,name,team,month,requests,kb_answered,share,previous_share,change,"
                         "persistent",
          out);
    for (int m = 0; m < rep->n_months; m++) fprintf(out, ",share_%s", rep->months[m]);
    fputs(",study\r\n", out);
    for (size_t i = 0; i < rep->n_rows; i++) {
        const kb_report_row *r = &rep->rows[i];
        if (rep->by_team) {
            text(out, r->team);
            field_value(out, r->agents);
        } else {
            text(out, r->agent);
            field_string(out, r->name);
            field_string(out, r->team);
        }
        field_string(out, rep->month);
        field_value(out, r->requests);
        field_value(out, r->kb_answered);
        field_value(out, r->share);
        field_value(out, r->previous_share);
        field_value(out, r->change);
        field_value(out, r->persistent);
        if (rep->by_team) field_value(out, r->persistent_agents);
        for (int m = 0; m < rep->n_months; m++) field_value(out, r->trend[m].share);
        /* "doc:count;doc:count" */
        char buf[4096];
        size_t o = 0;
        buf[0] = '\0';
        for (size_t d = 0; d < r->n_study && o < sizeof buf - 1; d++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s:%d", o ? ";" : "",
                                  r->study[d].doc_id, r->study[d].count);
        field_string(out, buf);
        fputs("\r\n", out);
    }
}

void report_csv_health(FILE *out, const cJSON *health)
{
    static const char *const lists[] = {"never_returned", "expired", "not_answering"};
    fputs("list,id,title,valid_until,not_found,help_overrides,agents\r\n", out);
    for (size_t l = 0; l < 3; l++)
        for (const cJSON *d = items_of(health, lists[l]); d; d = d->next) {
            fputs(lists[l], out);
            field_text(out, d, "id", 0);
            field_text(out, d, "title", 0);
            field_text(out, d, "valid_until", 0);
            field_num(out, d, "not_found");
            field_num(out, d, "help_overrides");
            field_num(out, d, "agents");
            fputs("\r\n", out);
        }
}

void report_csv_agents(FILE *out, const kb_agent_list *agents)
{
    fputs("id,name,team\r\n", out);
    for (size_t i = 0; i < agents->n; i++) {
        text(out, agents->v[i].id);
        field_string(out, agents->v[i].name);
        field_string(out, agents->v[i].team);
        fputs("\r\n", out);
    }
}
