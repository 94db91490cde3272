/*
 * store_spool.c — the store's writer while PostgreSQL cannot be reached, and after: events kept
 * in the spool, their delivery in order and exactly once, feedback parked on searches another
 * node has not delivered yet, the help-request ids reserved for the spool, and the rhythm of
 * reconnecting (docs/CLUSTER.md, "When the database is unreachable: the spool").
 *
 * The writer thread alone runs this. Its state machine, in one line: a batch fails with a lost
 * connection -> it and every later batch go to the spool (st->spooling) -> the writer tries to
 * reconnect every second (every 5 s once the database has been away a minute) -> connected, it
 * delivers the spool a batch of up to 1,000 at a time through the normal write path, between
 * batches of the queue -> the spool is empty -> batches go straight to the database again. While
 * the spool holds anything, new events join it there, so one node's events reach the database
 * in the order the node took them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/store_conn.h"
#include "events/store_internal.h"
#include "kb/journal.h"

#define SPOOL_DELIVER_MAX 1000    /* spooled events per delivery transaction */
#define CHECK_MS 1000             /* how often an idle writer checks its connection */
#define RECONNECT_FAST_MS 1000    /* reconnect attempts while the database is newly away */
#define RECONNECT_SLOW_MS 5000    /* ... once it has been away a minute */
#define RECONNECT_FAST_FOR_MS 60000
#define RETRY_MS 5000             /* delivery or migration failed for another reason */
#define CONNECT_POLL_MS 20        /* how often an idle writer looks at a connection under way */
#define PARKED_MAX_AGE_MS (7LL * 24 * 3600 * 1000) /* parked feedback is dropped after this */
#define PARKED_BATCH 1000

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Failures of the spool's side that are not the connection, said once in the journal (and on
 * /healthz as "failing") until they are over: writing to the spool, and the rest (reading and
 * delivering it, reserving ids, the schema of a store opened offline), which is retried after
 * RETRY_MS. */
enum { WRITING = 1, DELIVERING = 2 };

static void spool_problem(kb_store *st, int which, const char *what, const char *why)
{
    if (!(st->spool_failing & which))
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: %s: %s\n", st->path, what, why);
    st->spool_failing |= which;
    st->failing = 1;
    snprintf(st->fail_msg, sizeof st->fail_msg, "%s: %s", what, why);
    if (which == DELIVERING) st->next_try_ms = kb_writer_now_ms() + RETRY_MS;
}

static void spool_problem_over(kb_store *st, int which)
{
    if (!(st->spool_failing & which)) return;
    kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: %s works again\n", st->path,
                      which == WRITING ? "writing to the spool" : "delivering the spool");
    st->spool_failing &= ~which;
    if (!st->spool_failing) st->failing = 0;
}

/* ---------------------------------------------------------------- opening */

int kb_writer_spool_open(kb_store *st, const char *dir, char *err, size_t err_len)
{
    st->spool = kb_spool_open(dir, 0, err, err_len);
    if (!st->spool) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/ids", dir);
    st->ids = kb_help_ids_open(path, err, err_len);
    if (!st->ids) return -1;
    uint64_t waiting = kb_spool_pending(st->spool);
    if (waiting) {
        /* What an earlier run could not deliver goes first. */
        st->spooling = 1;
        kb_journal_printf(KB_PRIO_INFO, "kb_store: spool %s: %llu events from before wait to be "
                          "delivered\n", dir, (unsigned long long)waiting);
    }
    return 0;
}

void kb_writer_spool_close(kb_store *st)
{
    if (st->spool && kb_spool_sync(st->spool) != 0)
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s\n", kb_spool_errmsg(st->spool));
    kb_spool_close(st->spool);
    st->spool = NULL;
    kb_help_ids_close(st->ids);
    st->ids = NULL;
}

/* ---------------------------------------------------------------- into the spool */

void kb_writer_spool_batch(kb_store *st, event *batch)
{
    int acked = 0;
    uint64_t kept = 0;
    char why[600] = "";
    for (event *ev = batch; ev; ev = ev->next) {
        if (ev->refused) continue; /* reported failed already */
        if (ev->type == KB_EV_HELP && !ev->id) {
            /* Its id now: the contract answers 201 with it, and it is inserted with it later. */
            int rc = kb_help_ids_take(st->ids, &ev->id);
            if (rc != 0) {
                free(ev->err);
                ev->err = NULL;
                if (rc > 0) {
                    ev->result = KB_UNAVAILABLE;
                    if (asprintf(&ev->err, "event store unreachable: %s cannot be reached and "
                                 "this node has no reserved help-request id left to give",
                                 st->path) < 0)
                        ev->err = NULL;
                } else {
                    kb_writer_fail_event(st, ev, kb_help_ids_errmsg(st->ids));
                }
                continue;
            }
        }
        unsigned char *rec;
        size_t len;
        if (kb_event_encode(ev, &rec, &len) != 0 || kb_spool_append(st->spool, rec, len) != 0) {
            if (!why[0]) snprintf(why, sizeof why, "cannot keep it in the spool: %s",
                                  kb_spool_errmsg(st->spool)[0] ? kb_spool_errmsg(st->spool)
                                                                 : "out of memory");
            kb_writer_fail_event(st, ev, why);
            continue;
        }
        free(rec);
        ev->result = KB_OK;
        acked |= ev->acked;
        kept++;
    }
    /* Acknowledged events only once on disk, as synchronous=FULL does for SQLite; searches
     * alone have the loss window of synchronous=NORMAL. */
    if (kept && (acked ? kb_spool_sync(st->spool) : kb_spool_flush(st->spool)) != 0) {
        snprintf(why, sizeof why, "cannot keep it in the spool: %s", kb_spool_errmsg(st->spool));
        for (event *ev = batch; ev; ev = ev->next)
            if (ev->result == KB_OK && !ev->refused) kb_writer_fail_event(st, ev, why);
        kept = 0;
        spool_problem(st, WRITING, "cannot write to the spool", kb_spool_errmsg(st->spool));
    } else if (kept) {
        spool_problem_over(st, WRITING);
    }
    st->n_spooled += kept;
}

/* ---------------------------------------------------------------- parked feedback */

/* Feedback parked on a search the database did not hold: write those whose search has arrived,
 * with their teaching, and drop (counting) those waiting longer than 7 days. One query when
 * nothing waits, so it also serves as the idle writer's check of its connection. Any node may
 * do it, at any time: a row written twice is the same feedback, which feedback_once keeps to
 * one. Returns the kb_db code. */
static int parked_round(kb_store *st)
{
    int64_t cutoff = wall_ms() - PARKED_MAX_AGE_MS;
    kb_db_stmt *q = NULL;
    int rc = kb_db_prepare(st->db,
                           "SELECT id, search_id, agent, kind, doc_id, role, time_ms, "
                           "EXISTS (SELECT 1 FROM searches s WHERE s.search_id = p.search_id) "
                           "FROM feedback_parked p WHERE p.time_ms < ?1 OR EXISTS (SELECT 1 FROM "
                           "searches s WHERE s.search_id = p.search_id) ORDER BY id LIMIT 1000",
                           &q);
    if (rc != KB_DB_OK) return rc;
    kb_db_bind_int64(q, 1, cutoff);
    event *evs = calloc(PARKED_BATCH, sizeof *evs);
    int64_t *ids = calloc(PARKED_BATCH, sizeof *ids);
    int *arrived = calloc(PARKED_BATCH, sizeof *arrived);
    size_t n = 0;
    if (!evs || !ids || !arrived) rc = KB_DB_ERROR;
    while (rc == KB_DB_OK && n < PARKED_BATCH && (rc = kb_db_step(q)) == KB_DB_ROW) {
        event *ev = &evs[n];
        ev->type = KB_EV_FEEDBACK;
        ids[n] = kb_db_column_int64(q, 0);
        for (int i = 0; i < 5; i++)
            if (kb_db_column_dup(q, i + 1, &ev->s[i]) != 0) rc = KB_DB_ERROR;
        ev->time_ms = kb_db_column_int64(q, 6);
        arrived[n] = (int)kb_db_column_int64(q, 7);
        n++;
        if (rc == KB_DB_ROW) rc = KB_DB_OK;
    }
    if (rc == KB_DB_DONE || rc == KB_DB_ROW) rc = KB_DB_OK;
    kb_db_finalize(q);
    size_t written = 0, dropped = 0;
    if (rc == KB_DB_OK && n) {
        kb_db_stmt *del = NULL;
        kb_db_set_durable(st->db, 1);
        rc = kb_db_begin(st->db, KB_DB_TX_WRITE);
        if (rc == KB_DB_OK) rc = kb_db_prepare(st->db, "DELETE FROM feedback_parked WHERE id = ?1", &del);
        st->delivering = 1; /* a repeat is nothing, as for delivered feedback */
        for (size_t i = 0; rc == KB_DB_OK && i < n; i++) {
            if (arrived[i]) {
                rc = kb_writer_write_event(st, &evs[i]); /* with its teaching */
                if (rc == KB_DB_OK) written++;
            } else {
                dropped++;
            }
            if (rc == KB_DB_OK) {
                kb_db_bind_int64(del, 1, ids[i]);
                rc = kb_db_step(del) == KB_DB_DONE ? KB_DB_OK : kb_db_errcode(st->db);
            }
        }
        st->delivering = 0;
        kb_db_finalize(del);
        if (rc == KB_DB_OK) rc = kb_db_commit(st->db);
        if (rc != KB_DB_OK) {
            if (kb_db_errcode(st->db) == KB_DB_LOST) rc = KB_DB_LOST;
            kb_db_rollback(st->db);
            written = dropped = 0;
        }
    }
    for (size_t i = 0; evs && i < n; i++) kb_event_free_strings(&evs[i]);
    free(evs);
    free(ids);
    free(arrived);
    st->n_parked_written += written;
    st->n_parked_dropped += dropped;
    if (dropped)
        kb_journal_printf(KB_PRIO_WARNING, "kb_store: %s: %zu feedback events dropped: their "
                          "search did not reach the database within 7 days\n", st->path, dropped);
    if (rc != KB_DB_OK && rc != KB_DB_LOST && rc != KB_DB_BUSY) { /* busy: again next second */
        char why[256];
        kb_writer_failure_text(st, why, sizeof why);
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: cannot write parked feedback: %s\n",
                          st->path, why);
    }
    return rc;
}

/* ---------------------------------------------------------------- delivery */

int kb_writer_delivery_due(kb_store *st)
{
    return st->spool && st->spooling && !st->unreachable && !st->need_migrate &&
           kb_writer_now_ms() >= st->next_try_ms;
}

/* The spool is empty and the database answers: events go straight to it again. */
static void spool_drained(kb_store *st)
{
    if (kb_spool_pending(st->spool) || st->unreachable || st->need_migrate) return;
    st->spooling = 0;
    kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: the spool is delivered (%llu events since "
                      "start); events go straight to the database again\n", st->path,
                      (unsigned long long)st->n_delivered);
}

void kb_writer_deliver(kb_store *st)
{
    kb_spool_batch b;
    if (kb_spool_read(st->spool, SPOOL_DELIVER_MAX, &b) != 0) {
        spool_problem(st, DELIVERING, "cannot read the spool (restart kb-searchd: the start drops "
                      "what is damaged, docs/OPERATIONS.md)", kb_spool_errmsg(st->spool));
        return;
    }
    if (b.n == 0) {
        kb_spool_batch_free(&b);
        if (kb_spool_pending(st->spool)) /* never expected: back off rather than spin */
            spool_problem(st, DELIVERING, "cannot deliver the spool",
                          "events are counted as waiting but none can be read");
        else
            spool_drained(st);
        return;
    }
    event *evs = calloc(b.n, sizeof *evs), *list = NULL, **tail = &list;
    size_t undecodable = 0;
    int oom = !evs;
    for (size_t i = 0; evs && i < b.n; i++) {
        if (kb_event_decode(b.recs[i].data, b.recs[i].len, &evs[i]) != 0) {
            undecodable++;
            continue;
        }
        /* A spool an earlier build wrote holds text redacted by its rules (schema 11 widened
         * them): it reaches the database redacted by today's, like what the store holds. */
        if (kb_writer_redact_again(&evs[i]) != 0) oom = 1;
        *tail = &evs[i];
        tail = &evs[i].next;
    }
    if (oom) {
        for (size_t i = 0; evs && i < b.n; i++) kb_event_free_strings(&evs[i]);
        free(evs);
        kb_spool_batch_free(&b);
        spool_problem(st, DELIVERING, "cannot deliver the spool", "out of memory");
        return;
    }
    if (undecodable)
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: %zu spooled events are not in a form this "
                          "program reads and are dropped\n", kb_spool_dir(st->spool), undecodable);
    /* Delivered records leave the spool once committed: the commit must be durable. */
    kb_db_set_durable(st->db, 1);
    st->delivering = 1;
    char why[256] = "";
    int rc = list ? kb_writer_write(st, list, why, sizeof why) : KB_DB_OK;
    st->delivering = 0;
    if (rc == KB_DB_OK) {
        size_t refused = 0;
        for (event *ev = list; ev; ev = ev->next)
            if (ev->result == KB_ERROR) {
                refused++;
                kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: a spooled event was refused by the "
                                  "database and is dropped: %s\n", st->path,
                                  ev->err ? ev->err : "(no reason)");
            }
        /* A failure here sends these records again: their inserts then store nothing. */
        if (kb_spool_delivered(st->spool, &b) != 0) {
            spool_problem(st, DELIVERING, "cannot record what the spool delivered",
                          kb_spool_errmsg(st->spool));
        } else {
            st->n_delivered += b.n - refused - undecodable;
            spool_problem_over(st, DELIVERING);
        }
        kb_writer_set_busy(st, 0);
        kb_writer_after_commit(st);
        /* Each delivery may bring searches that parked feedback waits for. */
        if (parked_round(st) == KB_DB_LOST) kb_writer_set_unreachable(st, 1);
    } else if (rc == KB_DB_LOST) {
        kb_writer_set_unreachable(st, 1);
    } else if (rc == KB_DB_BUSY) {
        kb_writer_set_busy(st, 1); /* the spool waits, and delivery is tried again */
    } else {
        spool_problem(st, DELIVERING, "cannot deliver the spool", why);
    }
    for (size_t i = 0; i < b.n; i++) kb_event_free_strings(&evs[i]);
    free(evs);
    kb_spool_batch_free(&b);
    if (rc == KB_DB_OK) spool_drained(st);
}

/* ---------------------------------------------------------------- idle, reconnecting, ids */

void kb_writer_after_commit(kb_store *st)
{
    /* Busy: the write lock is held elsewhere, and reserving needs it; after the next commit. */
    if (!st->ids || st->unreachable || st->busy) return;
    int code;
    if (kb_help_ids_refill(st->ids, st->db, &code) != 0) {
        if (code == KB_DB_LOST) kb_writer_set_unreachable(st, 1);
        else if (code == KB_DB_BUSY) kb_writer_set_busy(st, 1);
        else spool_problem(st, DELIVERING, "cannot reserve help-request ids for the spool",
                           kb_help_ids_errmsg(st->ids));
    }
}

/* Connected again: bring up the schema of a store opened offline, reserve ids; delivery is due
 * from now on. */
static void connected(kb_store *st)
{
    kb_writer_set_unreachable(st, 0);
    if (st->need_migrate) {
        char err[512];
        if (kb_writer_migrate(st, KB_WRITER_LOCK_WAIT_MS, err, sizeof err) != 0) {
            if (kb_db_errcode(st->db) == KB_DB_LOST) {
                kb_writer_set_unreachable(st, 1);
                return;
            }
            spool_problem(st, DELIVERING, "cannot check the database's schema (events stay in "
                          "the spool)", err);
            return;
        }
        st->need_migrate = 0;
        spool_problem_over(st, DELIVERING);
    }
    kb_writer_after_commit(st);
}

int64_t kb_writer_idle_wait_ms(kb_store *st)
{
    if (st->connecting) return CONNECT_POLL_MS;
    int64_t wait = CHECK_MS, now = kb_writer_now_ms();
    if ((st->unreachable || st->need_migrate || st->spooling) && st->next_try_ms)
        wait = st->next_try_ms - now;
    return wait < 10 ? 10 : wait > CHECK_MS ? CHECK_MS : wait;
}

void kb_writer_idle(kb_store *st)
{
    int64_t now = kb_writer_now_ms();
    if (st->unreachable) {
        /* Without waiting: a server that does not answer (a cut network, a dead host) would
         * hold the writer for the whole connect timeout at every attempt, and with it every
         * caller waiting for an acknowledgement from the spool. */
        int rc, done = 1;
        if (st->connecting) {
            rc = kb_db_reconnect_poll(st->db, &done);
        } else {
            if (now < st->next_try_ms) return;
            rc = kb_db_reconnect_start(st->db);
            if (rc == KB_DB_OK) rc = kb_db_reconnect_poll(st->db, &done);
        }
        st->connecting = !done;
        if (!done) return;
        if (rc == KB_DB_OK) {
            connected(st);
            return;
        }
        snprintf(st->fail_msg, sizeof st->fail_msg, "%s", kb_store_db_message(st->db));
        now = kb_writer_now_ms();
        st->next_try_ms = now + (now - st->lost_since_ms < RECONNECT_FAST_FOR_MS ? RECONNECT_FAST_MS
                                                                                : RECONNECT_SLOW_MS);
        return;
    }
    if (st->need_migrate) {
        if (now >= st->next_try_ms) connected(st);
        return;
    }
    /* Parked feedback is looked for every second, busy or idle: its search may arrive in
     * another node's direct write, after which no delivery here would look again, and under a
     * floor's steady load no writer is ever idle for a second. The query also tells an idle
     * writer that its connection is lost. */
    if (now - st->parked_ms < CHECK_MS) return;
    /* The write lock held elsewhere: writing parked feedback would wait for it each second. */
    if (st->busy && now < st->next_try_ms) return;
    st->parked_ms = now;
    int rc = parked_round(st);
    if (rc == KB_DB_LOST || kb_db_errcode(st->db) == KB_DB_LOST) kb_writer_set_unreachable(st, 1);
    else if (rc == KB_DB_BUSY) kb_writer_set_busy(st, 1);
    if (!st->unreachable) kb_writer_after_commit(st);
}
