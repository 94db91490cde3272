/*
 * index/glass/glass.h — build a new Xapian glass database in one pass, without Xapian's writer (the
 * bulk build used when kb-indexer fills an empty index; see docs/OPERATIONS.md, "Bulk build").
 *
 * Why: Xapian's writer spends ~10 M instructions a document on its in-memory inverter, on
 * re-merging every term's last posting chunk at each batch flush, and on zlib; our whole
 * budget for 1,000 documents/s on two cores is ~6.6 M. Filling an empty database needs none of
 * that: documents arrive in docid order, so the term lists and the stored documents are written
 * straight to their tables, and the postings are inverted once (glass_inverter.h) and written
 * in term order at the end.
 *
 * The tables are written in glass's on-disk format, version 2016-03-14 (every Xapian 1.4
 * release reads and updates it; Xapian checks the version stamp on opening), as checked against
 * Xapian KB_GLASS_CHECKED_XAPIAN (below: the build stops on other headers, kb-indexer uses
 * Xapian's writer under another libxapian). The database is
 * what Xapian's writer would have produced from the same documents, added in the same order,
 * up to block layout and compression; the tests compare the two with xapian-check and by
 * search results. Xapian's writer then updates it as usual (kb-indexer's later runs).
 *
 * The database appears atomically: the version file that makes the directory a database is
 * renamed into place last, after every table is on disk (the posting table, whose presence
 * Xapian's writer takes for a database, is itself renamed into place just before). Until then readers find no database;
 * a crash leaves a directory without one, which the next run builds again. The builder holds
 * Xapian's own write lock (flintlock) throughout, so a Xapian writer cannot interleave.
 */
#ifndef KB_GLASS_H
#define KB_GLASS_H

#include <stddef.h>
#include <stdint.h>

/* The Xapian release whose backends/glass the builder's encodings mirror and whose writer the
 * tests compare it with; and the series it writes for: glass's format is frozen for 1.4.x, and
 * another series may write or expect something else. glass_version.c stops the build on other
 * headers; kb/index/index.c asks kb_glass_fits_xapian() about the libxapian it runs with. */
#define KB_GLASS_CHECKED_XAPIAN "1.4.22"
#define KB_GLASS_XAPIAN_MAJOR 1
#define KB_GLASS_XAPIAN_MINOR 4

/* Does a libxapian of this version read and update what the builder writes (any 1.4.x)? */
int kb_glass_fits_xapian(int major, int minor);

/* Value slots a document can fill (the index uses 0..4, kb/index.h). */
#define KB_GLASS_SLOTS 8
/* Xapian's limit on a term's length in bytes. */
#define KB_GLASS_MAX_TERM 245

typedef struct {
    const char *text;
    size_t len;
    uint32_t wdf; /* 0 for a boolean (filter) term */
} kb_glass_term;

/* One document. Terms are in increasing byte order (a prefix before its extensions), each
 * once. An empty value (len 0) is no value, as in Xapian. */
typedef struct {
    const kb_glass_term *terms;
    size_t n_terms;
    const char *values[KB_GLASS_SLOTS];
    size_t value_lens[KB_GLASS_SLOTS];
    const char *data;
    size_t data_len;
} kb_glass_doc;

enum {
    KB_GLASS_OK = 0,
    KB_GLASS_ERROR = 1,
    KB_GLASS_LOCKED = 2, /* another writer holds the index */
    KB_GLASS_EXISTS = 3  /* the directory holds a database (update it with Xapian's writer) */
};

typedef struct kb_glass_builder kb_glass_builder;

/* Start building in dir (created when missing), which must not hold a database
 * (KB_GLASS_EXISTS otherwise: checked again under the lock, so a writer that published one just
 * before is never overwritten). Returns NULL only when memory ran out; otherwise check
 * kb_glass_builder_status(). */
kb_glass_builder *kb_glass_builder_open(const char *dir);
int kb_glass_builder_status(const kb_glass_builder *b);
const char *kb_glass_builder_errmsg(const kb_glass_builder *b);

/* Add the next document; documents are numbered 1, 2, ... in the order added. */
int kb_glass_builder_add(kb_glass_builder *b, const kb_glass_doc *doc);
/* Set a user metadata entry (as Xapian::WritableDatabase::set_metadata). */
int kb_glass_builder_set_metadata(kb_glass_builder *b, const char *key, const char *value);
uint32_t kb_glass_builder_doccount(const kb_glass_builder *b);

/* Write the posting lists and the version file: the database appears. */
int kb_glass_builder_commit(kb_glass_builder *b);

/* Release the lock; without a commit, remove the tables this build wrote. */
void kb_glass_builder_close(kb_glass_builder *b);

/* Does dir hold a glass database (its version file)? */
int kb_glass_exists(const char *dir);

/* Does dir hold a posting table but no version file: a bulk build that stopped between its
 * last two renames (Xapian's writer cannot open that; a new bulk build replaces it)? */
int kb_glass_unfinished(const char *dir);

/* Remove what a bulk build killed during its commit leaves (its unpublished posting table).
 * Only while holding the index's write lock, e.g. with Xapian's writer open on dir. */
void kb_glass_remove_leftovers(const char *dir);

#endif
