/*
 * matcher.cc — ranked search: the best documents for an OR of weighted terms, found over
 * Xapian's posting lists (matcher.h; called by kbx_reader_search in xapian_wrap.cc).
 *
 * What: each term is scored with BM25 exactly as Xapian::BM25Weight(k1, 0, 1, b, 0.5) scores it
 * (the same formula, statistics and per-term bound, in the same order of operations), and the
 * best offset + limit documents are found by MaxScore (top_documents). The result is the
 * exhaustive ranking's: its documents, in its order, ties in docid order as Xapian orders them.
 *
 * Why not Xapian's own matcher (Enquire): measured with callgrind (docs/SEARCH.md, "Matching"),
 * it spent a third of a search decoding the document-length list forward to each candidate and
 * most of the rest walking its tree of binary OR nodes, virtual call by virtual call. Here the
 * reader keeps every document's length in a table per index revision (update_doclens) and
 * MaxScore walks the few posting lists directly: 4.8M instructions a search instead of 8.5M,
 * and on 5 of 2,457 bq-dev questions the right top 10 where Xapian 1.4's missed a document.
 *
 * The filters: categories are posting lists read forward alongside the candidates (AnyOfFilter);
 * the validity window is a docid bitmap built once per index revision and day (update_outside),
 * so a search checks a bit per candidate instead of reading two value streams.
 */
#include "xapian/matcher.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace kbx_matcher {

/* Bring tables.outside up to date for q's day and slots: one pass over two value streams per
 * index revision and day. */
static void update_outside(const Xapian::Database &db, ReaderTables &tables, const kbx_query &q)
{
    const std::string day(q.valid_on);
    const std::string key = std::to_string(db.get_revision()) + ' ' + day + ' ' +
                            std::to_string(q.valid_from_slot) + ' ' +
                            std::to_string(q.valid_until_slot);
    if (key == tables.outside_key) return;
    std::vector<uint8_t> bits(db.get_lastdocid() / 8 + 1, 0);
    auto mark = [&](Xapian::docid id) {
        if (id / 8 < bits.size()) bits[id / 8] |= (uint8_t)(1u << (id % 8));
    };
    for (Xapian::ValueIterator v = db.valuestream_begin(q.valid_from_slot);
         v != db.valuestream_end(q.valid_from_slot); ++v)
        if (*v > day) mark(v.get_docid());
    for (Xapian::ValueIterator v = db.valuestream_begin(q.valid_until_slot);
         v != db.valuestream_end(q.valid_until_slot); ++v)
        if (*v < day) mark(v.get_docid());
    Xapian::doccount n = 0;
    for (uint8_t byte : bits) n += (Xapian::doccount)__builtin_popcount(byte);
    tables.outside.swap(bits);
    tables.n_outside = n;
    tables.outside_key = key;
}

/* Bring tables.doclens up to date with the revision being read: one pass over the
 * document-length list per index revision (about 3 ms for 100,000 documents). Glass itself
 * finds a document's length by decoding that list forward to its docid, which was a third of a
 * search when candidates are spread over the collection. */
static void update_doclens(const Xapian::Database &db, ReaderTables &tables)
{
    const Xapian::rev rev = db.get_revision();
    if (tables.have_doclens && rev == tables.doclens_rev) return;
    std::vector<Xapian::termcount> lens((size_t)db.get_lastdocid() + 1, 0);
    for (Xapian::PostingIterator p = db.postlist_begin(""); p != db.postlist_end(""); ++p)
        lens[*p] = p.get_doclength();
    tables.doclens.swap(lens);
    tables.doclens_rev = rev;
    tables.have_doclens = true;
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

    /* BM25Weight::get_sumpart for the current posting; its wdf is added to *wdf_sum. */
    double weight(const Bm25Params &params, const std::vector<Xapian::termcount> &doclens,
                  Xapian::termcount *wdf_sum) const
    {
        const Xapian::termcount len = docid < doclens.size() ? doclens[docid] : 0;
        const Xapian::doclength normlen = std::max(len * len_factor, params.min_normlen);
        const Xapian::termcount w = it.get_wdf();
        *wdf_sum += w;
        const double wdf = w;
        const double denom = params.k1 * (normlen * params.b + (1 - params.b)) + wdf;
        return termweight * (wdf / denom);
    }
};

/* A filter: does a document carry at least one of these terms? Asked in increasing docid order,
 * so each list is read forward once. */
class AnyOfFilter {
    std::vector<PostingCursor> lists;

  public:
    AnyOfFilter(const Xapian::Database &db, const kbx_query &q)
    {
        lists.reserve(q.n_any_of);
        for (size_t i = 0; i < q.n_any_of; i++) lists.emplace_back(db, q.any_of[i]);
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
    Xapian::termcount matched_wdf; /* the sum of their wdfs */
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
 * carries the bits of the terms it holds and the sum of their wdfs (what confidence reads of
 * it, kb/search/confidence.c): every list has been read at it by then, so this costs an OR and
 * an add per matching term, where reading a hit's term list afterwards cost ~0.25M
 * instructions. */
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
        Xapian::termcount matched_wdf = 0;
        for (size_t i = first_essential; i < n; i++) {
            weights[i] = 0;
            if (terms[i].docid != did) continue;
            if (wanted) {
                weights[i] = terms[i].weight(params, doclens, &matched_wdf);
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
                weights[i] = terms[i].weight(params, doclens, &matched_wdf);
                matched |= terms[i].bit;
            }
        }
        if (!possible) continue;
        /* The score adds the weights in one fixed order, so that documents matching the same
         * terms equally score exactly the same and their order is their docids'. */
        double score = 0;
        for (size_t i = 0; i < n; i++) score += weights[i];
        if (score <= threshold) continue;

        heap.push_back({score, (Xapian::docid)did, matched, matched_wdf});
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
static uint32_t estimate_matches(const Xapian::Database &db, const ReaderTables &tables,
                                 const kbx_query &q, const std::vector<TermCursor> &terms,
                                 size_t depth, size_t found, uint64_t seen)
{
    const Xapian::doccount n_docs = db.get_doccount();
    if (found < depth || n_docs == 0) return (uint32_t)seen;
    std::vector<Xapian::doccount> freqs;
    for (const TermCursor &t : terms) freqs.push_back(t.termfreq);
    double share = share_holding_any(freqs, n_docs);
    if (q.valid_on) share *= 1 - std::min(1.0, (double)tables.n_outside / n_docs);
    if (q.n_any_of) {
        freqs.clear();
        for (size_t i = 0; i < q.n_any_of; i++) freqs.push_back(db.get_termfreq(q.any_of[i]));
        share *= share_holding_any(freqs, n_docs);
    }
    return (uint32_t)std::min<double>(std::max<double>(share * n_docs, seen), n_docs);
}

void rank(const Xapian::Database &db, ReaderTables &tables, const kbx_query &q, Ranking &out)
{
    out = Ranking();
    Bm25Params params;
    params.k1 = q.bm25_k1 > 0 ? q.bm25_k1 : 1.2;
    params.b = q.bm25_b > 0 ? std::min(q.bm25_b, 1.0) : 0.75;
    params.min_normlen = 0.5;
    update_doclens(db, tables);
    if (q.valid_on) update_outside(db, tables, q);

    std::vector<TermCursor> terms;
    terms.reserve(q.n_terms);
    for (size_t i = 0; i < q.n_terms; i++) {
        terms.emplace_back(db, q.terms[i].term, q.terms[i].weight, params);
        if (!q.matched_hits) continue;
        /* A term given twice counts for its first place only, as it always has. */
        size_t first = 0;
        while (std::strcmp(q.terms[first].term, q.terms[i].term) != 0) first++;
        if (first < 64) terms.back().bit = (uint64_t)1 << first;
    }
    for (const TermCursor &t : terms) out.max_possible += t.maxweight;
    AnyOfFilter filter(db, q);
    const size_t depth = (size_t)q.offset + q.limit;
    uint64_t seen = 0;
    std::vector<ScoredDoc> top =
        top_documents(terms, depth, params, tables.doclens, q.valid_on ? &tables.outside : nullptr,
                      filter, db.get_doccount(), &seen);
    out.matches_estimated = estimate_matches(db, tables, q, terms, depth, top.size(), seen);
    if (top.size() <= q.offset) return;

    out.hits.reserve(top.size() - q.offset);
    for (size_t i = q.offset; i < top.size(); i++) {
        const bool wants_matched = out.hits.size() < q.matched_hits;
        const Xapian::termcount len =
            top[i].docid < tables.doclens.size() ? tables.doclens[top[i].docid] : 0;
        out.hits.push_back({top[i].docid, top[i].score, wants_matched ? top[i].matched : 0, len,
                            top[i].matched_wdf});
    }
}

} // namespace kbx_matcher
