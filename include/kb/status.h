/*
 * kb/status.h — the one set of result codes of libkb (the curl CURLcode pattern).
 *
 * Every public function that can fail returns a kb_status. KB_OK is 0, so `if (rc)` reads "if
 * it failed". The message that says what went wrong, and what to do, is on the handle the call
 * was made on (kb_searcher_errmsg, kb_store_errmsg, kb_gaps_errmsg, kb_review_errmsg,
 * kb_index_writer_errmsg) or, for calls that create a handle, in the caller's err buffer.
 * kb_status_name() gives a code's name for logs.
 */
#ifndef KB_STATUS_H
#define KB_STATUS_H

typedef enum {
    KB_OK = 0,
    KB_ERROR = 1,     /* I/O, SQLite, Xapian or memory: the message says which */
    KB_NOT_FOUND = 2, /* no such document, item, help request or search */
    KB_INVALID = 3,   /* a bad argument or bad input; the message names it */
    KB_CONFLICT = 4,  /* not allowed from the current state (e.g. a status change) */
    KB_LOCKED = 5,    /* another writer holds the index */
    KB_DUPLICATE = 6, /* already recorded: stored once, nothing changed */
    KB_STOPPED = 7,   /* a callback asked to stop */
    KB_UNAVAILABLE = 8 /* the event store's database cannot be reached now (PostgreSQL,
                        * docs/CLUSTER.md): try again later (HTTP 503) */
} kb_status;

/* "KB_OK", "KB_NOT_FOUND", ...; "KB_UNKNOWN" for anything else. */
static inline const char *kb_status_name(int code)
{
    static const char *const names[] = {"KB_OK",       "KB_ERROR",  "KB_NOT_FOUND",
                                        "KB_INVALID",  "KB_CONFLICT", "KB_LOCKED",
                                        "KB_DUPLICATE", "KB_STOPPED", "KB_UNAVAILABLE"};
    return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "KB_UNKNOWN";
}

#endif
