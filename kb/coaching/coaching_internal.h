/*
 * coaching_internal.h — what coaching.c, study.c and effect.c share: the handle, and the one
 * SQL spelling of a help request's effective verdict and document (kb/review.h's rule).
 */
#ifndef KB_COACHING_INTERNAL_H
#define KB_COACHING_INTERNAL_H

#include <stdint.h>

#include "events/store_conn.h"
#include "kb/coaching.h"

struct kb_coaching {
    kb_store_conn conn; /* the store connection and the last failure */
};

/* The effective verdict: the latest review's, else the service's (docs/GAPS.md). */
#define COACHING_ANSWERABLE_SQL "coalesce(h.override_answerable, h.kb_answerable)"
/* The document that answers it (meaningful only when answerable). */
#define COACHING_DOC_SQL \
    "CASE WHEN h.override_answerable IS NOT NULL THEN h.override_doc_id ELSE h.doc_id END"

/* The start of local day `day` ("YYYY-MM-DD") moved by `days` days, in Unix ms (mktime
 * normalises, so daylight-saving days are whole days). 0, or -1 when day is malformed. */
int kb_coaching_day_ms(const char *day, int days, int64_t *out);

/* A session's columns and tables (alias s; the agents list as a). */
#define SESSION_COLUMNS "s.id, s.agent, a.name, a.team, s.lead, s.day, s.note, s.time_ms"
#define SESSION_FROM "coaching_sessions s LEFT JOIN agents a ON a.agent_id = s.agent"
/* A row of SESSION_COLUMNS into *o. 0, or -1 when out of memory (free o then). */
int kb_coaching_read_session(kb_db_stmt *s, kb_coaching_session *o);
/* The covered documents of session o, in the order recorded, into o->docs. KB_OK or the
 * failure (set on c). */
int kb_coaching_read_docs(kb_coaching *c, kb_coaching_session *o);

/* A kb_redact()ed copy (NULL stays NULL); *oom set when memory ran out. */
char *kb_coaching_redacted(const char *s, int *oom);

#endif
