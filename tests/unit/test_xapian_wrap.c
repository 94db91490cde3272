/*
 * test_xapian_wrap.c — the Xapian wrapper's ranking (kb_xapian.h): scores are BM25 over the
 * index's statistics and each document's current length, also after the index changes under an
 * open reader.
 *
 * The wrapper scores terms itself, with document lengths from a table it keeps per index
 * revision (kb/xapian_wrap.cc, Bm25Term), so these tests compute the expected score from the
 * formula of Xapian::BM25Weight and compare.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kb_xapian.h"

#define K1 1.2
#define B 0.75
#define MIN_NORMLEN 0.5

static char index_dir[64];

/* A document "Qid" holding term x (wdf x_wdf, when > 0) and a filler term, so that its length
 * (the sum of its wdfs) is `length`. */
static int put_doc(kbx_writer *w, const char *id, unsigned x_wdf, unsigned length)
{
    kbx_doc *d = kbx_doc_new();
    char id_term[64];
    snprintf(id_term, sizeof id_term, "Q%s", id);
    int rc = kbx_doc_add_boolean_term(d, id_term);
    if (rc == KBX_OK && x_wdf) rc = kbx_doc_add_term(d, "x", x_wdf);
    if (rc == KBX_OK && length > x_wdf) rc = kbx_doc_add_term(d, "filler", length - x_wdf);
    if (rc == KBX_OK) rc = kbx_doc_set_data(d, id, strlen(id));
    if (rc == KBX_OK) rc = kbx_writer_replace(w, id_term, d);
    kbx_doc_free(d);
    return rc;
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

int main(void)
{
    snprintf(index_dir, sizeof index_dir, "/tmp/kb-test-xapian-%d", (int)getpid());
    RUN(scores_are_bm25_with_each_documents_length);
    RUN(scores_follow_a_document_reindexed_under_an_open_reader);
    RUN(a_term_in_no_document_matches_nothing);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", index_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", index_dir);
    CHECK_MAIN_END();
}
