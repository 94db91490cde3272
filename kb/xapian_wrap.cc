/*
 * xapian_wrap.cc — the C API of kb_xapian.h over libxapian; the project's only C++ file.
 *
 * Every entry point catches every exception and turns it into a KBX_* code plus a message kept
 * in the handle, so no exception ever reaches C code. Nothing here knows about documents or
 * Chinese: that lives in index.c and search.c.
 *
 * Ranked search is the one part that is more than a translation: Xapian reads the posting lists,
 * and top_documents() picks the best documents by MaxScore with BM25 computed as Xapian's
 * BM25Weight does, which costs about half of what Xapian's own matcher did (docs/SEARCH.md,
 * "Matching").
 */
#include "kb_xapian.h"

#include <xapian.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

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

struct kbx_reader {
    Xapian::Database db;
    int status = KBX_OK;
    std::string err;
    /* Documents outside their validity window (kbx_query.valid_on), one bit per docid, for the
     * revision, day and slots in outside_key. */
    std::vector<uint8_t> outside;
    Xapian::doccount n_outside = 0; /* documents marked in it */
    std::string outside_key;
    /* Every document's length, indexed by docid, for the revision doclens_rev (see TermCursor). */
    std::vector<Xapian::termcount> doclens;
    Xapian::rev doclens_rev = 0;
    bool have_doclens = false;
};

extern "C" kbx_reader *kbx_reader_open(const char *path)
{
    kbx_reader *r = new (std::nothrow) kbx_reader();
    if (!r) return nullptr;
    r->status = guarded(r->err, [&] { r->db = Xapian::Database(path, Xapian::DB_BACKEND_GLASS); });
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
    return guarded(r->err, [&] { *changed = r->db.reopen() ? 1 : 0; });
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

/* Bring r->outside up to date for q's day and slots: one pass over two value streams per index
 * revision and day. */
static void update_outside(kbx_reader *r, const kbx_query *q)
{
    const std::string day(q->valid_on);
    const std::string key = std::to_string(r->db.get_revision()) + ' ' + day + ' ' +
                            std::to_string(q->valid_from_slot) + ' ' +
                            std::to_string(q->valid_until_slot);
    if (key == r->outside_key) return;
    std::vector<uint8_t> bits(r->db.get_lastdocid() / 8 + 1, 0);
    auto mark = [&](Xapian::docid id) {
        if (id / 8 < bits.size()) bits[id / 8] |= (uint8_t)(1u << (id % 8));
    };
    for (Xapian::ValueIterator v = r->db.valuestream_begin(q->valid_from_slot);
         v != r->db.valuestream_end(q->valid_from_slot); ++v)
        if (*v > day) mark(v.get_docid());
    for (Xapian::ValueIterator v = r->db.valuestream_begin(q->valid_until_slot);
         v != r->db.valuestream_end(q->valid_until_slot); ++v)
        if (*v < day) mark(v.get_docid());
    Xapian::doccount n = 0;
    for (uint8_t byte : bits) n += (Xapian::doccount)__builtin_popcount(byte);
    r->outside.swap(bits);
    r->n_outside = n;
    r->outside_key = key;
}

/* Bring r->doclens up to date with the revision being read: one pass over the document-length
 * list per index revision (about 3 ms for 100,000 documents). */
static void update_doclens(kbx_reader *r)
{
    const Xapian::rev rev = r->db.get_revision();
    if (r->have_doclens && rev == r->doclens_rev) return;
    std::vector<Xapian::termcount> lens((size_t)r->db.get_lastdocid() + 1, 0);
    for (Xapian::PostingIterator p = r->db.postlist_begin(""); p != r->db.postlist_end(""); ++p)
        lens[*p] = p.get_doclength();
    r->doclens.swap(lens);
    r->doclens_rev = rev;
    r->have_doclens = true;
}

/* BM25 parameters of a search; k2 is 0 and k3 1, as in Xapian::BM25Weight(k1, 0, 1, b, 0.5). */
struct Bm25Params {
    double k1, b, min_normlen;
};

/* A position in a posting list: a docid, or END_OF_LIST past the last one. Wider than a docid,
 * so that no docid can be mistaken for the end. */
typedef uint64_t ListPos;
static const ListPos END_OF_LIST = ~(ListPos)0;

/* A posting list read forward, with its current docid at hand. */
struct PostingCursor {
    Xapian::PostingIterator it, end;
    ListPos docid = END_OF_LIST; /* the current posting */

    PostingCursor(const Xapian::Database &db, const std::string &term)
        : it(db.postlist_begin(term)), end(db.postlist_end(term))
    {
        if (it != end) docid = *it;
    }

    void next()
    {
        ++it;
        docid = it == end ? END_OF_LIST : *it;
    }

    /* Move to the first posting at or after did. */
    void skip_to(ListPos did)
    {
        if (docid >= did) return;
        it.skip_to((Xapian::docid)did); /* did is a docid: only END_OF_LIST is wider */
        docid = it == end ? END_OF_LIST : *it;
    }
};

/* One query term: its posting list and its BM25 weight, computed as Xapian::BM25Weight computes
 * it (the same formula, statistics and bound, in the same order of operations), with each
 * document's length read from the reader's table (update_doclens). */
struct TermCursor : PostingCursor {
    uint64_t bit = 0; /* its bit in kbx_hit.matched (0: none) */
    Xapian::doccount termfreq = 0;
    double termweight = 0, len_factor = 0;
    double maxweight = 0; /* no document scores more on this term */

    /* BM25Weight::init and get_maxpart. The wdf bound is the one glass gives its own posting
     * lists, max(cf - first wdf, first wdf). */
    TermCursor(const Xapian::Database &db, const std::string &term, double factor,
               const Bm25Params &params)
        : PostingCursor(db, term), termfreq(db.get_termfreq(term))
    {
        const Xapian::doccount collection_size = db.get_doccount();
        double tw = (collection_size - termfreq + 0.5) / (termfreq + 0.5);
        if (tw < 2) tw = tw * 0.5 + 1;
        termweight = std::log(tw) * factor;
        const double k3 = 1, wqf = 1;
        termweight *= (k3 + 1) * wqf / (k3 + wqf);
        termweight *= (params.k1 + 1);
        if (params.b != 0 && params.k1 != 0 && collection_size) {
            len_factor = Xapian::doclength(db.get_total_length()) / collection_size;
            if (len_factor != 0) len_factor = 1 / len_factor;
        }

        Xapian::termcount wdf_max = 0;
        if (it != end) {
            const Xapian::termcount cf = db.get_collection_freq(term), first = it.get_wdf();
            wdf_max = std::max(cf - first, first);
        }
        double denom = params.k1;
        if (params.k1 != 0.0 && params.b != 0.0) {
            const Xapian::doclength normlen_lb =
                std::max(std::max(wdf_max, db.get_doclength_lower_bound()) * len_factor,
                         params.min_normlen);
            denom *= (normlen_lb * params.b + (1 - params.b));
        }
        denom += wdf_max;
        maxweight = termweight * (wdf_max / denom);
    }

    /* BM25Weight::get_sumpart for the current posting. */
    double weight(const Bm25Params &params, const std::vector<Xapian::termcount> &doclens) const
    {
        const Xapian::termcount len = docid < doclens.size() ? doclens[docid] : 0;
        const Xapian::doclength normlen = std::max(len * len_factor, params.min_normlen);
        const double wdf = it.get_wdf();
        const double denom = params.k1 * (normlen * params.b + (1 - params.b)) + wdf;
        return termweight * (wdf / denom);
    }
};

/* A filter: does a document carry at least one of these terms? Asked in increasing docid order,
 * so each list is read forward once. */
class AnyOfFilter {
    std::vector<PostingCursor> lists;

  public:
    AnyOfFilter(const Xapian::Database &db, const kbx_query *q)
    {
        lists.reserve(q->n_any_of);
        for (size_t i = 0; i < q->n_any_of; i++) lists.emplace_back(db, q->any_of[i]);
    }

    bool accepts(ListPos did)
    {
        if (lists.empty()) return true;
        for (PostingCursor &l : lists) {
            l.skip_to(did);
            if (l.docid == did) return true;
        }
        return false;
    }
};

struct ScoredDoc {
    double score;
    Xapian::docid docid;
    uint64_t matched; /* the bits of the query terms it holds */
};

/* Ranking order: higher score first, then lower docid (Xapian's default). */
static bool ranks_before(const ScoredDoc &a, const ScoredDoc &b)
{
    return a.score > b.score || (a.score == b.score && a.docid < b.docid);
}

/* The `depth` best documents for the OR of the query's terms, best first, by MaxScore (Turtle
 * and Flood, 1995). Terms are ordered by their maximum weight; once `depth` documents are held,
 * the terms whose maximum weights together cannot beat the weakest of them are "non-essential":
 * only documents from the other terms' posting lists are candidates, and the non-essential
 * lists are merely skipped to each candidate, strongest first, stopping as soon as the
 * candidate cannot make it. Exact: the documents of an exhaustive ranking, in its order (every
 * bound is added up in the order the score will be, so rounding cannot drop a document that
 * ties or beats the weakest held). Scores can differ from Xapian's own matcher's in the last
 * bit, as it adds the terms in another order; it was replaced for speed (docs/SEARCH.md,
 * "Matching").
 *
 * Sets *seen to the number of candidates that passed the filters: every match when fewer than
 * depth were found (nothing was pruned then), a lower bound otherwise. Each document kept
 * carries the bits of the terms it holds: every list has been read at it by then, so this costs
 * an OR per matching term, where reading a hit's term list afterwards cost ~0.25M instructions. */
static std::vector<ScoredDoc> top_documents(std::vector<TermCursor> &terms, size_t depth,
                                            const Bm25Params &params,
                                            const std::vector<Xapian::termcount> &doclens,
                                            const std::vector<uint8_t> *outside,
                                            AnyOfFilter &filter, Xapian::doccount collection_size,
                                            uint64_t *seen)
{
    std::stable_sort(terms.begin(), terms.end(), [](const TermCursor &a, const TermCursor &b) {
        return a.maxweight < b.maxweight;
    });
    const size_t n = terms.size();
    std::vector<double> bound_upto(n); /* sum of maxweight over terms[0..i] */
    double sum = 0;
    for (size_t i = 0; i < n; i++) bound_upto[i] = sum += terms[i].maxweight;

    std::vector<double> weights(n); /* the candidate's weight from each term */
    std::vector<ScoredDoc> heap; /* the best so far; the weakest on top */
    heap.reserve(std::min<size_t>(depth, collection_size) + 1);
    double threshold = -1;  /* a candidate must score more than this once the heap is full */
    size_t first_essential = 0;
    uint64_t accepted = 0;  /* candidates that passed the filters */

    while (depth > 0 && first_essential < n) {
        ListPos did = END_OF_LIST;
        for (size_t i = first_essential; i < n; i++) did = std::min(did, terms[i].docid);
        if (did == END_OF_LIST) break;

        const bool inside = !outside || did / 8 >= outside->size() ||
                            !((*outside)[did / 8] >> (did % 8) & 1);
        const bool wanted = inside && filter.accepts(did);
        uint64_t matched = 0;
        for (size_t i = first_essential; i < n; i++) {
            weights[i] = 0;
            if (terms[i].docid != did) continue;
            if (wanted) {
                weights[i] = terms[i].weight(params, doclens);
                matched |= terms[i].bit;
            }
            terms[i].next();
        }
        if (!wanted) continue;
        accepted++;
        bool possible = true;
        for (size_t i = first_essential; i-- > 0;) {
            weights[i] = 0;
            /* The most the candidate can score with terms[0..i] still unread, added in the
             * order its score will be (a sum in another order can round to 1 ulp below the
             * score, and drop a document the exhaustive ranking keeps). */
            double bound = bound_upto[i];
            for (size_t j = i + 1; j < n; j++) bound += weights[j];
            if (bound <= threshold) {
                possible = false;
                break;
            }
            terms[i].skip_to(did);
            if (terms[i].docid == did) {
                weights[i] = terms[i].weight(params, doclens);
                matched |= terms[i].bit;
            }
        }
        if (!possible) continue;
        /* The score adds the weights in one fixed order, so that documents matching the same
         * terms equally score exactly the same and their order is their docids'. */
        double score = 0;
        for (size_t i = 0; i < n; i++) score += weights[i];
        if (score <= threshold) continue;

        heap.push_back({score, (Xapian::docid)did, matched});
        std::push_heap(heap.begin(), heap.end(), ranks_before);
        if (heap.size() > depth) {
            std::pop_heap(heap.begin(), heap.end(), ranks_before);
            heap.pop_back();
        }
        if (heap.size() == depth) {
            threshold = heap.front().score;
            while (first_essential < n && bound_upto[first_essential] <= threshold) first_essential++;
        }
    }

    *seen = accepted;
    std::sort_heap(heap.begin(), heap.end(), ranks_before);
    return heap;
}

/* The share of n_docs documents that hold at least one of terms with these frequencies, as if
 * the terms occurred independently (what Xapian's own estimates assume). */
template <typename Freqs>
static double share_holding_any(const Freqs &termfreqs, Xapian::doccount n_docs)
{
    double none = 1;
    for (Xapian::doccount tf : termfreqs) none *= 1 - std::min(1.0, (double)tf / n_docs);
    return 1 - none;
}

/* How many documents match q: `seen` itself when the search found fewer than `depth` (it then
 * saw every match), else the terms' union under independence, narrowed by the filters, and
 * never fewer than `seen`. */
static uint32_t estimate_matches(kbx_reader *r, const kbx_query *q,
                                 const std::vector<TermCursor> &terms, size_t depth, size_t found,
                                 uint64_t seen)
{
    const Xapian::doccount n_docs = r->db.get_doccount();
    if (found < depth || n_docs == 0) return (uint32_t)seen;
    std::vector<Xapian::doccount> freqs;
    for (const TermCursor &t : terms) freqs.push_back(t.termfreq);
    double share = share_holding_any(freqs, n_docs);
    if (q->valid_on) share *= 1 - std::min(1.0, (double)r->n_outside / n_docs);
    if (q->n_any_of) {
        freqs.clear();
        for (size_t i = 0; i < q->n_any_of; i++) freqs.push_back(r->db.get_termfreq(q->any_of[i]));
        share *= share_holding_any(freqs, n_docs);
    }
    return (uint32_t)std::min<double>(std::max<double>(share * n_docs, seen), n_docs);
}

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
        Bm25Params params;
        params.k1 = q->bm25_k1 > 0 ? q->bm25_k1 : 1.2;
        params.b = q->bm25_b > 0 ? std::min(q->bm25_b, 1.0) : 0.75;
        params.min_normlen = 0.5;
        update_doclens(r);
        if (q->valid_on) update_outside(r, q);

        std::vector<TermCursor> terms;
        terms.reserve(q->n_terms);
        for (size_t i = 0; i < q->n_terms; i++) {
            terms.emplace_back(r->db, q->terms[i].term, q->terms[i].weight, params);
            if (!q->matched_hits) continue;
            /* A term given twice counts for its first place only, as it always has. */
            size_t first = 0;
            while (std::strcmp(q->terms[first].term, q->terms[i].term) != 0) first++;
            if (first < 64) terms.back().bit = (uint64_t)1 << first;
        }
        for (const TermCursor &t : terms) res->max_possible += t.maxweight;
        AnyOfFilter filter(r->db, q);
        const size_t depth = (size_t)q->offset + q->limit;
        uint64_t seen = 0;
        std::vector<ScoredDoc> top =
            top_documents(terms, depth, params, r->doclens, q->valid_on ? &r->outside : nullptr,
                          filter, r->db.get_doccount(), &seen);
        res->matches_estimated = estimate_matches(r, q, terms, depth, top.size(), seen);
        if (top.size() <= q->offset) return;

        res->hits = static_cast<kbx_hit *>(std::calloc(top.size() - q->offset, sizeof(kbx_hit)));
        if (!res->hits) throw std::bad_alloc();
        for (size_t i = q->offset; i < top.size(); i++) {
            kbx_hit &h = res->hits[res->n_hits];
            h.docid = top[i].docid;
            h.score = top[i].score;
            std::string data = r->db.get_document(h.docid).get_data();
            h.data = dup_bytes(data);
            h.data_len = data.size();
            if (res->n_hits < q->matched_hits) h.matched = top[i].matched;
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
