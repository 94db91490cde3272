/*
 * test_xapian_wrap.c — the Xapian wrapper's ranking (xapian/xapian.h): scores are BM25 over the
 * index's statistics and each document's current length, also after the index changes under an
 * open reader.
 *
 * The wrapper ranks documents itself (kb/xapian/matcher.cc, top_documents: MaxScore over Xapian's
 * posting lists, document lengths from a table kept per index revision), so these tests compute
 * the expected scores from the formula of Xapian::BM25Weight, rank by brute force and compare.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xapian/xapian.h"

#define K1 1.2
#define B 0.75
#define MIN_NORMLEN 0.5

static char index_dir[64];

/* Add or replace the document "Qid" with data `id`: terms[i] with wdf wdfs[i] (those with 0
 * left out), so its length is the sum of wdfs, and the filter term `filter` unless NULL. */
static int put_terms(kbx_writer *w, const char *id, const char *const *terms,
                     const unsigned *wdfs, size_t n, const char *filter)
{
    kbx_doc *d = kbx_doc_new();
    char id_term[64];
    snprintf(id_term, sizeof id_term, "Q%s", id);
    int rc = kbx_doc_add_boolean_term(d, id_term);
    if (rc == KBX_OK && filter) rc = kbx_doc_add_boolean_term(d, filter);
    for (size_t i = 0; i < n && rc == KBX_OK; i++)
        if (wdfs[i]) rc = kbx_doc_add_term(d, terms[i], wdfs[i]);
    if (rc == KBX_OK) rc = kbx_doc_set_data(d, id, strlen(id));
    if (rc == KBX_OK) rc = kbx_writer_replace(w, id_term, d);
    kbx_doc_free(d);
    return rc;
}

/* A document holding term x (wdf x_wdf, when > 0) and a filler term, so that its length is
 * `length`. */
static int put_doc(kbx_writer *w, const char *id, unsigned x_wdf, unsigned length)
{
    const char *const terms[] = {"x", "filler"};
    const unsigned wdfs[] = {x_wdf, length > x_wdf ? length - x_wdf : 0};
    return put_terms(w, id, terms, wdfs, 2, NULL);
}

static void remove_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* BM25 of one term as Xapian::BM25Weight(K1, 0, 1, B, MIN_NORMLEN) computes it. */
static double bm25(double factor, unsigned n_docs, unsigned termfreq, double avg_length,
                   unsigned wdf, unsigned length)
{
    double tw = (n_docs - termfreq + 0.5) / (termfreq + 0.5);
    if (tw < 2) tw = tw * 0.5 + 1;
    double termweight = log(tw) * factor * (K1 + 1);
    double normlen = fmax(length / avg_length, MIN_NORMLEN);
    return termweight * (wdf / (K1 * (normlen * B + (1 - B)) + wdf));
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1, fabs(b)); }

/* Search for x with the given factor; fills the score of each id, 0 when not found. */
static int search_x(kbx_reader *r, double factor, const char *const *ids, double *scores,
                    size_t n)
{
    kbx_query_term t = {"x", factor};
    kbx_query q = {.terms = &t, .n_terms = 1, .limit = 10, .bm25_k1 = K1, .bm25_b = B};
    kbx_results res;
    int rc = kbx_reader_search(r, &q, &res);
    if (rc != KBX_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        scores[i] = 0;
        for (size_t h = 0; h < res.n_hits; h++)
            if (res.hits[h].data_len == strlen(ids[i]) &&
                memcmp(res.hits[h].data, ids[i], res.hits[h].data_len) == 0)
                scores[i] = res.hits[h].score;
    }
    kbx_results_free(&res);
    return KBX_OK;
}

TEST(scores_are_bm25_with_each_documents_length)
{
    kbx_writer *w = kbx_writer_open(index_dir);
    CHECK(kbx_writer_status(w) == KBX_OK);
    /* Same wdf, different lengths: the shorter document must score higher. */
    CHECK(put_doc(w, "short", 2, 10) == KBX_OK);
    CHECK(put_doc(w, "long", 2, 200) == KBX_OK);
    CHECK(put_doc(w, "other", 0, 30) == KBX_OK);
    CHECK(kbx_writer_commit(w) == KBX_OK);
    kbx_writer_close(w);

    kbx_reader *r = kbx_reader_open(index_dir);
    CHECK(kbx_reader_status(r) == KBX_OK);
    const char *ids[] = {"short", "long", "other"};
    double s[3];
    CHECK(search_x(r, 1.0, ids, s, 3) == KBX_OK);
    double avg = (10 + 200 + 30) / 3.0;
    CHECK(close_to(s[0], bm25(1.0, 3, 2, avg, 2, 10)));
    CHECK(close_to(s[1], bm25(1.0, 3, 2, avg, 2, 200)));
    CHECK(s[0] > s[1]);
    CHECK(s[2] == 0);

    /* The query weight scales the term's contribution. */
    CHECK(search_x(r, 0.5, ids, s, 3) == KBX_OK);
    CHECK(close_to(s[0], bm25(0.5, 3, 2, avg, 2, 10)));
    kbx_reader_close(r);
}

TEST(scores_follow_a_document_reindexed_under_an_open_reader)
{
    kbx_reader *r = kbx_reader_open(index_dir);
    const char *ids[] = {"short", "long", "new"};
    double s[3];
    CHECK(search_x(r, 1.0, ids, s, 3) == KBX_OK); /* the reader's tables now hold this revision */

    /* "short" becomes long, and a new document arrives with a docid past the old ones. */
    kbx_writer *w = kbx_writer_open(index_dir);
    CHECK(put_doc(w, "short", 2, 400) == KBX_OK);
    CHECK(put_doc(w, "new", 1, 5) == KBX_OK);
    CHECK(kbx_writer_commit(w) == KBX_OK);
    kbx_writer_close(w);

    int changed = 0;
    CHECK(kbx_reader_reopen(r, &changed) == KBX_OK);
    CHECK(changed);
    CHECK(search_x(r, 1.0, ids, s, 3) == KBX_OK);
    double avg = (400 + 200 + 30 + 5) / 4.0;
    CHECK(close_to(s[0], bm25(1.0, 4, 3, avg, 2, 400)));
    CHECK(close_to(s[1], bm25(1.0, 4, 3, avg, 2, 200)));
    CHECK(close_to(s[2], bm25(1.0, 4, 3, avg, 1, 5)));
    CHECK(s[1] > s[0]);
    kbx_reader_close(r);
}

TEST(a_term_in_no_document_matches_nothing)
{
    kbx_reader *r = kbx_reader_open(index_dir);
    kbx_query_term t[] = {{"absent", 1.0}, {"x", 1.0}};
    kbx_query q = {.terms = t, .n_terms = 2, .limit = 10, .bm25_k1 = K1, .bm25_b = B};
    kbx_results res;
    CHECK(kbx_reader_search(r, &q, &res) == KBX_OK);
    CHECK(res.n_hits == 3);
    kbx_results_free(&res);
    q.n_terms = 1;
    CHECK(kbx_reader_search(r, &q, &res) == KBX_OK);
    CHECK(res.n_hits == 0);
    kbx_results_free(&res);
    kbx_reader_close(r);
}

static int collect_ids(const char *data, size_t len, void *user)
{
    char *out = user;
    strncat(out, data, len);
    strcat(out, " ");
    size_t seen = 0;
    for (const char *c = out; *c; c++) seen += *c == ' ';
    return seen == 3; /* stop after the third */
}

TEST(each_document_is_visited_once_in_docid_order)
{
    kbx_reader *r = kbx_reader_open(index_dir);
    char ids[256] = "";
    /* docids: short 1, long 2, other 3, new 4; the callback stops after the third */
    CHECK(kbx_reader_each_document(r, collect_ids, ids) == KBX_OK);
    CHECK_STR_EQ(ids, "short long other ");
    kbx_reader_close(r);
}

/* ---- the ranking of many documents, against a brute-force BM25 ranking ---- */

#define N_MANY 400
#define N_TERMS 5
/* The query terms, and last the filler that gives each document its length. */
static const char *const many_terms[N_TERMS + 1] = {"ta", "tb", "tc", "td", "te", "filler"};
static unsigned many_wdf[N_MANY + 1][N_TERMS], many_len[N_MANY + 1];

/* Deterministic pseudo-random numbers, so a failure can be reproduced. */
static unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* N_MANY documents, docids 1..N_MANY in order: each term in some of them (ta in most, te in
 * few) with wdf 1..6, lengths 5..300, and a category term on every third one. */
static void build_many(const char *dir)
{
    kbx_writer *w = kbx_writer_open(dir);
    unsigned state = 7;
    for (unsigned d = 1; d <= N_MANY; d++) {
        char id[32];
        snprintf(id, sizeof id, "m%03u", d);
        unsigned wdfs[N_TERMS + 1], len = 0;
        for (int t = 0; t < N_TERMS; t++) {
            many_wdf[d][t] = next_rand(&state) % (t + 2) == 0 ? 1 + next_rand(&state) % 6 : 0;
            wdfs[t] = many_wdf[d][t];
            len += many_wdf[d][t];
        }
        wdfs[N_TERMS] = 5 + next_rand(&state) % 295;
        many_len[d] = len + wdfs[N_TERMS];
        CHECK(put_terms(w, id, many_terms, wdfs, N_TERMS + 1, d % 3 == 0 ? "XCthird" : NULL) ==
              KBX_OK);
    }
    CHECK(kbx_writer_commit(w) == KBX_OK);
    kbx_writer_close(w);
}

typedef struct {
    double score;
    unsigned docid;
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->docid < y->docid ? -1 : x->docid > y->docid;
}

/* Every document's score for the query, by the formula, best first; returns how many match. */
static size_t brute_force(const double *factors, int third_only, ranked *out)
{
    double total = 0;
    unsigned tf[N_TERMS] = {0};
    for (unsigned d = 1; d <= N_MANY; d++) {
        total += many_len[d];
        for (int t = 0; t < N_TERMS; t++) tf[t] += many_wdf[d][t] > 0;
    }
    size_t n = 0;
    for (unsigned d = 1; d <= N_MANY; d++) {
        if (third_only && d % 3) continue;
        double score = 0;
        int matched = 0;
        for (int t = 0; t < N_TERMS; t++)
            if (factors[t] > 0 && many_wdf[d][t]) {
                score += bm25(factors[t], N_MANY, tf[t], total / N_MANY, many_wdf[d][t], many_len[d]);
                matched = 1;
            }
        if (matched) out[n++] = (ranked){score, d};
    }
    qsort(out, n, sizeof *out, by_rank);
    return n;
}

/* Compare a search of the wrapper (offset, limit) with ranks offset.. of the brute force. */
static void check_ranking(kbx_reader *r, const double *factors, int third_only, uint32_t offset,
                          uint32_t limit)
{
    static ranked expected[N_MANY];
    size_t n = brute_force(factors, third_only, expected);
    kbx_query_term t[N_TERMS];
    size_t nt = 0;
    for (int i = 0; i < N_TERMS; i++)
        if (factors[i] > 0) t[nt++] = (kbx_query_term){many_terms[i], factors[i]};
    const char *third[] = {"XCthird"};
    kbx_query q = {.terms = t, .n_terms = nt, .offset = offset, .limit = limit,
                   .bm25_k1 = K1, .bm25_b = B, .matched_hits = limit};
    if (third_only) {
        q.any_of = third;
        q.n_any_of = 1;
    }
    kbx_results res;
    CHECK(kbx_reader_search(r, &q, &res) == KBX_OK);
    size_t want = n > offset ? n - offset : 0;
    if (want > limit) want = limit;
    CHECK(res.n_hits == want);
    for (size_t h = 0; h < res.n_hits && h < want; h++) {
        char id[32];
        snprintf(id, sizeof id, "m%03u", expected[offset + h].docid);
        if (res.hits[h].data_len != strlen(id) || memcmp(res.hits[h].data, id, strlen(id)) != 0 ||
            !close_to(res.hits[h].score, expected[offset + h].score)) {
            printf("  rank %zu: got %.*s %.12g, expected %s %.12g\n", offset + h,
                   (int)res.hits[h].data_len, res.hits[h].data, res.hits[h].score, id,
                   expected[offset + h].score);
            check_current_failed = 1;
            break;
        }
        /* Every hit says which of the query's terms it holds (coverage of each hit). */
        uint64_t want_matched = 0;
        for (int i = 0, k = 0; i < N_TERMS; i++)
            if (factors[i] > 0) {
                if (many_wdf[expected[offset + h].docid][i]) want_matched |= (uint64_t)1 << k;
                k++;
            }
        if (res.hits[h].matched != want_matched) {
            printf("  rank %zu (%s): matched %llx, expected %llx\n", offset + h, id,
                   (unsigned long long)res.hits[h].matched, (unsigned long long)want_matched);
            check_current_failed = 1;
            break;
        }
    }
    /* With fewer matches than asked for, every match was counted. */
    if (n < (size_t)offset + limit) CHECK(res.matches_estimated == n);
    CHECK(res.matches_estimated >= res.n_hits + offset || res.n_hits == 0);
    kbx_results_free(&res);
}

TEST(the_best_documents_are_those_of_an_exhaustive_ranking)
{
    char dir[80];
    snprintf(dir, sizeof dir, "%s-many", index_dir);
    build_many(dir);
    kbx_reader *r = kbx_reader_open(dir);
    const double all[N_TERMS] = {1, 1, 1, 1, 1};
    const double weighted[N_TERMS] = {0.2, 0.5, 1, 1.5, 0.7};
    const double rare_only[N_TERMS] = {0, 0, 0, 1, 1};
    check_ranking(r, all, 0, 0, 10);
    check_ranking(r, weighted, 0, 0, 10);
    check_ranking(r, weighted, 0, 0, 1);
    check_ranking(r, rare_only, 0, 0, 10);
    check_ranking(r, weighted, 0, 0, N_MANY); /* everything, in order */
    check_ranking(r, weighted, 0, 10, 10);    /* the second page */
    check_ranking(r, weighted, 1, 0, 10);     /* with a category filter */
    check_ranking(r, all, 1, 5, 20);
    /* Many weightings, so that every term takes its turn at being the one that decides. */
    unsigned state = 11;
    for (int round = 0; round < 40 && !check_current_failed; round++) {
        double f[N_TERMS];
        for (int t = 0; t < N_TERMS; t++) f[t] = (next_rand(&state) % 21) / 10.0;
        check_ranking(r, f, round % 4 == 0, 0, 1 + round % 12);
    }
    /* A term given twice is matched at its first place only. */
    kbx_query_term twice[] = {{many_terms[3], 1}, {many_terms[3], 1}, {many_terms[4], 1}};
    kbx_query q = {.terms = twice, .n_terms = 3, .limit = 20, .bm25_k1 = K1, .bm25_b = B,
                   .matched_hits = 20};
    kbx_results res;
    CHECK(kbx_reader_search(r, &q, &res) == KBX_OK);
    CHECK(res.n_hits > 0);
    for (size_t h = 0; h < res.n_hits; h++) {
        unsigned d = (unsigned)atoi(res.hits[h].data + 1); /* "m007" */
        uint64_t want = (many_wdf[d][3] ? 1u : 0u) | (many_wdf[d][4] ? 4u : 0u);
        CHECK(res.hits[h].matched == want);
    }
    kbx_results_free(&res);
    kbx_reader_close(r);
    remove_dir(dir);
}

/* Scores a few ulps apart (found by review): four documents whose weights spread differently
 * over five terms, and a long fifth document that makes every other length clamp. A bound added
 * up in another order than the score once dropped the best document at limit 1, so that pages
 * of one repeated a document and never showed another. */
TEST(pages_are_slices_of_one_ranking_even_for_near_ties)
{
    static const char *const terms[6] = {"t0", "t1", "t2", "t3", "t4", "long"};
    static const unsigned wdf[5][6] = {{0, 0, 0, 0, 0, 0},
                                       {0, 3, 1, 3, 2, 0},
                                       {1, 0, 0, 0, 1, 0},
                                       {2, 3, 3, 1, 0, 0},
                                       {0, 0, 0, 0, 0, 100000}};
    char dir[80];
    snprintf(dir, sizeof dir, "%s-ties", index_dir);
    kbx_writer *w = kbx_writer_open(dir);
    for (int d = 0; d < 5; d++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", d + 1);
        CHECK(put_terms(w, id, terms, wdf[d], 6, NULL) == KBX_OK);
    }
    CHECK(kbx_writer_commit(w) == KBX_OK);
    kbx_writer_close(w);

    kbx_reader *r = kbx_reader_open(dir);
    kbx_query_term t[5] = {{"t0", 1}, {"t1", 1}, {"t2", 1}, {"t3", 1}, {"t4", 1}};
    kbx_query q = {.terms = t, .n_terms = 5, .limit = 10};
    kbx_results all;
    CHECK(kbx_reader_search(r, &q, &all) == KBX_OK);
    CHECK(all.n_hits == 3);
    for (uint32_t limit = 1; limit <= 3; limit++)
        for (uint32_t offset = 0; offset + limit <= all.n_hits; offset++) {
            kbx_results page;
            q.offset = offset;
            q.limit = limit;
            CHECK(kbx_reader_search(r, &q, &page) == KBX_OK);
            CHECK(page.n_hits == limit);
            for (size_t h = 0; h < page.n_hits && h < limit; h++)
                if (page.hits[h].docid != all.hits[offset + h].docid ||
                    page.hits[h].score != all.hits[offset + h].score) {
                    printf("  offset %u limit %u: hit %zu is docid %u (%.17g), the full ranking has "
                           "%u (%.17g)\n", offset, limit, h, page.hits[h].docid, page.hits[h].score,
                           all.hits[offset + h].docid, all.hits[offset + h].score);
                    check_current_failed = 1;
                }
            kbx_results_free(&page);
        }
    kbx_results_free(&all);

    /* A negative weight would make every bound wrong: refused. */
    kbx_query_term bad = {"t0", -1};
    kbx_query qb = {.terms = &bad, .n_terms = 1, .limit = 10};
    kbx_results res;
    CHECK(kbx_reader_search(r, &qb, &res) == KBX_ERROR);
    CHECK(strstr(kbx_reader_errmsg(r), "weight") != NULL);
    kbx_reader_close(r);
    remove_dir(dir);
}

int main(void)
{
    snprintf(index_dir, sizeof index_dir, "/tmp/kb-test-xapian-%d", (int)getpid());
    RUN(scores_are_bm25_with_each_documents_length);
    RUN(scores_follow_a_document_reindexed_under_an_open_reader);
    RUN(a_term_in_no_document_matches_nothing);
    RUN(each_document_is_visited_once_in_docid_order);
    RUN(the_best_documents_are_those_of_an_exhaustive_ranking);
    RUN(pages_are_slices_of_one_ranking_even_for_near_ties);
    remove_dir(index_dir);
    CHECK_MAIN_END();
}
