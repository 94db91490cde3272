/*
 * events/event.h — one event as the store's writer holds it (a search, feedback, a help
 * request), its text already redacted, and its record form in the spool (events/spool.h).
 *
 * The record holds exactly the queued event — type, key, time and fields, the redacted text —
 * so nothing reaches the spool that the database would not hold, and a spooled event is
 * written at delivery by the same statements as one that never waited. The form starts with a
 * version byte: a later kb-searchd reading a spool an older one wrote knows what it reads.
 */
#ifndef KB_EVENTS_EVENT_H
#define KB_EVENTS_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KB_EV_SEARCH = 0, KB_EV_FEEDBACK = 1, KB_EV_HELP = 2 } kb_event_type;

#define KB_EVENT_STRINGS 8

typedef struct kb_event {
    struct kb_event *next;
    kb_event_type type;
    int acked;    /* a caller sleeps until done; the event lives on its stack */
    int done;     /* set by the writer, under the lock, after the commit (or failure) */
    int refused;  /* PostgreSQL: a statement refused it; the batch is written again without it */
    int result;   /* kb_status: KB_OK, KB_DUPLICATE, KB_NOT_FOUND, KB_UNAVAILABLE or KB_ERROR */
    int64_t id;   /* help request id: from the database, or reserved for the spool (0: none yet) */
    char *err;    /* malloc'd message when result != OK */
    int64_t time_ms;
    char *s[KB_EVENT_STRINGS]; /* owned strings, by type:
                   *   search:   search_id, agent, query, top_ids (JSON), top_id
                   *   feedback: search_id, agent, kind, doc_id, role
                   *   help:     agent, filed_by, question, answer, doc_id, doc_title,
                   *             taught_doc_id (the desk's answer: a teaching), filed_by's role */
    double confidence, took_ms;
    int flag;     /* search: unresolved; help: kb_answerable */
    int count;    /* search: hits; help: must_know */
} kb_event;

/* Free the event's strings and message (not the event). */
void kb_event_free_strings(kb_event *ev);

/* The event's spool record, malloc'd into *out (*len bytes). 0, or -1 when out of memory. */
int kb_event_encode(const kb_event *ev, unsigned char **out, size_t *len);

/* An event from its spool record (its strings malloc'd; the rest of *ev zeroed first). 0, or
 * -1 when the record is not one this program wrote (a version it does not know, or damage
 * the CRC missed). */
int kb_event_decode(const unsigned char *data, size_t len, kb_event *ev);

#endif
