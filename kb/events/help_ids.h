/*
 * events/help_ids.h — the help-request ids a search node hands out while its PostgreSQL
 * database cannot be reached (docs/CLUSTER.md, "The answers while spooling").
 *
 * A help request is acknowledged with its id (the contract's 201), and a request kept in the
 * spool has no row yet to take one from. So while connected the node reserves a block of 1,000
 * values of help_requests' identity sequence, under the cluster's write lock (every insert into
 * the table takes the same lock, so no other node draws from the range), and records it in the
 * spool directory's `ids` file, fsynced, before using any of it; the next block is reserved when
 * half of one is used. A spooled request carries its id and is inserted with it at delivery.
 * Ids stay unique and are never reused; those handed out while cut off are smaller than what
 * other nodes assigned meanwhile (sort by time, not id).
 *
 * Never reused across a crash either: the file records the unused ranges, and how far into the
 * first one ids may have been handed out is written ahead in steps of KB_HELP_IDS_STEP, so a
 * restart skips at most that many ids rather than giving one out twice.
 *
 * One thread uses it (the store's writer).
 */
#ifndef KB_EVENTS_HELP_IDS_H
#define KB_EVENTS_HELP_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define KB_HELP_IDS_BLOCK 1000 /* ids reserved at once */
#define KB_HELP_IDS_STEP 100   /* ids handed out between two writes of the file */

typedef struct kb_help_ids kb_help_ids;

/* Read the ids file at path (none yet: no ids). NULL with the reason in err when it cannot be
 * read or is damaged. */
kb_help_ids *kb_help_ids_open(const char *path, char *err, size_t err_len);
void kb_help_ids_close(kb_help_ids *h);

/* Ids left to hand out. */
int64_t kb_help_ids_left(const kb_help_ids *h);

/* The next id into *id: 0; 1 when none is left; -1 when the file cannot be written (the id is
 * not handed out; kb_help_ids_errmsg says why). */
int kb_help_ids_take(kb_help_ids *h, int64_t *id);

/* On a connected PostgreSQL handle, outside a transaction: when fewer than half a block is
 * left, reserve the next block and record it (fsynced). 0 (done, or not needed), or -1 with the
 * reason in kb_help_ids_errmsg and the database's code of the failure in *code (KB_DB_LOST: the
 * connection is gone; KB_DB_BUSY: the write lock was not granted in time; KB_DB_OK when the
 * failure was not the database's). */
int kb_help_ids_refill(kb_help_ids *h, kb_db *db, int *code);

const char *kb_help_ids_errmsg(const kb_help_ids *h);

#endif
