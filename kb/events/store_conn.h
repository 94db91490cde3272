/*
 * events/store_conn.h — a second connection to the event store, for modules that read or update it
 * outside the store's writer queue (kb/gaps.h, kb/review.h, kb-report).
 *
 * The connection has a 5 s busy timeout (in WAL mode a reader can briefly see SQLITE_BUSY while
 * the writer restarts the WAL; a writer waits for the store's batch to commit) and is refused
 * when the database's schema version is not the one this program writes, so a report never
 * misreads an older or newer layout.
 */
#ifndef KB_STORE_CONN_H
#define KB_STORE_CONN_H

#include <stddef.h>

#include <sqlite3.h>

#define KB_STORE_BUSY_TIMEOUT_MS 5000

/* Open DATA_DIR/events.sqlite3 read-only or read-write. NULL with a message for the operator in
 * err when there is no store there, it cannot be opened, or its schema version differs. */
sqlite3 *kb_store_connect(const char *data_dir, int readonly, char *err, size_t err_len);

/* Run BEGIN IMMEDIATE (waiting up to the busy timeout). SQLITE_OK or the error code. */
int kb_store_begin_immediate(sqlite3 *db);

#endif
