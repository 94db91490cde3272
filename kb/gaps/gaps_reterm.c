/*
 * gaps_reterm.c — stored questions analyzed again when the grouping rules change (see
 * KB_GAPS_TERMS_VERSION in kb/gaps.h).
 *
 * Each question keeps the grouping terms it was given when it was taken in (gap_questions.terms),
 * and items' centroids are sums of them. When kb_gaps_terms changes what a question gives (for
 * version 2: redaction placeholders and digit runs are no longer terms), a queue written under
 * the old rules would keep comparing new questions with old centroids — items merged through
 * [手机号] would go on attracting questions through the remnants. So kb_gaps_ingest first brings
 * stored questions up to the current rules: a batch at a time in id order (gap_progress
 * 'terms_upto' is the last id done), analyzed without the write lock, written in one short
 * transaction with the centroids of the items whose questions changed, until none is left; then
 * 'terms_version' records the version. The regroup pass then mends what the old terms had
 * grouped among the recent questions; older items keep their questions (an item keeps its
 * identity, see docs/GAPS.md).
 */
#include <stdlib.h>
#include <string.h>

#include "gaps/gaps_internal.h"
#include "events/store_conn.h"

typedef struct {
    int64_t id, group_id;
    char *terms; /* the question's terms under the current rules */
    int changed;
} requestion;

static void free_batch(requestion *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].terms);
    free(v);
}

/* Read questions after `upto` (at most max) and analyze them again. Returns how many, or -1. */
static long read_batch(kb_gaps *g, const kb_gaps_kb *kb, int64_t upto, size_t max,
                       requestion **out)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT id, group_id, question, terms FROM gap_questions WHERE id > ?1 "
                      "ORDER BY id LIMIT ?2",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, upto);
    kb_db_bind_int64(s, 2, (int64_t)max);
    requestion *v = calloc(max, sizeof *v);
    size_t n = 0;
    int rc = v ? KB_DB_ROW : KB_DB_ERROR;
    while (v && n < max && (rc = kb_db_step(s)) == KB_DB_ROW) {
        const char *question = kb_db_column_text(s, 2);
        const char *old = kb_db_column_text(s, 3);
        requestion *r = &v[n++];
        r->id = kb_db_column_int64(s, 0);
        r->group_id = kb_db_column_int64(s, 1);
        r->terms = kb_gaps_question_terms(kb->analyzer, question ? question : "");
        if (!r->terms) {
            rc = KB_DB_ERROR;
            break;
        }
        r->changed = !old || strcmp(old, r->terms) != 0;
    }
    kb_db_finalize(s);
    if (rc != KB_DB_DONE && !(rc == KB_DB_ROW && n == max)) {
        free_batch(v, n);
        return -1;
    }
    *out = v;
    return (long)n;
}

/* Write the batch's new terms and the centroids they change; move 'terms_upto' (or, with an
 * empty batch, record the version). Inside one write transaction. */
static int write_batch(kb_gaps *g, requestion *v, size_t n)
{
    kb_db *db = kb_gaps_db(g);
    kb_gaps_id_set touched = {0};
    kb_db_stmt *u = NULL;
    int rc = -1;
    if (kb_db_begin(db, KB_DB_TX_WRITE) != KB_DB_OK) return -1;
    if (n == 0) { /* every question is up to date */
        if (kb_gaps_set_progress(g, "terms_version", KB_GAPS_TERMS_VERSION) != 0 ||
            kb_db_exec(db, "DELETE FROM gap_progress WHERE source = 'terms_upto'") != KB_DB_OK)
            goto done;
    } else {
        if (kb_db_prepare(db, "UPDATE gap_questions SET terms = ?2 WHERE id = ?1", &u) != KB_DB_OK)
            goto done;
        for (size_t i = 0; i < n; i++) {
            if (!v[i].changed) continue;
            kb_db_bind_int64(u, 1, v[i].id);
            kb_db_bind_text(u, 2, v[i].terms);
            if (kb_db_step(u) != KB_DB_DONE || kb_gaps_id_set_add(&touched, v[i].group_id) != 0)
                goto done;
        }
        for (size_t i = 0; i < touched.n; i++)
            if (kb_gaps_recompute_group(g, touched.v[i]) != 0) goto done;
        /* Cached clusterers reload the changed centroids. */
        if ((touched.n && kb_gaps_bump_version(g) != 0) ||
            kb_gaps_set_progress(g, "terms_upto", v[n - 1].id) != 0)
            goto done;
    }
    rc = kb_db_commit(db) == KB_DB_OK ? 0 : -1;
done:
    kb_db_finalize(u);
    if (rc != 0) kb_store_conn_rollback(&g->conn);
    free(touched.v);
    return rc;
}

long kb_gaps_reterm(kb_gaps *g, const kb_gaps_kb *kb, size_t max_rows)
{
    if (kb_gaps_progress(g, "terms_version") >= KB_GAPS_TERMS_VERSION) return 0;
    int64_t upto = kb_gaps_progress(g, "terms_upto");
    requestion *v = NULL;
    long n = read_batch(g, kb, upto, max_rows ? max_rows : 1000, &v);
    if (n < 0) {
        kb_store_conn_sql_fail(&g->conn, "cannot read the queue's questions to analyze them again");
        return -1;
    }
    int rc = write_batch(g, v, (size_t)n);
    int64_t last = n > 0 ? v[n - 1].id : upto;
    free_batch(v, (size_t)n);
    if (rc != 0) {
        kb_store_conn_sql_fail(&g->conn, "cannot store the questions analyzed again");
        return -1;
    }
    /* What still waits, so the caller keeps going without sleeping; a finished pass has
     * recorded the version (n == 0) and waits for nothing. */
    return n == 0 ? 0
                  : 1 + (long)kb_gaps_query_int(g, "SELECT count(*) FROM gap_questions WHERE id > ?1",
                                                last, 0);
}
