/*
 * gaps_cluster.c — incremental grouping of unanswered questions (see kb/gaps.h and
 * docs/GAPS.md, "Grouping").
 *
 * Each group keeps, for every term, how many of its questions contain it (its centroid). A new
 * question goes to the open group whose centroid is most similar to it, if that similarity
 * reaches the threshold, else it starts a group. Similarity is the cosine between the question's
 * term vector and the centroid, each term weighted by
 *     kind weight (1 for words, bigrams, Latin words, numbers; KB_GAPS_UNIGRAM_WEIGHT for single
 *     characters)  x  informativeness,
 * where informativeness averages the term's inverse document frequency in the knowledge base
 * (a term every document has says little) and in the queue itself (a term half the questions
 * share, such as 办理, says little about which question it is). Both are smoothed so that terms
 * the knowledge base has never seen — common in questions it cannot answer — count fully.
 *
 * Why incremental assignment rather than re-clustering: the queue must follow the floor within
 * seconds, and an item must keep its identity (and its editor's status) as questions arrive.
 * Candidate groups come from an inverted index (term -> groups, with each group's count of the
 * term in the posting), so a question is compared only with the groups that share a term with
 * it, and its dot products with all of them are summed in one pass over its terms' postings.
 */
#include "kb/gaps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

typedef struct {
    char *text;
    double qdf;       /* questions of the loaded groups that contain the term */
    double kb_idf;    /* cached; < 0 until asked */
    double w;         /* weight() as of epoch w_epoch */
    uint64_t w_epoch;
    uint32_t *groups; /* postings: groups whose centroid has the term (appended, never removed) */
    double *gcounts;  /* per posting: that group's count of the term (its counts[] entry) */
    size_t n_groups, cap_groups;
} term_entry;

typedef struct {
    int64_t id;
    double members;
    uint32_t *terms;  /* term indexes, ascending */
    double *counts;   /* questions of the group containing each term */
    uint32_t *posting; /* per term: where the group is in the term's postings */
    size_t n_terms, cap_terms;
} group_entry;

struct kb_gap_clusterer {
    term_entry *terms;
    size_t n_terms, cap_terms;
    uint32_t *slots; /* hash table of term indexes + 1 (0 = empty) */
    size_t n_slots;
    group_entry *groups;
    size_t n_groups, cap_groups;
    double questions; /* members of all groups */
    kb_gap_idf_fn idf;
    void *idf_user;
    uint64_t epoch; /* bumped whenever a count changes: weights cached before are stale */
    /* scratch for one assignment */
    unsigned char *seen; /* per group: already a candidate (always all zero between calls) */
    uint32_t *touched;
    double *dot, *gg_shared; /* per candidate group: the sums similarity() needs */
    struct candidate {
        double bound;
        uint32_t gi;
    } *bounds;                 /* candidates whose bound reaches the threshold */
    size_t cap_seen, cap_touched, cap_sums, cap_bounds;
};


kb_gap_clusterer *kb_gap_clusterer_new(kb_gap_idf_fn idf, void *user)
{
    kb_gap_clusterer *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->idf = idf;
    c->idf_user = user;
    return c;
}

void kb_gap_clusterer_free(kb_gap_clusterer *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_terms; i++) {
        free(c->terms[i].text);
        free(c->terms[i].groups);
        free(c->terms[i].gcounts);
    }
    for (size_t i = 0; i < c->n_groups; i++) {
        free(c->groups[i].terms);
        free(c->groups[i].counts);
        free(c->groups[i].posting);
    }
    free(c->terms);
    free(c->slots);
    free(c->groups);
    free(c->seen);
    free(c->touched);
    free(c->dot);
    free(c->gg_shared);
    free(c->bounds);
    free(c);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int rehash(kb_gap_clusterer *c, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < c->n_terms; i++) {
        size_t h = (size_t)kb_hash_str(c->terms[i].text) & (n_slots - 1);
        while (slots[h]) h = (h + 1) & (n_slots - 1);
        slots[h] = (uint32_t)i + 1;
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    return 0;
}

/* Index of a term, added when missing and add is set; -1 when absent (or out of memory). */
static long term_index(kb_gap_clusterer *c, const char *text, int add)
{
    if (c->n_slots) {
        size_t h = (size_t)kb_hash_str(text) & (c->n_slots - 1);
        while (c->slots[h]) {
            uint32_t i = c->slots[h] - 1;
            if (strcmp(c->terms[i].text, text) == 0) return (long)i;
            h = (h + 1) & (c->n_slots - 1);
        }
    }
    if (!add) return -1;
    if ((c->n_terms + 1) * 2 > c->n_slots && rehash(c, c->n_slots ? c->n_slots * 2 : 256) != 0)
        return -1;
    if (grow((void **)&c->terms, &c->cap_terms, c->n_terms + 1, sizeof *c->terms) != 0) return -1;
    term_entry *t = &c->terms[c->n_terms];
    memset(t, 0, sizeof *t);
    t->text = strdup(text);
    if (!t->text) return -1;
    t->kb_idf = -1;
    size_t h = (size_t)kb_hash_str(text) & (c->n_slots - 1);
    while (c->slots[h]) h = (h + 1) & (c->n_slots - 1);
    c->slots[h] = (uint32_t)c->n_terms + 1;
    return (long)c->n_terms++;
}

/* Split "a b c" into term indexes (added when add is set; unknown ones skipped otherwise).
 * Returns how many, or -1 when out of memory. *out is malloc'd. */
static long parse_terms(kb_gap_clusterer *c, const char *text, int add, uint32_t **out)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ' ';
    uint32_t *v = malloc(cap * sizeof *v);
    char *copy = strdup(text);
    if (!v || !copy) {
        free(v);
        free(copy);
        return -1;
    }
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        long i = term_index(c, tok, add);
        if (i < 0) {
            if (add) {
                free(v);
                free(copy);
                return -1;
            }
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < n; j++) dup |= v[j] == (uint32_t)i;
        if (!dup) v[n++] = (uint32_t)i;
    }
    free(copy);
    *out = v;
    return (long)n;
}

/* The weight of a term (see the file comment). */
static double weight(kb_gap_clusterer *c, uint32_t ti)
{
    term_entry *t = &c->terms[ti];
    /* One assignment compares the question with many groups that share terms, so a weight is
     * asked for many times between two changes of the counts it depends on. */
    if (t->w_epoch == c->epoch + 1) return t->w;
    int unigram = t->text[0] == '~', subword = t->text[0] == '^', generic = t->text[0] == '=';
    if (t->kb_idf < 0) {
        int marked = unigram || subword || generic;
        double v = c->idf ? c->idf(marked ? t->text + 1 : t->text, c->idf_user) : -1;
        t->kb_idf = v < 0 ? KB_GAPS_IDF_UNKNOWN : v;
    }
    /* Smoothed so that the first questions of a queue do not get extreme weights. */
    double q_idf = log((c->questions + 10.0) / (t->qdf + 1.0));
    double info = 0.5 * t->kb_idf + 0.5 * q_idf;
    if (info < 0.05) info = 0.05;
    double kind = unigram ? KB_GAPS_UNIGRAM_WEIGHT
                  : subword ? KB_GAPS_SUBWORD_WEIGHT
                  : generic ? KB_GAPS_GENERIC_WEIGHT
                            : 1.0;
    t->w = kind * info;
    t->w_epoch = c->epoch + 1;
    return t->w;
}

/* Where term ti is, or would be inserted, in group g's ascending term list. */
static size_t term_slot(const group_entry *g, uint32_t ti)
{
    size_t lo = 0, hi = g->n_terms;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->terms[mid] < ti) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Add `count` questions containing term ti to group gi (members are counted by the caller). */
static int group_add_term(kb_gap_clusterer *c, size_t gi, uint32_t ti, double count)
{
    group_entry *g = &c->groups[gi];
    size_t lo = term_slot(g, ti);
    c->terms[ti].qdf += count;
    c->epoch++;
    term_entry *t = &c->terms[ti];
    if (lo < g->n_terms && g->terms[lo] == ti) {
        g->counts[lo] += count;
        t->gcounts[g->posting[lo]] = g->counts[lo];
        return 0;
    }
    size_t cap = g->cap_terms;
    if (grow((void **)&g->terms, &cap, g->n_terms + 1, sizeof *g->terms) != 0) return -1;
    cap = g->cap_terms;
    if (grow((void **)&g->counts, &cap, g->n_terms + 1, sizeof *g->counts) != 0) return -1;
    cap = g->cap_terms;
    if (grow((void **)&g->posting, &cap, g->n_terms + 1, sizeof *g->posting) != 0) return -1;
    g->cap_terms = cap;
    size_t pcap = t->cap_groups;
    if (grow((void **)&t->groups, &pcap, t->n_groups + 1, sizeof *t->groups) != 0) return -1;
    pcap = t->cap_groups;
    if (grow((void **)&t->gcounts, &pcap, t->n_groups + 1, sizeof *t->gcounts) != 0) return -1;
    t->cap_groups = pcap;
    memmove(g->terms + lo + 1, g->terms + lo, (g->n_terms - lo) * sizeof *g->terms);
    memmove(g->counts + lo + 1, g->counts + lo, (g->n_terms - lo) * sizeof *g->counts);
    memmove(g->posting + lo + 1, g->posting + lo, (g->n_terms - lo) * sizeof *g->posting);
    g->terms[lo] = ti;
    g->counts[lo] = count;
    g->posting[lo] = (uint32_t)t->n_groups;
    g->n_terms++;
    t->groups[t->n_groups] = (uint32_t)gi;
    t->gcounts[t->n_groups] = count;
    t->n_groups++;
    return 0;
}

static long new_group(kb_gap_clusterer *c, int64_t id)
{
    if (grow((void **)&c->groups, &c->cap_groups, c->n_groups + 1, sizeof *c->groups) != 0)
        return -1;
    group_entry *g = &c->groups[c->n_groups];
    memset(g, 0, sizeof *g);
    g->id = id;
    return (long)c->n_groups++;
}

long kb_gap_clusterer_load(kb_gap_clusterer *c, int64_t id, const char *terms, double members)
{
    long gi = new_group(c, id);
    if (gi < 0) return -1;
    c->groups[gi].members = members;
    c->questions += members;
    c->epoch++;
    /* "term TAB count" lines. A term may be long (a question with nothing informative is its
     * own exact text), and every one must be read back: the ingest writes this centroid as
     * it holds it (kb_gaps_ingest), so a term skipped here would be lost from the stored one. */
    const char *p = terms ? terms : "";
    char small[512], *buf = small;
    size_t cap = sizeof small;
    int rc = 0;
    while (*p && rc == 0) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *tab = memchr(p, '\t', len);
        if (tab) {
            size_t n = (size_t)(tab - p);
            if (n >= cap) {
                char *big = malloc(n + 1);
                if (!big) {
                    rc = -1;
                    break;
                }
                if (buf != small) free(buf);
                buf = big;
                cap = n + 1;
            }
            memcpy(buf, p, n);
            buf[n] = '\0';
            double count = strtod(tab + 1, NULL);
            long ti = term_index(c, buf, 1);
            if (ti < 0 || (count > 0 && group_add_term(c, (size_t)gi, (uint32_t)ti, count) != 0))
                rc = -1;
        }
        p += len + (end ? 1 : 0);
    }
    if (buf != small) free(buf);
    return rc == 0 ? gi : -1;
}

/* The cosine between a question and group g's centroid cannot exceed
 *     dot / sqrt(qq * gg_shared),   qq = sum_q w(t)^2, dot = sum_q w(t)^2 share_t,
 *                                   gg_shared = sum_q (w(t) share_t)^2, share_t = c_t / members,
 * since the centroid's norm is at least its part over the question's terms. The bound costs
 * nothing more than the sums; the exact cosine needs a pass over all the group's terms. */
static double bound(double qq, double dot, double gg_shared)
{
    return qq > 0 && gg_shared > 0 ? dot / sqrt(qq * gg_shared) : 0;
}

/* The exact cosine (see bound()). */
static double similarity(kb_gap_clusterer *c, double qq, double dot, const group_entry *g)
{
    double gg = 0;
    for (size_t i = 0; i < g->n_terms; i++) {
        double v = weight(c, g->terms[i]) * g->counts[i] / g->members;
        gg += v * v;
    }
    return gg > 0 ? dot / sqrt(qq * gg) : 0;
}

/* Room for a candidate flag and sums per group. 0, or -1 when out of memory. */
static int scratch(kb_gap_clusterer *c)
{
    size_t old = c->cap_seen, need = c->n_groups + 1;
    if (grow((void **)&c->seen, &c->cap_seen, need, 1) != 0) return -1;
    if (c->cap_seen > old) memset(c->seen + old, 0, c->cap_seen - old);
    size_t cap = c->cap_sums;
    if (grow((void **)&c->dot, &cap, need, sizeof *c->dot) != 0) return -1;
    cap = c->cap_sums;
    if (grow((void **)&c->gg_shared, &cap, need, sizeof *c->gg_shared) != 0) return -1;
    c->cap_sums = cap;
    if (grow((void **)&c->bounds, &c->cap_bounds, need, sizeof *c->bounds) != 0) return -1;
    return grow((void **)&c->touched, &c->cap_touched, need, sizeof *c->touched);
}

/* A max-heap of candidates by bound (a few are taken off it: cheaper than sorting them all). */
static void sift_down(struct candidate *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].bound > h[m].bound) m = l;
        if (r < n && h[r].bound > h[m].bound) m = r;
        if (m == i) return;
        struct candidate t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

long kb_gap_clusterer_assign(kb_gap_clusterer *c, const char *terms, double *sim_out)
{
    uint32_t *q = NULL;
    long n = parse_terms(c, terms ? terms : "", 1, &q);
    if (n < 0) return -1;
    if (scratch(c) != 0) {
        free(q);
        return -1;
    }
    /* Candidates: groups sharing a term with the question; for each, the sums over the
     * question's terms, in the question's term order, from the postings' counts. (Before, each
     * candidate looked every term of the question up in its own term list: a binary search per
     * candidate and term, most of the ingest's time once the queue held thousands of items.) */
    size_t n_touched = 0;
    double qq = 0;
    for (long i = 0; i < n; i++) {
        double w = weight(c, q[i]);
        qq += w * w;
        const term_entry *t = &c->terms[q[i]];
        for (size_t j = 0; j < t->n_groups; j++) {
            uint32_t gi = t->groups[j];
            if (!c->seen[gi]) {
                c->seen[gi] = 1;
                c->touched[n_touched++] = gi;
                c->dot[gi] = c->gg_shared[gi] = 0;
            }
            const group_entry *g = &c->groups[gi];
            if (g->members <= 0) continue;
            double share = t->gcounts[j] / g->members;
            c->dot[gi] += w * w * share;
            c->gg_shared[gi] += w * w * share * share;
        }
    }
    /* Most candidates share only a common character with the question: their bound is below
     * the threshold. The rest are tried best bound first, and once a bound falls below the best
     * cosine found, no later one can beat it: the exact cosine, with its pass over the group's
     * terms, is computed for a few groups only. The result is the one trying every candidate
     * gives: the highest cosine at or above the threshold, the lowest group index on a tie. */
    size_t n_open = 0;
    for (size_t k = 0; k < n_touched; k++) {
        uint32_t gi = c->touched[k];
        c->seen[gi] = 0;
        if (c->groups[gi].members <= 0) continue;
        double b = bound(qq, c->dot[gi], c->gg_shared[gi]);
        if (b < KB_GAPS_THRESHOLD) continue;
        c->bounds[n_open].bound = b;
        c->bounds[n_open].gi = gi;
        n_open++;
    }
    struct candidate *heap = c->bounds;
    for (size_t k = n_open / 2; k-- > 0;) sift_down(heap, n_open, k);
    long best = -1;
    double best_sim = 0;
    while (n_open > 0) {
        if (best >= 0 && heap[0].bound < best_sim) break;
        uint32_t gi = heap[0].gi;
        heap[0] = heap[--n_open];
        sift_down(heap, n_open, 0);
        double s = similarity(c, qq, c->dot[gi], &c->groups[gi]);
        if (s < KB_GAPS_THRESHOLD) continue;
        if (best < 0 || s > best_sim || (s == best_sim && gi < (uint32_t)best)) {
            best_sim = s;
            best = gi;
        }
    }
    if (best < 0) {
        best = new_group(c, 0);
        if (best < 0) {
            free(q);
            return -1;
        }
        best_sim = 0;
    }
    group_entry *g = &c->groups[best];
    g->members += 1;
    c->questions += 1;
    c->epoch++;
    for (long i = 0; i < n; i++)
        if (group_add_term(c, (size_t)best, q[i], 1) != 0) {
            free(q);
            return -1;
        }
    free(q);
    if (sim_out) *sim_out = best_sim;
    return best;
}

int kb_gap_clusterer_add_to(kb_gap_clusterer *c, long gi, const char *terms)
{
    if (gi < 0 || (size_t)gi >= c->n_groups) return -1;
    uint32_t *q = NULL;
    long n = parse_terms(c, terms ? terms : "", 1, &q);
    if (n < 0) return -1;
    c->groups[gi].members += 1;
    c->questions += 1;
    c->epoch++;
    for (long i = 0; i < n; i++)
        if (group_add_term(c, (size_t)gi, q[i], 1) != 0) {
            free(q);
            return -1;
        }
    free(q);
    return 0;
}

int64_t kb_gap_clusterer_group_id(const kb_gap_clusterer *c, long gi)
{
    return gi >= 0 && (size_t)gi < c->n_groups ? c->groups[gi].id : 0;
}

void kb_gap_clusterer_set_group_id(kb_gap_clusterer *c, long gi, int64_t id)
{
    if (gi >= 0 && (size_t)gi < c->n_groups) c->groups[gi].id = id;
}

size_t kb_gap_clusterer_count(const kb_gap_clusterer *c) { return c->n_groups; }

/* qsort: "term TAB count" lines by term (byte order). */
typedef struct {
    const char *text;
    double count;
} term_line;

static int by_text(const void *a, const void *b)
{
    return strcmp(((const term_line *)a)->text, ((const term_line *)b)->text);
}

/* A count as "%.0f" writes it, into o (room for 24 bytes); returns its length. Counts are whole
 * numbers, written digit by digit: an item's centroid is written each time a batch adds to
 * it, and printf's floating-point path made most of that cost. */
static size_t format_count(char *o, double count)
{
    if (!(count >= 0 && count < 1e15 && count == (double)(int64_t)count)) {
        int n = snprintf(o, 24, "%.0f", count); /* not a count the clusterer makes */
        return n < 0 ? 0 : n > 23 ? 23 : (size_t)n;
    }
    char digits[24];
    size_t n = 0;
    for (int64_t v = (int64_t)count; n == 0 || v > 0; v /= 10) digits[n++] = (char)('0' + v % 10);
    for (size_t i = 0; i < n; i++) o[i] = digits[n - 1 - i];
    return n;
}

char *kb_gap_clusterer_terms(const kb_gap_clusterer *c, long gi)
{
    if (gi < 0 || (size_t)gi >= c->n_groups) return NULL;
    const group_entry *g = &c->groups[gi];
    /* In the terms' byte order, not the clusterer's term numbers: the same centroid is the same
     * text whichever clusterer holds it, so the centroid the ingest keeps up as questions arrive
     * and the one kb_gaps_recompute_group builds from the questions compare equal. */
    term_line *v = malloc((g->n_terms ? g->n_terms : 1) * sizeof *v);
    if (!v) return NULL;
    size_t n = 0, bytes = 1;
    for (size_t i = 0; i < g->n_terms; i++)
        if (g->counts[i] > 0) {
            v[n].text = c->terms[g->terms[i]].text;
            v[n].count = g->counts[i];
            bytes += strlen(v[n].text) + 24;
            n++;
        }
    qsort(v, n, sizeof *v, by_text);
    char *out = malloc(bytes), *o = out;
    if (out) {
        *o = '\0';
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(v[i].text);
            memcpy(o, v[i].text, len);
            o += len;
            *o++ = '\t';
            o += format_count(o, v[i].count);
            *o++ = '\n';
            *o = '\0';
        }
    }
    free(v);
    return out;
}

/* Take one question (terms) out of group gi's centroid: the inverse of kb_gap_clusterer_add_to. */
static int group_remove(kb_gap_clusterer *c, size_t gi, const uint32_t *q, size_t n)
{
    group_entry *g = &c->groups[gi];
    if (g->members < 1) return -1;
    g->members -= 1;
    c->questions -= 1;
    c->epoch++;
    for (size_t i = 0; i < n; i++) {
        size_t lo = term_slot(g, q[i]);
        /* A term whose count falls to 0 stays listed: it adds nothing to the similarity, and
         * kb_gap_clusterer_terms leaves it out. */
        if (lo < g->n_terms && g->terms[lo] == q[i] && g->counts[lo] > 0) {
            g->counts[lo] -= 1;
            c->terms[q[i]].gcounts[g->posting[lo]] = g->counts[lo];
            c->terms[q[i]].qdf -= 1;
        }
    }
    return 0;
}

long kb_gap_clusterer_reassign(kb_gap_clusterer *c, long gi, const char *terms, double *sim)
{
    if (gi < 0 || (size_t)gi >= c->n_groups) return -1;
    uint32_t *q = NULL;
    long n = parse_terms(c, terms ? terms : "", 1, &q);
    if (n < 0) return -1;
    int rc = group_remove(c, (size_t)gi, q, (size_t)n);
    free(q);
    return rc == 0 ? kb_gap_clusterer_assign(c, terms, sim) : -1;
}

long kb_gap_clusterer_find(const kb_gap_clusterer *c, int64_t id)
{
    /* Groups are loaded in id order and new ones get larger ids, so try a binary search first. */
    size_t lo = 0, hi = c->n_groups;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->groups[mid].id != 0 && c->groups[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    if (lo < c->n_groups && c->groups[lo].id == id) return (long)lo;
    for (size_t i = 0; i < c->n_groups; i++)
        if (c->groups[i].id == id) return (long)i;
    return -1;
}

double kb_gap_clusterer_members(const kb_gap_clusterer *c, long gi)
{
    return gi >= 0 && (size_t)gi < c->n_groups ? c->groups[gi].members : 0;
}
