/*
 * pipeline.h — parse and analyze on worker threads while the main thread writes to Xapian.
 *
 * Preparing a document (parsing, analysis, the stored form, the Xapian document: kb_index_prepare)
 * needs no index, so it runs on N worker threads while the caller's thread does the one thing
 * that must stay single: writing the index. N is the number of online CPUs, at most 8, or
 * KB_INDEX_THREADS (1..64) when set. Each worker has its own kb_index_preparer, claims the next
 * file not yet claimed and parses and prepares all of it.
 *
 * Ordering guarantee: whatever the number of threads and however they are scheduled, the caller
 * sees exactly what one thread would give. pipeline_next() returns the prepared documents in
 * input order (the files in the order given, then the documents in file order), and each problem
 * the parser reports is passed to on_problem at its place in that same sequence: every problem of
 * a file in the order reported, after those of the files before it, and before any document the
 * file delivers after it. So stderr and the index do not depend on timing.
 *
 * Memory stays flat however large the input: at most about QUEUE_SLOTS (pipeline.c) documents and
 * problems are held between the workers and the caller; a worker that gets that far ahead waits.
 */
#ifndef KB_INDEXER_PIPELINE_H
#define KB_INDEXER_PIPELINE_H

#include <stddef.h>

#include "kb/document.h"
#include "kb/index.h"

typedef struct pipeline pipeline;

/* Start the workers on files[0..n), which must stay valid until pipeline_finish, preparing
 * documents for writer (kb_index_writer_new_preparer). Problems are passed to on_problem from
 * the thread calling pipeline_next (with the pipeline's output lock held), in the order
 * described above. Returns NULL on failure with the reason in err (including a
 * KB_INDEX_THREADS that is not a number from 1 to 64). */
pipeline *pipeline_start(char *const *files, size_t n, const kb_index_writer *writer,
                         kb_problem_fn on_problem, void *user, char *err, size_t err_len);
/* How many workers pipeline_start starts (fewer when there are fewer files): KB_INDEX_THREADS
 * when set, else one per online CPU, at most 8. Returns 0, with the reason in err, when
 * KB_INDEX_THREADS is not a number from 1 to 64, so the caller can refuse it before it touches
 * the index. */
size_t pipeline_workers(char *err, size_t err_len);
/* The next prepared document in input order, or NULL when the input is exhausted, or when the
 * run was cancelled or ran out of memory (the run is over then; pipeline_finish says which). The
 * caller frees it with kb_prepared_doc_free. Call it from one thread only. */
kb_prepared_doc *pipeline_next(pipeline *p);
/* Ask the workers to stop early (e.g. the index failed); pipeline_next then returns NULL. */
void pipeline_cancel(pipeline *p);
/* Join the workers and report what they saw; frees p and whatever was not taken. */
void pipeline_finish(pipeline *p, size_t *files_done, size_t *io_errors, int *out_of_memory);
/* Serialise output lines (the caller's progress line against problem lines). */
void pipeline_lock_output(pipeline *p);
void pipeline_unlock_output(pipeline *p);
/* Files fully prepared so far (for progress; may run ahead of what pipeline_next returned). */
size_t pipeline_files_done(pipeline *p);

#endif
