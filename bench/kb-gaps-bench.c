/*
 * kb-gaps-bench — what taking 1,000 questions into the editors' queue costs, by the size of the
 * items they join; for benchmarks (bench/README.md, "Figures").
 *
 *   kb-gaps-bench [--sizes 10,1000,10000] [--items 10] [--batches 3] [--dir DIR]
 *
 * For each size S: a fresh event store holds ITEMS unanswered questions asked S times each (two
 * phrasings, five agents, one second apart), taken in untimed; then BATCHES times, 1,000 more
 * of the same questions (100 per item with 10 items) are logged and taken in by one
 * kb_gaps_ingest() call, timed. Prints per size the thread CPU time and wall time of each
 * batch, and the largest item's size. No index is needed: the analyzer alone gives the
 * grouping terms (every term then counts as unknown to the knowledge base).
 *
 * Why it exists: the ingest used to recompute every item a batch touched from all its questions,
 * so its cost grew with the items' sizes (docs/GAPS.md, "What taking a question in costs").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/analyzer.h"
#include "kb/gaps.h"
#include "kb/store.h"

/* Ten subjects that share no word, each asked two ways. */
static const char *const TOPICS[][2] = {
    {"宠物保险怎么理赔", "宠物保险如何理赔"},   {"电动车上牌需要什么材料", "电动车上牌要什么材料"},
    {"提前还贷要预约吗", "提前还贷需要预约吗"}, {"手表eSIM怎么办理", "手表eSIM如何办理"},
    {"国际漫游怎么开通", "国际漫游如何开通"},   {"信用卡年费怎么免", "信用卡年费如何免"},
    {"退货运费谁来出", "退货运费谁出"},         {"宽带移机要几天", "宽带移机需要几天"},
    {"公积金贷款额度怎么算", "公积金贷款额度如何算"}, {"快递丢件怎么赔偿", "快递丢件如何赔偿"},
};
#define N_TOPICS (sizeof TOPICS / sizeof *TOPICS)
static const char *const AGENTS[] = {"a01", "a02", "a03", "a04", "a05"};

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Log n unresolved searches round-robin over the first `items` topics, numbered from *seq. */
static int log_questions(const char *dir, size_t items, long n, long *seq, int64_t t0)
{
    char err[512];
    kb_store *st = kb_store_open(dir, err, sizeof err);
    if (!st) {
        fprintf(stderr, "kb-gaps-bench: %s\n", err);
        return -1;
    }
    for (long i = 0; i < n; i++, (*seq)++) {
        char id[32];
        snprintf(id, sizeof id, "s%ld", *seq);
        long k = *seq;
        kb_search_event ev = {.search_id = id,
                              .agent = AGENTS[(k / (long)items) % 5],
                              .query = TOPICS[k % (long)items][(k / (long)items / 5) % 2],
                              .time_ms = t0 + k * 1000,
                              .confidence = 0.1,
                              .unresolved = 1};
        /* The store's queue holds 65,536: wait for room rather than drop. */
        while (kb_store_log_search(st, &ev) != KB_OK) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    kb_store_close(st); /* everything written */
    return 0;
}

static long ingest_all(kb_gaps *g, const kb_gaps_kb *kb)
{
    long waiting;
    do waiting = kb_gaps_ingest(g, kb, 1000);
    while (waiting > 0);
    if (waiting < 0) fprintf(stderr, "kb-gaps-bench: ingest: %s\n", kb_gaps_errmsg(g));
    return waiting;
}

static int run(const char *root, long size, size_t items, int batches, kb_analyzer *a)
{
    char dir[512], err[512];
    snprintf(dir, sizeof dir, "%s/size-%ld", root, size);
    long seq = 0;
    int64_t t0 = (int64_t)time(NULL) * 1000 - 400LL * 86400000; /* well before now */
    if (log_questions(dir, items, size * (long)items, &seq, t0) != 0) return -1;
    kb_gaps *g = kb_gaps_open(dir, 0, err, sizeof err);
    if (!g) {
        fprintf(stderr, "kb-gaps-bench: %s\n", err);
        return -1;
    }
    kb_gaps_set_typing_window(g, 0);
    kb_gaps_kb kb = {a, NULL};
    double fill = now(CLOCK_MONOTONIC);
    if (ingest_all(g, &kb) < 0) return -1;
    fill = now(CLOCK_MONOTONIC) - fill;
    printf("items of %ld questions (%zu items, filled in %.1f s):", size, items, fill / 1e3);
    for (int b = 0; b < batches; b++) {
        if (log_questions(dir, items, 1000, &seq, t0) != 0) return -1;
        double cpu = now(CLOCK_THREAD_CPUTIME_ID), wall = now(CLOCK_MONOTONIC);
        long waiting = kb_gaps_ingest(g, &kb, 1000);
        cpu = now(CLOCK_THREAD_CPUTIME_ID) - cpu;
        wall = now(CLOCK_MONOTONIC) - wall;
        if (waiting != 0) {
            fprintf(stderr, "kb-gaps-bench: batch %d: %ld waiting: %s\n", b, waiting,
                    waiting < 0 ? kb_gaps_errmsg(g) : "more than one batch");
            return -1;
        }
        printf(" %.1f ms CPU (%.1f wall)%s", cpu, wall, b + 1 < batches ? "," : "");
    }
    kb_gaps_filter f = {.statuses = KB_GAP_ALL, .limit = 1};
    kb_gap_page page;
    if (kb_gaps_list(g, &f, &page) == KB_OK) {
        printf("; %ld items, the largest %ld questions", (long)page.total,
               page.n ? (long)page.items[0].count : 0L);
        kb_gap_page_free(&page);
    }
    printf("\n");
    fflush(stdout);
    kb_gaps_close(g);
    return 0;
}

int main(int argc, char **argv)
{
    const char *sizes = "10,1000,10000", *dir = NULL;
    size_t items = 10;
    int batches = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--items") && i + 1 < argc) items = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else {
            fprintf(stderr, "usage: kb-gaps-bench [--sizes 10,1000,10000] [--items 10] "
                            "[--batches 3] [--dir DIR]\n");
            return 2;
        }
    }
    if (items < 1 || items > N_TOPICS || batches < 1) {
        fprintf(stderr, "kb-gaps-bench: --items 1..%zu, --batches 1 or more\n", N_TOPICS);
        return 2;
    }
    char tmp[] = "/tmp/kb-gaps-bench.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("kb-gaps-bench: mkdtemp");
        return 1;
    }
    char err[512] = "";
    kb_analyzer *a = kb_analyzer_new(err, sizeof err);
    if (!a) {
        fprintf(stderr, "kb-gaps-bench: %s\n", err);
        return 1;
    }
    int rc = 0;
    char *list = strdup(sizes);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save))
        rc = run(dir, atol(tok), items, batches, a);
    free(list);
    kb_analyzer_free(a);
    if (dir == tmp) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "kb-gaps-bench: could not remove %s\n", tmp);
    }
    return rc == 0 ? 0 : 1;
}
