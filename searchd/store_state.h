/*
 * store_state.h — how the routes answer when the event store fails, or when its database
 * cannot be reached from this node (a PostgreSQL store, docs/CLUSTER.md).
 *
 * While the database is away, searches, feedback and help requests go on (the store keeps
 * their events in its spool); what reads or changes shared state — reviews, status changes,
 * the agents list, learned marks, coaching — cannot be decided offline and answers 503 "event
 * store unreachable" at once, without trying a connection that would hold an HTTP thread for
 * seconds. Any other failure of the store stays 500.
 */
#ifndef SEARCHD_STORE_STATE_H
#define SEARCHD_STORE_STATE_H

#include "http.h"

/* 1 while this node's store writer finds its database unreachable (it checks every second). */
int searchd_store_unreachable(void);

/* Before opening a handle on the store: when its database cannot be reached, answer 503 and
 * return -1; otherwise 0. */
int searchd_store_gate(searchd_request *req);

/* Answer a failed call on the store (code: its kb_status): 503 when the database cannot be
 * reached (KB_UNAVAILABLE, or the writer says so), otherwise 500 with msg500. */
void searchd_store_respond_failure(searchd_request *req, int code, const char *msg500);

#endif
