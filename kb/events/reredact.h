/*
 * events/reredact.h — a schema step that redacts again what an earlier build stored: every
 * redacted column of every table through the current kb_redact() (docs/PRIVACY.md, "Stores
 * written before a widening").
 *
 * Redaction is applied when a row is written, so a widening of the patterns (numbers split by
 * tabs or zero-width spaces, other scripts' digits, groups split by a slash: schema step
 * 10 -> 11) protects new rows only. The rows already stored keep what the older build let
 * through until a migration step redacts them again. That step is C, not SQL: PostgreSQL cannot
 * call kb_redact() from SQL, and one code path for both databases keeps them alike. A later
 * widening appends a step that calls kb_reredact_store() again.
 *
 * It runs inside the migration's write transaction (kb_writer_migrate): all or nothing, on
 * PostgreSQL under the cluster's write lock. Rows are read a page at a time by key, so memory
 * stays flat whatever the store's size, and only the rows whose text changes are written.
 * Private to kb/events.
 */
#ifndef KB_EVENTS_REREDACT_H
#define KB_EVENTS_REREDACT_H

#include <stdint.h>

#include "db/db.h"

typedef struct {
    uint64_t rows_read;    /* rows of the redacted tables looked at */
    uint64_t rows_changed; /* rows written with text redacted again */
    uint64_t rows_merged;  /* rows whose key became another row's: merged into it or dropped */
    uint64_t groups_fixed; /* gap items whose representative and counts were recomputed */
} kb_reredact_stats;

/* Redact every redacted column of db's tables again, inside the caller's open write
 * transaction; the derived data that depends on the text follows (see reredact.c). KB_DB_OK, or
 * the kb_db code of the failed statement (the caller rolls back). *stats counts what was done. */
int kb_reredact_store(kb_db *db, kb_reredact_stats *stats);

#endif
