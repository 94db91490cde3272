/*
 * kb/coaching.h — what team leaders do about must-know misses (issue 19, docs/COACHING.md): each
 * agent's study list, the agent's "studied" marks, coaching sessions, and whether coaching
 * changed anything.
 *
 * The study list is what the event store already knows: the documents an agent asked the
 * support desk about that the knowledge base answered (effective verdict, kb/review.h), must-know
 * first. A coaching session is a lead's record (agent, day, documents covered, a note redacted
 * like every stored text). The coaching-effect report compares, per session, the N weeks before
 * with the N weeks after: the 不应求助 share and the must-know misses, and whether the agent asked
 * again about a covered document; per team, the coached agents' change against the uncoached
 * agents' over the same weeks.
 *
 * A layer above kb/review (it uses the review's day and month rules and the agents list), with
 * its own connection to the event store (events/store_conn.h): read-only for lists and reports,
 * read-write for marks and sessions, written in short BEGIN IMMEDIATE transactions. Not
 * thread-safe: one handle per thread. Results are plain C structs; kb-searchd and kb-report
 * format them.
 */
#ifndef KB_COACHING_H
#define KB_COACHING_H

#include <stddef.h>
#include <stdint.h>

#include "kb/status.h"

/* Calls that can fail return a kb_status: KB_ERROR (SQLite, memory), KB_NOT_FOUND (no such
 * document on the agent's list), KB_INVALID (a bad argument); kb_coaching_errmsg() says what. */

typedef struct kb_coaching kb_coaching;

/* Open the event store of data_dir (schema written by kb_store_open). NULL with the reason in
 * err. */
kb_coaching *kb_coaching_open(const char *data_dir, int readonly, char *err, size_t err_len);
void kb_coaching_close(kb_coaching *c);
const char *kb_coaching_errmsg(const kb_coaching *c);
int kb_coaching_last_code(const kb_coaching *c);

/* ---------------------------------------------------------------- the study list */

/* A document the agent asked about that the knowledge base already answered. */
typedef struct {
    char *doc_id;
    char *title;          /* the title when last asked (snapshot); NULL when unknown */
    int must_know;        /* one of those requests was a must-know miss */
    int count;            /* requests it answered */
    int must_know_count;  /* of which must-know misses */
    int64_t first_ms, last_ms; /* first and last such request */
    int studied;          /* the agent marked it studied */
    int64_t studied_ms;   /* when (the first mark); 0 when not studied */
    int asked_since_studied; /* requests it answered after the mark */
} kb_study_item;

typedef struct {
    kb_study_item *items; /* must-know first, then the most recently asked */
    size_t n;
} kb_study_list;

/* The study list of agent into *out (free with kb_study_list_free; zeroed on failure). KB_OK,
 * KB_INVALID (no agent) or KB_ERROR. */
int kb_coaching_study_list(kb_coaching *c, const char *agent, kb_study_list *out);
void kb_study_list_free(kb_study_list *l);

/* Mark doc_id of agent's study list studied at now_ms. Idempotent: a second mark keeps the first
 * time. *studied_ms (may be NULL) gets the time kept. KB_OK, KB_NOT_FOUND (not on the agent's
 * list), KB_INVALID or KB_ERROR. */
int kb_coaching_mark_studied(kb_coaching *c, const char *agent, const char *doc_id,
                             int64_t now_ms, int64_t *studied_ms);

/* ---------------------------------------------------------------- coaching sessions */

#define KB_COACHING_MAX_DOCS 50        /* documents covered by one session */
#define KB_COACHING_NOTE_MAX_BYTES 4000

/* A session as a lead records it. */
typedef struct {
    const char *agent;                 /* who was coached (an agent id, kb/review.h's rule) */
    const char *lead;                  /* who coached: the token's NAME */
    const char *day;                   /* "YYYY-MM-DD" (local) */
    const char *note;                  /* may be NULL; redacted before storing */
    const char *const *doc_ids;        /* the documents covered, 0..KB_COACHING_MAX_DOCS */
    const char *const *titles;         /* their titles now (may be NULL, or hold NULLs) */
    size_t n_docs;
    int64_t now_ms;                    /* when it is recorded */
} kb_coaching_new;

typedef struct {
    char *doc_id;
    char *title; /* snapshot when recorded; NULL when unknown */
} kb_coaching_doc;

/* A stored session. */
typedef struct {
    int64_t id;
    char *agent, *agent_name, *team; /* name and team from the agents list; NULL when not in it */
    char *lead;
    char day[11];                    /* "2026-10-02" */
    char *note;                      /* redacted; NULL when none */
    int64_t recorded_ms;
    kb_coaching_doc *docs;
    size_t n_docs;
} kb_coaching_session;

typedef struct {
    kb_coaching_session *items; /* newest day first */
    size_t n;
    int64_t total;
    size_t offset, limit;
} kb_coaching_page;

typedef struct {
    const char *agent;      /* only this agent, or NULL */
    const char *team;       /* only agents of this team (agents list), or NULL */
    const char *from, *to;  /* days "YYYY-MM-DD", inclusive; NULL = unbounded */
    size_t limit, offset;   /* limit 0 = 50 */
} kb_coaching_filter;

/* Record a session; *id gets its id. KB_OK, KB_INVALID (agent, day, a document id or the note
 * breaks the rules, with what in the message) or KB_ERROR. */
int kb_coaching_record(kb_coaching *c, const kb_coaching_new *s, int64_t *id);
/* Sessions matching f (NULL: all) into *out (free with kb_coaching_page_free). */
int kb_coaching_list(kb_coaching *c, const kb_coaching_filter *f, kb_coaching_page *out);
/* One session into *out (free with kb_coaching_session_free). KB_OK, KB_NOT_FOUND, KB_ERROR. */
int kb_coaching_get(kb_coaching *c, int64_t id, kb_coaching_session *out);
void kb_coaching_session_free(kb_coaching_session *s);
void kb_coaching_page_free(kb_coaching_page *p);

/* ---------------------------------------------------------------- whether it worked */

#define KB_COACHING_MAX_WEEKS 26

typedef struct {
    const char *from, *to; /* sessions on days in [from, to], "YYYY-MM-DD"; NULL = unbounded */
    const char *team;      /* only sessions of agents of this team, or NULL */
    int weeks;             /* window on either side of a session, 1..26 (default 4) */
    int64_t now_ms;        /* to tell complete "after" windows from those still running */
} kb_effect_params;

/* Requests in one window. Shares are rounded to 4 decimals; NAN when there were no requests. */
typedef struct {
    int requests, kb_answered, must_know_misses;
    double share, must_know_share;
} kb_effect_window;

/* One session: the agent's N weeks before (the days before the session day) and after (from
 * the day after it). */
typedef struct {
    int64_t session_id;
    char day[11];
    char *agent, *agent_name, *team, *lead;
    size_t n_docs;                /* documents covered */
    kb_effect_window before, after;
    double share_change;          /* after.share - before.share; NAN when either has none */
    int must_know_change;         /* after.must_know_misses - before.must_know_misses */
    int asked_again;              /* requests after the session answered by a covered document */
    char **asked_again_docs;      /* which of the covered documents, in the session's order */
    size_t n_asked_again_docs;
    int complete;                 /* the after window has ended (now_ms) */
} kb_effect_row;

/* A team: its coached agents' sessions summed, against its agents without a session in the
 * report's range over the same weeks (each session's windows). */
typedef struct {
    char *team;                   /* "" gathers agents without a team */
    int sessions, coached_agents, uncoached_agents;
    kb_effect_window coached_before, coached_after, uncoached_before, uncoached_after;
    double coached_change, uncoached_change; /* of the 不应求助 share; NAN when none */
    double coached_must_know_change, uncoached_must_know_change; /* of the must-know share */
    double difference;            /* coached_change - uncoached_change; NAN when either none */
} kb_effect_team;

typedef struct {
    int weeks;
    kb_effect_row *rows;          /* oldest session first */
    size_t n_rows;
    kb_effect_team *teams;        /* by team name */
    size_t n_teams;
} kb_effect_report;

/* The coaching-effect report (docs/COACHING.md) into *out (free with kb_effect_report_free).
 * KB_OK, KB_INVALID (weeks or a day out of range) or KB_ERROR. */
int kb_coaching_effect(kb_coaching *c, const kb_effect_params *p, kb_effect_report *out);
void kb_effect_report_free(kb_effect_report *r);

#endif
