/*
 * main.c — kb-report: the editors' and leads' reports from the command line, read from the same
 * event store kb-searchd writes (read-only connection, 5 s busy timeout, so it runs safely next
 * to a serving kb-searchd). The numbers come from the same libkb functions as the HTTP API
 * (kb/gaps.h, kb/review.h, kb/coaching.h), so `--format json` prints what the API answers: it is the API's
 * own JSON code (searchd/json_gaps.c and json_review.c, linked in).
 *
 *   kb-report --data DIR [--format csv|json] gaps [--status S]... [--from D] [--to D]
 *             [--category C] [--sort impact|recent|count] [--limit N] [--offset N]
 *   kb-report --data DIR [--format csv|json] help-requests [--by agent|team] [--month YYYY-MM]
 *             [--months N] [--threshold X] [--min-requests N] [--persist N]
 *   kb-report --data DIR [--format csv|json] health --index DIR [--days N] [--limit N]
 *   kb-report --data DIR [--format csv|json] agents
 *   kb-report --data DIR [--format csv|json] study --agent ID
 *   kb-report --data DIR [--format csv|json] coaching [--agent ID] [--team T] [--from D] [--to D]
 *             [--limit N] [--offset N]
 *   kb-report --data DIR [--format csv|json] coaching-effect [--from D] [--to D] [--weeks N]
 *             [--team T]
 *
 * --data is kb-searchd's data directory or its postgresql:// URI (docs/CLUSTER.md): every report
 * reads either store, but gaps and health, which need the editors' gap queue (SQLite only until
 * kb/gaps is ported), and say so.
 *
 * CSV is the default (reports go to spreadsheets). Exit status: 0 on success, 1 when the store or
 * index cannot be read, 2 on bad usage. The error lines carry the journal's priority "err" when
 * stderr is the journal (run from a systemd unit or timer: kb/journal.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../searchd/json_coaching.h"
#include "../searchd/json_gaps.h"
#include "../searchd/json_review.h"
#include "csv.h"
#include "kb/coaching.h"
#include "kb/doc_list.h"
#include "kb/gaps.h"
#include "kb/journal.h"
#include "kb/review.h"

static void usage(FILE *out)
{
    fputs("usage: kb-report --data DIR|URI [--format csv|json] COMMAND [OPTIONS]\n"
          "\n"
          "Reports from kb-searchd's event store (see docs/GAPS.md). CSV by default.\n"
          "--data: kb-searchd's data directory, or its postgresql:// database (docs/CLUSTER.md;\n"
          "gaps and health need a data directory until the gap queue runs on PostgreSQL).\n"
          "commands:\n"
          "  gaps            the editors' queue of unanswered questions, by impact\n"
          "      --status open|in_progress|answered|dismissed|all (repeatable; default open and\n"
          "      in_progress)  --from YYYY-MM-DD  --to YYYY-MM-DD  --category PATH\n"
          "      --sort impact|recent|count  --limit N (default 50, at most 100000)  --offset N\n"
          "  help-requests   help requests per agent or team and month, share the KB answered\n"
          "      --by agent|team (default agent)  --month YYYY-MM (default this month)\n"
          "      --months N (1..24, default 6)  --threshold X (default 0.5)\n"
          "      --min-requests N (default 3)  --persist N (default 3)\n"
          "      --must-know-min N (must-know misses a month needs to count, default 1)\n"
          "  health          documents never returned, expired, or marked as not answering\n"
          "      --index DIR (required)  --days N (default 30)  --limit N (default 100)\n"
          "  agents          the agents list (id, name, team)\n"
          "  study           an agent's study list: documents the KB answered, must-know first\n"
          "      --agent ID (required)\n"
          "  coaching        coaching sessions, newest first\n"
          "      --agent ID  --team T  --from YYYY-MM-DD  --to YYYY-MM-DD  --limit N  --offset N\n"
          "  coaching-effect 不应求助 share and must-know misses N weeks before and after each\n"
          "                  session, and per team coached against uncoached agents\n"
          "      --from YYYY-MM-DD  --to YYYY-MM-DD (session days)  --weeks N (1..26, default 4)\n"
          "      --team T\n"
          "exit status: 0 success, 1 the store or index cannot be read, 2 bad usage\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    char message[512];
    snprintf(message, sizeof message, fmt, arg);
    kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", message);
    usage(stderr);
    return 2;
}

typedef struct {
    const char *data, *index, *format, *command;
    const char *statuses[8];
    size_t n_statuses;
    const char *from, *to, *category, *sort, *by, *month, *agent, *team;
    long limit, offset, months, min_requests, persist, days, weeks, must_know_min;
    double threshold;
} options;

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* Parse argv into o; returns 0 or the exit status for bad usage (-1 for --help). */
/* A whole-number option (--limit, --offset, --months, ...) into o. 0, or 2 after saying why on
 * stderr (also for an option that is not one of them). */
static int set_number_option(options *o, const char *name, const char *value)
{
    static const struct {
        const char *name;
        long min, max;
        size_t offset;
    } nums[] = {
        {"--limit", 1, 100000, offsetof(options, limit)},
        {"--offset", 0, 100000000, offsetof(options, offset)},
        {"--months", 1, KB_REPORT_MAX_MONTHS, offsetof(options, months)},
        {"--min-requests", 1, 100000, offsetof(options, min_requests)},
        {"--persist", 1, KB_REPORT_MAX_MONTHS, offsetof(options, persist)},
        {"--days", 1, 3650, offsetof(options, days)},
        {"--weeks", 1, KB_COACHING_MAX_WEEKS, offsetof(options, weeks)},
        {"--must-know-min", 1, 100000, offsetof(options, must_know_min)},
    };
    size_t k;
    for (k = 0; k < sizeof nums / sizeof nums[0]; k++)
        if (!strcmp(name, nums[k].name)) break;
    if (k == sizeof nums / sizeof nums[0]) return usage_error("unknown option %s", name);
    long n;
    if (parse_long(value, nums[k].min, nums[k].max, &n) != 0) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: %s %s: give a whole number from %ld to %ld\n",
                          name, value, nums[k].min, nums[k].max);
        return 2;
    }
    *(long *)((char *)o + nums[k].offset) = n;
    return 0;
}

/* One option with its value into o. 0, or the exit status after saying why. */
static int set_option(options *o, const char *name, const char *value)
{
    if (!strcmp(name, "--data")) o->data = value;
    else if (!strcmp(name, "--index")) o->index = value;
    else if (!strcmp(name, "--format")) {
        if (strcmp(value, "csv") && strcmp(value, "json"))
            return usage_error("--format %s: use csv or json", value);
        o->format = value;
    } else if (!strcmp(name, "--status")) {
        if (!kb_gaps_status_bit(value))
            return usage_error("--status %s: use open, in_progress, answered, dismissed or all",
                               value);
        if (o->n_statuses < 8) o->statuses[o->n_statuses++] = value;
    } else if (!strcmp(name, "--from")) o->from = value;
    else if (!strcmp(name, "--to")) o->to = value;
    else if (!strcmp(name, "--category")) o->category = value;
    else if (!strcmp(name, "--agent")) o->agent = value;
    else if (!strcmp(name, "--team")) o->team = value;
    else if (!strcmp(name, "--sort")) {
        if (strcmp(value, "impact") && strcmp(value, "recent") && strcmp(value, "count"))
            return usage_error("--sort %s: use impact, recent or count", value);
        o->sort = value;
    } else if (!strcmp(name, "--by")) {
        if (strcmp(value, "agent") && strcmp(value, "team"))
            return usage_error("--by %s: use agent or team", value);
        o->by = value;
    } else if (!strcmp(name, "--month")) o->month = value;
    else if (!strcmp(name, "--threshold")) {
        char *end;
        o->threshold = strtod(value, &end);
        if (!*value || *end || !(o->threshold >= 0 && o->threshold <= 1))
            return usage_error("--threshold %s: give a number from 0 to 1", value);
    } else {
        return set_number_option(o, name, value);
    }
    return 0;
}

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->format = "csv";
    o->limit = -1;
    o->months = 6;
    o->min_requests = 3;
    o->persist = 3;
    o->days = 30;
    o->weeks = 4;
    o->must_know_min = 1;
    o->threshold = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return -1;
        if (strncmp(a, "--", 2) != 0) {
            if (o->command) return usage_error("unexpected argument %s", a);
            o->command = a;
            continue;
        }
        const char *name = a, *value = NULL;
        char buf[64];
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof buf) {
            memcpy(buf, a, (size_t)(eq - a));
            buf[eq - a] = '\0';
            name = buf;
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        }
        if (!value) return usage_error("%s needs a value", name);
        int rc = set_option(o, name, value);
        if (rc) return rc;
    }
    if (!o->command)
        return usage_error("%s", "no command: give gaps, help-requests, health, agents, study, "
                                 "coaching or coaching-effect");
    /* An empty value is no directory either (a shell variable left unset: --data "$DATA"). */
    if (!o->data || !*o->data)
        return usage_error("%s", "--data DIR|URI is required (kb-searchd's --data)");
    return 0;
}

/* --from after --to: 2 after saying so (kb_review_window_reversed), else 0. */
static int check_window(const options *o)
{
    if (!kb_review_window_reversed(o->from, o->to)) return 0;
    char msg[96];
    snprintf(msg, sizeof msg, "--from %.10s is after --to %.10s", o->from, o->to);
    return usage_error("%s", msg);
}

/* Print JSON (deleting it; NULL: out of memory). 0, or 1 with why on stderr. */
static int print_json(cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

/* Whether everything printed reached stdout. 0, or 1 with why on stderr. */
static int flushed(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("kb-report: cannot write the report");
        return 1;
    }
    return 0;
}

static int cmd_gaps(const options *o)
{
    kb_gaps_filter f = {.limit = o->limit > 0 ? (size_t)o->limit : 50, .offset = (size_t)o->offset};
    for (size_t i = 0; i < o->n_statuses; i++) f.statuses |= kb_gaps_status_bit(o->statuses[i]);
    if (o->from && kb_review_parse_date(o->from, &f.from_ms) != 0)
        return usage_error("--from %s: give a date YYYY-MM-DD", o->from);
    if (o->to) {
        int64_t start;
        if (kb_review_parse_date(o->to, &start) != 0)
            return usage_error("--to %s: give a date YYYY-MM-DD", o->to);
        f.to_ms = start + 86400000; /* inclusive: the whole day (DST days are 23-25 h: ±1 h) */
    }
    if (check_window(o)) return 2;
    if (f.from_ms && !f.to_ms) f.to_ms = INT64_MAX;
    if (f.to_ms && !f.from_ms) f.from_ms = INT64_MIN + 1;
    f.category = o->category;
    f.sort = !o->sort || !strcmp(o->sort, "impact") ? KB_GAPS_SORT_IMPACT
             : !strcmp(o->sort, "recent")           ? KB_GAPS_SORT_RECENT
                                                    : KB_GAPS_SORT_COUNT;
    char err[1024] = "";
    kb_gaps *g = kb_gaps_open(o->data, 1, err, sizeof err);
    if (!g) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", err);
        return 1;
    }
    kb_gap_page page;
    if (kb_gaps_list(g, &f, &page) != KB_OK) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", kb_gaps_errmsg(g));
        kb_gaps_close(g);
        return 1;
    }
    kb_gaps_close(g);
    /* JSON as the API answers it (json_gaps.c); CSV from the same struct. */
    int rc = 0;
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_gap_page(&page));
    else report_csv_gaps(stdout, &page);
    kb_gap_page_free(&page);
    return rc ? rc : flushed();
}

/* The leads' data, read-only; NULL after saying why on stderr. */
static kb_review *open_review(const options *o)
{
    char err[1024] = "";
    kb_review *r = kb_review_open(o->data, 1, err, sizeof err);
    if (!r) kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", err);
    return r;
}

/* Say why the last call on r failed and close it: exit status 1. */
static int review_failed(kb_review *r)
{
    kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", kb_review_errmsg(r));
    kb_review_close(r);
    return 1;
}

static int cmd_help_requests(const options *o)
{
    kb_report_params p;
    kb_report_defaults(&p);
    if (o->month && kb_review_parse_month(o->month, &p.year, &p.month) != 0)
        return usage_error("--month %s: give a month YYYY-MM", o->month);
    p.by_team = o->by && !strcmp(o->by, "team");
    p.months = (int)o->months;
    p.threshold = o->threshold;
    p.min_requests = (int)o->min_requests;
    p.persist = (int)o->persist;
    p.must_know_min = (int)o->must_know_min;
    kb_review *r = open_review(o);
    if (!r) return 1;
    kb_report report;
    if (kb_review_report(r, &p, &report) != KB_OK) return review_failed(r);
    kb_review_close(r);
    int rc = 0;
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_report(&report));
    else report_csv_help_requests(stdout, &report);
    kb_report_free(&report);
    return rc ? rc : flushed();
}

static int cmd_health(const options *o)
{
    if (!o->index || !*o->index)
        return usage_error("%s", "health needs --index DIR (kb-searchd's --index)");
    char err[1024] = "";
    struct stat st;
    if (stat(o->index, &st) != 0 || !S_ISDIR(st.st_mode)) { /* a path error, not Xapian's */
        kb_journal_printf(KB_PRIO_ERR,
                          "kb-report: no index at %s: give the --index directory of kb-searchd "
                          "(the one kb-indexer writes)\n", o->index);
        return 1;
    }
    kb_doc_list docs;
    if (kb_doc_list_read(o->index, &docs, err, sizeof err) != 0) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", err);
        return 1;
    }
    kb_gaps *g = kb_gaps_open(o->data, 1, err, sizeof err);
    if (!g) {
        kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", err);
        kb_doc_list_free(&docs);
        return 1;
    }
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    kb_content_health health;
    int rc = kb_gaps_health(g, &docs, (int)o->days, o->limit > 0 ? (size_t)o->limit : 100,
                            (int64_t)now * 1000, today, &health);
    if (rc != KB_OK) kb_journal_printf(KB_PRIO_ERR, "kb-report: %s\n", kb_gaps_errmsg(g));
    kb_gaps_close(g);
    kb_doc_list_free(&docs);
    if (rc != KB_OK) return 1;
    rc = 0;
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_content_health(&health));
    else report_csv_health(stdout, &health);
    kb_content_health_free(&health);
    return rc ? rc : flushed();
}

static int cmd_agents(const options *o)
{
    kb_review *r = open_review(o);
    if (!r) return 1;
    kb_agent_list agents;
    if (kb_review_agents(r, &agents) != KB_OK) return review_failed(r);
    kb_review_close(r);
    int rc = 0;
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_agents(&agents));
    else report_csv_agents(stdout, &agents);
    kb_agent_list_free(&agents);
    return rc ? rc : flushed();
}

/* The coaching data, read-only; NULL after saying why on stderr. */
static kb_coaching *open_coaching(const options *o)
{
    char err[1024] = "";
    kb_coaching *c = kb_coaching_open(o->data, 1, err, sizeof err);
    if (!c) fprintf(stderr, "kb-report: %s\n", err);
    return c;
}

/* Say why the last call on c failed and close it: exit status 2 for a bad argument, else 1. */
static int coaching_failed(kb_coaching *c)
{
    int code = kb_coaching_last_code(c) == KB_INVALID ? 2 : 1;
    fprintf(stderr, "kb-report: %s\n", kb_coaching_errmsg(c));
    kb_coaching_close(c);
    return code;
}

/* --from and --to as days. 0, or 2 after saying why. */
static int check_days(const options *o)
{
    int64_t ms;
    if (o->from && kb_review_parse_date(o->from, &ms) != 0)
        return usage_error("--from %s: give a date YYYY-MM-DD", o->from);
    if (o->to && kb_review_parse_date(o->to, &ms) != 0)
        return usage_error("--to %s: give a date YYYY-MM-DD", o->to);
    return check_window(o);
}

static int cmd_study(const options *o)
{
    if (!o->agent) return usage_error("%s", "study needs --agent ID");
    kb_coaching *c = open_coaching(o);
    if (!c) return 1;
    kb_study_list l;
    if (kb_coaching_study_list(c, o->agent, &l) != KB_OK) return coaching_failed(c);
    kb_coaching_close(c);
    int rc = 0;
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_study_list(o->agent, &l));
    else report_csv_study(stdout, o->agent, &l);
    kb_study_list_free(&l);
    return rc ? rc : flushed();
}

static int cmd_coaching(const options *o)
{
    int rc = check_days(o);
    if (rc) return rc;
    kb_coaching_filter f = {.agent = o->agent, .team = o->team, .from = o->from, .to = o->to,
                            .limit = o->limit > 0 ? (size_t)o->limit : 50,
                            .offset = (size_t)o->offset};
    kb_coaching *c = open_coaching(o);
    if (!c) return 1;
    kb_coaching_page page;
    if (kb_coaching_list(c, &f, &page) != KB_OK) return coaching_failed(c);
    kb_coaching_close(c);
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_coaching_page(&page));
    else report_csv_coaching_sessions(stdout, &page);
    kb_coaching_page_free(&page);
    return rc ? rc : flushed();
}

static int cmd_coaching_effect(const options *o)
{
    int rc = check_days(o);
    if (rc) return rc;
    kb_effect_params p = {.from = o->from, .to = o->to, .team = o->team, .weeks = (int)o->weeks,
                          .now_ms = (int64_t)time(NULL) * 1000};
    kb_coaching *c = open_coaching(o);
    if (!c) return 1;
    kb_effect_report rep;
    if (kb_coaching_effect(c, &p, &rep) != KB_OK) return coaching_failed(c);
    kb_coaching_close(c);
    if (!strcmp(o->format, "json")) rc = print_json(searchd_json_effect_report(&rep));
    else report_csv_coaching_effect(stdout, &rep);
    kb_effect_report_free(&rep);
    return rc ? rc : flushed();
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc == -1) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    if (!strcmp(o.command, "gaps")) return cmd_gaps(&o);
    if (!strcmp(o.command, "help-requests")) return cmd_help_requests(&o);
    if (!strcmp(o.command, "health")) return cmd_health(&o);
    if (!strcmp(o.command, "agents")) return cmd_agents(&o);
    if (!strcmp(o.command, "study")) return cmd_study(&o);
    if (!strcmp(o.command, "coaching")) return cmd_coaching(&o);
    if (!strcmp(o.command, "coaching-effect")) return cmd_coaching_effect(&o);
    return usage_error("unknown command %s: give gaps, help-requests, health, agents, study, "
                       "coaching or coaching-effect", o.command);
}
