/*
 * gaps_internal.h — what the files of kb/gaps share: the kb_gaps handle and small helpers.
 *
 * The queue's tables live in the event store, on SQLite or PostgreSQL (docs/CLUSTER.md); every
 * statement goes through kb/db and is written once for both. Where the two differ — the column
 * that gives the commit order of the searches and help requests the ingest follows — the SQL is
 * built with kb_gaps_order_of().
 */
#ifndef KB_GAPS_INTERNAL_H
#define KB_GAPS_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "db/db.h"
#include "events/store_conn.h"
#include "kb/gaps.h"
#include "util/strmap.h"

struct kb_gaps {
    kb_store_conn conn;           /* the store connection and the last failure */
    kb_gap_clusterer *clusterer;  /* the open groups, kept between ingests */
    int64_t clusterer_version;    /* gap_progress 'version' it reflects */
    uint64_t clusterer_revision;  /* index revision its IDF weights come from */
    const void *clusterer_searcher;
    int64_t typing_window_ms;     /* see kb_gaps_set_typing_window; 0: off */
    int64_t regrouped_upto;       /* newest gap_questions id at the last kb_gaps_regroup */
    int role_held;                /* kb_gaps_role: this session holds KB_GAPS_ROLE_LOCK */
    uint64_t role_generation;     /* kb_db_generation of the session that took it */
    struct kb_gaps_kept {         /* kb_gaps_stmt: statements kept for the handle's life */
        char *sql;
        kb_db_stmt *s;
    } *kept;
    size_t n_kept, cap_kept;
    kb_strmap terms_memo;         /* question text -> its grouping terms (gaps.c, analyze) */
    const void *terms_memo_analyzer; /* the analyzer that made them */
    size_t terms_memo_bytes;      /* what they hold, about */
};

/* The statement for sql, prepared on the first call and kept until kb_gaps_close: the ingest
 * runs every second with the same few dozen statements, and compiling them each time cost more
 * than running them at a floor's pace (on PostgreSQL a kept statement is also prepared on the
 * server once). It comes reset, its parameters NULL; the caller binds, steps, and resets it
 * when done (kb_db_reset, which on SQLite ends a read it left unfinished), never finalizes it.
 * Only for SQL of a bounded set of texts. NULL on error (the reason is on the connection). */
kb_db_stmt *kb_gaps_stmt(kb_gaps *g, const char *sql);
/* Errors go through the connection: kb_store_conn_fail(&g->conn, ...), kb_store_conn_sql_fail,
 * kb_store_conn_rollback (events/store_conn.h). */
static inline kb_db *kb_gaps_db(kb_gaps *g) { return g->conn.kdb; }
/* The column that numbers table's rows in commit order, which the ingest's watermarks follow:
 * SQLite's rowid (searches has a text key; help_requests' id is its rowid), PostgreSQL's seq
 * (identity values drawn under the cluster's write lock; a help request's id may come from a
 * block a node reserved earlier, docs/CLUSTER.md). table is "searches" or "help_requests". */
const char *kb_gaps_order_of(kb_gaps *g, const char *table);
/* First column of the first row of sql with ?1 = a (when it has a parameter), or fallback. */
int64_t kb_gaps_query_int(kb_gaps *g, const char *sql, int64_t a, int64_t fallback);
/* Tell cached clusterers the open groups changed (inside a write transaction). */
int kb_gaps_bump_version(kb_gaps *g);
/* A column's text, malloc'd; NULL for SQL NULL or when out of memory. */
char *kb_gaps_col_dup(kb_db_stmt *s, int i);
/* Run sql with ?1 = id to completion (a write inside the caller's transaction). 0, or -1. */
int kb_gaps_exec_id(kb_gaps *g, const char *sql, int64_t id);
/* A set of group ids (the items a transaction touched), in insertion order. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} kb_gaps_id_set;
/* Add id unless present. 0, or -1 when out of memory. */
int kb_gaps_id_set_add(kb_gaps_id_set *s, int64_t id);
/* A clusterer holding the open and in-progress groups as stored, or NULL. */
kb_gap_clusterer *kb_gaps_read_groups(kb_gaps *g, const kb_gaps_kb *kb);
/* The stored id of clusterer group gi; a new group (id 0) is inserted first with `insert`, a
 * statement prepared from kb_gaps_new_group_sql (?1 its first question, ?2 its time; RETURNING
 * its id). -1 on error. */
extern const char kb_gaps_new_group_sql[];
int64_t kb_gaps_group_id(kb_gaps *g, kb_gap_clusterer *c, long gi, kb_db_stmt *insert,
                         const char *question, int64_t time_ms);
/* gap_progress's value for source ('version', 'searches', ...), 0 when unset. */
int64_t kb_gaps_progress(kb_gaps *g, const char *source);
/* Set it (inside the caller's write transaction). 0, or -1. */
int kb_gaps_set_progress(kb_gaps *g, const char *source, int64_t value);
/* gaps_aggregates.c: recompute a group's aggregates, centroid and tallies (gap_variants,
 * gap_categories) from its questions; an open group left without questions that no editor
 * touched is deleted. For removals, moves and re-analysis; adding questions uses kb_gaps_adds. */
int kb_gaps_recompute_group(kb_gaps *g, int64_t id);
/* gaps_aggregates.c: the aggregates of the items a batch adds questions to, kept up at the cost of
 * what is added (inside the caller's write transaction). Note each question before its row is
 * inserted, then write once every question is placed, with the clusterer that placed them (its
 * centroids are the items' new ones). */
typedef struct kb_gaps_adds kb_gaps_adds;
kb_gaps_adds *kb_gaps_adds_new(kb_gaps *g); /* NULL on error */
int kb_gaps_adds_note(kb_gaps_adds *a, int64_t id, long gi, const char *source, const char *agent,
                      const char *question, const char *category, int64_t time_ms);
int kb_gaps_adds_write(kb_gaps_adds *a, const kb_gap_clusterer *c);
void kb_gaps_adds_free(kb_gaps_adds *a);
/* The category an item derives from its questions (those of rejected confident answers): the
 * most frequent, the latest on a tie, then the text's byte order. SQL expression; ?1 is the
 * item. */
#define KB_GAPS_DERIVED_CATEGORY                                                                \
    "(SELECT category FROM gap_questions WHERE group_id = ?1 AND category IS NOT NULL"         \
    " GROUP BY category ORDER BY count(*) DESC, max(time_ms) DESC, category LIMIT 1)"
/* Item id as kb_gaps_list shows it (its own counts, no date window) into *out. KB_OK, or
 * KB_NOT_FOUND / KB_ERROR with the reason set (*out empty). */
int kb_gaps_read_item(kb_gaps *g, int64_t id, kb_gap_item *out);
/* The item that holds id's questions now: id itself, or the item the regroup pass merged it
 * into (gap_merges). 0 when there is none (KB_NOT_FOUND set), -1 on error. */
int64_t kb_gaps_resolve(kb_gaps *g, int64_t id);
/* A question's grouping terms as stored: kb_gaps_terms(), or for a question with nothing
 * informative its exact text (marked '"'), so it groups only with the same text. malloc'd;
 * NULL when out of memory. */
char *kb_gaps_question_terms(kb_analyzer *a, const char *question);
/* gaps_reterm.c: analyze a batch of questions stored under older grouping rules again (see
 * KB_GAPS_TERMS_VERSION). Returns how many still wait, or -1 on error. */
long kb_gaps_reterm(kb_gaps *g, const kb_gaps_kb *kb, size_t max_rows);
/* gaps_typing.c: the last searches row in (lo, max] (kb_gaps_order_of) old enough to judge
 * (older than the typing window). */
int64_t kb_gaps_settled_searches(kb_gaps *g, int64_t lo, int64_t max);
/* gaps_typing.c: the SELECT of the unresolved searches in rows (?1, ?2] (kb_gaps_order_of), ?3
 * the window in ms, into buf: search_id, time_ms, agent, query, top_id, then whether the search
 * had feedback and the same agent's next query within the window, for kb_gaps_typing_step. 0, or
 * -1 when buf is too small. */
int kb_gaps_typing_searches_sql(kb_gaps *g, char *buf, size_t len);
/* Whether an unresolved search was only a step of typing, from those two columns (see
 * gaps_typing.c): it had no feedback and the next query continues it. */
int kb_gaps_typing_step(const char *query, int had_feedback, const char *next_query);
/* gaps_doc_days.c: the per-day counts of the documents the searches in rows (lo, hi]
 * (kb_gaps_order_of) returned, read and added up without a transaction (NULL on error), then
 * added to doc_days inside the ingest's write transaction (0, or -1). */
typedef struct kb_gaps_doc_days kb_gaps_doc_days;
kb_gaps_doc_days *kb_gaps_doc_days_read(kb_gaps *g, int64_t lo, int64_t hi);
int kb_gaps_doc_days_write(kb_gaps *g, const kb_gaps_doc_days *d);
void kb_gaps_doc_days_free(kb_gaps_doc_days *d);
/* Wall-clock milliseconds. */
int64_t kb_gaps_now_ms(void);

#endif
