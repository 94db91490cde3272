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
 * What may move: only questions of items that are open and that no editor has touched (no
 * status change, no category set). An item an editor works on, or re-opened, keeps what it
 * shows. Questions may move into any open or in-progress item, as they may on arrival.
 *
 * Item ids stay (editors act on ids they loaded minutes ago). Taking a question out and putting
 * it back often lands it in a "new" item of the clusterer: a single-question item always does,
 * since its centroid is empty once the question is out. An item the pass empties keeps its
 * identity where most of its questions went: when that is such a new item, the new item takes
 * its id (so a question with the same companions as before has not moved, and a pass that finds
 * everything in place writes nothing and reports 0); when it is an existing item, or a new one
 * that an item giving it more already named, the emptied item is deleted and recorded in
 * gap_merges as merged into it. kb_gaps_item and kb_gaps_update follow that record.
 *
 * Two phases, like ingest, so the store's write lock is held only for the writing: the
 * reassignment (about 0.65 ms a question against 3,000 items) runs on a snapshot read in one
 * read transaction; the moves are then written in one short write transaction, and only
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
    long from, to; /* the clusterer's groups before and after the pass (-1: not placed) */
} movable;

static void movables_free(movable *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].question);
        free(v[i].terms);
    }
    free(v);
}

/* The newest max questions of open items no editor touched, oldest first. */
static long read_movable(kb_gaps *g, size_t max, movable **out)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT id, group_id, time_ms, question, terms FROM ("
                      " SELECT q.id, q.group_id, q.time_ms, q.question, q.terms"
                      " FROM gap_questions q JOIN gap_groups grp ON grp.id = q.group_id"
                      " WHERE grp.status = 'open' AND grp.status_by IS NULL"
                      " AND grp.category_by IS NULL"
                      " ORDER BY q.time_ms DESC, q.id DESC LIMIT ?1) AS recent"
                      " ORDER BY time_ms, id",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, (int64_t)max);
    movable *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            movable *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = KB_DB_ERROR;
                break;
            }
            v = nv;
            cap = ncap;
        }
        movable *m = &v[n];
        m->id = kb_db_column_int64(s, 0);
        m->group_id = kb_db_column_int64(s, 1);
        m->time_ms = kb_db_column_int64(s, 2);
        m->question = kb_gaps_col_dup(s, 3); /* NOT NULL columns: NULL is out of memory */
        m->terms = kb_gaps_col_dup(s, 4);
        m->from = m->to = -1;
        n++;
        if (!m->question || !m->terms) {
            rc = KB_DB_ERROR;
            break;
        }
    }
    kb_db_finalize(s);
    if (rc != KB_DB_DONE) {
        movables_free(v, n);
        return -1;
    }
    *out = v;
    return (long)n;
}

/* Reassign every movable question against clusterer c (sets from and to). 0, or -1. */
static int plan_moves(kb_gap_clusterer *c, movable *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i].from = kb_gap_clusterer_find(c, v[i].group_id);
        if (v[i].from < 0) continue;
        v[i].to = kb_gap_clusterer_reassign(c, v[i].from, v[i].terms, NULL);
        if (v[i].to < 0) return -1;
    }
    return 0;
}

/* Questions that went from stored item `from` to clusterer group `to`. */
typedef struct {
    int64_t from;
    long to;
    size_t n;
} flow;

static int flow_by_pair(const void *a, const void *b)
{
    const flow *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return x->to < y->to ? -1 : x->to > y->to;
}

/* Largest flows first; then the oldest item, then the first group: deterministic. */
static int flow_by_size(const void *a, const void *b)
{
    const flow *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return flow_by_pair(a, b);
}

/* What the pass does to the stored items: ids[gi] is the stored id clusterer group gi ends up
 * with (0: a new item to insert); merges lists the items emptied into others, each with the
 * group that took most of its questions. */
typedef struct {
    int64_t *ids;
    flow *merges; /* from: the emptied item; to: the group it merged into */
    size_t n_merges;
} outcome;

/* An item the pass emptied: it lost questions and holds none now. */
static int emptied(kb_gap_clusterer *c, const movable *m)
{
    return m->from >= 0 && m->to != m->from && kb_gap_clusterer_members(c, m->from) <= 0;
}

/* Decide ids and merges (see the file comment). An emptied item's identity follows the
 * largest share of its questions: when that went to a group the pass started, the group takes
 * its id (unless an item that gave that group more took it first); otherwise the item merged
 * into the group. 0, or -1 when out of memory. */
static int settle_ids(kb_gap_clusterer *c, const movable *v, size_t n, outcome *out)
{
    size_t n_groups = kb_gap_clusterer_count(c);
    out->ids = calloc(n_groups ? n_groups : 1, sizeof *out->ids);
    flow *f = malloc((n ? n : 1) * sizeof *f);
    if (!out->ids || !f) {
        free(f);
        return -1;
    }
    for (size_t gi = 0; gi < n_groups; gi++) out->ids[gi] = kb_gap_clusterer_group_id(c, (long)gi);
    /* Flows out of emptied items, summed per (item, group). */
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (emptied(c, &v[i])) f[nf++] = (flow){v[i].group_id, v[i].to, 1};
    qsort(f, nf, sizeof *f, flow_by_pair);
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) {
        if (k > 0 && f[k - 1].from == f[i].from && f[k - 1].to == f[i].to) f[k - 1].n++;
        else f[k++] = f[i];
    }
    nf = k;
    /* Each emptied item's largest flow (the first in size order), largest first. */
    qsort(f, nf, sizeof *f, flow_by_size);
    k = 0;
    for (size_t i = 0; i < nf; i++) {
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++) seen = f[j].from == f[i].from;
        if (!seen) f[k++] = f[i];
    }
    out->merges = f;
    out->n_merges = 0;
    for (size_t i = 0; i < k; i++) {
        if (out->ids[f[i].to] == 0) out->ids[f[i].to] = f[i].from; /* re-formed: keeps its id */
        else f[out->n_merges++] = f[i];                             /* merged into another */
    }
    return 0;
}

/* Write the moves (creating the new items) and the merges; collect the items touched. Returns
 * the number of questions moved, or -1. */
static long write_moves(kb_gaps *g, kb_gap_clusterer *c, movable *v, size_t n, outcome *o,
                        kb_gaps_id_set *touched)
{
    kb_db *db = kb_gaps_db(g);
    kb_db_stmt *new_group = NULL, *update = NULL, *merge = NULL, *follow = NULL;
    long moved = -1, k = 0;
    if (kb_db_prepare(db, kb_gaps_new_group_sql, &new_group) != KB_DB_OK ||
        kb_db_prepare(db, "UPDATE gap_questions SET group_id = ?2 WHERE id = ?1", &update) !=
            KB_DB_OK ||
        kb_db_prepare(db,
                      "INSERT INTO gap_merges (id, into_id, time_ms) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (id) DO UPDATE SET into_id = excluded.into_id, "
                      "time_ms = excluded.time_ms",
                      &merge) != KB_DB_OK ||
        kb_db_prepare(db, "UPDATE gap_merges SET into_id = ?2 WHERE into_id = ?1", &follow) !=
            KB_DB_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const movable *q = &v[i];
        if (q->to < 0) continue;
        int64_t gid = o->ids[q->to];
        if (gid == q->group_id) continue; /* the same companions as before */
        if (gid == 0) {
            gid = kb_gaps_group_id(g, c, q->to, new_group, q->question, q->time_ms);
            if (gid <= 0) goto done;
            o->ids[q->to] = gid;
        }
        kb_db_bind_int64(update, 1, q->id);
        kb_db_bind_int64(update, 2, gid);
        if (kb_db_step(update) != KB_DB_DONE) goto done;
        if (kb_gaps_id_set_add(touched, q->group_id) != 0 || kb_gaps_id_set_add(touched, gid) != 0)
            goto done;
        k++;
    }
    int64_t now = kb_gaps_now_ms();
    for (size_t i = 0; i < o->n_merges; i++) {
        int64_t from = o->merges[i].from, into = o->ids[o->merges[i].to];
        if (into <= 0) goto done; /* every group that took questions has an id by now */
        kb_db_bind_int64(merge, 1, from);
        kb_db_bind_int64(merge, 2, into);
        kb_db_bind_int64(merge, 3, now);
        if (kb_db_step(merge) != KB_DB_DONE) goto done;
        /* Ids merged into this one earlier now lead where its questions went. */
        kb_db_bind_int64(follow, 1, from);
        kb_db_bind_int64(follow, 2, into);
        if (kb_db_step(follow) != KB_DB_DONE) goto done;
    }
    moved = k;
done:
    kb_db_finalize(new_group);
    kb_db_finalize(update);
    kb_db_finalize(merge);
    kb_db_finalize(follow);
    return moved;
}

/* How many questions would change item under outcome o. */
static long count_moves(const movable *v, size_t n, const outcome *o)
{
    long k = 0;
    for (size_t i = 0; i < n; i++) k += v[i].to >= 0 && o->ids[v[i].to] != v[i].group_id;
    return k;
}

static const char NEWEST_SQL[] = "SELECT max(id) FROM gap_questions";

long kb_gaps_regroup(kb_gaps *g, const kb_gaps_kb *kb, size_t max_questions)
{
    g->conn.code = KB_OK;
    if (g->conn.readonly) return kb_store_conn_fail(&g->conn, KB_INVALID, "the queue is open read-only"), -1;
    if (max_questions == 0) max_questions = KB_GAPS_REGROUP_MAX;
    if (kb_gaps_query_int(g, NEWEST_SQL, 0, 0) == g->regrouped_upto) return 0;

    /* Phase 1: a snapshot, and the moves planned on it, without the write lock. */
    movable *v = NULL;
    kb_gap_clusterer *c = NULL;
    kb_gaps_id_set touched = {0};
    outcome o = {0};
    long n = -1, n_moves = -1;
    kb_db *db = kb_gaps_db(g);
    if (kb_db_begin(db, KB_DB_TX_READ) != KB_DB_OK) {
        kb_store_conn_sql_fail(&g->conn, "cannot read the queue");
        return -1;
    }
    int64_t version = kb_gaps_progress(g, "version");
    int64_t newest = kb_gaps_query_int(g, NEWEST_SQL, 0, 0);
    n = read_movable(g, max_questions, &v);
    if (n >= 0) c = kb_gaps_read_groups(g, kb);
    if (n < 0 || !c) kb_store_conn_sql_fail(&g->conn, "cannot read the queue");
    kb_db_commit(db); /* a read transaction: nothing to keep */
    if (n < 0 || !c) goto out;
    if (plan_moves(c, v, (size_t)n) != 0 || settle_ids(c, v, (size_t)n, &o) != 0) {
        kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory while regrouping the queue");
        goto out;
    }
    n_moves = count_moves(v, (size_t)n, &o);
    if (n_moves == 0) { /* everything is where it was: nothing to write */
        g->regrouped_upto = newest;
        goto out;
    }

    /* Phase 2: write the moves, unless the queue changed since the snapshot. */
    if (kb_db_begin(db, KB_DB_TX_WRITE) != KB_DB_OK) {
        kb_store_conn_sql_fail(&g->conn, "cannot start regrouping the queue");
        n_moves = -1;
        goto out;
    }
    if (kb_gaps_progress(g, "version") != version ||
        kb_gaps_query_int(g, NEWEST_SQL, 0, 0) != newest) {
        kb_store_conn_rollback(&g->conn); /* the next pass starts from the new state */
        n_moves = 0;
        goto out;
    }
    n_moves = write_moves(g, c, v, (size_t)n, &o, &touched);
    if (n_moves < 0) goto fail;
    for (size_t i = 0; i < touched.n; i++)
        if (kb_gaps_recompute_group(g, touched.v[i]) != 0) goto fail;
    /* The ingest's clusterer reloads when the version moves. */
    if (kb_gaps_bump_version(g) != 0) goto fail;
    if (kb_db_commit(db) != KB_DB_OK) goto fail;
    g->regrouped_upto = newest;
    goto out;
fail:
    kb_store_conn_sql_fail(&g->conn, "cannot regroup the queue");
    kb_store_conn_rollback(&g->conn);
    n_moves = -1;
out:
    kb_gap_clusterer_free(c);
    movables_free(v, n > 0 ? (size_t)n : 0);
    free(o.ids);
    free(o.merges);
    free(touched.v);
    return n_moves;
}
