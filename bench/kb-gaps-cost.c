/*
 * kb-gaps-cost — what taking a floor's unresolved searches into the editors' queue costs per
 * search, on real questions; for profiling the ingest (docs/GAPS.md, "What taking a question in
 * costs") and for checking that a change to it leaves the queue exactly as it was.
 *
 *   kb-gaps-cost log    --data DIR --index DIR --queries FILE [--n N] [--skip K] [--agents N]
 *   kb-gaps-cost ingest --data DIR [--index DIR] [--batch N] [--typing-window MS]
 *
 * `log` fills a fresh event store the way kb-searchd would: each of the first N questions of
 * FILE (one a line, kbgen's queries.txt) is searched on the index, and the search is logged
 * with its real outcome (unresolved, confidence, top hits), by one of AGENTS agents, 20 s apart
 * per agent, two days ago. Like a floor searching as it types, about a third of the questions
 * are preceded by one or two searches of their first characters half a second apart (the
 * queue leaves those out), and about one search in twenty gets a click, one in forty
 * `not_found` feedback. Everything is deterministic: the same arguments give the same store.
 * --skip K starts at question K (numbered, timed and spread over the agents as if the first K
 * had been logged): a second `log` with --skip adds to a store the first one filled, for the
 * cost of taking in new searches beside many already taken in.
 *
 * `ingest` takes everything in with kb_gaps_ingest(), BATCH rows a call (kb-searchd's is 1,000;
 * a floor's second brings fewer), the typing window on (5 s, kb-searchd's default), the index's
 * IDF when --index is given, as kb-searchd's gap thread does. It prints the unresolved searches
 * read, the questions queued, the calls, and the thread CPU time. Instructions are counted with
 * callgrind around the ingest alone:
 *
 *   valgrind --tool=callgrind --toggle-collect=kb_gaps_ingest kb-gaps-cost ingest ...
 *
 * Run `log` once, copy the store, and run `ingest` on a copy for each build compared; the
 * queue's tables of the two copies (sqlite3 .dump of the gap_* tables and doc_days) must be
 * the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/analyzer.h"
#include "kb/gaps.h"
#include "kb/search.h"
#include "kb/store.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A fixed pseudo-random sequence (64-bit LCG, high bits): the same store every run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng_state >> 33) % n);
}

/* Byte length of the first `chars` UTF-8 characters of s. */
static size_t prefix_bytes(const char *s, size_t chars)
{
    size_t i = 0;
    while (s[i] && chars > 0) {
        i++;
        while ((s[i] & 0xC0) == 0x80) i++;
        chars--;
    }
    return i;
}

static size_t count_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += (*s & 0xC0) != 0x80;
    return n;
}

/* Search text on the index and log it as agent's search at time_ms. 1 when unresolved, 0 when
 * not, -1 on error. */
static int search_and_log(kb_searcher *se, kb_store *st, const char *id, const char *agent,
                          const char *text, int64_t time_ms, char *top, size_t top_len)
{
    kb_search_request req = {.text = text, .limit = 10};
    kb_search_result res;
    if (kb_search(se, &req, &res) != KB_OK) {
        fprintf(stderr, "kb-gaps-cost: search failed: %s\n", kb_searcher_errmsg(se));
        return -1;
    }
    const char *ids[10];
    for (size_t i = 0; i < res.n_hits && i < 10; i++) ids[i] = res.hits[i].id;
    kb_search_event ev = {.search_id = id,
                          .agent = agent,
                          .query = text,
                          .time_ms = time_ms,
                          .top_ids = ids,
                          .n_top = res.n_hits < 10 ? res.n_hits : 10,
                          .confidence = res.confidence,
                          .unresolved = res.unresolved,
                          .took_ms = res.took_ms};
    /* The store's queue holds 65,536: wait for room rather than drop. */
    while (kb_store_log_search(st, &ev) != KB_OK) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    int unresolved = res.unresolved;
    snprintf(top, top_len, "%s", res.n_hits ? res.hits[0].id : "");
    kb_search_result_free(&res);
    return unresolved;
}

static int cmd_log(const char *data, const char *index, const char *queries, long n, long skip,
                   int agents)
{
    char err[512];
    FILE *f = fopen(queries, "r");
    if (!f) {
        perror(queries);
        return 1;
    }
    kb_searcher *se = kb_searcher_open(index, err, sizeof err);
    kb_store *st = se ? kb_store_open(data, err, sizeof err) : NULL;
    if (!st) {
        fprintf(stderr, "kb-gaps-cost: %s\n", err);
        fclose(f);
        kb_searcher_close(se);
        return 1;
    }
    /* Two days ago, so every search is older than the typing window. */
    int64_t t0 = (int64_t)time(NULL) * 1000 - 2LL * 86400000;
    char line[4096], id[32], agent[24], top[128];
    long k = 0, searches = 0, unresolved = 0;
    while (k < skip && fgets(line, sizeof line, f)) k += strcspn(line, "\r\n") > 0; /* not blank */
    int rc = 0;
    struct {
        char id[32], agent[24], doc[128];
        int64_t time_ms;
        int kind;
    } fb[4096];
    size_t n_fb = 0;
    while (rc == 0 && k < skip + n && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        int a = (int)(k % agents);
        snprintf(agent, sizeof agent, "agent%03d", a);
        int64_t t = t0 + (k / agents) * 20000 + a * 97;
        /* As-you-type steps first: the first third, then two thirds of the question. */
        size_t chars = count_chars(line);
        int steps = chars >= 6 && rnd(3) == 0 ? 1 + (int)rnd(2) : 0;
        for (int s = steps; s > 0 && rc == 0; s--) {
            size_t len = prefix_bytes(line, chars * (size_t)(3 - s) / 3);
            char part[4096];
            memcpy(part, line, len);
            part[len] = '\0';
            snprintf(id, sizeof id, "k%ld-%d", k, s);
            int u = search_and_log(se, st, id, agent, part, t - 500 * s, top, sizeof top);
            if (u < 0) rc = 1;
            searches++;
            unresolved += u > 0;
        }
        snprintf(id, sizeof id, "k%ld", k);
        int u = rc ? -1 : search_and_log(se, st, id, agent, line, t, top, sizeof top);
        if (u < 0) rc = 1;
        searches++;
        unresolved += u > 0;
        unsigned r = rnd(40);
        if (u >= 0 && top[0] && r < 3 && n_fb < sizeof fb / sizeof *fb) {
            snprintf(fb[n_fb].doc, sizeof fb[n_fb].doc, "%s", top);
            snprintf(fb[n_fb].id, sizeof fb[n_fb].id, "%s", id);
            snprintf(fb[n_fb].agent, sizeof fb[n_fb].agent, "%s", agent);
            fb[n_fb].time_ms = t + 3000;
            fb[n_fb].kind = r < 2 ? KB_FEEDBACK_CLICK : KB_FEEDBACK_NOT_FOUND;
            n_fb++;
        }
        k++;
    }
    fclose(f);
    kb_store_close(st); /* every search written before the feedback that names it */
    st = rc ? NULL : kb_store_open(data, err, sizeof err);
    if (!rc && !st) {
        fprintf(stderr, "kb-gaps-cost: %s\n", err);
        rc = 1;
    }
    for (size_t i = 0; st && i < n_fb; i++) {
        /* On the top hit: a click on it, or "not found" rejecting it. */
        int frc = kb_store_log_feedback(st, fb[i].id, fb[i].agent, (kb_feedback_kind)fb[i].kind,
                                        fb[i].doc, fb[i].time_ms);
        if (frc != KB_OK && frc != KB_DUPLICATE) {
            fprintf(stderr, "kb-gaps-cost: feedback on %s failed (%d)\n", fb[i].id, frc);
            rc = 1;
            break;
        }
    }
    kb_store_close(st);
    kb_searcher_close(se);
    printf("%ld questions, %ld searches (%ld unresolved), %zu feedback\n", k - skip, searches,
           unresolved, n_fb);
    return rc;
}

static int cmd_ingest(const char *data, const char *index, long batch, long window)
{
    char err[512] = "";
    kb_analyzer *a = kb_analyzer_new(err, sizeof err);
    kb_searcher *se = a && index ? kb_searcher_open(index, err, sizeof err) : NULL;
    kb_gaps *g = a && (se || !index) ? kb_gaps_open(data, 0, err, sizeof err) : NULL;
    if (!g) {
        fprintf(stderr, "kb-gaps-cost: %s\n", err);
        kb_searcher_close(se);
        kb_analyzer_free(a);
        return 1;
    }
    kb_gaps_set_typing_window(g, window);
    kb_gaps_kb kb = {a, se};
    long calls = 0, waiting;
    double cpu = cpu_ms();
    do {
        waiting = kb_gaps_ingest(g, &kb, (size_t)batch);
        calls++;
    } while (waiting > 0);
    cpu = cpu_ms() - cpu;
    int rc = 0;
    if (waiting < 0) {
        fprintf(stderr, "kb-gaps-cost: ingest: %s\n", kb_gaps_errmsg(g));
        rc = 1;
    }
    kb_gaps_filter f = {.statuses = KB_GAP_ALL, .limit = 1};
    kb_gap_page page;
    long items = -1;
    if (kb_gaps_list(g, &f, &page) == KB_OK) {
        items = (long)page.total;
        kb_gap_page_free(&page);
    }
    kb_gaps_close(g);
    kb_searcher_close(se);
    kb_analyzer_free(a);
    printf("%ld calls of up to %ld rows, %.1f ms CPU, %ld items\n", calls, batch, cpu, items);
    return rc;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: kb-gaps-cost log --data DIR --index DIR --queries FILE [--n N] [--skip K] "
            "[--agents N]\n"
            "       kb-gaps-cost ingest --data DIR [--index DIR] [--batch N] "
            "[--typing-window MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *cmd = argv[1], *data = NULL, *index = NULL, *queries = NULL;
    long n = 5000, skip = 0, batch = 1000, window = KB_GAPS_TYPING_WINDOW_MS;
    int agents = 100;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--data")) data = argv[++i];
        else if (!strcmp(argv[i], "--index")) index = argv[++i];
        else if (!strcmp(argv[i], "--queries")) queries = argv[++i];
        else if (!strcmp(argv[i], "--n")) n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--skip")) skip = atol(argv[++i]);
        else if (!strcmp(argv[i], "--agents")) agents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch")) batch = atol(argv[++i]);
        else if (!strcmp(argv[i], "--typing-window")) window = atol(argv[++i]);
        else return usage();
    }
    if (!data || n < 1 || skip < 0 || agents < 1 || batch < 1 || window < 0) return usage();
    if (!strcmp(cmd, "log")) {
        if (!index || !queries) return usage();
        return cmd_log(data, index, queries, n, skip, agents);
    }
    if (!strcmp(cmd, "ingest")) return cmd_ingest(data, index, batch, window);
    return usage();
}
