/*
 * index.c — the Xapian half of indexing: write prepared documents, remove, publish
 * (see kb/index.h; the analysis half is index_prepare.c).
 *
 * Unchanged documents are detected by the content hash stored in a value slot, so re-running
 * the indexer on a whole knowledge base only rewrites what editors changed, and a run that
 * changes nothing publishes no new revision.
 *
 * Filling an empty index is a bulk build (index/glass/glass.h): the database is written directly, in
 * one pass, several times faster than through Xapian's writer. Every later run updates it with
 * Xapian's writer. KB_BULK_BUILD=0 in the environment turns the bulk build off, and so does a
 * libxapian other than 1.4.x (with a warning): the builder writes 1.4's glass format.
 */
#include "kb/index.h"
#include "kb/journal.h"

#include <errno.h> /* program_invocation_short_name */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index/glass/glass.h"
#include "index/index_prepared.h"
#include "util/index_schema.h"
#include "util/strmap.h"
#include "xapian/xapian.h"

struct kb_index_writer {
    kbx_writer *db;           /* Xapian's writer, or */
    kb_glass_builder *bulk;   /* the bulk builder, when the index was empty */
    kb_index_preparer *preparer; /* for kb_index_writer_add, created on first use */
    kb_index_mode mode;
    kb_strmap seen; /* id → "file:line" of every document added in this run */
    kb_index_stats stats;
    int status;
    int published; /* the commit made a new revision (0: the run changed nothing) */
    char err[1024];
};

static void set_error(kb_index_writer *w, const char *fmt, const char *detail)
{
    snprintf(w->err, sizeof w->err, fmt, detail);
    w->status = KB_ERROR;
}

static int bulk_build_allowed(void)
{
    const char *env = getenv("KB_BULK_BUILD");
    return !env || strcmp(env, "0") != 0;
}

/* Does the libxapian this process runs with read and update what the bulk builder writes
 * (Xapian 1.4's glass format, glass.h)? When not, the empty index dir is built by Xapian's
 * writer instead, and a warning says so: the index is the same but the run several times
 * slower. KB_TEST_XAPIAN_VERSION ("1.5.0") stands in for the loaded libxapian's version, for
 * the tests of this fallback only. */
static int xapian_reads_bulk_builds(const char *dir)
{
    int major = -1, minor = -1;
    const char *version = getenv("KB_TEST_XAPIAN_VERSION");
    if (version && *version) {
        if (sscanf(version, "%d.%d", &major, &minor) != 2) major = minor = -1;
    } else {
        version = kbx_library_version(&major, &minor);
    }
    if (kb_glass_fits_xapian(major, minor)) return 1;
    kb_journal_printf(KB_PRIO_WARNING,
            "%s: warning: libxapian %s is not %d.%d.x, whose glass format the bulk builder writes "
            "(checked against Xapian %s): building the empty index %s with Xapian's writer "
            "instead, which gives the same index several times slower (docs/OPERATIONS.md)\n",
            program_invocation_short_name, version, KB_GLASS_XAPIAN_MAJOR, KB_GLASS_XAPIAN_MINOR,
            KB_GLASS_CHECKED_XAPIAN, dir);
    return 0;
}

/* Start a bulk build; KB_GLASS_EXISTS is left for the caller, which then uses Xapian's writer. */
static void open_bulk(kb_index_writer *w, const char *dir)
{
    w->bulk = kb_glass_builder_open(dir);
    if (!w->bulk) {
        set_error(w, "%s", "out of memory");
        return;
    }
    int rc = kb_glass_builder_status(w->bulk);
    if (rc == KB_GLASS_LOCKED) {
        snprintf(w->err, sizeof w->err,
                 "index %s is being written by another kb-indexer; wait for it to finish", dir);
        w->status = KB_LOCKED;
    } else if (rc != KB_GLASS_OK && rc != KB_GLASS_EXISTS) {
        snprintf(w->err, sizeof w->err, "cannot build index %s: %s", dir,
                 kb_glass_builder_errmsg(w->bulk));
        w->status = KB_ERROR;
    }
}

void kb_index_keep_changesets(unsigned n) { kbx_writer_keep_changesets(n); }

/* Is dir a replica that xapian-replicate keeps (its stub file XAPIANDB names the live copy)? A
 * search node's index: written only by replication, and a bulk build or Xapian's writer there
 * would put a second database beside the stub that nothing reads. */
static int is_replica(const char *dir)
{
    char stub[4096];
    struct stat st;
    snprintf(stub, sizeof stub, "%s/XAPIANDB", dir);
    return stat(stub, &st) == 0;
}

kb_index_writer *kb_index_writer_open(const char *dir, kb_index_mode mode)
{
    kb_index_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->mode = mode;
    kb_strmap_init(&w->seen);
    if (is_replica(dir)) {
        snprintf(w->err, sizeof w->err,
                 "index %s is a replica kept by xapian-replicate (it holds XAPIANDB): index on the "
                 "indexing host, whose index it replicates (docs/DEPLOY.md, \"Several search "
                 "nodes\")", dir);
        w->status = KB_ERROR;
        return w;
    }
    if (bulk_build_allowed() && !kb_glass_exists(dir) && xapian_reads_bulk_builds(dir)) {
        open_bulk(w, dir);
        if (!w->bulk || kb_glass_builder_status(w->bulk) != KB_GLASS_EXISTS) return w;
        /* Another run published an index meanwhile: update it instead. */
        kb_glass_builder_close(w->bulk);
        w->bulk = NULL;
    }
    w->db = kbx_writer_open(dir);
    if (!w->db) {
        set_error(w, "%s", "out of memory");
        return w;
    }
    int rc = kbx_writer_status(w->db);
    if (rc == KBX_LOCKED) {
        snprintf(w->err, sizeof w->err,
                 "index %s is being written by another kb-indexer; wait for it to finish", dir);
        w->status = KB_LOCKED;
        return w;
    }
    if (rc != KBX_OK && kb_glass_unfinished(dir)) {
        snprintf(w->err, sizeof w->err,
                 "index %s holds an unfinished bulk build (a posting table but no iamglass); "
                 "run kb-indexer without KB_BULK_BUILD=0 to build it again, or remove the "
                 "directory (needed when the bulk build is off for another Xapian than 1.4)",
                 dir);
        w->status = KB_ERROR;
        return w;
    }
    if (rc != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot open index %s: %s", dir, kbx_writer_errmsg(w->db));
        w->status = KB_ERROR;
        return w;
    }
    kb_glass_remove_leftovers(dir); /* safe now: Xapian's lock is ours */
    return w;
}

int kb_index_writer_status(const kb_index_writer *w) { return w->status; }
int kb_index_writer_is_bulk(const kb_index_writer *w) { return w->bulk != NULL; }

kb_index_preparer *kb_index_writer_new_preparer(const kb_index_writer *w, char *err,
                                                size_t err_len)
{
    return kb_index_preparer_new(w->bulk != NULL, err, err_len);
}
const char *kb_index_writer_errmsg(const kb_index_writer *w) { return w->err; }

int kb_index_writer_add_prepared(kb_index_writer *w, const kb_prepared_doc *d)
{
    if (w->status != KB_OK) return KB_ERROR;
    if (!w->bulk && !d->xdoc) {
        /* Prepared by another writer's preparer, for its bulk build: no Xapian document. A
         * mistake of the program, not of the document, so the run fails. */
        snprintf(w->err, sizeof w->err,
                 "document '%s' was prepared for another run's bulk build; prepare the documents "
                 "of a run with its own writer's kb_index_writer_new_preparer", d->id);
        w->status = KB_ERROR;
        return KB_ERROR;
    }
    const char *earlier = kb_strmap_get(&w->seen, d->id);
    if (earlier) {
        snprintf(w->err, sizeof w->err,
                 "document id '%s' is used twice in this run (first at %s); the first one is kept",
                 d->id, earlier);
        return KB_ERROR; /* a problem with this document, not with the run */
    }
    if (kb_strmap_put(&w->seen, d->id, d->where) < 0) goto oom;
    if (w->bulk) {
        if (kb_glass_builder_add(w->bulk, &d->doc) != KB_GLASS_OK) {
            snprintf(w->err, sizeof w->err, "cannot write document '%s': %s", d->id,
                     kb_glass_builder_errmsg(w->bulk));
            w->status = KB_ERROR;
            return KB_ERROR;
        }
        w->stats.added++;
        return KB_OK;
    }

    char id_term[300], old_hash[32];
    snprintf(id_term, sizeof id_term, KB_TERM_ID "%s", d->id);
    int rc = kbx_writer_get_value(w->db, id_term, KB_SLOT_HASH, old_hash, sizeof old_hash);
    if (rc == KBX_OK && strcmp(old_hash, d->hash) == 0 && w->mode != KB_INDEX_REBUILD) {
        w->stats.unchanged++;
        return KB_OK;
    }
    if (rc != KBX_OK && rc != KBX_NOT_FOUND) {
        snprintf(w->err, sizeof w->err, "cannot read the index: %s", kbx_writer_errmsg(w->db));
        w->status = KB_ERROR;
        return KB_ERROR;
    }
    if (kbx_writer_replace(w->db, id_term, d->xdoc) != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot write document '%s': %s", d->id,
                 kbx_writer_errmsg(w->db));
        w->status = KB_ERROR;
        return KB_ERROR;
    }
    if (rc == KBX_OK) w->stats.replaced++;
    else w->stats.added++;
    return KB_OK;

oom:
    set_error(w, "%s", "out of memory while indexing");
    return KB_ERROR;
}

int kb_index_writer_add(kb_index_writer *w, const kb_document *doc)
{
    if (w->status != KB_OK) return KB_ERROR;
    if (!w->preparer) {
        w->preparer = kb_index_writer_new_preparer(w, w->err, sizeof w->err);
        if (!w->preparer) {
            w->status = KB_ERROR;
            return KB_ERROR;
        }
    }
    kb_prepared_doc *d = kb_index_prepare(w->preparer, doc);
    if (!d) {
        set_error(w, "%s", "out of memory while indexing");
        return KB_ERROR;
    }
    int rc = kb_index_writer_add_prepared(w, d);
    kb_prepared_doc_free(d);
    return rc;
}

int kb_index_writer_remove(kb_index_writer *w, const char *id)
{
    if (w->bulk) return KB_OK; /* the index was empty */
    char id_term[300];
    char hash[32];
    snprintf(id_term, sizeof id_term, KB_TERM_ID "%s", id);
    int rc = kbx_writer_get_value(w->db, id_term, KB_SLOT_HASH, hash, sizeof hash);
    if (rc == KBX_NOT_FOUND) return KB_OK;
    if (rc != KBX_OK || kbx_writer_delete(w->db, id_term) != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot remove document '%s': %s", id,
                 kbx_writer_errmsg(w->db));
        return KB_ERROR;
    }
    w->stats.removed++;
    return KB_OK;
}

/* ---------------------------------------------------------------- commit */

typedef struct {
    kb_index_writer *w;
    char **ids;
    size_t n, cap;
} unseen_ids;

static int collect_unseen(const char *term, void *user)
{
    unseen_ids *u = user;
    const char *id = term + 1; /* skip the Q prefix */
    if (kb_strmap_get(&u->w->seen, id)) return 0;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        char **ids = realloc(u->ids, cap * sizeof *ids);
        if (!ids) return 1;
        u->ids = ids;
        u->cap = cap;
    }
    u->ids[u->n] = strdup(id);
    if (!u->ids[u->n]) return 1;
    u->n++;
    return 0;
}

void kb_index_writer_keep_unseen(kb_index_writer *w)
{
    if (w->mode == KB_INDEX_SYNC) w->mode = KB_INDEX_UPDATE;
}

/* A bulk build publishes the database it wrote; there was nothing before it to remove. */
static int commit_bulk(kb_index_writer *w, const char *now)
{
    if (kb_glass_builder_set_metadata(w->bulk, KB_META_PUBLISHED_AT, now) != KB_GLASS_OK ||
        kb_glass_builder_set_metadata(w->bulk, KB_META_FORMAT, KB_INDEX_FORMAT) != KB_GLASS_OK ||
        kb_glass_builder_commit(w->bulk) != KB_GLASS_OK) {
        set_error(w, "cannot publish the index: %s", kb_glass_builder_errmsg(w->bulk));
        return KB_ERROR;
    }
    w->stats.total = kb_glass_builder_doccount(w->bulk);
    w->published = 1;
    return KB_OK;
}

/* Did this run add, replace or remove a document, or is the index not yet one of ours in this
 * format (a database just created, or written by an older kb-indexer)? */
static int run_changed_anything(kb_index_writer *w)
{
    if (w->stats.added || w->stats.replaced || w->stats.removed) return 1;
    char format[16];
    if (kbx_writer_get_metadata(w->db, KB_META_FORMAT, format, sizeof format) != KBX_OK) return 1;
    return strcmp(format, KB_INDEX_FORMAT) != 0;
}

int kb_index_writer_commit(kb_index_writer *w)
{
    if (w->status != KB_OK) return KB_ERROR;
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    if (w->bulk) return commit_bulk(w, now);
    if (w->mode == KB_INDEX_SYNC || w->mode == KB_INDEX_REBUILD) {
        /* Collect first, delete after: deleting while iterating the term list is not safe. */
        unseen_ids u = {.w = w};
        int rc = kbx_writer_each_term(w->db, KB_TERM_ID, collect_unseen, &u);
        for (size_t i = 0; i < u.n; i++) {
            if (rc == KBX_OK && kb_index_writer_remove(w, u.ids[i]) != KB_OK) rc = KBX_ERROR;
            free(u.ids[i]);
        }
        free(u.ids);
        if (rc != KBX_OK) {
            set_error(w, "cannot remove documents no longer in the knowledge base: %s",
                      kbx_writer_errmsg(w->db));
            return KB_ERROR;
        }
    }
    if (!run_changed_anything(w)) {
        /* Nothing to publish: a new revision with the same documents would make every reader
         * re-open the index and look like a change to whoever watches index_revision. */
        w->stats.total = kbx_writer_doccount(w->db);
        w->published = 0;
        return KB_OK;
    }
    if (kbx_writer_set_metadata(w->db, KB_META_PUBLISHED_AT, now) != KBX_OK ||
        kbx_writer_set_metadata(w->db, KB_META_FORMAT, KB_INDEX_FORMAT) != KBX_OK ||
        kbx_writer_commit(w->db) != KBX_OK) {
        set_error(w, "cannot publish the index: %s", kbx_writer_errmsg(w->db));
        return KB_ERROR;
    }
    w->stats.total = kbx_writer_doccount(w->db);
    w->published = 1;
    return KB_OK;
}

int kb_index_writer_published(const kb_index_writer *w) { return w->published; }

void kb_index_writer_stats(const kb_index_writer *w, kb_index_stats *out) { *out = w->stats; }

void kb_index_writer_close(kb_index_writer *w)
{
    if (!w) return;
    if (w->db) kbx_writer_close(w->db);
    kb_glass_builder_close(w->bulk);
    kb_index_preparer_free(w->preparer);
    kb_strmap_free(&w->seen);
    free(w);
}
