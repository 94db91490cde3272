/*
 * csv.c — kb-report's CSV output (see csv.h).
 */
#include "csv.h"

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

static void field_text(FILE *out, const cJSON *o, const char *key, int first)
{
    if (!first) fputc(',', out);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) text(out, v->valuestring);
}

static void number(FILE *out, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d) fprintf(out, "%lld", (long long)d);
        else fprintf(out, "%.4f", d);
    } else if (cJSON_IsBool(v)) {
        fputs(cJSON_IsTrue(v) ? "1" : "0", out);
    }
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

void report_csv_help_requests(FILE *out, const cJSON *report)
{
    int by_team = strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "by")) ?: "",
                         "team") == 0;
    fputs(by_team ? "team,agents,month,requests,kb_answered,share,previous_share,change,"
                    "persistent,persistent_agents"
                  : "agent,name,team,month,requests,kb_answered,share,previous_share,change,"
                    "persistent",
          out);
    for (const cJSON *m = items_of(report, "months"); m; m = m->next)
        fprintf(out, ",share_%s", cJSON_GetStringValue(m) ?: "");
    fputs(",study\r\n", out);
    const char *month = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "month"));
    for (const cJSON *r = items_of(report, "rows"); r; r = r->next) {
        if (by_team) {
            field_text(out, r, "team", 1);
            field_num(out, r, "agents");
        } else {
            field_text(out, r, "agent", 1);
            field_text(out, r, "name", 0);
            field_text(out, r, "team", 0);
        }
        fputc(',', out);
        text(out, month);
        field_num(out, r, "requests");
        field_num(out, r, "kb_answered");
        field_num(out, r, "share");
        field_num(out, r, "previous_share");
        field_num(out, r, "change");
        field_num(out, r, "persistent");
        if (by_team) field_num(out, r, "persistent_agents");
        for (const cJSON *t = items_of(r, "trend"); t; t = t->next) field_num(out, t, "share");
        fputc(',', out);
        /* "doc:count;doc:count" */
        char buf[4096];
        size_t o = 0;
        buf[0] = '\0';
        for (const cJSON *d = items_of(r, "study"); d && o < sizeof buf - 1; d = d->next) {
            const cJSON *count = cJSON_GetObjectItemCaseSensitive(d, "count");
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s:%d", o ? ";" : "",
                                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "doc_id")) ?: "",
                                  cJSON_IsNumber(count) ? (int)count->valuedouble : 0);
        }
        text(out, buf);
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

void report_csv_agents(FILE *out, const cJSON *agents)
{
    fputs("id,name,team\r\n", out);
    for (const cJSON *a = items_of(agents, "agents"); a; a = a->next) {
        field_text(out, a, "id", 1);
        field_text(out, a, "name", 0);
        field_text(out, a, "team", 0);
        fputs("\r\n", out);
    }
}
