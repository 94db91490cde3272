/*
 * learned.h — keeps the searchers' learned-phrasing index current (issue 17).
 *
 * What agents taught is in the event store (kb/learn.h); the search must not read the store, so
 * this module does: a thread checks every SEARCHD_LEARN_REFRESH_MS whether anything was taught,
 * removed or pinned since the last look (kb_learn_version, one cheap query) and, when it was,
 * lists the counted phrasings and builds a new kb_learned_index from them. Worker threads pick the
 * newest one up before their next search (searchd_learned_apply, called when a searcher is
 * acquired), like a new index revision. POST /api/admin/reload runs the same check at once and
 * waits for it, so what was taught before the call is in the ranking when the call returns.
 *
 * The index is rebuilt from the store at start-up, so learning survives restarts; it names
 * documents by id, so it survives re-indexing, follows a replaced document and skips a removed
 * one (the search looks each id up in the revision it serves).
 */
#ifndef SEARCHD_LEARNED_H
#define SEARCHD_LEARNED_H

#include <stddef.h>
#include <stdint.h>

#include "kb/search.h"

#define SEARCHD_LEARN_REFRESH_MS 5000

/* Open the store's teaching records, build the first index and start the refresh thread.
 * 0, or -1 with the reason in err. */
int searchd_learned_start(const char *data_dir, char *err, size_t err_len);
void searchd_learned_stop(void);

/* Check for new teaching now and rebuild when there is any; returns when done. 0, or -1 when
 * the store could not be read (the previous index stays in use). */
int searchd_learned_refresh_now(void);

/* Give s the newest index when it has not got it yet (*generation: what s has). */
void searchd_learned_apply(kb_searcher *s, uint64_t *generation);

/* Teach: question becomes a phrasing of doc_id (kb_learn_teach; the help desk's and the leads'
 * sources). The searchers have it at the next refresh. 0, or -1 after logging why. */
int searchd_learned_teach(const char *doc_id, const char *question, unsigned source,
                          const char *teacher, const char *role, const char *ref);

/* An editor answered gap item gap_id with doc_id: its questions teach the document
 * (kb_learn_teach_gap). 0, or -1 after logging why. */
int searchd_learned_teach_gap(int64_t gap_id, const char *doc_id, const char *teacher,
                              const char *role);

/* Counted phrasings in the index in use. */
size_t searchd_learned_count(void);

#endif
