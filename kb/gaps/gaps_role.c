/*
 * gaps_role.c — which node keeps the editors' queue current (see kb/gaps.h, kb_gaps_role, and
 * docs/CLUSTER.md, "Work that runs on one node at a time").
 *
 * The role is PostgreSQL's session-level advisory lock KB_GAPS_ROLE_LOCK (kb_db_try_lock) on the
 * kb_gaps handle's own session, the one its ingest, regroup and re-check write with. So:
 *   - a node that dies, or is cut off, loses its session and with it the lock: the server frees
 *     it (at once when the process dies, within the TCP keepalive time when the machine or the
 *     network does), and another node's next call takes it;
 *   - a node whose session was lost cannot commit anything on it, and a reconnect opens a new
 *     session that does not hold the lock (kb_db_generation changes): the role is given up and
 *     the handle must take the lock again, which it gets only if no other node has it by then.
 * Each call while holding the role asks the server whether the session still holds the lock (one
 * round trip, once a second from kb-searchd's worker), so a lost session is noticed before the
 * next round of work, not only by its failure.
 *
 * The handle's in-memory state from an earlier turn (the ingest's clusterer: the open groups'
 * centroids) is dropped when the role is taken, since another node may have added to those
 * groups meanwhile; writing centroids from the stale copy would undo its work.
 */
#include <stdio.h>

#include "gaps/gaps_internal.h"

/* Give the role up: forget the lock, and release it on the server when the session is alive
 * (a reconnect already dropped it with the old session). */
static void give_up(kb_gaps *g)
{
    kb_db *db = kb_gaps_db(g);
    g->role_held = 0;
    if (kb_db_generation(db) == g->role_generation) kb_db_unlock(db, KB_GAPS_ROLE_LOCK);
}

int kb_gaps_role(kb_gaps *g, int *held, int *lost)
{
    kb_db *db = kb_gaps_db(g);
    int still = 0, was_lost = 0;
    *held = 0;
    if (lost) *lost = 0;
    g->conn.code = KB_OK;
    if (kb_db_dialect_of(db) != KB_DB_POSTGRESQL) {
        *held = g->role_held = 1;
        return KB_OK;
    }
    if (g->role_held) {
        int rc = kb_db_generation(db) == g->role_generation
                     ? kb_db_lock_held(db, KB_GAPS_ROLE_LOCK, &still)
                     : KB_DB_LOST;
        if (rc == KB_DB_OK && still) {
            *held = 1;
            return KB_OK;
        }
        /* Why, for the caller's log line (the code stays KB_OK: losing the role is news, not a
         * failure of this call). */
        if (rc == KB_DB_OK)
            kb_store_conn_fail(&g->conn, KB_OK, "the session no longer holds the lock %s",
                               KB_GAPS_ROLE_LOCK);
        else if (kb_db_generation(db) != g->role_generation)
            kb_store_conn_fail(&g->conn, KB_OK,
                               "the session was replaced by a new connection, which does not "
                               "hold the lock %s", KB_GAPS_ROLE_LOCK);
        else
            kb_store_conn_fail(&g->conn, KB_OK, "the session holding the lock %s is gone: %s",
                               KB_GAPS_ROLE_LOCK, kb_store_db_message(db));
        give_up(g);
        was_lost = 1;
        if (lost) *lost = 1;
    }
    /* A session found lost (now, or by the work that failed before this call) is connected
     * again: a new session, without the lock; the server freed the old one's with it. */
    int got = 0, rc = kb_db_try_lock(db, KB_GAPS_ROLE_LOCK, &got);
    if (rc == KB_DB_LOST && kb_db_reconnect(db) == KB_DB_OK)
        rc = kb_db_try_lock(db, KB_GAPS_ROLE_LOCK, &got);
    if (rc != KB_DB_OK) {
        if (!was_lost) /* keep the reason the role was lost; this one follows from it */
            kb_store_conn_sql_fail(&g->conn, "cannot take the lock " KB_GAPS_ROLE_LOCK);
        else g->conn.code = KB_ERROR;
        return KB_ERROR;
    }
    if (!got) return KB_OK; /* another node has it */
    /* Taken (again): start from what the database holds now. */
    kb_gap_clusterer_free(g->clusterer);
    g->clusterer = NULL;
    g->regrouped_upto = 0;
    g->role_held = 1;
    g->role_generation = kb_db_generation(db);
    *held = 1;
    return KB_OK;
}
