/*
 * glass_inverter.c — in-memory inversion with sorted runs on a scratch file and a k-way merge
 * (see glass_inverter.h).
 *
 * A run's postings for one term are varint pairs (docid gap, wdf), the first gap counted from 0;
 * on the scratch file each term of a run is
 *   varint term length, term bytes, varint termfreq, varint collfreq, varint byte length,
 *   postings.
 */
#include "index/glass/glass_inverter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/term_sort.h"

/* The scratch file is written and read through buffers of this size. */
#define IO_BUFFER (1u << 20)

typedef struct {
    uint64_t hash;
    uint32_t term_off; /* in the run's term arena */
    uint32_t term_len;
    uint32_t termfreq;
    uint32_t last_did;
    uint64_t collfreq;
    unsigned char *post;
    uint32_t post_len, post_cap;
} term_entry;

typedef struct {
    off_t offset, length;
} run_extent;

/* One input of the merge: a run on the scratch file, or the run still in memory. */
typedef struct {
    /* file run */
    off_t next, end;
    unsigned char *buf;
    size_t buf_len, buf_pos, buf_cap;
    /* memory run */
    const uint32_t *order;
    size_t order_pos, order_len;
    /* the current term */
    int at_end;
    const char *term;
    size_t term_len;
    uint32_t termfreq;
    uint64_t collfreq;
    const unsigned char *post;
    size_t post_len;
} merge_source;

struct glass_postings {
    merge_source **sources; /* those holding the current term, in docid order */
    size_t n, i;
    const unsigned char *p, *end;
    uint32_t did;
};

struct glass_inverter {
    int fd;
    size_t budget;

    term_entry *entries;
    size_t n_entries, cap_entries;
    uint32_t *slots; /* open addressing: entry index + 1, 0 when empty */
    size_t n_slots;  /* a power of two */
    char *arena;
    size_t arena_len, arena_cap;
    size_t memory;

    run_extent *runs;
    size_t n_runs, cap_runs;
    off_t scratch_end;
    char err[256];
};

static int fail(glass_inverter *inv, const char *what)
{
    snprintf(inv->err, sizeof inv->err, "%s%s%s", what, errno ? ": " : "",
             errno ? strerror(errno) : "");
    return -1;
}

static int oom(glass_inverter *inv)
{
    snprintf(inv->err, sizeof inv->err, "out of memory while inverting postings");
    return -1;
}

glass_inverter *glass_inverter_new(int scratch_fd, size_t memory_budget)
{
    glass_inverter *inv = calloc(1, sizeof *inv);
    if (!inv) return NULL;
    inv->fd = scratch_fd;
    inv->budget = memory_budget;
    return inv;
}

static void clear_run(glass_inverter *inv)
{
    for (size_t i = 0; i < inv->n_entries; i++) free(inv->entries[i].post);
    inv->n_entries = 0;
    inv->arena_len = 0;
    if (inv->slots) memset(inv->slots, 0, inv->n_slots * sizeof *inv->slots);
    inv->memory = inv->n_slots * sizeof *inv->slots + inv->cap_entries * sizeof *inv->entries +
                  inv->arena_cap;
}

void glass_inverter_free(glass_inverter *inv)
{
    if (!inv) return;
    clear_run(inv);
    free(inv->entries);
    free(inv->slots);
    free(inv->arena);
    free(inv->runs);
    free(inv);
}

const char *glass_inverter_errmsg(const glass_inverter *inv) { return inv->err; }

/* ---------------------------------------------------------------- collecting */

/* The high bits folded in: the table is indexed by the low ones. */
static uint64_t hash_term(const char *s, size_t n)
{
    uint64_t h = kb_hash_bytes(s, n, KB_HASH_SEED);
    return h ^ (h >> 29);
}

static int grow_slots(glass_inverter *inv)
{
    size_t n = inv->n_slots ? inv->n_slots * 2 : 1u << 16;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < inv->n_entries; i++) {
        size_t s = inv->entries[i].hash & (n - 1);
        while (slots[s]) s = (s + 1) & (n - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    inv->memory += (n - inv->n_slots) * sizeof *slots;
    free(inv->slots);
    inv->slots = slots;
    inv->n_slots = n;
    return 0;
}

static term_entry *find_or_add(glass_inverter *inv, const char *term, size_t len)
{
    uint64_t h = hash_term(term, len);
    if ((inv->n_entries + 1) * 2 > inv->n_slots && grow_slots(inv) < 0) return NULL;
    size_t s = h & (inv->n_slots - 1);
    for (; inv->slots[s]; s = (s + 1) & (inv->n_slots - 1)) {
        term_entry *e = &inv->entries[inv->slots[s] - 1];
        if (e->hash == h && e->term_len == len && memcmp(inv->arena + e->term_off, term, len) == 0)
            return e;
    }
    if (inv->n_entries == inv->cap_entries) {
        size_t cap = inv->cap_entries ? inv->cap_entries * 2 : 1u << 15;
        term_entry *grown = realloc(inv->entries, cap * sizeof *grown);
        if (!grown) return NULL;
        inv->memory += (cap - inv->cap_entries) * sizeof *grown;
        inv->entries = grown;
        inv->cap_entries = cap;
    }
    if (inv->arena_len + len > inv->arena_cap) {
        size_t cap = inv->arena_cap ? inv->arena_cap : 1u << 20;
        while (cap < inv->arena_len + len) cap *= 2;
        char *grown = realloc(inv->arena, cap);
        if (!grown) return NULL;
        inv->memory += cap - inv->arena_cap;
        inv->arena = grown;
        inv->arena_cap = cap;
    }
    memcpy(inv->arena + inv->arena_len, term, len);
    term_entry *e = &inv->entries[inv->n_entries];
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->term_off = (uint32_t)inv->arena_len;
    e->term_len = (uint32_t)len;
    inv->arena_len += len;
    inv->slots[s] = (uint32_t)++inv->n_entries;
    return e;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 128) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

int glass_inverter_add(glass_inverter *inv, const char *term, size_t len, uint32_t did,
                       uint32_t wdf)
{
    term_entry *e = find_or_add(inv, term, len);
    if (!e) return oom(inv);
    if (e->post_cap - e->post_len < 10) {
        uint32_t cap = e->post_cap ? e->post_cap * 2 : 16;
        unsigned char *grown = realloc(e->post, cap);
        if (!grown) return oom(inv);
        inv->memory += cap - e->post_cap;
        e->post = grown;
        e->post_cap = cap;
    }
    e->post_len += (uint32_t)put_varint(e->post + e->post_len, did - e->last_did);
    e->post_len += (uint32_t)put_varint(e->post + e->post_len, wdf);
    e->last_did = did;
    e->termfreq++;
    e->collfreq += wdf;
    return 0;
}

/* ---------------------------------------------------------------- runs */

static int term_order(uint32_t a, uint32_t b, void *ctx)
{
    const glass_inverter *inv = ctx;
    const term_entry *x = &inv->entries[a], *y = &inv->entries[b];
    return kb_bytes_cmp(inv->arena + x->term_off, x->term_len, inv->arena + y->term_off,
                        y->term_len);
}

/* The run's entries in increasing term order (byte order, a prefix first), as indexes. */
static uint32_t *sorted_order(glass_inverter *inv)
{
    size_t n = inv->n_entries ? inv->n_entries : 1;
    kb_sort_item *items = malloc(n * sizeof *items), *tmp = malloc(n * sizeof *tmp);
    uint32_t *order = malloc(n * sizeof *order);
    if (items && tmp && order) {
        for (size_t i = 0; i < inv->n_entries; i++) {
            const term_entry *e = &inv->entries[i];
            items[i] = (kb_sort_item){kb_sort_prefix(inv->arena + e->term_off, e->term_len),
                                      (uint32_t)i};
        }
        kb_sort_terms(items, tmp, inv->n_entries, term_order, inv);
        for (size_t i = 0; i < inv->n_entries; i++) order[i] = items[i].index;
    } else {
        free(order);
        order = NULL;
    }
    free(items);
    free(tmp);
    return order;
}

static int write_all(glass_inverter *inv, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = pwrite(inv->fd, p, n, inv->scratch_end);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(inv, "cannot write the indexer's scratch file");
        p += w;
        n -= (size_t)w;
        inv->scratch_end += w;
    }
    return 0;
}

static int spill_run(glass_inverter *inv)
{
    if (inv->n_runs == inv->cap_runs) {
        size_t cap = inv->cap_runs ? inv->cap_runs * 2 : 16;
        run_extent *grown = realloc(inv->runs, cap * sizeof *grown);
        if (!grown) return oom(inv);
        inv->runs = grown;
        inv->cap_runs = cap;
    }
    uint32_t *order = sorted_order(inv);
    unsigned char *buf = malloc(IO_BUFFER);
    if (!order || !buf) {
        free(order);
        free(buf);
        return oom(inv);
    }
    off_t start = inv->scratch_end;
    size_t used = 0;
    int rc = 0;
    for (size_t i = 0; i < inv->n_entries && rc == 0; i++) {
        const term_entry *e = &inv->entries[order[i]];
        if (used + 40 + e->term_len > IO_BUFFER) {
            rc = write_all(inv, buf, used);
            used = 0;
        }
        used += put_varint(buf + used, e->term_len);
        memcpy(buf + used, inv->arena + e->term_off, e->term_len);
        used += e->term_len;
        used += put_varint(buf + used, e->termfreq);
        used += put_varint(buf + used, e->collfreq);
        used += put_varint(buf + used, e->post_len);
        if (rc == 0 && used + e->post_len > IO_BUFFER) {
            rc = write_all(inv, buf, used);
            used = 0;
            if (rc == 0 && e->post_len > IO_BUFFER) {
                rc = write_all(inv, e->post, e->post_len);
                continue;
            }
        }
        memcpy(buf + used, e->post, e->post_len);
        used += e->post_len;
    }
    if (rc == 0) rc = write_all(inv, buf, used);
    free(buf);
    free(order);
    if (rc < 0) return -1;
    inv->runs[inv->n_runs].offset = start;
    inv->runs[inv->n_runs].length = inv->scratch_end - start;
    inv->n_runs++;
    clear_run(inv);
    return 0;
}

int glass_inverter_end_document(glass_inverter *inv)
{
    return inv->memory > inv->budget && inv->n_entries > 0 ? spill_run(inv) : 0;
}

/* ---------------------------------------------------------------- merging */

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Make at least n bytes of a file run available from buf_pos; returns 0 or -1. */
static int source_fill(glass_inverter *inv, merge_source *s, size_t n)
{
    if (s->buf_len - s->buf_pos >= n) return 0;
    memmove(s->buf, s->buf + s->buf_pos, s->buf_len - s->buf_pos);
    s->buf_len -= s->buf_pos;
    s->buf_pos = 0;
    if (n > s->buf_cap) {
        unsigned char *grown = realloc(s->buf, n);
        if (!grown) return oom(inv);
        s->buf = grown;
        s->buf_cap = n;
    }
    while (s->buf_len < n || (s->buf_len < s->buf_cap && s->next < s->end)) {
        size_t want = s->buf_cap - s->buf_len;
        if ((off_t)want > s->end - s->next) want = (size_t)(s->end - s->next);
        if (want == 0) break;
        ssize_t r = pread(inv->fd, s->buf + s->buf_len, want, s->next);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fail(inv, "cannot read the indexer's scratch file");
        s->buf_len += (size_t)r;
        s->next += r;
    }
    if (s->buf_len < n) {
        errno = 0;
        return fail(inv, "the indexer's scratch file is truncated");
    }
    return 0;
}

/* Read the next term of a file run: the header is at most 40 bytes plus the term. */
static int source_next_file(glass_inverter *inv, merge_source *s)
{
    if (s->buf_pos == s->buf_len && s->next == s->end) {
        s->at_end = 1;
        return 0;
    }
    size_t avail = s->buf_len - s->buf_pos + (size_t)(s->end - s->next);
    if (source_fill(inv, s, avail < 300 ? avail : 300) < 0) return -1;
    const unsigned char *p = s->buf + s->buf_pos, *end = s->buf + s->buf_len;
    uint64_t term_len, tf, cf, post_len;
    if (get_varint(&p, end, &term_len) < 0 || term_len > (uint64_t)(end - p)) goto corrupt;
    const unsigned char *term = p;
    p += term_len;
    if (get_varint(&p, end, &tf) < 0 || get_varint(&p, end, &cf) < 0 ||
        get_varint(&p, end, &post_len) < 0)
        goto corrupt;
    size_t header = (size_t)(p - (s->buf + s->buf_pos));
    size_t term_at = (size_t)(term - (s->buf + s->buf_pos));
    if (post_len > (uint64_t)(s->end - s->next) + (uint64_t)(end - p)) goto corrupt;
    if (source_fill(inv, s, header + post_len) < 0) return -1; /* may move the buffer */
    s->term = (const char *)(s->buf + s->buf_pos + term_at);
    s->term_len = term_len;
    s->termfreq = (uint32_t)tf;
    s->collfreq = cf;
    s->post = s->buf + s->buf_pos + header;
    s->post_len = post_len;
    s->buf_pos += header + post_len;
    return 0;
corrupt:
    errno = 0;
    return fail(inv, "the indexer's scratch file is corrupt");
}

static int source_next(glass_inverter *inv, merge_source *s)
{
    if (s->order) {
        if (s->order_pos == s->order_len) {
            s->at_end = 1;
            return 0;
        }
        const term_entry *e = &inv->entries[s->order[s->order_pos++]];
        s->term = inv->arena + e->term_off;
        s->term_len = e->term_len;
        s->termfreq = e->termfreq;
        s->collfreq = e->collfreq;
        s->post = e->post;
        s->post_len = e->post_len;
        return 0;
    }
    return source_next_file(inv, s);
}

static int term_cmp(const merge_source *a, const merge_source *b)
{
    return kb_bytes_cmp(a->term, a->term_len, b->term, b->term_len);
}

int glass_postings_next(glass_postings *p, uint32_t *did, uint32_t *wdf)
{
    while (p->p == p->end) {
        if (p->i == p->n) return 0;
        merge_source *s = p->sources[p->i++];
        p->p = s->post;
        p->end = s->post + s->post_len;
        p->did = 0; /* each run's gaps start from 0 */
    }
    uint64_t gap, w;
    if (get_varint(&p->p, p->end, &gap) < 0 || get_varint(&p->p, p->end, &w) < 0) return -1;
    p->did += (uint32_t)gap;
    *did = p->did;
    *wdf = (uint32_t)w;
    return 1;
}

int glass_inverter_merge(glass_inverter *inv, glass_term_fn fn, void *user)
{
    size_t n = inv->n_runs + 1;
    merge_source *sources = calloc(n, sizeof *sources);
    merge_source **holding = calloc(n, sizeof *holding);
    uint32_t *order = sorted_order(inv);
    int rc = 0;
    if (!sources || !holding || !order) {
        rc = oom(inv);
        goto done;
    }
    for (size_t i = 0; i < inv->n_runs; i++) {
        sources[i].next = inv->runs[i].offset;
        sources[i].end = inv->runs[i].offset + inv->runs[i].length;
        sources[i].buf_cap = IO_BUFFER / 4;
        sources[i].buf = malloc(sources[i].buf_cap);
        if (!sources[i].buf) {
            rc = oom(inv);
            goto done;
        }
    }
    /* The run in memory holds the highest docids, so it comes last. */
    sources[n - 1].order = order;
    sources[n - 1].order_len = inv->n_entries;
    for (size_t i = 0; i < n && rc == 0; i++) rc = source_next(inv, &sources[i]);

    while (rc == 0) {
        merge_source *least = NULL;
        for (size_t i = 0; i < n; i++)
            if (!sources[i].at_end && (!least || term_cmp(&sources[i], least) < 0))
                least = &sources[i];
        if (!least) break;
        glass_postings postings = {.sources = holding};
        uint32_t termfreq = 0;
        uint64_t collfreq = 0;
        for (size_t i = 0; i < n; i++) {
            if (sources[i].at_end || term_cmp(&sources[i], least) != 0) continue;
            holding[postings.n++] = &sources[i];
            termfreq += sources[i].termfreq;
            collfreq += sources[i].collfreq;
        }
        rc = fn(least->term, least->term_len, termfreq, collfreq, &postings, user);
        for (size_t i = 0; i < postings.n && rc == 0; i++) rc = source_next(inv, holding[i]);
    }
done:
    if (sources)
        for (size_t i = 0; i < n; i++) free(sources[i].buf);
    free(sources);
    free(holding);
    free(order);
    return rc;
}
