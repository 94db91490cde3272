/*
 * xapian/xapian.h — a thin C API over libxapian (implemented in kb/xapian/xapian_wrap.cc, with
 * ranked search in kb/xapian/matcher.cc: the project's only C++).
 *
 * No C++ exception crosses this API: every call that can fail returns a KBX_* code and leaves a
 * message in the handle, retrievable with kbx_errmsg() (the sqlite3_errmsg pattern).
 *
 * Writers: all changes of one run happen inside one Xapian transaction. Xapian flushes postings
 * to disk in batches while the transaction runs (bounded memory) but publishes nothing until
 * kbx_writer_commit(), so a reader sees the old state or the new one, and a crash mid-run leaves
 * the previous revision intact.
 *
 * Readers are not thread-safe: open one per thread.
 */
#ifndef KB_XAPIAN_H
#define KB_XAPIAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    KBX_OK = 0,
    KBX_ERROR = 1,     /* any Xapian error; see kbx_errmsg */
    KBX_NOT_FOUND = 2, /* no such document */
    KBX_LOCKED = 3,    /* another writer holds the database lock */
    KBX_NOMEM = 4,
    KBX_MODIFIED = 5   /* the database changed under a reader: reopen and retry */
};

/* The version of the libxapian this process runs with ("1.4.22"), which can differ from the
 * headers it was built against when the shared library is another release; its major and minor
 * numbers in *major and *minor. */
const char *kbx_library_version(int *major, int *minor);

/* ---------------------------------------------------------------- documents being built */
typedef struct kbx_doc kbx_doc;

kbx_doc *kbx_doc_new(void);
void kbx_doc_free(kbx_doc *d);
/* Add `wdf` to the within-document frequency of a term (no positions are stored). */
int kbx_doc_add_term(kbx_doc *d, const char *term, unsigned wdf);
/* Add a boolean (filter) term: wdf 0, does not affect length or ranking. */
int kbx_doc_add_boolean_term(kbx_doc *d, const char *term);
int kbx_doc_set_value(kbx_doc *d, unsigned slot, const char *value, size_t len);
int kbx_doc_set_data(kbx_doc *d, const char *data, size_t len);

/* ---------------------------------------------------------------- writer */
typedef struct kbx_writer kbx_writer;

/* Keep the last n changesets (n > 0) beside every database this process opens for writing from
 * now on: one file per commit, changesN, what xapian-replicate-server sends a replica instead of
 * a full copy. Xapian reads this from its environment (XAPIAN_MAX_CHANGESETS) when a writer
 * opens; 0 writes none, Xapian's default. */
void kbx_writer_keep_changesets(unsigned n);

/* Open (creating when missing) the database at path for writing and begin a transaction.
 * Returns NULL only when out of memory; otherwise check kbx_writer_status(). */
kbx_writer *kbx_writer_open(const char *path);
int kbx_writer_status(const kbx_writer *w);
/* Replace the document carrying the unique term `id_term` (or add it). */
int kbx_writer_replace(kbx_writer *w, const char *id_term, kbx_doc *d);
/* Delete every document carrying `term`. */
int kbx_writer_delete(kbx_writer *w, const char *term);
/* Read value `slot` of the document with unique term id_term into buf (NUL-terminated, cut to
 * buf_len-1). Returns KBX_OK, KBX_NOT_FOUND or an error; sees the transaction's own changes. */
int kbx_writer_get_value(kbx_writer *w, const char *id_term, unsigned slot, char *buf,
                         size_t buf_len);
/* Call fn for every term starting with prefix (e.g. every unique id term "Q..."). */
int kbx_writer_each_term(kbx_writer *w, const char *prefix,
                         int (*fn)(const char *term, void *user), void *user);
/* Store a key/value in the database's metadata (written with the transaction). */
int kbx_writer_set_metadata(kbx_writer *w, const char *key, const char *value);
/* Read a metadata value into buf (NUL-terminated, cut to buf_len-1; "" when the key is unset). */
int kbx_writer_get_metadata(kbx_writer *w, const char *key, char *buf, size_t buf_len);
/* Read a metadata value into buf (NUL-terminated, cut to buf_len-1; "" when the key is unset). */
int kbx_writer_get_metadata(kbx_writer *w, const char *key, char *buf, size_t buf_len);
uint32_t kbx_writer_doccount(kbx_writer *w);
/* Commit the transaction: publish every change of the run atomically. */
int kbx_writer_commit(kbx_writer *w);
/* Close; an uncommitted transaction is discarded. Always frees w. */
void kbx_writer_close(kbx_writer *w);
const char *kbx_writer_errmsg(const kbx_writer *w);

/* ---------------------------------------------------------------- reader */
typedef struct kbx_reader kbx_reader;

/* Open the database at path read-only: a glass directory, or a replica directory that
 * xapian-replicate keeps (its XAPIANDB stub names the live copy). Returns NULL only when out of
 * memory; check kbx_reader_status(). */
kbx_reader *kbx_reader_open(const char *path);
int kbx_reader_status(const kbx_reader *r);
/* Move to the newest committed revision, or to the new copy a replica's stub names after a full
 * copy. Sets *changed to 1 when it moved. */
int kbx_reader_reopen(kbx_reader *r, int *changed);
uint32_t kbx_reader_doccount(kbx_reader *r);
/* Revision number of the open revision (changes with every commit). */
uint64_t kbx_reader_revision(kbx_reader *r);
/* Number of documents containing term (0 when none or on error). */
uint32_t kbx_reader_termfreq(kbx_reader *r, const char *term);
/* Metadata value for key into buf; "" when absent. */
int kbx_reader_get_metadata(kbx_reader *r, const char *key, char *buf, size_t buf_len);
/* Fetch the data of the document with unique term id_term; *data is malloc'd, caller frees. */
int kbx_reader_get_data(kbx_reader *r, const char *id_term, char **data, size_t *len);
/* The docid of the document with unique term id_term into *docid: KBX_OK, KBX_NOT_FOUND or an
 * error. */
int kbx_reader_docid(kbx_reader *r, const char *id_term, uint32_t *docid);
/* Call fn with the data of every document, in docid order, until it returns non-zero. One pass
 * over the document table, no ranking. No retry: KBX_MODIFIED means the writer recycled the
 * revision being read (two commits during the pass); reopen and start again. */
int kbx_reader_each_document(kbx_reader *r, int (*fn)(const char *data, size_t len, void *user),
                             void *user);
void kbx_reader_close(kbx_reader *r);
const char *kbx_reader_errmsg(const kbx_reader *r);

/* A ranked query: OR of weighted terms, optionally restricted by boolean filter terms and value
 * ranges. Each term is scored with Xapian's BM25 (Xapian::BM25Weight(k1, 0, 1, b, 0.5), the
 * weight folded in as OP_SCALE_WEIGHT would); the wrapper finds the best documents itself
 * (MaxScore over Xapian's posting lists, document lengths from a table the reader keeps per index
 * revision), exactly: the exhaustive ranking's documents, ties in docid order
 * (kb/xapian/matcher.cc, docs/SEARCH.md "Matching"). */
typedef struct {
    const char *term;
    double weight; /* multiplies the term's BM25 contribution; > 0 */
} kbx_query_term;

typedef struct {
    const kbx_query_term *terms;
    size_t n_terms;
    /* Filters: a document must carry at least one of `any_of` terms (when n_any_of > 0) ... */
    const char *const *any_of;
    size_t n_any_of;
    /* ... and, when valid_on is set ("YYYYMMDD"), be valid on that day: value in
     * valid_from_slot <= valid_on <= value in valid_until_slot (a missing value is an open end).
     * Not Xapian value-range queries: the documents outside their window are found
     * once per index revision and day (a docid bitmap kept in the reader), so a search checks a
     * bit per candidate instead of reading two values from the value streams. */
    const char *valid_on;
    unsigned valid_from_slot, valid_until_slot;
    uint32_t offset;
    uint32_t limit;
    double bm25_k1, bm25_b; /* 0 for 1.2 and 0.75 */
    uint32_t matched_hits;  /* fill kbx_hit.matched for this many leading hits (0: none; the
                               matcher notes the terms as it scores, so all hits cost little) */
} kbx_query;

typedef struct {
    uint32_t docid;
    double score;
    char *data;           /* the document's data, malloc'd */
    size_t data_len;
    uint64_t matched;     /* bit i set when terms[i] occurs in the document (i < 64); only for
                             the first kbx_query.matched_hits hits */
    uint32_t doclen;      /* the document's length (the sum of its terms' wdf) ... */
    uint32_t matched_len; /* ... and the part of it the query's terms make (their wdfs summed) */
} kbx_hit;

typedef struct {
    kbx_hit *hits;
    size_t n_hits;
    uint32_t matches_estimated;
    double max_possible;  /* upper bound of any document's score for this query */
} kbx_results;

/* Run a query. On success fills res (free with kbx_results_free). */
int kbx_reader_search(kbx_reader *r, const kbx_query *q, kbx_results *res);
void kbx_results_free(kbx_results *res);

#ifdef __cplusplus
}
#endif

#endif
