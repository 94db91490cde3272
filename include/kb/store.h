/*
 * kb/store.h — the service's event store: every search, feedback and help request, in SQLite or
 * PostgreSQL.
 *
 * The database lives at DATA_DIR/events.sqlite3 in WAL mode, or, when data_dir is a
 * postgresql:// URI, in that database (several search nodes sharing it: docs/CLUSTER.md). Every text field of an event (the
 * question, the answer, and the agent, filed_by and doc_id too) is redacted (kb/redact.h) inside
 * this module before any write, so no caller can store customer identifiers by mistake.
 *
 * Writes go through a queue drained by one writer thread in batched transactions, so searches
 * never wait for the disk. kb_store_log_search() is fire-and-forget (losing the last few
 * milliseconds of search logs in a crash is acceptable); feedback and help requests are
 * acknowledged: the call returns only after their transaction committed (synchronous=FULL), so an
 * acknowledged event survives kill -9.
 *
 * With PostgreSQL, a spool directory keeps the events while the database cannot be reached
 * (kb_store_open_spooled): searches, feedback and help requests are then acknowledged once
 * fdatasynced there, and delivered in order and exactly once when the database is back
 * (docs/CLUSTER.md, "When the database is unreachable: the spool").
 *
 * Thread-safe: one kb_store per process, shared by all threads.
 */
#ifndef KB_STORE_H
#define KB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kb/status.h"

typedef struct kb_store kb_store;

/* Open (creating when missing) the store under data_dir, which is created when missing.
 * Returns NULL on failure with the reason in err. */
kb_store *kb_store_open(const char *data_dir, char *err, size_t err_len);
/* The same for a PostgreSQL store (a postgresql:// URI) with a spool in spool_dir (created 0700
 * when missing; one process at a time): while the database cannot be reached — also at start —
 * events are kept there and delivered when it is back. spool_dir NULL is kb_store_open; a
 * spool with a data directory is refused (SQLite is on this machine: it needs none). */
kb_store *kb_store_open_spooled(const char *data, const char *spool_dir, char *err,
                                size_t err_len);
/* Flush the queue and close. With a spool: what is still queued goes to it (or the database),
 * and delivery goes on for up to 5 s; the rest waits there for the next start. */
void kb_store_close(kb_store *st);

typedef struct {
    const char *search_id;  /* unique id returned to the client */
    const char *agent;      /* the token's NAME */
    const char *query;      /* raw query text: redacted inside */
    int64_t time_ms;        /* unix time in milliseconds */
    const char *const *top_ids; /* best first, up to 10 */
    size_t n_top;
    double confidence;
    int unresolved;
    double took_ms;
} kb_search_event;

/* Queue a search for writing. Returns KB_OK, or KB_ERROR when the queue is full
 * (the event is dropped and counted; see kb_store_stats). */
int kb_store_log_search(kb_store *st, const kb_search_event *ev);

typedef enum { KB_FEEDBACK_CLICK, KB_FEEDBACK_HELPFUL, KB_FEEDBACK_NOT_FOUND } kb_feedback_kind;

/* Record feedback on a search; waits until committed. KB_NOT_FOUND when no search with
 * that id was logged. doc_id may be NULL (e.g. "not found"). The same feedback (search, kind
 * and doc_id) sent again is one event, not two: it is not written again and the call returns
 * KB_DUPLICATE, so that a double click or a retry never counts twice.
 * PostgreSQL: an unknown search is looked for again for up to a second before KB_NOT_FOUND
 * (another node's writer may not have committed it yet). While the spool holds events, KB_OK
 * once the feedback is in the spool: a repeat is then not stored, and feedback on a search the
 * database does not hold yet waits for it (table feedback_parked) for up to 7 days. */
int kb_store_log_feedback(kb_store *st, const char *search_id, const char *agent,
                          kb_feedback_kind kind, const char *doc_id, int64_t time_ms);

/* The same, saying the caller's role ("agent", "editor", "lead" or "admin"): helpful and click
 * feedback on a document is also a teaching record (kb/learn.h) in the same transaction, the
 * search's stored (redacted) question taught to doc_id by agent with that role.
 * kb_store_log_feedback() is this with role "agent". */
int kb_store_log_feedback_as(kb_store *st, const char *search_id, const char *agent,
                             const char *role, kb_feedback_kind kind, const char *doc_id,
                             int64_t time_ms);
/* 1 when role is one of the four role names above. */
int kb_store_role_is_valid(const char *role);

typedef struct {
    const char *agent;      /* who asked (from the request body) */
    const char *filed_by;   /* the token's NAME */
    const char *question;   /* redacted inside */
    const char *answer;     /* the support desk's answer, may be NULL; redacted inside */
    int64_t time_ms;
    int kb_answerable;
    const char *doc_id;     /* may be NULL */
    double confidence;
    /* The answering document (doc_id) as it was when the verdict was made (schema v6): whether
     * it was must-know for the asking agent's team, and its title (redacted inside), so the
     * request stays readable after the document leaves the index. Ignored without doc_id. */
    int must_know;
    const char *doc_title;  /* may be NULL */
    /* The document the support desk answered with, may be NULL: the question then teaches it
     * (kb/learn.h, source help_desk), taught by filed_by with role filed_by_role (one of
     * kb_store_role_is_valid's), in the request's transaction. Redacted inside. */
    const char *answer_doc_id;
    const char *filed_by_role;
} kb_help_request;

/* Record a help request; waits until committed and returns its id in *id. While the spool
 * holds events, the id is one the node reserved while connected; KB_UNAVAILABLE (nothing
 * stored) when it has none left while the database cannot be reached. KB_INVALID for an
 * answer_doc_id without a valid filed_by_role. */
int kb_store_log_help_request(kb_store *st, const kb_help_request *hr, int64_t *id);

typedef struct {
    uint64_t searches_logged;
    uint64_t searches_dropped;
    uint64_t write_errors;
    int failing;            /* the last transaction failed (e.g. disk full); 0 once one commits */
    int unreachable;        /* PostgreSQL: the database cannot be reached (the connection is lost);
                             * 0 once it answers again. Always 0 on SQLite. */
    char last_error[256];   /* why, when failing or unreachable */
    /* The spool (PostgreSQL with kb_store_open_spooled; 0 otherwise). */
    int spooling;           /* events go to the spool (the database is away, or the spool is
                             * still being delivered) */
    uint64_t spool_events;  /* events waiting in the spool */
    int64_t help_ids_left;  /* reserved help-request ids left for the spool */
    uint64_t events_spooled, events_delivered; /* since open */
    uint64_t feedback_parked;  /* delivered feedback parked on a search not in the database */
    uint64_t parked_written;   /* parked feedback written once its search arrived */
    uint64_t parked_dropped;   /* parked feedback dropped after 7 days without its search */
} kb_store_stats_t;
void kb_store_stats(kb_store *st, kb_store_stats_t *out);

/* The message of the last error on this store (thread-local). */
const char *kb_store_errmsg(kb_store *st);

/* The underlying database path (for reports that open it read-only), or the URI without its
 * password. */
const char *kb_store_path(const kb_store *st);

/* Whether a --data value names a PostgreSQL database (postgresql:// or postgres://, docs/CLUSTER.md)
 * rather than a data directory. */
int kb_store_data_is_uri(const char *data);

/* The schema version this program writes (PRAGMA user_version after kb_store_open). Modules
 * with their own connection (kb/gaps.h, kb/review.h) refuse a store of another version. */
int kb_store_schema_version(void);

#endif
