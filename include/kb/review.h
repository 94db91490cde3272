/*
 * kb/review.h — support leads' review of help requests, the reports built on them, and the agents
 * list that gives agents names and teams.
 *
 * Every help request is classified when it is filed (kb_answerable: the knowledge base already
 * answers it, so it "should not have been asked", 不应求助; otherwise a genuine gap). A lead can
 * confirm or override that verdict; every review is kept (help_request_reviews: who, when,
 * verdict, document, note) and the latest one is the effective verdict the reports use:
 *     answerable = coalesce(override_answerable, kb_answerable)
 * A request reviewed as not answerable joins the editors' queue; one reviewed as answerable
 * leaves it (kb_gaps_ingest follows the reviews).
 *
 * Reports count help requests per agent or team and calendar month (local time zone of the
 * process, TZ) and the share the knowledge base already answered; docs/GAPS.md gives the exact
 * formulas. Each kb_review handle owns one SQLite connection to the event store (events/store_conn.h):
 * read-only for reports, read-write for reviews and the agents list, writes in short BEGIN
 * IMMEDIATE transactions. Not thread-safe: one handle per thread.
 */
#ifndef KB_REVIEW_H
#define KB_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum {
    KB_REVIEW_OK = 0,
    KB_REVIEW_ERROR = 1,     /* SQLite or memory; kb_review_errmsg() says what */
    KB_REVIEW_NOT_FOUND = 2, /* no such help request */
    KB_REVIEW_INVALID = 3    /* a bad argument; the message names it */
};

typedef struct kb_review kb_review;

/* Open the event store of data_dir (schema written by kb_store_open). NULL with the reason in
 * err. */
kb_review *kb_review_open(const char *data_dir, int readonly, char *err, size_t err_len);
void kb_review_close(kb_review *r);
const char *kb_review_errmsg(const kb_review *r);
int kb_review_last_code(const kb_review *r);

/* ---------------------------------------------------------------- reviews */

/* Record a lead's review of help request id: the knowledge base does (answerable = 1) or does
 * not (0) answer it. doc_id: the answering document (only with answerable; NULL: the service's
 * doc_id when it had one). note may be NULL (redacted before storing). On KB_REVIEW_OK *item (if
 * not NULL) receives the request as kb_review_item() shows it. */
int kb_review_set(kb_review *r, int64_t id, int answerable, const char *doc_id, const char *note,
                  const char *reviewer, int64_t now_ms, cJSON **item);

typedef struct {
    int64_t from_ms, to_ms; /* filed in [from_ms, to_ms); 0 = unbounded */
    const char *agent;      /* only this agent id, or NULL */
    const char *team;       /* only agents of this team (agents list), or NULL */
    int verdict;            /* -1 any, 1 answerable (effective), 0 gap */
    int reviewed;           /* -1 any, 1 reviewed, 0 not reviewed */
    size_t limit, offset;   /* limit 0 = 50 */
} kb_review_filter;

/* Help requests, newest first, as the API's JSON ({"total", "offset", "limit", "items"}). */
cJSON *kb_review_list(kb_review *r, const kb_review_filter *f);

/* One help request with all its reviews; NULL when unknown (code KB_REVIEW_NOT_FOUND). */
cJSON *kb_review_item(kb_review *r, int64_t id);

/* ---------------------------------------------------------------- reports */

typedef struct {
    int by_team;          /* 0: rows per agent, 1: per team */
    int year, month;      /* the month reported (1..12) */
    int months;           /* trend months, the reported one included: 1..24 (default 6) */
    double threshold;     /* share from which a month is "high" (default 0.5) */
    int min_requests;     /* requests a month needs to count as high (default 3) */
    int persist;          /* high months in a row, ending with the reported one, that make an
                             agent stand out (default 3) */
    size_t study;         /* documents listed per row (default 5) */
} kb_report_params;

/* Fill the defaults above into p (year and month: the current local month). */
void kb_report_defaults(kb_report_params *p);

/* The help-request report as the API's JSON (docs/API.md, GET /api/reports/help-requests);
 * NULL on error. */
cJSON *kb_review_report(kb_review *r, const kb_report_params *p);

/* "2026-10" -> year, month. 0, or -1 when malformed. */
int kb_review_parse_month(const char *text, int *year, int *month);
/* Start (inclusive) and end (exclusive) of a calendar month in local time, in Unix ms. */
void kb_review_month_bounds(int year, int month, int64_t *start_ms, int64_t *end_ms);
/* "2026-10-02" -> the start of that local day in Unix ms. 0, or -1 when malformed. */
int kb_review_parse_date(const char *text, int64_t *start_ms);

/* ---------------------------------------------------------------- agents */

typedef struct {
    char *id, *name, *team;
} kb_agent;

typedef struct {
    kb_agent *v;
    size_t n, cap;
} kb_agent_list;

#define KB_AGENT_FIELD_MAX 128 /* bytes, for id, name and team */

/* NULL when id is a valid agent id, otherwise what is wrong with it ("is empty", "holds a space
 * or another blank: ...", ...). The one rule for agent ids wherever they come from (the agents
 * file, PUT /api/agents, a help request's "agent"): 1..128 bytes of UTF-8, one word (no blank,
 * tab, line break or control character), not starting with '#', and nothing kb_redact() would
 * replace (a customer's phone, ID-card or bank-card number or e-mail address). */
const char *kb_agent_id_problem(const char *id);

/* Parse an agents file: one "agent_id TAB name TAB team" per line (team or name may be empty or
 * missing), UTF-8, '#' comments and blank lines ignored, ids unique. 0, or -1 with
 * "FILE:LINE: why" in err. */
int kb_agents_parse_file(const char *path, kb_agent_list *out, char *err, size_t err_len);
/* The same from the API's JSON array [{"id", "name", "team"}]. 0, or -1 with why in err. */
int kb_agents_from_json(const cJSON *array, kb_agent_list *out, char *err, size_t err_len);
/* Write the file atomically (temporary file, fsync, rename). 0, or -1 with why in err. */
int kb_agents_write_file(const char *path, const kb_agent_list *l, char *err, size_t err_len);
void kb_agent_list_free(kb_agent_list *l);

/* Replace the store's agents table with l, in one transaction. */
int kb_review_set_agents(kb_review *r, const kb_agent_list *l);
/* {"agents": [{"id", "name", "team"}]} sorted by id; NULL on error. */
cJSON *kb_review_agents(kb_review *r);
/* Whether id is in the store's agents list (*listed) and whether there is a list at all
 * (*have_list: the table has a row). KB_REVIEW_OK, or KB_REVIEW_ERROR. */
int kb_review_agent_lookup(kb_review *r, const char *id, int *listed, int *have_list);

#endif
