/*
 * events/spool.h — the event spool: where a search node keeps its events, in order, on local
 * disk while its PostgreSQL database cannot be reached, until the store's writer has delivered
 * them (docs/CLUSTER.md, "When the database is unreachable: the spool").
 *
 * A directory (0700) of append-only segment files, spool-00000001.log, spool-00000002.log, ...
 * (0600), a new one once a segment holds 64 MB. A record is its payload's length (4 bytes,
 * little-endian), the CRC-32C of those 4 bytes and the payload (4 bytes), then the payload:
 * opaque bytes here (the writer's encoding of one event, events/event.h). The file `delivered`
 * says how far the database holds the records (a segment and an offset); it is written to a
 * temporary file, fsynced and renamed, so it is always the old or the new position. `lock` is
 * flock'ed while a process has the spool open: two daemons never share one spool.
 *
 * Why this shape: appending is the only write while the database is away (cheap, ordered, one
 * fdatasync per acknowledged batch); a record cut short by a crash shows as a bad length or CRC
 * at the end of the last segment and is dropped on open — it was never acknowledged, since an
 * acknowledged batch is fdatasynced first, and a segment is fdatasynced before the next one is
 * started, so only the last can end torn. Damage inside an older segment (a disk fault) is
 * reported in the journal and the rest of that segment is given up. Delivery reads from the
 * delivered position; a crash between the database's COMMIT and the new position sends those
 * records again, which the writer's inserts ignore (each event has its key). Segments wholly
 * delivered are deleted.
 *
 * Appends collect in memory until kb_spool_flush (one write) or kb_spool_sync (that and
 * fdatasync); a flush or sync that fails leaves nothing of its records on disk, so a batch
 * reported failed can never be delivered later. One thread uses a spool (the store's writer).
 */
#ifndef KB_EVENTS_SPOOL_H
#define KB_EVENTS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define KB_SPOOL_SEGMENT_BYTES (64u << 20) /* a new segment once one holds this much */
#define KB_SPOOL_RECORD_MAX (1u << 20)     /* a longer length field is damage */
#define KB_SPOOL_HEADER_BYTES 8

typedef struct kb_spool kb_spool;

/* A place in the spool: a segment's number and a byte offset in it. */
typedef struct {
    uint32_t segment;
    uint64_t offset;
} kb_spool_pos;

/* Open the spool in dir, creating it (0700) when missing, and check every record after the
 * delivered position (see above). segment_bytes: 0 for KB_SPOOL_SEGMENT_BYTES (tests use
 * less). NULL with the reason in err: not a directory, not writable, in use by another process,
 * an unreadable delivered file. */
kb_spool *kb_spool_open(const char *dir, uint64_t segment_bytes, char *err, size_t err_len);
/* Write what is buffered (without fdatasync) and close. NULL is fine. */
void kb_spool_close(kb_spool *sp);

/* The message of the last failed call, naming the file. */
const char *kb_spool_errmsg(const kb_spool *sp);
const char *kb_spool_dir(const kb_spool *sp);

/* Records appended and not yet delivered (buffered ones included). */
uint64_t kb_spool_pending(const kb_spool *sp);
/* Bytes of damaged or cut-short records the open dropped. */
uint64_t kb_spool_dropped_bytes(const kb_spool *sp);
/* Segment files on disk now. */
size_t kb_spool_segments(const kb_spool *sp);

/* Add a record (buffered). 0, or -1 when it is longer than KB_SPOOL_RECORD_MAX or memory ran
 * out (the buffer is kept: the batch may drop it with kb_spool_discard). */
int kb_spool_append(kb_spool *sp, const void *data, size_t len);
/* Forget the records appended since the last flush. */
void kb_spool_discard(kb_spool *sp);
/* Write the buffered records to the current segment (starting a new one first when it is
 * full). 0, or -1: then nothing of them is on disk or buffered any more. */
int kb_spool_flush(kb_spool *sp);
/* Flush, then fdatasync the segment (and the directory after a new segment was started): the
 * records survive a crash of the machine. 0, or -1 as for flush. */
int kb_spool_sync(kb_spool *sp);

/* Records read for delivery: n records, each data/len inside the batch's buffer, and the
 * position just after the last. */
typedef struct {
    const unsigned char *data;
    size_t len;
} kb_spool_record;

typedef struct {
    kb_spool_record *recs;
    size_t n;
    kb_spool_pos end;
    unsigned char *buf; /* owned */
} kb_spool_batch;

/* Read up to max records from the delivered position (flushing the buffer first), all from one
 * segment. 0 with b->n = 0 when none wait; -1 when the file cannot be read or a record no longer
 * passes its CRC. Free with kb_spool_batch_free. */
int kb_spool_read(kb_spool *sp, size_t max, kb_spool_batch *b);
void kb_spool_batch_free(kb_spool_batch *b);

/* The database holds b's records: record b->end as the delivered position (temporary file,
 * fsync, rename, fsync of the directory) and delete the segments wholly before it. 0, or -1
 * (the position stays where it was: those records will be sent again). */
int kb_spool_delivered(kb_spool *sp, const kb_spool_batch *b);

/* The delivered position now. */
kb_spool_pos kb_spool_delivered_pos(const kb_spool *sp);

#endif
