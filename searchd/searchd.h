/*
 * searchd.h — what every part of kb-searchd shares: the process-wide context and clocks.
 *
 * kb-searchd is one process with one event store, one tokens table, one index watcher and a
 * pool of HTTP worker threads. The few things they all need (the store handle, where the index
 * lives, whether we are shutting down) live in one global struct set up by main.c before any
 * thread starts and read-only afterwards, except for the atomic flags.
 */
#ifndef SEARCHD_H
#define SEARCHD_H

#include <stdatomic.h>
#include <stdint.h>

#include "kb/store.h"

/* Request limits (see docs/API.md, "Limits"). */
#define SEARCHD_MAX_BODY_BYTES (64 * 1024)         /* larger POST bodies get 413 */
#define SEARCHD_DISCARD_BODY_BYTES (1024 * 1024)   /* beyond this we stop reading and close */
#define SEARCHD_MAX_TARGET_BYTES (16 * 1024) /* path and query string as sent: 414 */
#define SEARCHD_MAX_QUERY_ARGS 64            /* query arguments (a search uses at most ~20): 414 */
#define SEARCHD_MAX_JSON_DEPTH 16
#define SEARCHD_CONNECTION_MEMORY (64 * 1024)      /* per connection: request line + headers */
/* Connections (--max-connections, --max-connections-per-ip; docs/OPERATIONS.md, "Connections").
 * One address may hold a sixteenth of the total: a browser opens at most 6 connections to a
 * host, so that is ten agents' browsers behind one NAT address, while a flood from one address
 * (wrk -c1000) keeps at most 64 requests ahead of everyone else's. Behind a reverse proxy every
 * agent comes from the proxy's address: raise the per-address limit to the total there. */
#define SEARCHD_CONNECTION_LIMIT 1024
#define SEARCHD_PER_IP_CONNECTION_LIMIT 64
#define SEARCHD_MAX_CONNECTION_LIMIT 65536
#define SEARCHD_CONNECTION_TIMEOUT_S 30
#define SEARCHD_RECEIVE_DEADLINE_S 30   /* a whole request, however slowly it trickles in */
/* How often the gap queue is regrouped (kb_gaps_regroup; nothing happens when no question
 * arrived since the last pass). Often enough that an editor opening the queue a minute after a
 * burst sees it regrouped, rare enough that items do not shift under an editor's eyes. */
#define SEARCHD_REGROUP_INTERVAL_MS 30000
#define SEARCHD_SHUTDOWN_GRACE_S 10                /* how long in-flight requests may take */

typedef struct {
    const char *index_dir;
    const char *data_dir;
    const char *tokens_path;
    const char *agents_path;      /* --agents FILE, or NULL */
    const char *spool_dir;        /* --spool DIR (PostgreSQL store), or its default; NULL with a
                                   * --data directory */
    const char *listen;
    unsigned threads;
    unsigned max_connections;     /* --max-connections; 0: SEARCHD_CONNECTION_LIMIT */
    unsigned max_connections_per_ip; /* --max-connections-per-ip; 0: SEARCHD_PER_IP_... */
    int64_t typing_window_ms;     /* --typing-window, for the gap queue */
    int64_t regroup_interval_ms;  /* --regroup-interval; 0: never */
    kb_store *store;
    int64_t started_ms;           /* unix ms */
    atomic_int ready;             /* index open and HTTP accepting */
    atomic_int shutting_down;     /* SIGTERM/SIGINT received: finish what is in flight */
} searchd_context;

extern searchd_context searchd_ctx;

/* Milliseconds since the Unix epoch (wall clock) and since an arbitrary point (monotonic). */
int64_t searchd_now_unix_ms(void);
double searchd_now_mono_ms(void);

#endif
