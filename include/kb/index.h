/*
 * kb/index.h — write knowledge-base documents into the Xapian index.
 *
 * One kb_index_writer is one indexing run: every change is part of one transaction that
 * kb_index_writer_commit() publishes atomically (see xapian/xapian.h). A run into an empty index is a
 * bulk build instead (index/glass/glass.h): the same database, written directly and published as a whole
 * by the commit. What goes in per document:
 *   - ranked text terms from the analyzer, weighted by field through their within-document
 *     frequency (title and questions above keywords, categories and section titles, above body);
 *   - boolean terms: Q<id> (unique id), XC<category prefix> for every level of every category,
 *     XK<keyword>, XF<source file> (the prefixes, slots and weights: kb/util/index_schema.h);
 *   - values: valid-from and valid-until as YYYYMMDD (so a range filter hides expired documents
 *     without re-indexing), updated date, content hash;
 *   - data: the whole document in its stored form (document/stored_doc.h), for snippets, the hit list
 *     and the document view.
 *
 * Not thread-safe; one writer per process (Xapian's lock makes a second one fail with
 * KB_LOCKED).
 */
#ifndef KB_INDEX_H
#define KB_INDEX_H

#include <stddef.h>
#include "kb/document.h"
#include "kb/status.h"

/* Version of what goes into the index. Bump when analysis or the stored layout changes: every
 * document's content hash includes it, so the next run rewrites them all. */
#define KB_INDEX_FORMAT "6"

typedef struct kb_index_writer kb_index_writer;

typedef enum {
    KB_INDEX_UPDATE,  /* add or replace the given documents, keep the rest */
    KB_INDEX_SYNC,    /* like UPDATE, then remove every document not seen in this run */
    KB_INDEX_REBUILD  /* like SYNC, rewriting every document even when unchanged: the result is
                       * what indexing into an empty index gives, without deleting everything
                       * first (which cost twice the CPU and ~450 MB inside the one transaction) */
} kb_index_mode;

/* Open the index directory for one run (creating it when missing). Returns NULL only when
 * memory ran out; check kb_index_writer_status() and kb_index_writer_errmsg(). */
kb_index_writer *kb_index_writer_open(const char *dir, kb_index_mode mode);
int kb_index_writer_status(const kb_index_writer *w);
const char *kb_index_writer_errmsg(const kb_index_writer *w);

/* Add or replace one document. An unchanged document (same content hash) is left as it is.
 * Returns KB_OK or KB_ERROR. On KB_ERROR with kb_index_writer_status() still
 * KB_OK, only this document was refused (its id was already used in this run; the first
 * one is kept) and the run can go on; otherwise the run failed. */
int kb_index_writer_add(kb_index_writer *w, const kb_document *doc);

/* Remove the document with this id; not finding it is not an error. */
int kb_index_writer_remove(kb_index_writer *w, const char *id);

/* In KB_INDEX_SYNC mode, do not remove the documents this run did not see (used when some input
 * was invalid: its documents were not seen, and must not disappear because of a typo). */
void kb_index_writer_keep_unseen(kb_index_writer *w);

/* Publish the run. In KB_INDEX_SYNC mode, first removes documents not added in this run. A run
 * that added, replaced and removed nothing publishes nothing: the index keeps its revision. */
int kb_index_writer_commit(kb_index_writer *w);
/* After a successful commit: 1 when it published a new revision, 0 when nothing had changed. */
int kb_index_writer_published(const kb_index_writer *w);

/* Counters of the run so far. */
typedef struct {
    size_t added;     /* new ids */
    size_t replaced;  /* existing ids whose content changed */
    size_t unchanged; /* existing ids with the same content */
    size_t removed;
    size_t total;     /* documents in the index after the run (valid after commit) */
} kb_index_stats;
void kb_index_writer_stats(const kb_index_writer *w, kb_index_stats *out);

/* Close; an uncommitted run is discarded and the index stays as it was. */
void kb_index_writer_close(kb_index_writer *w);

/* ---------------------------------------------------------------- preparing in parallel
 * Analysis is half the cost of indexing and needs no index, so it can run on other threads:
 * a kb_index_preparer (one per thread) turns a kb_document into a kb_prepared_doc holding
 * everything the writer needs (terms with their wdf, filter terms, values, stored form, hash);
 * the writer thread then only talks to the index. */
typedef struct kb_index_preparer kb_index_preparer;
typedef struct kb_prepared_doc kb_prepared_doc;

/* A preparer for w's documents (one per thread; call it from w's thread, before the preparing
 * threads start). It prepares what w's run needs: a run into an empty index is a bulk build,
 * which takes the terms only; for Xapian's writer it also builds the Xapian document, a fifth of
 * that writer's cost and cheaper on the preparing threads than on the writer's. Its documents
 * are for w: another writer may refuse them. NULL on failure, with the reason in err. */
kb_index_preparer *kb_index_writer_new_preparer(const kb_index_writer *w, char *err,
                                                size_t err_len);
void kb_index_preparer_free(kb_index_preparer *p);
/* NULL when memory ran out. Thread-safe across preparers. */
kb_prepared_doc *kb_index_prepare(kb_index_preparer *p, const kb_document *doc);
void kb_prepared_doc_free(kb_prepared_doc *d);
/* "FILE:LINE" of the document, for messages. */
const char *kb_prepared_doc_where(const kb_prepared_doc *d);
/* Like kb_index_writer_add, for a prepared document (not consumed: free it afterwards). */
int kb_index_writer_add_prepared(kb_index_writer *w, const kb_prepared_doc *d);

#endif
