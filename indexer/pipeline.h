/*
 * pipeline.h — parse and analyze on one thread while the main thread writes to Xapian.
 *
 * Analysis and Xapian's writing each cost about half of indexing; running them on two cores
 * roughly halves a run. The producer thread parses the files in order and prepares each valid
 * document (kb_index_prepare); prepared documents pass through a bounded queue, so memory
 * stays flat however large the input.
 */
#ifndef KB_INDEXER_PIPELINE_H
#define KB_INDEXER_PIPELINE_H

#include <stddef.h>

#include "kb_document.h"
#include "kb_index.h"

typedef struct pipeline pipeline;

/* Start the producer on files[0..n). Problems are passed to on_problem from the producer thread
 * (with the pipeline's output lock held). Returns NULL on failure with the reason in err. */
pipeline *pipeline_start(char *const *files, size_t n, kb_problem_fn on_problem, void *user,
                         char *err, size_t err_len);
/* The next prepared document in input order, or NULL when the input is exhausted. The caller
 * frees it with kb_prepared_doc_free. */
kb_prepared_doc *pipeline_next(pipeline *p);
/* Ask the producer to stop early (e.g. the index failed). */
void pipeline_cancel(pipeline *p);
/* Join the producer and report what it saw; frees p. */
void pipeline_finish(pipeline *p, size_t *files_done, size_t *io_errors, int *out_of_memory);
/* Serialise output lines from both threads. */
void pipeline_lock_output(pipeline *p);
void pipeline_unlock_output(pipeline *p);
/* Files parsed so far (for progress). */
size_t pipeline_files_done(pipeline *p);

#endif
