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
 *
 * Results are plain C structs, each with its free function; the programs format them (kb-searchd
 * the API's JSON, searchd/json_review.c; kb-report CSV and that same JSON), so the library
 * knows no output format.
 */
#ifndef KB_REVIEW_H
#define KB_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "kb/status.h"

/* Calls that can fail return a kb_status (kb/status.h): KB_ERROR for SQLite or memory,
 * KB_NOT_FOUND for no such help request, KB_INVALID for a bad argument; kb_review_errmsg() says
 * what. */

typedef struct kb_review kb_review;

/* Open the event store of data_dir (schema written by kb_store_open). NULL with the reason in
 * err. */
kb_review *kb_review_open(const char *data_dir, int readonly, char *err, size_t err_len);
void kb_review_close(kb_review *r);
const char *kb_review_errmsg(const kb_review *r);
int kb_review_last_code(const kb_review *r);

/* ---------------------------------------------------------------- reviews */

/* One review of a help request: a lead's verdict, as help_request_reviews keeps it. */
typedef struct {
    int kb_answerable; /* the lead's verdict: the KB does (1) or does not (0) answer it */
    char *doc_id;      /* the answering document; NULL when none */
    char *by;          /* the reviewer (token NAME) */
    int64_t at_ms;     /* when, Unix ms */
    char *note;        /* redacted; NULL when none */
} kb_review_entry;

/* A help request as the leads see it: what was filed, the service's verdict, the latest review
 * and the effective verdict (docs/GAPS.md, "Review"). Text is UTF-8; free with
 * kb_help_request_record_free. (kb_help_request, in kb/store.h, is what gets filed.) */
typedef struct {
    int64_t id;
    int64_t time_ms;          /* filed, Unix ms */
    char *agent;              /* who asked */
    char *agent_name, *team;  /* from the agents list; NULL when the agent is not in it */
    char *filed_by;           /* who recorded it (token NAME) */
    char *question;           /* redacted */
    char *answer;             /* redacted; NULL when not given */
    int kb_answerable;        /* the service's verdict when it was filed */
    char *doc_id;             /* the service's document; NULL when none */
    double confidence;        /* the service's, rounded to 4 decimals */
    int reviewed;             /* a lead reviewed it: review holds the latest review */
    kb_review_entry review;
    int answerable;           /* effective: the latest review's verdict, else the service's */
    char *effective_doc_id;   /* the document that answers it; NULL when not answerable or none */
    char *doc_title;          /* the answering document's title when the verdict was made
                                 (redacted snapshot, schema v6); NULL when unknown */
    int must_know;            /* that document was must-know for the agent's team then */
    int must_know_miss;       /* effective: answerable and must_know (docs/COACHING.md) */
    kb_review_entry *reviews; /* every review, oldest first (kb_review_item only; NULL in lists) */
    size_t n_reviews;
} kb_help_request_record;

/* A page of help requests, newest first, and how many match the filter in all. */
typedef struct {
    kb_help_request_record *items;
    size_t n;
    int64_t total;        /* requests matching the filter */
    size_t offset, limit; /* of this page (limit: after the default) */
} kb_help_request_page;

void kb_help_request_record_free(kb_help_request_record *h);
void kb_help_request_page_free(kb_help_request_page *p);

/* Record a lead's review of help request id: the knowledge base does (answerable = 1) or does
 * not (0) answer it. doc_id: the answering document (only with answerable; NULL: the service's
 * doc_id when it had one). note may be NULL (redacted before storing). KB_OK (then
 * kb_review_item() shows the request with the review), KB_NOT_FOUND, KB_INVALID
 * (doc_id without answerable, a read-only handle) or KB_ERROR. */
int kb_review_set(kb_review *r, int64_t id, int answerable, const char *doc_id, const char *note,
                  const char *reviewer, int64_t now_ms);

/* The answering document as the caller found it in the index when the review was made: whether
 * it is must-know for the asking agent's team, and its title (redacted before storing). */
typedef struct {
    int must_know;
    const char *title; /* may be NULL */
} kb_review_doc_snapshot;

/* kb_review_set, and when doc is given (the lead names the answering document) the request's
 * must-know mark and title are re-set from it in the same transaction, so the reports charge
 * the document the lead chose. doc NULL (or no doc_id) keeps the snapshot taken at filing. */
int kb_review_set_doc(kb_review *r, int64_t id, int answerable, const char *doc_id,
                      const char *note, const char *reviewer, int64_t now_ms,
                      const kb_review_doc_snapshot *doc);

typedef struct {
    int64_t from_ms, to_ms; /* filed in [from_ms, to_ms); 0 = unbounded */
    const char *agent;      /* only this agent id, or NULL */
    const char *team;       /* only agents of this team (agents list), or NULL */
    int verdict;            /* -1 any, 1 answerable (effective), 0 gap */
    int reviewed;           /* -1 any, 1 reviewed, 0 not reviewed */
    size_t limit, offset;   /* limit 0 = 50 */
} kb_review_filter;

/* Help requests matching f (NULL: all), newest first, into *out (free with
 * kb_help_request_page_free; zeroed on failure). KB_OK or KB_ERROR. */
int kb_review_list(kb_review *r, const kb_review_filter *f, kb_help_request_page *out);

/* One help request with all its reviews into *out (free with kb_help_request_record_free;
 * zeroed on failure). KB_OK, KB_NOT_FOUND or KB_ERROR. */
int kb_review_item(kb_review *r, int64_t id, kb_help_request_record *out);

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
    int must_know_min;    /* must-know misses a month needs to count toward "stands out on
                             must-know" (default 1; docs/COACHING.md) */
} kb_report_params;

/* Fill the defaults above into p (year and month: the current local month). */
void kb_report_defaults(kb_report_params *p);

#define KB_REPORT_MAX_MONTHS 24 /* trend months at the most (kb_report_params.months) */

/* One month's counts: of a row's trend, or the totals over all agents. */
typedef struct {
    char month[8]; /* "2026-10" */
    int requests, kb_answered;
    double share;  /* kb_answered / requests rounded to 4 decimals; NAN when there were none */
    int must_know_misses;   /* answered (effective verdict) by a must-know document */
    double must_know_share; /* must_know_misses / requests, rounded; NAN when none */
} kb_report_month;

/* A document that answered a row's requests over the trend months, and how many. */
typedef struct {
    char *doc_id;
    int count;
} kb_report_doc;

/* One agent or team. Shares and the change are rounded to 4 decimals; NAN means there is none
 * (docs/GAPS.md, "Reports", says when). */
typedef struct {
    char *agent;             /* by agent: the agent id; by team: NULL */
    char *name;              /* by agent: from the agents list, NULL when not in it;
                                by team: NULL */
    char *team;              /* by agent: from the agents list, NULL when not in it;
                                by team: the team ("" gathers agents without one) */
    int agents;              /* by team: its agents with a request in the month */
    int requests, kb_answered;
    double share, previous_share, change;
    int persistent;          /* stands out: the last `persist` months were all high */
    int persistent_agents;   /* by team: its agents who stand out */
    int must_know_misses;    /* in the month: requests a must-know document answered */
    double must_know_share;  /* must_know_misses / requests; NAN when none */
    int must_know_persistent;        /* stands out on must-know: each of the last `persist`
                                        months had at least must_know_min misses */
    int must_know_persistent_agents; /* by team: its agents who stand out on must-know */
    kb_report_month *trend;  /* one per month of kb_report.months */
    kb_report_doc *study;    /* most requests first, at most params.study */
    size_t n_study;
} kb_report_row;

/* The help-request report (docs/API.md, GET /api/reports/help-requests); free with
 * kb_report_free. */
typedef struct {
    int by_team;
    char month[8];                                /* the reported month, "2026-10" */
    char months[KB_REPORT_MAX_MONTHS][8];         /* the trend months, oldest first */
    int n_months;                                 /* the last one is `month` */
    double threshold;
    int min_requests, persist, must_know_min;
    kb_report_month totals;                       /* the reported month over all agents */
    kb_report_row *rows;                          /* most answered by the KB first */
    size_t n_rows;
} kb_report;

/* Count the report p asks for into *out (zeroed on failure). KB_OK, KB_INVALID
 * (months or month out of range) or KB_ERROR. */
int kb_review_report(kb_review *r, const kb_report_params *p, kb_report *out);
void kb_report_free(kb_report *rep);

/* "2026-10" -> year, month. 0, or -1 when malformed. */
int kb_review_parse_month(const char *text, int *year, int *month);
/* Start (inclusive) and end (exclusive) of a calendar month in local time, in Unix ms. */
void kb_review_month_bounds(int year, int month, int64_t *start_ms, int64_t *end_ms);
/* "2026-10-02" -> the start of that local day in Unix ms. 0, or -1 when malformed. */
int kb_review_parse_date(const char *text, int64_t *start_ms);
/* 1 when a window of days runs backwards: from and to both days (kb_review_parse_date) and from
 * after to; else 0. Such a window selects nothing, and an empty answer would read as "nothing
 * happened": the API answers 400 "from is after to", kb-report exits 2. */
int kb_review_window_reversed(const char *from, const char *to);

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
/* NULL when s is a valid agent name or team, otherwise what is wrong with it: at most 128 bytes
 * of UTF-8 (empty is fine), no tab, line break or control character, no blank at either end, and
 * nothing kb_redact() would replace. */
const char *kb_agent_text_problem(const char *s);

/* Parse an agents file: one "agent_id TAB name TAB team" per line (team or name may be empty or
 * missing), UTF-8, '#' comments and blank lines ignored, ids unique. 0, or -1 with
 * "FILE:LINE: why" in err. */
int kb_agents_parse_file(const char *path, kb_agent_list *out, char *err, size_t err_len);
/* Append an agent to l (start from a zeroed list) after checking it: the rules above (name and
 * team NULL mean empty) and an id that l does not hold yet. KB_OK; KB_INVALID with
 * "FIELD PROBLEM" in err ("id is required", "id a1 appears twice", "name starts or ends with a
 * blank, ..."); KB_ERROR when out of memory. */
int kb_agent_list_add(kb_agent_list *l, const char *id, const char *name, const char *team,
                      char *err, size_t err_len);
/* Write the file atomically (temporary file, fsync, rename); l must keep the rules above. 0, or
 * -1 with why in err. */
int kb_agents_write_file(const char *path, const kb_agent_list *l, char *err, size_t err_len);
void kb_agent_list_free(kb_agent_list *l);

/* Replace the store's agents table with l, in one transaction. KB_OK; KB_INVALID
 * (nothing changed) when an agent breaks the rules above or an id appears twice. */
int kb_review_set_agents(kb_review *r, const kb_agent_list *l);
/* The store's agents list, sorted by id, into *out (free with kb_agent_list_free; zeroed on
 * failure). KB_OK or KB_ERROR. */
int kb_review_agents(kb_review *r, kb_agent_list *out);
/* Whether id is in the store's agents list (*listed) and whether there is a list at all
 * (*have_list: the table has a row). KB_OK, or KB_ERROR. */
int kb_review_agent_lookup(kb_review *r, const char *id, int *listed, int *have_list);
/* The team of agent id in the store's agents list into *team (malloc'd; NULL when the agent is
 * not listed; "" when listed without a team). Whose must-know a document is depends on it
 * (kb_hit_must_know_for). KB_OK or KB_ERROR. */
int kb_review_agent_team(kb_review *r, const char *id, char **team);

#endif
