/*
 * gaps_regroup.c — the refinement pass of the editors' queue (see kb/gaps.h, kb_gaps_regroup,
 * and docs/GAPS.md, "Grouping").
 *
 * Why: questions are grouped as they arrive, each against the items as they were at that
 * moment. An item's first question decides what it attracts until its centroid matures, so an
 * early question that names only the subject (`国际漫游怎么开`) pulls in a sibling (`国际漫游资费`)
 * that a later, fuller item would have taken. One pass that takes each recent question out of
 * its item and assigns it again against today's centroids, oldest first (one k-means step),
 * mends most of these: pairwise F1 on tests/data/grouping.tsv rises from 0.80 to 0.84, and the
 * worst of 10 arrival orders from 0.76 to 0.81. Further passes change almost nothing.
 *
 * What may move: only questions of items that are open and that no editor has touched
 * (status_by IS NULL). An item an editor works on, or re-opened, keeps what it shows. Questions
 * may move into any open or in-progress item, as they may on arrival. An untouched item left
 * without questions is deleted, as when its last help request leaves the queue.
 *
 * Two phases, like ingest, so the store's write lock is held only for the writing: the
 * reassignment (about 0.65 ms a question against 3,000 items) runs on a snapshot read in one
 * read transaction; the moves are then written in one short BEGIN IMMEDIATE transaction, and only
 * if nothing changed meanwhile (an editor's status change bumps gap_progress 'version', a new
 * question raises the newest id); otherwise the pass is dropped and the next one starts afresh.
 * The pass is bounded by max_questions (the most recent ones) and skipped when no question
 * arrived since the previous one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaps/gaps_internal.h"
#include "events/store_conn.h"

typedef struct {
    int64_t id, group_id, time_ms;
    char *question, *terms;
} movable;

static void movables_free(movable *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].question);
        free(v[i].terms);
    }
    free(v);
}

/* The newest max questions of open, untouched items, oldest first. */
static long read_movable(kb_gaps *g, size_t max, movable **out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(g->db,
                           "SELECT id, group_id, time_ms, question, terms FROM ("
                           " SELECT q.id, q.group_id, q.time_ms, q.question, q.terms"
                           " FROM gap_questions q JOIN gap_groups grp ON grp.id = q.group_id"
                           " WHERE grp.status = 'open' AND grp.status_by IS NULL"
                           " ORDER BY q.time_ms DESC, q.id DESC LIMIT ?1)"
                           " ORDER BY time_ms, id",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, (int64_t)max);
    movable *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            movable *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        movable *m = &v[n];
        m->id = sqlite3_column_int64(s, 0);
        m->group_id = sqlite3_column_int64(s, 1);
        m->time_ms = sqlite3_column_int64(s, 2);
        m->question = kb_gaps_col_dup(s, 3); /* NOT NULL columns: NULL is out of memory */
        m->terms = kb_gaps_col_dup(s, 4);
        n++;
        if (!m->question || !m->terms) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        movables_free(v, n);
        return -1;
    }
    *out = v;
    return (long)n;
}

typedef struct {
    size_t question; /* index into the movable list */
    long to;         /* the clusterer's group */
} move;

/* Reassign every movable question against clusterer c; *out gets the moves. */
static long plan_moves(kb_gap_clusterer *c, movable *v, size_t n, move **out)
{
    move *m = malloc((n ? n : 1) * sizeof *m);
    if (!m) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        long from = kb_gap_clusterer_find(c, v[i].group_id);
        if (from < 0) continue;
        long to = kb_gap_clusterer_reassign(c, from, v[i].terms, NULL);
        if (to < 0) {
            free(m);
            return -1;
        }
        if (to != from) m[k++] = (move){i, to};
    }
    *out = m;
    return (long)k;
}

/* Write the moves (creating the new items); collect the items they left and joined. */
static int write_moves(kb_gaps *g, kb_gap_clusterer *c, movable *v, const move *m, size_t n,
                       kb_gaps_id_set *touched)
{
    sqlite3_stmt *new_group = NULL, *update = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(g->db, kb_gaps_new_group_sql, -1, &new_group, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(g->db, "UPDATE gap_questions SET group_id = ?2 WHERE id = ?1", -1,
                           &update, NULL) != SQLITE_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const movable *q = &v[m[i].question];
        int64_t gid = kb_gaps_group_id(g, c, m[i].to, new_group, q->question, q->time_ms);
        if (gid <= 0) goto done;
        sqlite3_reset(update);
        sqlite3_bind_int64(update, 1, q->id);
        sqlite3_bind_int64(update, 2, gid);
        if (sqlite3_step(update) != SQLITE_DONE) goto done;
        if (kb_gaps_id_set_add(touched, q->group_id) != 0 || kb_gaps_id_set_add(touched, gid) != 0)
            goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(new_group);
    sqlite3_finalize(update);
    return rc;
}

static const char NEWEST_SQL[] = "SELECT max(id) FROM gap_questions";

long kb_gaps_regroup(kb_gaps *g, const kb_gaps_kb *kb, size_t max_questions)
{
    g->code = KB_GAPS_OK;
    if (g->readonly) return kb_gaps_fail(g, KB_GAPS_INVALID, "the queue is open read-only"), -1;
    if (max_questions == 0) max_questions = KB_GAPS_REGROUP_MAX;
    if (kb_gaps_query_int(g, NEWEST_SQL, 0, 0) == g->regrouped_upto) return 0;

    /* Phase 1: a snapshot, and the moves planned on it, without the write lock. */
    movable *v = NULL;
    move *m = NULL;
    kb_gap_clusterer *c = NULL;
    kb_gaps_id_set touched = {0};
    long n = -1, n_moves = -1;
    if (sqlite3_exec(g->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        kb_gaps_sql_fail(g, "cannot read the queue");
        return -1;
    }
    int64_t version = kb_gaps_progress(g, "version");
    int64_t newest = kb_gaps_query_int(g, NEWEST_SQL, 0, 0);
    n = read_movable(g, max_questions, &v);
    if (n >= 0) c = kb_gaps_read_groups(g, kb);
    sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (n < 0 || !c) {
        kb_gaps_sql_fail(g, "cannot read the queue");
        goto out;
    }
    n_moves = plan_moves(c, v, (size_t)n, &m);
    if (n_moves < 0) {
        kb_gaps_fail(g, KB_GAPS_ERROR, "out of memory while regrouping the queue");
        goto out;
    }
    if (n_moves == 0) {
        g->regrouped_upto = newest;
        goto out;
    }

    /* Phase 2: write the moves, unless the queue changed since the snapshot. */
    if (kb_store_begin_immediate(g->db) != SQLITE_OK) {
        kb_gaps_sql_fail(g, "cannot start regrouping the queue");
        n_moves = -1;
        goto out;
    }
    if (kb_gaps_progress(g, "version") != version ||
        kb_gaps_query_int(g, NEWEST_SQL, 0, 0) != newest) {
        kb_gaps_rollback(g); /* the next pass starts from the new state */
        n_moves = 0;
        goto out;
    }
    if (write_moves(g, c, v, m, (size_t)n_moves, &touched) != 0)
        goto fail;
    for (size_t i = 0; i < touched.n; i++)
        if (kb_gaps_recompute_group(g, touched.v[i]) != 0) goto fail;
    /* The ingest's clusterer reloads when the version moves. */
    if (kb_gaps_bump_version(g) != 0) goto fail;
    if (sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    g->regrouped_upto = newest;
    goto out;
fail:
    kb_gaps_sql_fail(g, "cannot regroup the queue");
    kb_gaps_rollback(g);
    n_moves = -1;
out:
    kb_gap_clusterer_free(c);
    movables_free(v, n > 0 ? (size_t)n : 0);
    free(m);
    free(touched.v);
    return n_moves;
}
