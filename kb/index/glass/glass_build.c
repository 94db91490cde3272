/*
 * glass_build.c — build a new glass database in one pass (see index/glass/glass.h).
 *
 * What goes where (Xapian backends/glass: glass_postlist.cc, glass_termlisttable.cc,
 * glass_values.cc, glass_docdata.h, glass_version.cc):
 *   docdata.glass   docid → the document's data
 *   termlist.glass  docid → doclen, term count, terms (prefix-compressed) with wdfs;
 *                   docid + "\0" → the value slots the document uses
 *   postlist.glass  "\0\xc0" key → user metadata;  "\0\xd0" slot → value statistics;
 *                   "\0\xd8" slot docid → a chunk of a slot's value stream;
 *                   "\0\xe0" [docid] → chunks of the document-length list;
 *                   term [docid] → chunks of the term's posting list
 *   iamglass        format stamp, uuid, revision, each table's root, database statistics
 * Term lists, stored documents and values are written as documents arrive (docids only grow,
 * so their keys arrive in order); posting lists, lengths and values at the commit, in the key
 * order above.
 */
#include "index/glass/glass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/glass/glass_btree.h"
#include "index/glass/glass_inverter.h"
#include "index/glass/glass_pack.h"
#include "util/term_sort.h"

/* Postings and terms held in memory before a sorted run goes to the scratch file. Peak memory
 * of a build is about twice this (the slack of growing buffers), whatever the input size. */
#define DEFAULT_RUN_BUDGET (96u << 20)
/* Glass starts a new posting-list or value chunk once one reaches this many bytes. */
#define CHUNK_SIZE 2000
/* Glass's thresholds for compressing tags, recorded for Xapian's later updates. */
#define COMPRESS_MIN 18

enum { T_POSTLIST, T_DOCDATA, T_TERMLIST, T_POSITION, T_SPELLING, T_SYNONYM, N_TABLES };
static const char *const TABLE_FILES[N_TABLES] = {"postlist.glass", "docdata.glass",
                                                  "termlist.glass", "position.glass",
                                                  "spelling.glass", "synonym.glass"};
/* The posting table is written under another name and renamed just before the version file:
 * Xapian's writer takes a directory holding postlist.glass for a database (its
 * database_exists()), so a build killed during its commit, the longest step, must not leave one
 * behind without the version file. */
#define POSTLIST_TMP "postlist.tmp"
static const uint32_t TABLE_COMPRESS_MIN[N_TABLES] = {0, COMPRESS_MIN, COMPRESS_MIN, 0,
                                                      COMPRESS_MIN, COMPRESS_MIN};

typedef struct {
    uint32_t first_did;
    kb_buf tag;
} value_chunk;

/* One slot's value stream and its statistics. */
typedef struct {
    value_chunk *chunks;
    size_t n_chunks, cap_chunks;
    uint32_t prev_did;
    uint32_t freq;
    char *lower, *upper;
    size_t lower_len, upper_len;
} value_slot;

typedef struct {
    char *key, *value;
} metadata_entry;

struct kb_glass_builder {
    char *dir;
    int lock_fd, scratch_fd;
    int status;
    int owns_tables; /* this build created the table files (so may remove them) */
    int committed;
    char err[1024];

    glass_btree *docdata, *termlist;
    glass_inverter *inverter;
    value_slot slots[KB_GLASS_SLOTS];
    metadata_entry *metadata;
    size_t n_metadata;

    uint32_t doccount;
    uint32_t *doclens; /* by docid - 1 */
    size_t cap_doclens;
    uint64_t total_doclen;
    uint32_t doclen_lower, doclen_upper, wdf_upper;

    kb_buf key, tag; /* scratch */
};

static int set_error(kb_glass_builder *b, const char *fmt, const char *detail)
{
    if (b->status == KB_GLASS_OK) {
        snprintf(b->err, sizeof b->err, fmt, detail);
        b->status = KB_GLASS_ERROR;
    }
    return KB_GLASS_ERROR;
}

static int set_errno(kb_glass_builder *b, const char *what)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s in %s: %s", what, b->dir, strerror(errno));
    return set_error(b, "%s", msg);
}

static char *path_in(const kb_glass_builder *b, const char *name)
{
    size_t n = strlen(b->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", b->dir, name);
    return p;
}

static void reset(kb_buf *buf)
{
    buf->len = 0;
    buf->failed = 0;
}

static int exists_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return 0;
    snprintf(path, n, "%s/%s", dir, name);
    int exists = access(path, F_OK) == 0;
    free(path);
    return exists;
}

int kb_glass_exists(const char *dir) { return exists_in(dir, "iamglass"); }

int kb_glass_unfinished(const char *dir)
{
    return !exists_in(dir, "iamglass") && exists_in(dir, TABLE_FILES[T_POSTLIST]);
}

/* ---------------------------------------------------------------- opening */

static void unlink_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return;
    snprintf(path, n, "%s/%s", dir, name);
    unlink(path);
    free(path);
}

static void remove_tables(const char *dir)
{
    for (int t = 0; t < N_TABLES; t++) unlink_in(dir, TABLE_FILES[t]);
    unlink_in(dir, POSTLIST_TMP);
}

void kb_glass_remove_leftovers(const char *dir) { unlink_in(dir, POSTLIST_TMP); }

/* Take Xapian's write lock: an open-file-description lock on the first byte of flintlock,
 * exactly as Xapian 1.4 takes it (backends/flint_lock.cc), so either of us sees the other. */
static int take_lock(kb_glass_builder *b)
{
    char *path = path_in(b, "flintlock");
    if (!path) return set_error(b, "%s", "out of memory");
    b->lock_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    free(path);
    if (b->lock_fd < 0) return set_errno(b, "cannot create the lock file");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    while (fcntl(b->lock_fd, F_OFD_SETLK, &fl) < 0) {
        if (errno == EINTR) continue;
        if (errno == EACCES || errno == EAGAIN) {
            snprintf(b->err, sizeof b->err, "index %s is being written by another writer",
                     b->dir);
            b->status = KB_GLASS_LOCKED;
            return KB_GLASS_LOCKED;
        }
        return set_errno(b, "cannot lock the index");
    }
    return KB_GLASS_OK;
}

static glass_btree *create_table(kb_glass_builder *b, int table, const char *file)
{
    char *path = path_in(b, file);
    if (!path) {
        set_error(b, "%s", "out of memory");
        return NULL;
    }
    char err[600];
    glass_btree *t = glass_btree_create(path, TABLE_COMPRESS_MIN[table], err, sizeof err);
    free(path);
    if (!t) set_error(b, "%s", err);
    return t;
}

static size_t run_budget(void)
{
    const char *env = getenv("KB_BULK_RUN_MB");
    long mb = env ? strtol(env, NULL, 10) : 0;
    return mb > 0 && mb < 65536 ? (size_t)mb << 20 : DEFAULT_RUN_BUDGET;
}

kb_glass_builder *kb_glass_builder_open(const char *dir)
{
    kb_glass_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->lock_fd = b->scratch_fd = -1;
    b->dir = strdup(dir);
    if (!b->dir) {
        free(b);
        return NULL;
    }
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        set_errno(b, "cannot create the index directory");
        return b;
    }
    if (take_lock(b) != KB_GLASS_OK) return b;
    if (kb_glass_exists(dir)) {
        /* Another writer published one between the caller's check and our lock. */
        snprintf(b->err, sizeof b->err, "%s already holds a database", dir);
        b->status = KB_GLASS_EXISTS;
        return b;
    }
    b->owns_tables = 1;
    /* Tables of an earlier build that did not finish, or that this build does not write. */
    remove_tables(b->dir);
    /* The runs' scratch file is unlinked at once: it disappears with the process. */
    char *scratch = path_in(b, ".bulk-postings.tmp");
    if (!scratch) {
        set_error(b, "%s", "out of memory");
        return b;
    }
    b->scratch_fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (b->scratch_fd >= 0) unlink(scratch);
    free(scratch);
    if (b->scratch_fd < 0) {
        set_errno(b, "cannot create a scratch file");
        return b;
    }
    b->docdata = create_table(b, T_DOCDATA, TABLE_FILES[T_DOCDATA]);
    b->termlist = b->docdata ? create_table(b, T_TERMLIST, TABLE_FILES[T_TERMLIST]) : NULL;
    if (!b->termlist) return b;
    b->inverter = glass_inverter_new(b->scratch_fd, run_budget());
    if (!b->inverter) set_error(b, "%s", "out of memory");
    return b;
}

int kb_glass_builder_status(const kb_glass_builder *b) { return b->status; }
const char *kb_glass_builder_errmsg(const kb_glass_builder *b) { return b->err; }
uint32_t kb_glass_builder_doccount(const kb_glass_builder *b) { return b->doccount; }

/* ---------------------------------------------------------------- documents */

static void docid_key(kb_buf *key, uint32_t did)
{
    reset(key);
    glass_pack_uint_sorted(key, did);
}

static int table_add(kb_glass_builder *b, glass_btree *t, const kb_buf *key, const kb_buf *tag)
{
    if (key->failed || tag->failed) return set_error(b, "%s", "out of memory");
    if (glass_btree_add(t, key->data, key->len, tag->data ? tag->data : "", tag->len, 0) < 0)
        return set_error(b, "%s", glass_btree_errmsg(t));
    return KB_GLASS_OK;
}

/* The term list: doclen, number of terms, then each term after the first as the length it
 * shares with the one before, the rest of it, and its wdf; glass folds the shared length and a
 * small wdf into one byte when (wdf + 1) * (previous length + 1) + shared < 256. */
static void encode_termlist(kb_buf *tag, const kb_glass_doc *doc, uint32_t doclen)
{
    reset(tag);
    kb_buf_add(tag, "", 0); /* a document without terms has an empty tag, as in Xapian */
    if (doc->n_terms == 0) return;
    glass_pack_uint(tag, doclen);
    glass_pack_uint(tag, doc->n_terms);
    const kb_glass_term *prev = &doc->terms[0];
    unsigned char len = (unsigned char)prev->len;
    kb_buf_add(tag, &len, 1);
    kb_buf_add(tag, prev->text, prev->len);
    glass_pack_uint(tag, prev->wdf);
    for (size_t i = 1; i < doc->n_terms; i++) {
        const kb_glass_term *t = &doc->terms[i];
        size_t shared = 0, limit = prev->len < t->len ? prev->len : t->len;
        while (shared < limit && prev->text[shared] == t->text[shared]) shared++;
        size_t packed = t->wdf < 127 ? (t->wdf + 1) * (prev->len + 1) + shared : 0;
        unsigned char head[2] = {(unsigned char)(packed && packed < 256 ? packed : shared),
                                 (unsigned char)(t->len - shared)};
        kb_buf_add(tag, head, 2);
        kb_buf_add(tag, t->text + shared, t->len - shared);
        if (!(packed && packed < 256)) glass_pack_uint(tag, t->wdf);
        prev = t;
    }
}

static int check_terms(kb_glass_builder *b, const kb_glass_doc *doc, uint64_t *doclen)
{
    *doclen = 0;
    for (size_t i = 0; i < doc->n_terms; i++) {
        const kb_glass_term *t = &doc->terms[i];
        if (t->len == 0 || t->len > KB_GLASS_MAX_TERM)
            return set_error(b, "%s", "a term is empty or longer than 245 bytes");
        if (i > 0) {
            const kb_glass_term *p = &doc->terms[i - 1];
            if (kb_bytes_cmp(p->text, p->len, t->text, t->len) >= 0)
                return set_error(b, "%s", "a document's terms are not sorted (internal error)");
        }
        *doclen += t->wdf;
        if (t->wdf > b->wdf_upper) b->wdf_upper = t->wdf;
    }
    if (*doclen > UINT32_MAX) return set_error(b, "%s", "a document is too long");
    return KB_GLASS_OK;
}

static int add_value(kb_glass_builder *b, unsigned slot, uint32_t did, const char *v, size_t len)
{
    value_slot *s = &b->slots[slot];
    value_chunk *c = s->n_chunks ? &s->chunks[s->n_chunks - 1] : NULL;
    if (!c || c->tag.len >= CHUNK_SIZE) {
        if (s->n_chunks == s->cap_chunks) {
            size_t cap = s->cap_chunks ? s->cap_chunks * 2 : 64;
            value_chunk *grown = realloc(s->chunks, cap * sizeof *grown);
            if (!grown) return set_error(b, "%s", "out of memory");
            s->chunks = grown;
            s->cap_chunks = cap;
        }
        c = &s->chunks[s->n_chunks++];
        memset(c, 0, sizeof *c);
        c->first_did = did;
    } else {
        glass_pack_uint(&c->tag, did - s->prev_did - 1);
    }
    glass_pack_string(&c->tag, v, len);
    if (c->tag.failed) return set_error(b, "%s", "out of memory");
    s->prev_did = did;

    /* Statistics: how many documents, and the least and greatest value (byte order). */
    int lower = !s->freq, upper = !s->freq;
    if (s->freq) {
        lower = kb_bytes_cmp(v, len, s->lower, s->lower_len) < 0;
        upper = kb_bytes_cmp(v, len, s->upper, s->upper_len) > 0;
    }
    s->freq++;
    char **bound[2] = {&s->lower, &s->upper};
    size_t *bound_len[2] = {&s->lower_len, &s->upper_len};
    int take[2] = {lower, upper};
    for (int i = 0; i < 2; i++) {
        if (!take[i]) continue;
        char *copy = malloc(len ? len : 1);
        if (!copy) return set_error(b, "%s", "out of memory");
        memcpy(copy, v, len);
        free(*bound[i]);
        *bound[i] = copy;
        *bound_len[i] = len;
    }
    return KB_GLASS_OK;
}

static int remember_doclen(kb_glass_builder *b, uint32_t did, uint32_t doclen)
{
    if (did > b->cap_doclens) {
        size_t cap = b->cap_doclens ? b->cap_doclens * 2 : 4096;
        uint32_t *grown = realloc(b->doclens, cap * sizeof *grown);
        if (!grown) return set_error(b, "%s", "out of memory");
        b->doclens = grown;
        b->cap_doclens = cap;
    }
    b->doclens[did - 1] = doclen;
    b->total_doclen += doclen;
    if (doclen > b->doclen_upper) b->doclen_upper = doclen;
    if (doclen && (!b->doclen_lower || doclen < b->doclen_lower)) b->doclen_lower = doclen;
    return KB_GLASS_OK;
}

int kb_glass_builder_add(kb_glass_builder *b, const kb_glass_doc *doc)
{
    if (b->status != KB_GLASS_OK) return KB_GLASS_ERROR;
    if (b->doccount == UINT32_MAX) return set_error(b, "%s", "too many documents");
    uint64_t doclen;
    if (check_terms(b, doc, &doclen) != KB_GLASS_OK) return KB_GLASS_ERROR;
    uint32_t did = ++b->doccount;
    if (remember_doclen(b, did, (uint32_t)doclen) != KB_GLASS_OK) return KB_GLASS_ERROR;

    docid_key(&b->key, did);
    if (doc->data_len > 0) {
        reset(&b->tag);
        kb_buf_add(&b->tag, doc->data, doc->data_len);
        if (table_add(b, b->docdata, &b->key, &b->tag) != KB_GLASS_OK) return KB_GLASS_ERROR;
    }
    encode_termlist(&b->tag, doc, (uint32_t)doclen);
    if (table_add(b, b->termlist, &b->key, &b->tag) != KB_GLASS_OK) return KB_GLASS_ERROR;

    /* The slots used, each as the gap from the one before (the first from -1). */
    reset(&b->tag);
    unsigned prev = (unsigned)-1;
    for (unsigned slot = 0; slot < KB_GLASS_SLOTS; slot++) {
        if (!doc->value_lens[slot]) continue;
        glass_pack_uint(&b->tag, slot - prev - 1);
        prev = slot;
        if (add_value(b, slot, did, doc->values[slot], doc->value_lens[slot]) != KB_GLASS_OK)
            return KB_GLASS_ERROR;
    }
    if (b->tag.len > 0) {
        kb_buf_add(&b->key, "", 1); /* sorts after this document's term list, before the next */
        if (table_add(b, b->termlist, &b->key, &b->tag) != KB_GLASS_OK) return KB_GLASS_ERROR;
    }

    for (size_t i = 0; i < doc->n_terms; i++) {
        const kb_glass_term *t = &doc->terms[i];
        if (glass_inverter_add(b->inverter, t->text, t->len, did, t->wdf) < 0)
            return set_error(b, "%s", glass_inverter_errmsg(b->inverter));
    }
    if (glass_inverter_end_document(b->inverter) < 0)
        return set_error(b, "%s", glass_inverter_errmsg(b->inverter));
    return KB_GLASS_OK;
}

int kb_glass_builder_set_metadata(kb_glass_builder *b, const char *key, const char *value)
{
    if (b->status != KB_GLASS_OK) return KB_GLASS_ERROR;
    for (size_t i = 0; i < b->n_metadata; i++) {
        if (strcmp(b->metadata[i].key, key) != 0) continue;
        char *v = strdup(value);
        if (!v) return set_error(b, "%s", "out of memory");
        free(b->metadata[i].value);
        b->metadata[i].value = v;
        return KB_GLASS_OK;
    }
    metadata_entry *grown = realloc(b->metadata, (b->n_metadata + 1) * sizeof *grown);
    if (!grown) return set_error(b, "%s", "out of memory");
    b->metadata = grown;
    metadata_entry *e = &b->metadata[b->n_metadata];
    e->key = strdup(key);
    e->value = strdup(value);
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return set_error(b, "%s", "out of memory");
    }
    b->n_metadata++;
    return KB_GLASS_OK;
}

/* ---------------------------------------------------------------- posting lists */

/* Writes one posting list (or the document-length list, term "") in glass's chunks. The first
 * chunk's key is the term alone and its header carries the term's frequencies and first docid;
 * each later chunk's key is term + its first docid. Every chunk says whether it is the last and
 * how far its docids reach, so a chunk is written when the next one starts. */
typedef struct {
    kb_glass_builder *b;
    glass_btree *table;
    const char *term;
    size_t term_len;
    uint32_t termfreq;
    uint64_t collfreq;
    int started, is_first;
    uint32_t first_did, last_did;
    kb_buf chunk;
} chunk_writer;

static void posting_key(kb_buf *key, const char *term, size_t len, int with_did, uint32_t did)
{
    reset(key);
    if (len == 0) {
        kb_buf_add(key, "\0\xe0", 2);
    } else {
        glass_pack_string_sorted(key, term, len, !with_did);
    }
    if (with_did) glass_pack_uint_sorted(key, did);
}

static int emit_chunk(chunk_writer *w, int is_last)
{
    kb_glass_builder *b = w->b;
    posting_key(&b->key, w->term, w->term_len, !w->is_first, w->first_did);
    reset(&b->tag);
    if (w->is_first) {
        glass_pack_uint(&b->tag, w->termfreq);
        glass_pack_uint(&b->tag, w->collfreq);
        glass_pack_uint(&b->tag, w->first_did - 1);
    }
    glass_pack_bool(&b->tag, is_last);
    glass_pack_uint(&b->tag, w->last_did - w->first_did);
    kb_buf_add(&b->tag, w->chunk.data, w->chunk.len);
    return table_add(b, w->table, &b->key, &b->tag);
}

static int chunk_add(chunk_writer *w, uint32_t did, uint32_t wdf)
{
    if (!w->started) {
        w->started = 1;
        w->is_first = 1;
        w->first_did = did;
        reset(&w->chunk);
    } else if (w->chunk.len >= CHUNK_SIZE) {
        if (emit_chunk(w, 0) != KB_GLASS_OK) return KB_GLASS_ERROR;
        w->is_first = 0;
        w->first_did = did;
        reset(&w->chunk);
    } else {
        glass_pack_uint(&w->chunk, did - w->last_did - 1);
    }
    w->last_did = did;
    glass_pack_uint(&w->chunk, wdf);
    return KB_GLASS_OK;
}

static int write_term(const char *term, size_t len, uint32_t termfreq, uint64_t collfreq,
                      glass_postings *postings, void *user)
{
    chunk_writer *w = user;
    w->term = term;
    w->term_len = len;
    w->termfreq = termfreq;
    w->collfreq = collfreq;
    w->started = 0;
    uint32_t did, wdf;
    int more;
    while ((more = glass_postings_next(postings, &did, &wdf)) == 1)
        if (chunk_add(w, did, wdf) != KB_GLASS_OK) return -1;
    if (more < 0) {
        set_error(w->b, "%s", "the indexer's scratch file is corrupt");
        return -1;
    }
    return w->started && emit_chunk(w, 1) != KB_GLASS_OK ? -1 : 0;
}

static int metadata_order(const void *x, const void *y)
{
    return strcmp(((const metadata_entry *)x)->key, ((const metadata_entry *)y)->key);
}

static int write_postlist(kb_glass_builder *b, glass_btree *t)
{
    /* User metadata; an empty value is no entry, as in Xapian. */
    if (b->n_metadata) qsort(b->metadata, b->n_metadata, sizeof *b->metadata, metadata_order);
    for (size_t i = 0; i < b->n_metadata; i++) {
        if (!b->metadata[i].value[0]) continue;
        reset(&b->key);
        kb_buf_add(&b->key, "\0\xc0", 2);
        kb_buf_add(&b->key, b->metadata[i].key, strlen(b->metadata[i].key));
        reset(&b->tag);
        kb_buf_add(&b->tag, b->metadata[i].value, strlen(b->metadata[i].value));
        if (table_add(b, t, &b->key, &b->tag) != KB_GLASS_OK) return KB_GLASS_ERROR;
    }
    /* Value statistics: frequency, lower bound, and the upper bound when it differs. */
    for (unsigned slot = 0; slot < KB_GLASS_SLOTS; slot++) {
        const value_slot *s = &b->slots[slot];
        if (!s->freq) continue;
        reset(&b->key);
        kb_buf_add(&b->key, "\0\xd0", 2);
        for (unsigned v = slot; v; v >>= 8) { /* pack_uint_last */
            unsigned char byte = (unsigned char)v;
            kb_buf_add(&b->key, &byte, 1);
        }
        reset(&b->tag);
        glass_pack_uint(&b->tag, s->freq);
        glass_pack_string(&b->tag, s->lower, s->lower_len);
        if (s->lower_len != s->upper_len || memcmp(s->lower, s->upper, s->lower_len) != 0)
            kb_buf_add(&b->tag, s->upper, s->upper_len);
        if (table_add(b, t, &b->key, &b->tag) != KB_GLASS_OK) return KB_GLASS_ERROR;
    }
    /* Value streams. */
    for (unsigned slot = 0; slot < KB_GLASS_SLOTS; slot++) {
        const value_slot *s = &b->slots[slot];
        for (size_t i = 0; i < s->n_chunks; i++) {
            reset(&b->key);
            kb_buf_add(&b->key, "\0\xd8", 2);
            glass_pack_uint(&b->key, slot);
            glass_pack_uint_sorted(&b->key, s->chunks[i].first_did);
            if (table_add(b, t, &b->key, &s->chunks[i].tag) != KB_GLASS_OK) return KB_GLASS_ERROR;
        }
    }
    /* Document lengths: a posting list of every document, the length in place of the wdf,
     * whose first chunk carries zero frequencies as Xapian writes it. */
    chunk_writer w = {.b = b, .table = t};
    for (uint32_t did = 1; did <= b->doccount; did++)
        if (chunk_add(&w, did, b->doclens[did - 1]) != KB_GLASS_OK) goto fail;
    if (w.started && emit_chunk(&w, 1) != KB_GLASS_OK) goto fail;
    /* The terms' posting lists, merged from the inverter's runs. */
    if (glass_inverter_merge(b->inverter, write_term, &w) != 0) {
        set_error(b, "%s", glass_inverter_errmsg(b->inverter));
        goto fail;
    }
    free(w.chunk.data);
    return KB_GLASS_OK;
fail:
    free(w.chunk.data);
    return KB_GLASS_ERROR;
}

/* ---------------------------------------------------------------- version file */

static int write_version_file(kb_glass_builder *b, const glass_root_info *roots)
{
    /* "\x0f\x0dXapian Glass" and the format version, DATE_TO_VERSION(2016,03,14). */
    static const char MAGIC[16] = {'\x0f', '\x0d', 'X', 'a', 'p', 'i', 'a', 'n',
                                   ' ',    'G',    'l', 'a', 's', 's', '\x04', '\x6e'};
    unsigned char uuid[16];
    if (getrandom(uuid, sizeof uuid, 0) != (ssize_t)sizeof uuid)
        return set_errno(b, "cannot generate the database's uuid");
    uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40); /* a version 4 (random) uuid */
    uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);

    kb_buf v = {0};
    kb_buf_add(&v, MAGIC, sizeof MAGIC);
    kb_buf_add(&v, uuid, sizeof uuid);
    glass_pack_uint(&v, GLASS_FIRST_REVISION);
    for (int t = 0; t < N_TABLES; t++) glass_root_info_pack(&v, &roots[t]);
    /* Statistics: doccount, last docid - doccount, least non-zero doclen, greatest wdf,
     * greatest doclen - greatest wdf, oldest changeset, total length, spelling bound. */
    glass_pack_uint(&v, b->doccount);
    glass_pack_uint(&v, 0);
    glass_pack_uint(&v, b->doclen_lower);
    glass_pack_uint(&v, b->wdf_upper);
    glass_pack_uint(&v, b->doclen_upper - b->wdf_upper);
    glass_pack_uint(&v, 0);
    glass_pack_uint(&v, b->total_doclen);
    glass_pack_uint(&v, 0);
    if (v.failed) {
        free(v.data);
        return set_error(b, "%s", "out of memory");
    }

    char *tmp = path_in(b, "v.tmp"), *final = path_in(b, "iamglass");
    int rc = KB_GLASS_OK;
    int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : -1;
    if (!tmp || !final) rc = set_error(b, "%s", "out of memory");
    else if (fd < 0) rc = set_errno(b, "cannot write the version file");
    else if (write(fd, v.data, v.len) != (ssize_t)v.len || fsync(fd) < 0)
        rc = set_errno(b, "cannot write the version file");
    if (fd >= 0 && close(fd) < 0 && rc == KB_GLASS_OK)
        rc = set_errno(b, "cannot write the version file");
    /* The rename publishes the database; syncing the directory makes it durable. */
    if (rc == KB_GLASS_OK && rename(tmp, final) < 0) rc = set_errno(b, "cannot publish the index");
    if (rc == KB_GLASS_OK) {
        int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) rc = set_errno(b, "cannot flush the index directory");
        if (dfd >= 0) close(dfd);
    }
    if (rc != KB_GLASS_OK && tmp) unlink(tmp);
    free(tmp);
    free(final);
    free(v.data);
    return rc;
}

int kb_glass_builder_commit(kb_glass_builder *b)
{
    if (b->status != KB_GLASS_OK) return KB_GLASS_ERROR;
    glass_root_info roots[N_TABLES];
    memset(roots, 0, sizeof roots);
    for (int t = 0; t < N_TABLES; t++) {
        roots[t].empty = 1;
        roots[t].compress_min = TABLE_COMPRESS_MIN[t];
    }
    glass_btree *postlist = create_table(b, T_POSTLIST, POSTLIST_TMP);
    if (!postlist) return KB_GLASS_ERROR;
    int rc = write_postlist(b, postlist);
    if (rc == KB_GLASS_OK && glass_btree_finish(postlist, &roots[T_POSTLIST]) < 0)
        rc = set_error(b, "%s", glass_btree_errmsg(postlist));
    glass_btree_free(postlist);
    if (rc == KB_GLASS_OK && glass_btree_finish(b->docdata, &roots[T_DOCDATA]) < 0)
        rc = set_error(b, "%s", glass_btree_errmsg(b->docdata));
    if (rc == KB_GLASS_OK && glass_btree_finish(b->termlist, &roots[T_TERMLIST]) < 0)
        rc = set_error(b, "%s", glass_btree_errmsg(b->termlist));
    if (rc == KB_GLASS_OK) {
        char *from = path_in(b, POSTLIST_TMP), *to = path_in(b, TABLE_FILES[T_POSTLIST]);
        if (!from || !to) rc = set_error(b, "%s", "out of memory");
        else if (rename(from, to) < 0) rc = set_errno(b, "cannot publish the index");
        free(from);
        free(to);
    }
    if (rc == KB_GLASS_OK) rc = write_version_file(b, roots);
    if (rc == KB_GLASS_OK) b->committed = 1;
    return rc;
}

void kb_glass_builder_close(kb_glass_builder *b)
{
    if (!b) return;
    glass_btree_free(b->docdata);
    glass_btree_free(b->termlist);
    if (b->owns_tables && !b->committed) remove_tables(b->dir);
    glass_inverter_free(b->inverter);
    if (b->scratch_fd >= 0) close(b->scratch_fd);
    if (b->lock_fd >= 0) close(b->lock_fd); /* releases the lock */
    for (unsigned s = 0; s < KB_GLASS_SLOTS; s++) {
        for (size_t i = 0; i < b->slots[s].n_chunks; i++) free(b->slots[s].chunks[i].tag.data);
        free(b->slots[s].chunks);
        free(b->slots[s].lower);
        free(b->slots[s].upper);
    }
    for (size_t i = 0; i < b->n_metadata; i++) {
        free(b->metadata[i].key);
        free(b->metadata[i].value);
    }
    free(b->metadata);
    free(b->doclens);
    free(b->key.data);
    free(b->tag.data);
    free(b->dir);
    free(b);
}
