/*
 * gaps_worker.h — the background thread that keeps the editors' queue current.
 *
 * Once a second it takes in what the event store recorded since last time (kb_gaps_ingest:
 * unresolved searches, "not found" feedback, unanswerable help requests, reviews) and, when the
 * index watcher has seen a new revision, searches the open items again (kb_gaps_recheck) to
 * mark those the knowledge base now answers. It owns its own analyzer, searcher (which also gives
 * the terms' IDF for grouping) and store connection, so it never competes with the request
 * threads for theirs. With a PostgreSQL store shared by several nodes it does that work only
 * while this node holds the queue's role (kb_gaps_role), and logs when it takes and loses it.
 */
#ifndef SEARCHD_GAPS_WORKER_H
#define SEARCHD_GAPS_WORKER_H

#include <stddef.h>

/* Start the thread. 0, or -1 with the reason in err. */
int searchd_gaps_worker_start(char *err, size_t err_len);
/* Take in what is left, then stop and join the thread. */
void searchd_gaps_worker_stop(void);

#endif
