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
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(g->conn.db,
                           "SELECT id, group_id, question, terms FROM gap_questions WHERE id > ?1 "
                           "ORDER BY id LIMIT ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, upto);
    sqlite3_bind_int64(s, 2, (int64_t)max);
    requestion *v = calloc(max, sizeof *v);
    size_t n = 0;
    int rc = v ? SQLITE_ROW : SQLITE_NOMEM;
    while (v && n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *question = (const char *)sqlite3_column_text(s, 2);
        const char *old = (const char *)sqlite3_column_text(s, 3);
        requestion *r = &v[n++];
        r->id = sqlite3_column_int64(s, 0);
        r->group_id = sqlite3_column_int64(s, 1);
        r->terms = kb_gaps_question_terms(kb->analyzer, question ? question : "");
        if (!r->terms) {
            rc = SQLITE_NOMEM;
            break;
        }
        r->changed = !old || strcmp(old, r->terms) != 0;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && !(rc == SQLITE_ROW && n == max)) {
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
    kb_gaps_id_set touched = {0};
    sqlite3_stmt *u = NULL;
    int rc = -1;
    if (kb_store_begin_immediate(g->conn.db) != SQLITE_OK) return -1;
    if (n == 0) { /* every question is up to date */
        if (kb_gaps_set_progress(g, "terms_version", KB_GAPS_TERMS_VERSION) != 0 ||
            sqlite3_exec(g->conn.db, "DELETE FROM gap_progress WHERE source = 'terms_upto'", NULL, NULL,
                         NULL) != SQLITE_OK)
            goto done;
    } else {
        if (sqlite3_prepare_v2(g->conn.db, "UPDATE gap_questions SET terms = ?2 WHERE id = ?1", -1, &u,
                               NULL) != SQLITE_OK)
            goto done;
        for (size_t i = 0; i < n; i++) {
            if (!v[i].changed) continue;
            sqlite3_reset(u);
            sqlite3_bind_int64(u, 1, v[i].id);
            sqlite3_bind_text(u, 2, v[i].terms, -1, SQLITE_STATIC);
            if (sqlite3_step(u) != SQLITE_DONE || kb_gaps_id_set_add(&touched, v[i].group_id) != 0)
                goto done;
        }
        for (size_t i = 0; i < touched.n; i++)
            if (kb_gaps_recompute_group(g, touched.v[i]) != 0) goto done;
        /* Cached clusterers reload the changed centroids. */
        if ((touched.n && kb_gaps_bump_version(g) != 0) ||
            kb_gaps_set_progress(g, "terms_upto", v[n - 1].id) != 0)
            goto done;
    }
    rc = sqlite3_exec(g->conn.db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
done:
    sqlite3_finalize(u);
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
