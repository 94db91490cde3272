/*
 * kb-query — run questions straight through kb_search, without HTTP; for tuning and benchmarks.
 *
 *   kb-query --index DIR [--limit N] [--repeat N] [--include-expired] [--features] [--snippets]
 *            [--learned FILE] [--slowest N] < questions.tsv
 *
 * Input: one question per line, "ID<TAB>QUESTION" or just "QUESTION" (then the line number is
 * the id). Output, one line per question:
 *   ID<TAB>unresolved<TAB>confidence<TAB>coverage<TAB>passage_coverage<TAB>top_score<TAB>second_score<TAB>ids
 * with ids comma-separated, best first. --features adds a column with every confidence feature
 * (kb_search_features) as NAME=VALUE pairs separated by spaces, which bench/fit_confidence.py
 * reads. With --snippets, two more columns: the top hit's section id and its snippet (HTML, tabs
 * and newlines as spaces), for tuning passage choice. With --repeat, the questions are run N
 * times and only timing is printed (to stderr): searches per second and latency percentiles on
 * one thread. --learned FILE: "DOC_ID<TAB>PHRASING" lines, searched as learned phrasings
 * (kb/search.h, kb_searcher_set_learned), to measure what they cost; it also times the rebuild
 * kb-searchd does after a teaching (kb_learned_index_rebuild with one more phrasing).
 * --slowest N: the N dearest questions, each by its fastest search over the rounds (to stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/search.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The features of one search as a column of NAME=VALUE pairs. */
static void print_features(const kb_search_features *f)
{
    printf("\tcoverage=%.6f passage_coverage=%.6f top_score=%.6f second_score=%.6f n_terms=%zu "
           "word_coverage=%.6f char_coverage=%.6f word_share=%.6f n_words=%zu "
           "second_coverage=%.6f tenth_score=%.6f beyond=%.6f title_cover=%.6f answer=%.6f "
           "second_title_cover=%.6f second_answer=%.6f title_beyond=%.6f taught=%.6f",
           f->coverage, f->passage_coverage, f->top_score, f->second_score, f->n_terms,
           f->word_coverage, f->char_coverage, f->word_share, f->n_words, f->second_coverage,
           f->tenth_score, f->beyond, f->title_cover, f->answer, f->second_title_cover,
           f->second_answer, f->title_beyond, f->taught);
}

/* Build a learned-phrasing index from FILE and give it to s. 0, or -1 after saying why. */
static int load_learned(kb_searcher *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t n = 0, cap = 1024;
    kb_learned_entry *e = malloc(cap * sizeof *e);
    char line[4096];
    while (e && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        if (n == cap) e = realloc(e, (cap *= 2) * sizeof *e);
        if (!e) break;
        e[n].doc_id = strdup(line);
        e[n].text = strdup(tab + 1);
        n++;
    }
    fclose(f);
    char err[256] = "out of memory";
    double t = now_ms();
    kb_learned_index *idx = e ? kb_learned_index_build(e, n, err, sizeof err) : NULL;
    fprintf(stderr, "kb-query: %zu learned phrasings indexed in %.0f ms\n", n, now_ms() - t);
    if (idx && n) {
        /* What kb-searchd does after a teaching: rebuild from the index before, with one more
         * phrasing (the first one again, on another document). */
        kb_learned_entry *more = realloc(e, (n + 1) * sizeof *e);
        if (more) {
            e = more;
            e[n] = (kb_learned_entry){"kb-query-rebuild", e[0].text};
            t = now_ms();
            kb_learned_index *again = kb_learned_index_rebuild(idx, e, n + 1, err, sizeof err);
            fprintf(stderr, "kb-query: rebuilt with one more phrasing in %.0f ms\n", now_ms() - t);
            kb_learned_index_release(again);
        }
    }
    for (size_t i = 0; e && i < n; i++) {
        free((char *)e[i].doc_id);
        free((char *)e[i].text);
    }
    free(e);
    if (!idx) {
        fprintf(stderr, "kb-query: %s\n", err);
        return -1;
    }
    kb_searcher_set_learned(s, idx);
    kb_learned_index_release(idx);
    return 0;
}

int main(int argc, char **argv)
{
    const char *index = NULL, *learned = NULL;
    int limit = 10, repeat = 0, include_expired = 0, features = 0, snippets = 0, slowest = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--index") && i + 1 < argc) index = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--include-expired")) include_expired = 1;
        else if (!strcmp(argv[i], "--features")) features = 1;
        else if (!strcmp(argv[i], "--snippets")) snippets = 1;
        else if (!strcmp(argv[i], "--learned") && i + 1 < argc) learned = argv[++i];
        else if (!strcmp(argv[i], "--slowest") && i + 1 < argc) slowest = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: kb-query --index DIR [--limit N] [--repeat N] [--include-expired] "
                            "[--features] [--snippets] [--learned FILE] [--slowest N] < questions\n");
            return 2;
        }
    }
    if (!index) {
        fprintf(stderr, "kb-query: --index DIR is required\n");
        return 2;
    }
    char err[512];
    kb_searcher *s = kb_searcher_open(index, err, sizeof err);
    if (!s) {
        fprintf(stderr, "kb-query: %s\n", err);
        return 2;
    }
    if (learned && load_learned(s, learned) != 0) {
        kb_searcher_close(s);
        return 2;
    }
    size_t n = 0, cap = 1024;
    char **ids = malloc(cap * sizeof *ids), **qs = malloc(cap * sizeof *qs);
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        if (n == cap) {
            cap *= 2;
            ids = realloc(ids, cap * sizeof *ids);
            qs = realloc(qs, cap * sizeof *qs);
        }
        char *tab = strchr(line, '\t');
        char num[32];
        snprintf(num, sizeof num, "%zu", n + 1);
        ids[n] = strdup(tab ? (*tab = 0, line) : num);
        qs[n] = strdup(tab ? tab + 1 : line);
        n++;
    }
    int rounds = repeat > 0 ? repeat : 1;
    double *lat = malloc((n * (size_t)rounds + 1) * sizeof *lat);
    /* per question: its fastest search over the rounds, its own cost without the machine's noise */
    double *cost = calloc(n + 1, sizeof *cost);
    size_t n_lat = 0;
    double t0 = now_ms();
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            kb_search_request req = {.text = qs[i], .limit = (uint32_t)limit,
                                     .include_expired = include_expired};
            kb_search_result res;
            double t = now_ms();
            if (kb_search(s, &req, &res) != KB_OK) {
                fprintf(stderr, "kb-query: %s: %s\n", ids[i], kb_searcher_errmsg(s));
                continue;
            }
            lat[n_lat++] = now_ms() - t;
            if (r == 0 || lat[n_lat - 1] < cost[i]) cost[i] = lat[n_lat - 1];
            if (!repeat) {
                printf("%s\t%d\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t", ids[i], res.unresolved, res.confidence,
                       res.features.coverage, res.features.passage_coverage, res.features.top_score,
                       res.features.second_score);
                for (size_t h = 0; h < res.n_hits; h++) printf("%s%s", h ? "," : "", res.hits[h].id);
                if (features) print_features(&res.features);
                if (snippets) {
                    const kb_hit *top = res.n_hits ? &res.hits[0] : NULL;
                    printf("\t%s\t", top ? top->section_id : "");
                    for (const char *c = top ? top->snippet : ""; *c; c++)
                        putchar(*c == '\t' || *c == '\n' ? ' ' : *c);
                }
                printf("\n");
            }
            kb_search_result_free(&res);
        }
    }
    double total = now_ms() - t0;
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    if (n_lat)
        fprintf(stderr, "kb-query: %zu searches in %.0f ms: %.0f/s on one thread; latency ms p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
                n_lat, total, n_lat / (total / 1000), lat[n_lat / 2], lat[n_lat * 95 / 100],
                lat[n_lat * 99 / 100], lat[n_lat - 1]);
    /* The dearest questions: the tail of kb-searchd's latency is made of them (a worker thread
     * busy with one delays every connection it serves). */
    for (int k = 0; k < slowest && (size_t)k < n; k++) {
        size_t w = 0;
        for (size_t i = 1; i < n; i++)
            if (cost[i] > cost[w]) w = i;
        if (cost[w] <= 0) break;
        fprintf(stderr, "kb-query: dear %.2f ms\t%s\t%s\n", cost[w], ids[w], qs[w]);
        cost[w] = -1;
    }
    free(cost);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(qs[i]);
    }
    free(ids);
    free(qs);
    free(lat);
    kb_searcher_close(s);
    return 0;
}
