/*
 * searchers.h — one kb_searcher per worker thread, and the index watcher that tells them when
 * the indexer published a new revision.
 *
 * A kb_searcher is not thread-safe, and opening one costs a few milliseconds (Xapian database
 * plus analyzer), so each HTTP worker thread opens its own on first use and keeps it for life
 * (pthread key; closed when the thread exits). The watcher thread owns one more searcher and
 * checks once a second (or at once, on request) whether the index moved to a new revision; if so
 * it bumps a generation counter, and each worker refreshes its searcher before its next search.
 * Workers never wait for the watcher, and a failed refresh keeps the old revision serving.
 */
#ifndef SEARCHD_SEARCHERS_H
#define SEARCHD_SEARCHERS_H

#include <stddef.h>
#include <stdint.h>

#include "kb/search.h"

/* Open the watcher's searcher on index_dir and start the watcher thread. Returns 0, or -1 with
 * a message for the operator in err (e.g. when there is no index). */
int searchd_searchers_start(const char *index_dir, char *err, size_t err_len);

/* Stop and join the watcher and close its searcher. */
void searchd_searchers_stop(void);

/* The calling thread's searcher, opened on first use and refreshed when the index changed.
 * NULL with the reason in err when it cannot be opened. */
kb_searcher *searchd_searchers_acquire(char *err, size_t err_len);

/* After a failed kb_search: refresh the calling thread's searcher so a retry sees the newest
 * revision (e.g. Xapian's "database modified" after two quick re-indexes). */
void searchd_searchers_recover(void);

typedef struct {
    uint32_t documents;
    uint64_t revision;
    int64_t published_ms; /* when the indexer published it (Unix ms; or when we first saw it) */
    double age_seconds;   /* since the indexer published this revision (or since we saw it) */
    uint64_t generation;  /* how many times the watcher saw a new revision */
} searchd_index_status;

void searchd_searchers_status(searchd_index_status *out);

/* Ask the watcher to check for a new revision now and wait (up to timeout_ms) until it did. */
void searchd_searchers_check_now(int timeout_ms);

#endif
