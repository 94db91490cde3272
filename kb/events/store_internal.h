/*
 * events/store_internal.h — what the store's two files share: the kb_store handle, and the
 * calls between the writer's database side (store.c) and its offline side (store_spool.c: the
 * spool while PostgreSQL cannot be reached, delivery, parked feedback, reserved help-request
 * ids; docs/CLUSTER.md). Private to kb/events.
 */
#ifndef KB_EVENTS_STORE_INTERNAL_H
#define KB_EVENTS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "db/db.h"
#include "events/event.h"
#include "events/help_ids.h"
#include "events/spool.h"
#include "kb/store.h"

typedef kb_event event;

struct kb_store {
    char *path;         /* the database for messages: the SQLite file, or the URI without its
                         * password */
    kb_db *db;          /* the write connection: the writer thread's alone once it runs */
    int pg;             /* the database is PostgreSQL */
    kb_db_stmt *ins_search, *ins_feedback, *ins_help, *ins_teaching;
    kb_db_stmt *ins_searches[2]; /* PostgreSQL: SEARCH_ROWS[k] searches in one INSERT */
    kb_db_stmt *ins_search_once, *ins_searches_once[2]; /* PostgreSQL, the spool's delivery:
                                  * the same, a search already stored skipped */
    kb_db_stmt *ins_help_id;     /* PostgreSQL: a help request with its id (from the spool) */
    kb_db_stmt *ins_help_teaching; /* the support desk's answer teaches the question */
    kb_db_stmt *ins_parked;      /* PostgreSQL: feedback on a search not there yet */
    int one_by_one;     /* PostgreSQL: this batch is written again a row at a time */
    int failing;        /* the last batch failed: report recovery once */
    int unreachable;    /* PostgreSQL: the connection is lost (the writer's) */
    int busy;           /* PostgreSQL with a spool: the cluster's write lock was not granted in
                         * KB_WRITER_LOCK_WAIT_MS; events wait in the spool */
    char fail_msg[256]; /* why it failed (the writer's; copied to stats under the lock) */

    /* The spool (PostgreSQL with a spool directory; store_spool.c). The writer's alone. */
    kb_spool *spool;
    kb_help_ids *ids;   /* help-request ids reserved for the spool */
    int spooling;       /* events go to the spool: the database is away, or the spool still
                         * holds events (one node's events stay in order) */
    int delivering;     /* the events being written come from the spool */
    int need_migrate;   /* opened offline: the schema is brought up at the first connection */
    int connecting;     /* a reconnection is under way (kb_db_reconnect_start): the writer polls
                         * it between batches rather than wait out a connect timeout */
    int64_t lost_since_ms;  /* monotonic ms when the connection was lost (0: connected) */
    int64_t next_try_ms;    /* monotonic ms of the next reconnect or delivery attempt */
    int64_t parked_ms;      /* monotonic ms parked feedback was last looked for */
    int spool_failing;  /* delivery or the ids failed for another reason than the connection:
                         * said once, retried */
    uint64_t n_spooled, n_delivered;   /* events kept in the spool, delivered from it */
    uint64_t n_parked, n_parked_written, n_parked_dropped; /* feedback_parked: rows parked,
                         * written once their search arrived, dropped after 7 days */

    pthread_t writer;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t work;   /* the writer waits for events */
    pthread_cond_t done;   /* acknowledged callers wait for their commit */
    event *head, *tail;
    size_t n_queued;    /* all events queued */
    size_t n_searches;  /* searches queued (the bounded part) */
    size_t n_acked;     /* acknowledged events queued */
    int closing;
    kb_store_stats_t stats;
};

/* ---------------------------------------------------------------- store.c, for store_spool.c */

/* Write the events of batch in one write transaction, a refused event written again without
 * (PostgreSQL); each event's result set. KB_DB_OK once committed, else the failure's code
 * (KB_DB_LOST when the connection is gone), its text in why, and the transaction rolled back. */
int kb_writer_write(kb_store *st, event *batch, char *why, size_t why_len);
/* Write one event inside the open write transaction (its teaching too); the kb_db code. */
int kb_writer_write_event(kb_store *st, event *ev);
/* The connection is lost (lost = 1) or answers again; logs the change once. */
void kb_writer_set_unreachable(kb_store *st, int lost);
/* PostgreSQL with a spool: how long the writer waits for the cluster's write lock, and how long
 * after a wait in vain it tries again. Short, because callers wait on the writer for their
 * acknowledgement: a session the server has not yet found dead (a node cut off by the network
 * inside a write transaction) holds the lock until the server ends it, tens of seconds, and
 * meanwhile the events are kept in the spool (docs/CLUSTER.md). */
#define KB_WRITER_LOCK_WAIT_MS 1000
#define KB_WRITER_BUSY_RETRY_MS 2000
/* The write lock was not granted in time (busy = 1), or was again (busy = 0); logs the change
 * once. */
void kb_writer_set_busy(kb_store *st, int busy);
/* Bring the schema to the current version, waiting up to wait_ms for the write lock (another
 * node may be migrating it); afterwards writes wait kb_writer_lock_wait(st) again. 0, or -1 with
 * the reason in err. */
int kb_writer_migrate(kb_store *st, int wait_ms, char *err, size_t err_len);
/* How long the writer's writes wait for the write lock: KB_WRITER_LOCK_WAIT_MS with a spool
 * (the batch waits there instead), KB_DB_BUSY_TIMEOUT_MS without. */
int kb_writer_lock_wait(const kb_store *st);
/* The strings of ev that the store redacts (kb_store_log_*: names, ids and free text) through
 * kb_redact() again, for a spooled event an earlier build redacted. 0, or -1 when memory ran
 * out. */
int kb_writer_redact_again(event *ev);
/* Mark ev failed: "cannot write WHAT to event store PATH: msg". */
void kb_writer_fail_event(kb_store *st, event *ev, const char *msg);
/* The last database failure's text, for events and the log. */
void kb_writer_failure_text(kb_store *st, char *out, size_t len);
/* Milliseconds of the monotonic clock. */
int64_t kb_writer_now_ms(void);

/* ---------------------------------------------------------------- store_spool.c, for store.c */

/* Open the spool and the reserved ids in dir. 0, or -1 with the reason in err. */
int kb_writer_spool_open(kb_store *st, const char *dir, char *err, size_t err_len);
void kb_writer_spool_close(kb_store *st);
/* Keep batch in the spool (fdatasynced when it holds acknowledged events) and set each event's
 * result: KB_OK once kept, KB_UNAVAILABLE for a help request without an id to give it. */
void kb_writer_spool_batch(kb_store *st, event *batch);
/* Whether delivery should run now: spooling, connected, events waiting, not backing off. */
int kb_writer_delivery_due(kb_store *st);
/* Deliver one batch of spooled events (up to SPOOL_DELIVER_MAX). */
void kb_writer_deliver(kb_store *st);
/* The writer has nothing queued: reconnect when it is time, retry parked feedback (which also
 * tells a lost connection), reserve help-request ids. PostgreSQL only. */
void kb_writer_idle(kb_store *st);
/* How long the idle writer may sleep before kb_writer_idle (ms). */
int64_t kb_writer_idle_wait_ms(kb_store *st);
/* After a batch committed on a connected handle: reserve help-request ids when low. */
void kb_writer_after_commit(kb_store *st);

#endif
