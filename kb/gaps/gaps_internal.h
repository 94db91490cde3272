/*
 * gaps_internal.h — what gaps.c and gaps_query.c share: the kb_gaps handle and small helpers.
 */
#ifndef KB_GAPS_INTERNAL_H
#define KB_GAPS_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include <sqlite3.h>

#include "events/store_conn.h"
#include "kb/gaps.h"

struct kb_gaps {
    kb_store_conn conn;           /* the store connection and the last failure */
    kb_gap_clusterer *clusterer;  /* the open groups, kept between ingests */
    int64_t clusterer_version;    /* gap_progress 'version' it reflects */
    uint64_t clusterer_revision;  /* index revision its IDF weights come from */
    const void *clusterer_searcher;
    int64_t typing_window_ms;     /* see kb_gaps_set_typing_window; 0: off */
    int64_t regrouped_upto;       /* newest gap_questions id at the last kb_gaps_regroup */
};

/* Errors go through the connection: kb_store_conn_fail(&g->conn, ...), kb_store_conn_sql_fail,
 * kb_store_conn_rollback (events/store_conn.h). */
/* First column of the first row of sql with ?1 = a, or fallback. */
int64_t kb_gaps_query_int(kb_gaps *g, const char *sql, int64_t a, int64_t fallback);
/* Tell cached clusterers the open groups changed (inside a write transaction). */
int kb_gaps_bump_version(kb_gaps *g);
/* A column's text, malloc'd; NULL for SQL NULL or when out of memory. */
char *kb_gaps_col_dup(sqlite3_stmt *s, int i);
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
 * statement prepared from kb_gaps_new_group_sql (?1 its first question, ?2 its time). -1 on
 * error. */
extern const char kb_gaps_new_group_sql[];
int64_t kb_gaps_group_id(kb_gaps *g, kb_gap_clusterer *c, long gi, sqlite3_stmt *insert,
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
/* gaps_typing.c: register the SQL function kb_continues(a, b) on db (SQLite code). */
int kb_gaps_register_typing(sqlite3 *db);
/* The last searches rowid in (lo, max] old enough to judge (older than the typing window). */
int64_t kb_gaps_settled_searches(kb_gaps *g, int64_t lo, int64_t max);
/* SELECT of the unresolved searches in rowids (?1, ?2] that enter the queue, ?3 = the window. */
extern const char kb_gaps_typing_searches_sql[];
/* Wall-clock milliseconds. */
int64_t kb_gaps_now_ms(void);

#endif
