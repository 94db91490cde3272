/*
 * xapian_wrap.cc — the C API of xapian/xapian.h over libxapian: documents, the writer, the
 * reader, and the border of ranked search, whose ranking is matcher.cc's.
 *
 * Every entry point catches every exception and turns it into a KBX_* code plus a message kept
 * in the handle (guarded), so no exception ever reaches C code. Nothing here knows about
 * documents or Chinese: that lives in kb/index and kb/search.
 */
#include "xapian/xapian.h"

#include <xapian.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <sys/stat.h>

#include "xapian/matcher.h"

/* Postings are flushed to disk (not published) every this many changed documents. Small
 * batches are faster as well as smaller: Xapian's in-memory inverter is a std::map of every term
 * in the batch, and a smaller map is walked with fewer cache misses. Measured 2026-11-23 on
 * kbgen documents (~2,200 distinct terms each): 10,000 documents in 32.5 s at 2,000 (peak RSS
 * 229 MB), 27.4 s at 1,000, 24.5 s at 500, 23.5 s at 250 (96 MB), 23.5 s at 100; 100,000
 * documents in 508 s at 2,000 (287 MB) and 401 s at 250 (156 MB). Xapian's default of 10,000
 * would hold far more than the 500 MB budget. */
static const char *const FLUSH_THRESHOLD = "250";

/* ---------------------------------------------------------------- error plumbing */

template <typename F>
static int guarded(std::string &err, F &&body)
{
    try {
        body();
        err.clear();
        return KBX_OK;
    } catch (const Xapian::DatabaseLockError &e) {
        err = "index is locked by another writer (" + e.get_msg() + ")";
        return KBX_LOCKED;
    } catch (const Xapian::DatabaseModifiedError &e) {
        err = "index changed while reading: " + e.get_msg();
        return KBX_MODIFIED;
    } catch (const Xapian::DocNotFoundError &e) {
        err = "no such document";
        return KBX_NOT_FOUND;
    } catch (const Xapian::Error &e) {
        err = e.get_type() + std::string(": ") + e.get_msg();
        const char *detail = e.get_error_string();
        if (detail && *detail) err += std::string(" (") + detail + ")";
        return KBX_ERROR;
    } catch (const std::bad_alloc &) {
        err = "out of memory";
        return KBX_NOMEM;
    } catch (const std::exception &e) {
        err = e.what();
        return KBX_ERROR;
    } catch (...) {
        err = "unknown error";
        return KBX_ERROR;
    }
}

static char *dup_bytes(const std::string &s)
{
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}

static void copy_out(const std::string &s, char *buf, size_t buf_len)
{
    if (!buf_len) return;
    size_t n = s.size() < buf_len - 1 ? s.size() : buf_len - 1;
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
}

extern "C" const char *kbx_library_version(int *major, int *minor)
{
    *major = Xapian::major_version();
    *minor = Xapian::minor_version();
    return Xapian::version_string();
}

/* ---------------------------------------------------------------- documents being built */

struct kbx_doc {
    Xapian::Document doc;
};

extern "C" kbx_doc *kbx_doc_new(void)
{
    return new (std::nothrow) kbx_doc();
}

extern "C" void kbx_doc_free(kbx_doc *d)
{
    delete d;
}

extern "C" int kbx_doc_add_term(kbx_doc *d, const char *term, unsigned wdf)
{
    std::string ignored;
    return guarded(ignored, [&] { d->doc.add_term(term, wdf); });
}

extern "C" int kbx_doc_add_boolean_term(kbx_doc *d, const char *term)
{
    std::string ignored;
    return guarded(ignored, [&] { d->doc.add_boolean_term(term); });
}

extern "C" int kbx_doc_set_value(kbx_doc *d, unsigned slot, const char *value, size_t len)
{
    std::string ignored;
    return guarded(ignored, [&] { d->doc.add_value(slot, std::string(value, len)); });
}

extern "C" int kbx_doc_set_data(kbx_doc *d, const char *data, size_t len)
{
    std::string ignored;
    return guarded(ignored, [&] { d->doc.set_data(std::string(data, len)); });
}

/* ---------------------------------------------------------------- writer */

struct kbx_writer {
    Xapian::WritableDatabase db;
    int status = KBX_OK;
    bool in_transaction = false;
    std::string err;
};

extern "C" void kbx_writer_keep_changesets(unsigned n)
{
    if (n == 0) {
        unsetenv("XAPIAN_MAX_CHANGESETS");
        return;
    }
    setenv("XAPIAN_MAX_CHANGESETS", std::to_string(n).c_str(), 1);
}

extern "C" kbx_writer *kbx_writer_open(const char *path)
{
    kbx_writer *w = new (std::nothrow) kbx_writer();
    if (!w) return nullptr;
    setenv("XAPIAN_FLUSH_THRESHOLD", FLUSH_THRESHOLD, 0);
    w->status = guarded(w->err, [&] {
        w->db = Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
        w->db.begin_transaction(true);
        w->in_transaction = true;
    });
    return w;
}

extern "C" int kbx_writer_status(const kbx_writer *w)
{
    return w->status;
}

extern "C" const char *kbx_writer_errmsg(const kbx_writer *w)
{
    return w->err.c_str();
}

extern "C" int kbx_writer_replace(kbx_writer *w, const char *id_term, kbx_doc *d)
{
    return guarded(w->err, [&] { w->db.replace_document(id_term, d->doc); });
}

extern "C" int kbx_writer_delete(kbx_writer *w, const char *term)
{
    return guarded(w->err, [&] { w->db.delete_document(term); });
}

extern "C" int kbx_writer_get_value(kbx_writer *w, const char *id_term, unsigned slot, char *buf,
                                    size_t buf_len)
{
    bool found = false;
    int rc = guarded(w->err, [&] {
        Xapian::PostingIterator p = w->db.postlist_begin(id_term);
        if (p == w->db.postlist_end(id_term)) return;
        copy_out(w->db.get_document(*p).get_value(slot), buf, buf_len);
        found = true;
    });
    if (rc == KBX_OK && !found) return KBX_NOT_FOUND;
    return rc;
}

extern "C" int kbx_writer_each_term(kbx_writer *w, const char *prefix,
                                    int (*fn)(const char *term, void *user), void *user)
{
    return guarded(w->err, [&] {
        for (Xapian::TermIterator t = w->db.allterms_begin(prefix); t != w->db.allterms_end(prefix); ++t) {
            std::string term = *t;
            if (fn(term.c_str(), user) != 0) break;
        }
    });
}

extern "C" int kbx_writer_set_metadata(kbx_writer *w, const char *key, const char *value)
{
    return guarded(w->err, [&] { w->db.set_metadata(key, value); });
}

extern "C" int kbx_writer_get_metadata(kbx_writer *w, const char *key, char *buf, size_t buf_len)
{
    return guarded(w->err, [&] { copy_out(w->db.get_metadata(key), buf, buf_len); });
}

extern "C" uint32_t kbx_writer_doccount(kbx_writer *w)
{
    uint32_t n = 0;
    guarded(w->err, [&] { n = w->db.get_doccount(); });
    return n;
}

extern "C" int kbx_writer_commit(kbx_writer *w)
{
    return guarded(w->err, [&] {
        if (w->in_transaction) {
            w->in_transaction = false;
            w->db.commit_transaction();
        }
        w->db.commit();
    });
}

extern "C" void kbx_writer_close(kbx_writer *w)
{
    if (!w) return;
    guarded(w->err, [&] {
        if (w->in_transaction) w->db.cancel_transaction();
        w->db.close();
    });
    delete w;
}

/* ---------------------------------------------------------------- reader */

/* A reader opens either a glass directory (what kb-indexer writes) or a replica that
 * xapian-replicate keeps: a directory holding a stub file, XAPIANDB, that names the live copy
 * ("auto replica_0" or "auto replica_1"). Changesets update the live copy in place, and
 * Database::reopen() follows them as it follows kb-indexer's commits. A full copy (after a bulk
 * build or rebuild on the indexing host, or when changesets cannot bridge the gap) is written
 * into the other replica_N, the stub is renamed over to name it, and the old copy is deleted;
 * reopen() knows nothing of the stub and would stay on (or fail in) the old copy. The same goes
 * for a symbolic link renamed over to a rebuilt index directory (how the indexing host publishes
 * a bulk rebuild, docs/DEPLOY.md): reopen() would read the new directory's version file against
 * the old one's open tables. So the reader remembers what it opened — the directory (device and
 * inode, through any link) and the stub file (inode and change time) — and, when either has
 * been replaced, opens the index afresh. Not the stub's content: two full copies in a row name
 * replica_N again, but never with the same file. */
struct stub_id {
    dev_t dir_dev = 0;
    ino_t dir_ino = 0;
    bool present = false;
    ino_t ino = 0;
    struct timespec ctime = {0, 0};
    bool operator==(const stub_id &o) const
    {
        return dir_dev == o.dir_dev && dir_ino == o.dir_ino && present == o.present &&
               ino == o.ino && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
    }
};

struct kbx_reader {
    Xapian::Database db;
    std::string path;
    stub_id stub; /* the directory and stub file the open database came from */
    int status = KBX_OK;
    std::string err;
    kbx_matcher::ReaderTables tables; /* the matcher's, kept between searches */
};

static stub_id stub_of(const std::string &dir)
{
    stub_id id;
    struct stat st;
    if (stat(dir.c_str(), &st) == 0) {
        id.dir_dev = st.st_dev;
        id.dir_ino = st.st_ino;
    }
    if (stat((dir + "/XAPIANDB").c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        id.present = true;
        id.ino = st.st_ino;
        id.ctime = st.st_ctim;
    }
    return id;
}

/* Open r->path from scratch (a glass directory or a replica's stub); throws as Xapian does.
 * The matcher's tables belong to the database they were read from: a full copy can carry the
 * same revision number as the copy it replaces, so they are dropped rather than compared. */
static void open_fresh(kbx_reader *r)
{
    for (int attempt = 0;; attempt++) {
        stub_id id = stub_of(r->path);
        try {
            if (id.present)
                r->db = Xapian::Database(r->path + "/XAPIANDB", Xapian::DB_BACKEND_STUB);
            else
                r->db = Xapian::Database(r->path, Xapian::DB_BACKEND_GLASS);
        } catch (const Xapian::DatabaseOpeningError &) {
            /* xapian-replicate deletes the old copy right after renaming the stub: a stub read
             * just before that names a directory that is gone (and so may a link). Once more. */
            if (attempt > 0 || stub_of(r->path) == id) throw;
            continue;
        }
        r->stub = id;
        r->tables = kbx_matcher::ReaderTables();
        return;
    }
}

extern "C" kbx_reader *kbx_reader_open(const char *path)
{
    kbx_reader *r = new (std::nothrow) kbx_reader();
    if (!r) return nullptr;
    r->status = guarded(r->err, [&] {
        r->path = path;
        open_fresh(r);
    });
    return r;
}

extern "C" int kbx_reader_status(const kbx_reader *r)
{
    return r->status;
}

extern "C" const char *kbx_reader_errmsg(const kbx_reader *r)
{
    return r->err.c_str();
}

extern "C" int kbx_reader_reopen(kbx_reader *r, int *changed)
{
    *changed = 0;
    return guarded(r->err, [&] {
        if (!(stub_of(r->path) == r->stub)) { /* a full copy, or a link to a rebuilt index */
            open_fresh(r);
            *changed = 1;
            return;
        }
        *changed = r->db.reopen() ? 1 : 0;
    });
}

extern "C" uint32_t kbx_reader_doccount(kbx_reader *r)
{
    uint32_t n = 0;
    guarded(r->err, [&] { n = r->db.get_doccount(); });
    return n;
}

extern "C" uint64_t kbx_reader_revision(kbx_reader *r)
{
    uint64_t rev = 0;
    guarded(r->err, [&] { rev = r->db.get_revision(); });
    return rev;
}

extern "C" uint32_t kbx_reader_termfreq(kbx_reader *r, const char *term)
{
    uint32_t n = 0;
    guarded(r->err, [&] { n = r->db.get_termfreq(term); });
    return n;
}

extern "C" int kbx_reader_get_metadata(kbx_reader *r, const char *key, char *buf, size_t buf_len)
{
    return guarded(r->err, [&] { copy_out(r->db.get_metadata(key), buf, buf_len); });
}

/* Run body; when the revision it read was recycled by the writer, move to the newest one and
 * try once more (Xapian's documented recovery for DatabaseModifiedError). */
template <typename F>
static int with_retry(kbx_reader *r, F &&body)
{
    int rc = guarded(r->err, body);
    if (rc == KBX_MODIFIED) {
        int changed = 0;
        if (kbx_reader_reopen(r, &changed) == KBX_OK) rc = guarded(r->err, body);
    }
    return rc;
}

extern "C" int kbx_reader_get_data(kbx_reader *r, const char *id_term, char **data, size_t *len)
{
    *data = nullptr;
    *len = 0;
    bool found = false;
    int rc = with_retry(r, [&] {
        Xapian::PostingIterator p = r->db.postlist_begin(id_term);
        if (p == r->db.postlist_end(id_term)) return;
        std::string s = r->db.get_document(*p).get_data();
        *data = dup_bytes(s);
        *len = s.size();
        found = true;
    });
    if (rc == KBX_OK && !found) return KBX_NOT_FOUND;
    return rc;
}

extern "C" int kbx_reader_docid(kbx_reader *r, const char *id_term, uint32_t *docid)
{
    *docid = 0;
    bool found = false;
    int rc = with_retry(r, [&] {
        Xapian::PostingIterator p = r->db.postlist_begin(id_term);
        if (p == r->db.postlist_end(id_term)) return;
        *docid = *p;
        found = true;
    });
    if (rc == KBX_OK && !found) return KBX_NOT_FOUND;
    return rc;
}

extern "C" int kbx_reader_each_document(kbx_reader *r,
                                        int (*fn)(const char *data, size_t len, void *user),
                                        void *user)
{
    return guarded(r->err, [&] {
        for (Xapian::PostingIterator p = r->db.postlist_begin(""); p != r->db.postlist_end("");
             ++p) {
            const std::string data = r->db.get_document(*p).get_data();
            if (fn(data.data(), data.size(), user) != 0) break;
        }
    });
}

/* The matcher (matcher.cc) ranks; here its ranking becomes kbx_results, with each hit's data. */
extern "C" int kbx_reader_search(kbx_reader *r, const kbx_query *q, kbx_results *res)
{
    std::memset(res, 0, sizeof *res);
    if (q->n_terms == 0) return KBX_OK;
    for (size_t i = 0; i < q->n_terms; i++)
        if (!(q->terms[i].weight >= 0)) { /* negative or NaN: every bound would be wrong */
            r->err = std::string("query term ") + q->terms[i].term + ": weight " +
                     std::to_string(q->terms[i].weight) + " is not >= 0";
            return KBX_ERROR;
        }
    const int rc = with_retry(r, [&] {
        kbx_results_free(res); /* a retry starts from nothing */
        std::memset(res, 0, sizeof *res);
        kbx_matcher::Ranking ranking;
        kbx_matcher::rank(r->db, r->tables, *q, ranking);
        res->matches_estimated = ranking.matches_estimated;
        res->max_possible = ranking.max_possible;
        if (ranking.hits.empty()) return;
        res->hits = static_cast<kbx_hit *>(std::calloc(ranking.hits.size(), sizeof(kbx_hit)));
        if (!res->hits) throw std::bad_alloc();
        for (const kbx_matcher::Hit &hit : ranking.hits) {
            kbx_hit &h = res->hits[res->n_hits];
            h.docid = hit.docid;
            h.score = hit.score;
            h.matched = hit.matched;
            h.doclen = hit.doclen;
            h.matched_len = hit.matched_wdf;
            std::string data = r->db.get_document(h.docid).get_data();
            h.data = dup_bytes(data);
            h.data_len = data.size();
            res->n_hits++;
        }
    });
    if (rc != KBX_OK) kbx_results_free(res); /* callers free only on success */
    return rc;
}

extern "C" void kbx_results_free(kbx_results *res)
{
    if (!res) return;
    for (size_t i = 0; i < res->n_hits; i++) std::free(res->hits[i].data);
    std::free(res->hits);
    res->hits = nullptr;
    res->n_hits = 0;
}

extern "C" void kbx_reader_close(kbx_reader *r)
{
    delete r;
}
