/*
 * test_glass_build.c — the bulk builder (index/glass/glass.h) writes the database Xapian's writer would.
 *
 * Xapian itself reads what the builder writes, so any slip in an encoding or in the B-tree
 * layout is a corrupt index. Each test builds the same documents twice, once with
 * kb_glass_builder and once with Xapian's writer (kbx_writer, xapian/xapian.h), into two temporary
 * directories, and compares them:
 *   - through the reader API: document count, the frequency of every term (also against the
 *     documents themselves), metadata, each document's data by its id term and in docid order,
 *     every value (read back with kbx_writer_get_value), and the hits, scores, matched terms,
 *     estimates and bounds of hundreds of queries (with category filters and validity windows,
 *     which read the value streams);
 *   - through `xapian-delve` dumps, when it is installed: every document's term list with wdfs
 *     and term frequencies, every term's frequency, collection frequency and wdf bound, the
 *     value streams of every slot with their statistics, the database statistics, the posting
 *     lists of the longest and of sampled terms, and the documents' data;
 *   - with `xapian-check` on the bulk-built database (structure of every B-tree, and the
 *     agreement of posting lists, term lists, document lengths, value streams and statistics).
 * Documents are generated from fixed seeds, so a failure reproduces. xapian-check and
 * xapian-delve (Debian package xapian-tools, installed by tools/install-deps.sh) are required:
 * without them the tests that need them fail, unless KB_ALLOW_MISSING_XAPIAN_TOOLS=1 asks to
 * skip those parts (with a note).
 *
 * Also the coupling to Xapian 1.4 (glass.h): which libxapian versions the builder writes for,
 * and that other Xapian headers stop the build with what to do.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "index/glass/glass.h"
#include "xapian/xapian.h"

static char base_dir[64];
static int have_check, have_delve;
static int allow_missing_tools; /* KB_ALLOW_MISSING_XAPIAN_TOOLS=1 */

/* ---------------------------------------------------------------- small helpers */

static uint64_t rng = 88172645463325252ULL;

static void seed(uint64_t s) { rng = s * 2654435761ULL + 88172645463325252ULL; }

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static double rnd01(void) { return (rnd() & 0xffffff) / (double)0x1000000; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* KB_TEST_KEEP=1 keeps every database for a look (the path is printed at the end). */
static void remove_dir(const char *dir)
{
    if (getenv("KB_TEST_KEEP")) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", base_dir, name);
}

static int file_exists(const char *dir, const char *name)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* A term for a message: printable ASCII as is, other bytes as \xNN, cut to 60 bytes. Returns
 * one of four rotating static buffers, so a printf can show a few. */
static const char *show(const char *s, size_t len)
{
    static char bufs[4][300];
    static int next;
    char *out = bufs[next++ % 4];
    size_t o = 0;
    for (size_t i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') out[o++] = (char)c;
        else o += (size_t)sprintf(out + o, "\\x%02x", c);
    }
    if (len > 60) o += (size_t)sprintf(out + o, "...(%zu bytes)", len);
    out[o] = '\0';
    return out;
}

/* ---------------------------------------------------------------- documents */

typedef struct {
    kb_glass_term *terms; /* texts malloc'd and NUL-terminated (a term may hold NULs too) */
    size_t n_terms, cap_terms;
    char *values[KB_GLASS_SLOTS];
    size_t value_lens[KB_GLASS_SLOTS];
    char *data;
    size_t data_len;
    char id[64]; /* the unique id term, also among the terms with wdf 0; "" when none */
    int deleted;
} tdoc;

typedef struct {
    char *key, *value;
} tmeta;

typedef struct {
    tdoc *docs; /* docs[i] has docid i + 1 */
    size_t n, cap;
    tmeta meta[32];
    size_t n_meta;
} corpus;

static int term_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int glass_term_cmp(const void *x, const void *y)
{
    const kb_glass_term *a = x, *b = y;
    return term_cmp(a->text, a->len, b->text, b->len);
}

/* Add wdf to the term (as Xapian's add_term does; a wdf-0 term stays boolean unless given a
 * wdf). Terms are sorted and merged by doc_finish. */
static void add_term(tdoc *d, const char *text, size_t len, uint32_t wdf)
{
    if (d->n_terms == d->cap_terms) {
        d->cap_terms = d->cap_terms ? d->cap_terms * 2 : 16;
        kb_glass_term *t = realloc(d->terms, d->cap_terms * sizeof *t);
        if (!t) exit(2);
        d->terms = t;
    }
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    d->terms[d->n_terms++] = (kb_glass_term){copy, len, wdf};
}

static void add_term_s(tdoc *d, const char *text, uint32_t wdf)
{
    add_term(d, text, strlen(text), wdf);
}

static void doc_finish(tdoc *d)
{
    if (d->n_terms == 0) return;
    qsort(d->terms, d->n_terms, sizeof *d->terms, glass_term_cmp);
    size_t out = 0;
    for (size_t i = 0; i < d->n_terms; i++) {
        if (out > 0 && glass_term_cmp(&d->terms[out - 1], &d->terms[i]) == 0) {
            d->terms[out - 1].wdf += d->terms[i].wdf;
            free((char *)d->terms[i].text);
            continue;
        }
        d->terms[out++] = d->terms[i];
    }
    d->n_terms = out;
}

static void set_value(tdoc *d, unsigned slot, const char *v, size_t len)
{
    free(d->values[slot]);
    d->values[slot] = NULL;
    d->value_lens[slot] = 0;
    if (!len) return;
    d->values[slot] = xmalloc(len + 1);
    memcpy(d->values[slot], v, len);
    d->values[slot][len] = '\0';
    d->value_lens[slot] = len;
}

static void set_data(tdoc *d, const void *data, size_t len)
{
    free(d->data);
    d->data = xmalloc(len + 1);
    memcpy(d->data, data, len);
    d->data[len] = '\0';
    d->data_len = len;
}

static void doc_clear(tdoc *d)
{
    for (size_t i = 0; i < d->n_terms; i++) free((char *)d->terms[i].text);
    free(d->terms);
    for (int s = 0; s < KB_GLASS_SLOTS; s++) free(d->values[s]);
    free(d->data);
    memset(d, 0, sizeof *d);
}

/* A new document at the end (docid n + 1); id NULL for none. */
static tdoc *new_doc(corpus *c, const char *id)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        tdoc *docs = realloc(c->docs, c->cap * sizeof *docs);
        if (!docs) exit(2);
        c->docs = docs;
    }
    tdoc *d = &c->docs[c->n++];
    memset(d, 0, sizeof *d);
    if (id) {
        snprintf(d->id, sizeof d->id, "%s", id);
        add_term_s(d, id, 0);
    }
    return d;
}

static void add_meta(corpus *c, const char *key, const char *value)
{
    c->meta[c->n_meta].key = strdup(key);
    c->meta[c->n_meta].value = strdup(value);
    c->n_meta++;
}

/* The value a key ends with (the last one set). */
static const char *meta_final(const corpus *c, const char *key)
{
    const char *v = "";
    for (size_t i = 0; i < c->n_meta; i++)
        if (!strcmp(c->meta[i].key, key)) v = c->meta[i].value;
    return v;
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->n; i++) doc_clear(&c->docs[i]);
    free(c->docs);
    for (size_t i = 0; i < c->n_meta; i++) {
        free(c->meta[i].key);
        free(c->meta[i].value);
    }
    memset(c, 0, sizeof *c);
}

static size_t live_docs(const corpus *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) n += !c->docs[i].deleted;
    return n;
}

static void to_glass(const tdoc *d, kb_glass_doc *g)
{
    memset(g, 0, sizeof *g);
    g->terms = d->terms;
    g->n_terms = d->n_terms;
    for (int s = 0; s < KB_GLASS_SLOTS; s++) {
        g->values[s] = d->values[s];
        g->value_lens[s] = d->value_lens[s];
    }
    g->data = d->data;
    g->data_len = d->data_len;
}

/* ---------------------------------------------------------------- the two builds */

/* Build c with the bulk builder into dir; 0 on success (failures are reported). */
static int build_bulk(const corpus *c, const char *dir)
{
    kb_glass_builder *b = kb_glass_builder_open(dir);
    if (!b) {
        printf("  %s: out of memory\n", dir);
        return -1;
    }
    int rc = kb_glass_builder_status(b);
    for (size_t i = 0; i < c->n && rc == KB_GLASS_OK; i++) {
        kb_glass_doc g;
        to_glass(&c->docs[i], &g);
        rc = kb_glass_builder_add(b, &g);
    }
    for (size_t i = 0; i < c->n_meta && rc == KB_GLASS_OK; i++)
        rc = kb_glass_builder_set_metadata(b, c->meta[i].key, c->meta[i].value);
    if (rc == KB_GLASS_OK && kb_glass_builder_doccount(b) != c->n) {
        printf("  %s: builder counted %u documents, %zu added\n", dir, kb_glass_builder_doccount(b),
               c->n);
        rc = KB_GLASS_ERROR;
    }
    if (rc == KB_GLASS_OK) rc = kb_glass_builder_commit(b);
    if (rc != KB_GLASS_OK)
        printf("  bulk build of %s failed (%d): %s\n", dir, rc, kb_glass_builder_errmsg(b));
    kb_glass_builder_close(b);
    return rc == KB_GLASS_OK ? 0 : -1;
}

static kbx_doc *to_kbx(const tdoc *d)
{
    kbx_doc *x = kbx_doc_new();
    if (!x) exit(2);
    int rc = KBX_OK;
    for (size_t i = 0; i < d->n_terms && rc == KBX_OK; i++) {
        const kb_glass_term *t = &d->terms[i];
        if (memchr(t->text, '\0', t->len)) {
            printf("  internal: a term with a NUL byte cannot go through kbx\n");
            check_current_failed = 1;
            continue;
        }
        rc = t->wdf ? kbx_doc_add_term(x, t->text, t->wdf) : kbx_doc_add_boolean_term(x, t->text);
    }
    for (unsigned s = 0; s < KB_GLASS_SLOTS && rc == KBX_OK; s++)
        if (d->value_lens[s]) rc = kbx_doc_set_value(x, s, d->values[s], d->value_lens[s]);
    if (rc == KBX_OK && d->data_len) rc = kbx_doc_set_data(x, d->data, d->data_len);
    if (rc != KBX_OK) {
        printf("  kbx document could not be made (%d)\n", rc);
        check_current_failed = 1;
    }
    return x;
}

/* Add or replace docs[i] through Xapian's writer (a document without id term is added under a
 * unique term it does not hold, which adds it at the next docid). */
static int xapian_put(kbx_writer *w, const corpus *c, size_t i)
{
    char anon[64];
    const tdoc *d = &c->docs[i];
    const char *id = d->id;
    if (!id[0]) {
        snprintf(anon, sizeof anon, "Qanonymous-%zu", i);
        id = anon;
    }
    kbx_doc *x = to_kbx(d);
    int rc = kbx_writer_replace(w, id, x);
    kbx_doc_free(x);
    if (rc != KBX_OK) printf("  kbx_writer_replace %s: %s\n", id, kbx_writer_errmsg(w));
    return rc;
}

static int build_xapian(const corpus *c, const char *dir)
{
    kbx_writer *w = kbx_writer_open(dir);
    if (!w) return -1;
    int rc = kbx_writer_status(w);
    if (rc != KBX_OK) printf("  kbx_writer_open %s: %s\n", dir, kbx_writer_errmsg(w));
    for (size_t i = 0; i < c->n && rc == KBX_OK; i++) rc = xapian_put(w, c, i);
    for (size_t i = 0; i < c->n_meta && rc == KBX_OK; i++)
        rc = kbx_writer_set_metadata(w, c->meta[i].key, c->meta[i].value);
    if (rc == KBX_OK) rc = kbx_writer_commit(w);
    if (rc != KBX_OK) printf("  Xapian build of %s failed: %s\n", dir, kbx_writer_errmsg(w));
    kbx_writer_close(w);
    return rc == KBX_OK ? 0 : -1;
}

/* ---------------------------------------------------------------- external checks */

/* A check that needs `tool` cannot run: -1 (the test fails), or 0 with a note when
 * KB_ALLOW_MISSING_XAPIAN_TOOLS=1 says to skip it. */
static int tool_missing(const char *tool, const char *what)
{
    if (allow_missing_tools) {
        printf("  (note: %s is not installed: %s)\n", tool, what);
        return 0;
    }
    printf("  %s is not installed, so %s: install Debian's xapian-tools (tools/install-deps.sh, "
           "which make check runs, does), or set KB_ALLOW_MISSING_XAPIAN_TOOLS=1 to skip\n",
           tool, what);
    return -1;
}

/* xapian-check DIR must say "No errors found". Returns 0 when it does. */
static int xapian_check(const char *dir)
{
    if (!have_check) {
        char what[300];
        snprintf(what, sizeof what, "%s is not checked", dir);
        return tool_missing("/usr/bin/xapian-check", what);
    }
    char cmd[600], log[400];
    snprintf(log, sizeof log, "%s.check.log", dir);
    snprintf(cmd, sizeof cmd, "xapian-check '%s' > '%s' 2>&1", dir, log);
    int rc = system(cmd);
    char grep[900];
    snprintf(grep, sizeof grep, "grep -q 'No errors found' '%s'", log);
    if (rc == 0 && system(grep) == 0) return 0;
    printf("  xapian-check %s failed (status %d); its output ends:\n", dir, rc);
    snprintf(cmd, sizeof cmd, "grep -v '^ *$' '%s' | tail -n 25 | sed 's/^/    /'", log);
    if (system(cmd) != 0) printf("    (could not show %s)\n", log);
    fflush(stdout);
    return -1;
}

/* The number of levels xapian-check reports for a table of dir (-1 when unknown). */
static int table_levels(const char *dir, const char *table)
{
    if (!have_check) return -1;
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "xapian-check '%s/%s.glass' 2>&1 | grep -o 'levels=[0-9]*' | head -n 1", dir, table);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int levels = -1;
    if (fscanf(p, "levels=%d", &levels) != 1) levels = -1;
    pclose(p);
    return levels;
}

static int safe_for_shell(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '\'' || s[i] == '\\') return 0;
    return len > 0;
}

/* Everything xapian-delve shows of a database but its uuid and revision, into out. */
static int delve_dump(const char *dir, const corpus *c, const char *const *terms, size_t n_terms,
                      const char *out)
{
    char script[400];
    snprintf(script, sizeof script, "%s.sh", out);
    FILE *f = fopen(script, "w");
    if (!f) return -1;
    fprintf(f, "set -e\nD='%s'\n", dir);
    fprintf(f, "xapian-delve -v -z \"$D\" | grep -v -e '^UUID' -e '^revision'\n");
    fprintf(f, "xapian-delve -a -vv -1 \"$D\"\n");
    for (int s = 0; s < KB_GLASS_SLOTS; s++) fprintf(f, "xapian-delve -V%d -v \"$D\"\n", s);
    /* term lists (with wdf and termfreq), values and data of every live document */
    size_t in_line = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->docs[i].deleted) continue;
        if (in_line == 0) fprintf(f, "xapian-delve -1 -v -d -V");
        fprintf(f, " -r %zu", i + 1);
        if (++in_line == 1000) {
            fprintf(f, " \"$D\"\n");
            in_line = 0;
        }
    }
    if (in_line) fprintf(f, " \"$D\"\n");
    for (size_t i = 0; i < n_terms; i++)
        if (safe_for_shell(terms[i], strlen(terms[i])))
            fprintf(f, "xapian-delve -1 -v -t '%s' \"$D\"\n", terms[i]);
    fclose(f);
    char cmd[900];
    snprintf(cmd, sizeof cmd, "sh '%s' > '%s' 2>&1", script, out);
    int rc = system(cmd);
    if (rc != 0) {
        printf("  xapian-delve on %s failed (status %d); see %s\n", dir, rc, out);
        return -1;
    }
    return 0;
}

/* Compare the two databases' delve dumps; 0 when identical. */
static int compare_delve(const char *a, const char *b, const corpus *c, const char *const *terms,
                         size_t n_terms)
{
    if (!have_delve) return tool_missing("xapian-delve", "the dumps are not compared");
    char da[400], db[400], cmd[1000];
    snprintf(da, sizeof da, "%s.delve", a);
    snprintf(db, sizeof db, "%s.delve", b);
    if (delve_dump(a, c, terms, n_terms, da) != 0 || delve_dump(b, c, terms, n_terms, db) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", da, db);
    if (system(cmd) == 0) return 0;
    printf("  xapian-delve shows %s and %s differently (< bulk, > Xapian's writer):\n", a, b);
    snprintf(cmd, sizeof cmd, "diff -a '%s' '%s' | cut -c1-300 | head -n 20 | sed 's/^/    /'", da,
             db);
    if (system(cmd) != 0) printf("    (diff failed)\n");
    fflush(stdout);
    return -1;
}

/* ---------------------------------------------------------------- comparing through the API */

typedef struct {
    const char *text;
    size_t len;
    uint32_t tf;
    int boolean; /* wdf 0 in every document */
} term_stat;

static int term_stat_cmp(const void *x, const void *y)
{
    const term_stat *a = x, *b = y;
    return term_cmp(a->text, a->len, b->text, b->len);
}

/* The distinct terms of the live documents, with their document frequencies. */
static term_stat *corpus_terms(const corpus *c, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->docs[i].deleted) n += c->docs[i].n_terms;
    term_stat *all = xmalloc(n * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->docs[i].deleted) continue;
        for (size_t j = 0; j < c->docs[i].n_terms; j++) {
            const kb_glass_term *t = &c->docs[i].terms[j];
            all[k++] = (term_stat){t->text, t->len, 1, t->wdf == 0};
        }
    }
    qsort(all, n, sizeof *all, term_stat_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && term_stat_cmp(&all[out - 1], &all[i]) == 0) {
            all[out - 1].tf++;
            all[out - 1].boolean &= all[i].boolean;
            continue;
        }
        all[out++] = all[i];
    }
    *n_out = out;
    return all;
}

static int has_nul(const char *s, size_t len) { return memchr(s, '\0', len) != NULL; }

typedef struct {
    const corpus *c;
    size_t next; /* index of the next live document expected */
    size_t mismatches;
    const char *dir;
} each_state;

static int each_doc(const char *data, size_t len, void *user)
{
    each_state *st = user;
    while (st->next < st->c->n && st->c->docs[st->next].deleted) st->next++;
    if (st->next >= st->c->n) {
        if (st->mismatches++ < 3)
            printf("  %s: each_document gave more documents than there are\n", st->dir);
        return 0;
    }
    const tdoc *d = &st->c->docs[st->next++];
    if (len != d->data_len || (len && memcmp(data, d->data, len) != 0))
        if (st->mismatches++ < 3)
            printf("  %s: document %zu: each_document gave data of %zu bytes, expected %zu\n",
                   st->dir, st->next, len, d->data_len);
    return 0;
}

/* The database at dir holds exactly corpus c: document count, the frequency of every term
 * (those with NUL bytes, which kbx cannot name, left out), metadata, data by id term and in
 * docid order. Returns the number of mismatches. */
static size_t check_against_corpus(const char *dir, const corpus *c)
{
    size_t bad = 0;
    kbx_reader *r = kbx_reader_open(dir);
    if (!r || kbx_reader_status(r) != KBX_OK) {
        printf("  cannot open %s: %s\n", dir, r ? kbx_reader_errmsg(r) : "out of memory");
        kbx_reader_close(r);
        return 1;
    }
    if (kbx_reader_doccount(r) != live_docs(c)) {
        printf("  %s: doccount %u, expected %zu\n", dir, kbx_reader_doccount(r), live_docs(c));
        bad++;
    }
    size_t n_terms;
    term_stat *ts = corpus_terms(c, &n_terms);
    for (size_t i = 0; i < n_terms; i++) {
        if (has_nul(ts[i].text, ts[i].len)) continue;
        uint32_t tf = kbx_reader_termfreq(r, ts[i].text);
        if (tf != ts[i].tf && bad++ < 10)
            printf("  %s: termfreq of '%s' is %u, expected %u\n", dir, show(ts[i].text, ts[i].len),
                   tf, ts[i].tf);
    }
    free(ts);
    if (kbx_reader_termfreq(r, "no-such-term-anywhere") != 0) {
        printf("  %s: a term in no document has a frequency\n", dir);
        bad++;
    }
    char buf[8192];
    for (size_t i = 0; i < c->n_meta; i++) {
        const char *want = meta_final(c, c->meta[i].key);
        if (kbx_reader_get_metadata(r, c->meta[i].key, buf, sizeof buf) != KBX_OK ||
            strncmp(buf, want, sizeof buf - 1) != 0) {
            if (bad++ < 20)
                printf("  %s: metadata '%s' is '%s', expected '%s'\n", dir, c->meta[i].key,
                       show(buf, strlen(buf)), show(want, strlen(want)));
        }
    }
    if (kbx_reader_get_metadata(r, "no-such-key", buf, sizeof buf) != KBX_OK || buf[0]) {
        printf("  %s: a missing metadata key has a value\n", dir);
        bad++;
    }
    size_t data_bad = 0;
    for (size_t i = 0; i < c->n; i++) {
        const tdoc *d = &c->docs[i];
        if (!d->id[0]) continue;
        char *data = NULL;
        size_t len = 0;
        int rc = kbx_reader_get_data(r, d->id, &data, &len);
        int want_rc = d->deleted ? KBX_NOT_FOUND : KBX_OK;
        if (rc != want_rc ||
            (rc == KBX_OK && (len != d->data_len || (len && memcmp(data, d->data, len)))))
            if (data_bad++ < 5)
                printf("  %s: get_data(%s): rc %d (expected %d), %zu bytes (expected %zu)\n", dir,
                       d->id, rc, want_rc, len, d->data_len);
        free(data);
    }
    bad += data_bad;
    each_state st = {c, 0, 0, dir};
    if (kbx_reader_each_document(r, each_doc, &st) != KBX_OK) {
        printf("  %s: each_document: %s\n", dir, kbx_reader_errmsg(r));
        bad++;
    }
    while (st.next < c->n && c->docs[st.next].deleted) st.next++;
    if (st.next != c->n) {
        printf("  %s: each_document stopped at document %zu of %zu\n", dir, st.next, c->n);
        bad++;
    }
    bad += st.mismatches;
    kbx_reader_close(r);
    return bad;
}

/* Every value of every live document with an id, read back through Xapian (kbx_writer_get_value
 * opens the database for writing but changes nothing), equals the corpus's. Values are compared
 * up to their first NUL byte (the API's C strings). */
static size_t check_values(const char *dir, const corpus *c)
{
    kbx_writer *w = kbx_writer_open(dir);
    if (!w || kbx_writer_status(w) != KBX_OK) {
        printf("  cannot open %s to read values: %s\n", dir, w ? kbx_writer_errmsg(w) : "oom");
        kbx_writer_close(w);
        return 1;
    }
    size_t bad = 0;
    char buf[8192];
    for (size_t i = 0; i < c->n; i++) {
        const tdoc *d = &c->docs[i];
        if (!d->id[0] || d->deleted) continue;
        for (unsigned s = 0; s < KB_GLASS_SLOTS; s++) {
            int rc = kbx_writer_get_value(w, d->id, s, buf, sizeof buf);
            const char *want = d->value_lens[s] ? d->values[s] : "";
            if (rc != KBX_OK || strncmp(buf, want, sizeof buf - 1) != 0)
                if (bad++ < 5)
                    printf("  %s: value %u of %s is '%s' (rc %d), expected '%s'\n", dir, s, d->id,
                           rc == KBX_OK ? show(buf, strlen(buf)) : "", rc,
                           show(want, strlen(want)));
        }
    }
    kbx_writer_close(w);
    return bad;
}

/* ---------------------------------------------------------------- queries */

typedef struct {
    kbx_query_term terms[8];
    const char *any_of[3];
    kbx_query q;
} tquery;

/* Terms of this prefix are not asked for (the stand-ins of
 * terms_with_nul_bytes_equal_xapians_writer). */
static const char *query_skip_prefix;

static const char *pick_term(const corpus *c, const term_stat *ts, size_t n_ts)
{
    for (int tries = 0; tries < 100; tries++) {
        const char *text;
        size_t len;
        int boolean;
        if (rnd() % 10 < 6) { /* a term of a random document: weighted by frequency */
            const tdoc *d = &c->docs[rnd() % c->n];
            if (d->deleted || !d->n_terms) continue;
            const kb_glass_term *t = &d->terms[rnd() % d->n_terms];
            text = t->text, len = t->len, boolean = t->wdf == 0;
        } else { /* any distinct term: mostly rare ones */
            const term_stat *t = &ts[rnd() % n_ts];
            text = t->text, len = t->len, boolean = t->boolean;
        }
        if (boolean || has_nul(text, len)) continue;
        if (query_skip_prefix && !strncmp(text, query_skip_prefix, strlen(query_skip_prefix)))
            continue;
        return text;
    }
    return "every";
}

static void make_query(tquery *tq, const corpus *c, const term_stat *ts, size_t n_ts,
                       const char *const *filters, size_t n_filters, unsigned from_slot,
                       unsigned until_slot)
{
    static const double weights[] = {1.0, 1.0, 0.5, 2.0, 1.3, 0.25};
    static const uint32_t limits[] = {10, 20, 50, 100};
    memset(tq, 0, sizeof *tq);
    size_t n = 1 + rnd() % 6;
    for (size_t i = 0; i < n; i++)
        tq->terms[i] = (kbx_query_term){pick_term(c, ts, n_ts), weights[rnd() % 6]};
    tq->q.terms = tq->terms;
    tq->q.n_terms = n;
    tq->q.limit = limits[rnd() % 4];
    tq->q.offset = rnd() % 4 == 0 ? rnd() % 30 : 0;
    tq->q.matched_hits = tq->q.limit;
    if (rnd() % 4 == 0) {
        tq->q.bm25_k1 = 0.5 + rnd01() * 2;
        tq->q.bm25_b = rnd01();
    }
    if (n_filters && rnd() % 4 == 0) {
        size_t k = 1 + rnd() % 2;
        for (size_t i = 0; i < k; i++) tq->any_of[i] = filters[rnd() % n_filters];
        tq->q.any_of = tq->any_of;
        tq->q.n_any_of = k;
    }
    if (from_slot != until_slot && rnd() % 4 == 0) {
        static const char *const days[] = {"20260101", "20260615", "20261231", "20270301"};
        tq->q.valid_on = days[rnd() % 4];
        tq->q.valid_from_slot = from_slot;
        tq->q.valid_until_slot = until_slot;
    }
}

static int close_enough(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

static void print_query(const kbx_query *q)
{
    printf("    query:");
    for (size_t i = 0; i < q->n_terms; i++)
        printf(" '%s'*%g", show(q->terms[i].term, strlen(q->terms[i].term)), q->terms[i].weight);
    printf(" limit %u offset %u", q->limit, q->offset);
    for (size_t i = 0; i < q->n_any_of; i++) printf(" any_of %s", q->any_of[i]);
    if (q->valid_on) printf(" valid_on %s", q->valid_on);
    printf("\n");
}

/* Run q on both readers; 0 when the answers are the same. */
static int compare_search(kbx_reader *ra, kbx_reader *rb, const kbx_query *q)
{
    kbx_results a, b;
    int rca = kbx_reader_search(ra, q, &a);
    int rcb = kbx_reader_search(rb, q, &b);
    int bad = 0;
    if (rca != KBX_OK || rcb != KBX_OK) {
        printf("  search failed: bulk %d (%s), Xapian %d (%s)\n", rca, kbx_reader_errmsg(ra), rcb,
               kbx_reader_errmsg(rb));
        print_query(q);
        if (rca == KBX_OK) kbx_results_free(&a);
        if (rcb == KBX_OK) kbx_results_free(&b);
        return 1;
    }
    if (a.n_hits != b.n_hits || a.matches_estimated != b.matches_estimated ||
        !close_enough(a.max_possible, b.max_possible)) {
        printf("  hits %zu / %zu, estimated %u / %u, max_possible %.17g / %.17g (bulk / Xapian)\n",
               a.n_hits, b.n_hits, a.matches_estimated, b.matches_estimated, a.max_possible,
               b.max_possible);
        bad = 1;
    }
    for (size_t h = 0; h < a.n_hits && h < b.n_hits && !bad; h++) {
        const kbx_hit *x = &a.hits[h], *y = &b.hits[h];
        if (x->docid != y->docid || !close_enough(x->score, y->score) || x->matched != y->matched ||
            x->data_len != y->data_len || (x->data_len && memcmp(x->data, y->data, x->data_len))) {
            printf("  hit %zu: docid %u / %u, score %.17g / %.17g, matched %llx / %llx, data %zu / "
                   "%zu "
                   "bytes (bulk / Xapian)\n",
                   h, x->docid, y->docid, x->score, y->score, (unsigned long long)x->matched,
                   (unsigned long long)y->matched, x->data_len, y->data_len);
            bad = 1;
        }
    }
    if (bad) print_query(q);
    kbx_results_free(&a);
    kbx_results_free(&b);
    return bad;
}

/* n_queries random queries over c's terms give the same answers on both databases. */
static size_t compare_searches(const char *bulk, const char *xap, const corpus *c, size_t n_queries,
                               uint64_t query_seed, const char *const *filters, size_t n_filters,
                               unsigned from_slot, unsigned until_slot)
{
    kbx_reader *ra = kbx_reader_open(bulk), *rb = kbx_reader_open(xap);
    size_t bad = 0;
    if (kbx_reader_status(ra) != KBX_OK || kbx_reader_status(rb) != KBX_OK) {
        printf("  cannot open %s / %s for searching: %s / %s\n", bulk, xap, kbx_reader_errmsg(ra),
               kbx_reader_errmsg(rb));
        bad = 1;
    } else {
        size_t n_ts;
        term_stat *ts = corpus_terms(c, &n_ts);
        seed(query_seed);
        for (size_t i = 0; i < n_queries; i++) {
            tquery tq;
            make_query(&tq, c, ts, n_ts, filters, n_filters, from_slot, until_slot);
            if (compare_search(ra, rb, &tq.q) && ++bad >= 5) break;
        }
        free(ts);
    }
    kbx_reader_close(ra);
    kbx_reader_close(rb);
    return bad;
}

/* The terms whose posting lists the delve dumps show: the longest lists and a sample. */
static size_t dump_terms(const corpus *c, const char **out, size_t max)
{
    size_t n_ts, n = 0;
    term_stat *ts = corpus_terms(c, &n_ts);
    /* the 40 most frequent */
    for (int k = 0; k < 40 && n < max; k++) {
        size_t best = n_ts;
        for (size_t i = 0; i < n_ts; i++) {
            if (ts[i].tf == 0 || has_nul(ts[i].text, ts[i].len)) continue;
            if (best == n_ts || ts[i].tf > ts[best].tf) best = i;
        }
        if (best == n_ts) break;
        out[n++] = ts[best].text;
        ts[best].tf = 0;
    }
    for (size_t i = 0; i < n_ts && n < max; i += 1 + n_ts / 60)
        if (ts[i].tf && !has_nul(ts[i].text, ts[i].len)) out[n++] = ts[i].text;
    free(ts);
    return n;
}

/* The whole comparison of a bulk-built and a Xapian-built database of corpus c. */
static void compare_builds(const char *bulk, const char *xap, const corpus *c, size_t n_queries,
                           const char *const *filters, size_t n_filters, unsigned from_slot,
                           unsigned until_slot)
{
    CHECK(check_against_corpus(bulk, c) == 0);
    CHECK(check_against_corpus(xap, c) == 0);
    CHECK(check_values(bulk, c) == 0);
    CHECK(check_values(xap, c) == 0);
    CHECK(compare_searches(bulk, xap, c, n_queries, 4242, filters, n_filters, from_slot,
                           until_slot) == 0);
    const char *terms[120];
    size_t n_terms = dump_terms(c, terms, 120);
    CHECK(compare_delve(bulk, xap, c, terms, n_terms) == 0);
    CHECK(xapian_check(bulk) == 0);
}

/* Build corpus c with Xapian's writer and with the bulk builder, into base_dir's NAME-xapian and
 * NAME-bulk (buffers of 128 bytes). */
static void build_both(const corpus *c, const char *name, char *bulk, char *xap)
{
    char n[64];
    snprintf(n, sizeof n, "%s-bulk", name);
    path_of(bulk, 128, n);
    snprintf(n, sizeof n, "%s-xapian", name);
    path_of(xap, 128, n);
    CHECK(build_xapian(c, xap) == 0);
    CHECK(build_bulk(c, bulk) == 0);
}

/* ---------------------------------------------------------------- the generated corpus */

/* Documents of the generated corpus: 5,000 (1,500 under the sanitizers, KB_SANITIZED=1, which
 * make everything several times slower). */
static unsigned a_docs = 5000;
#define VOCAB 20000

static size_t put_utf8(char *p, unsigned cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    p[0] = (char)(0xe0 | cp >> 12);
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* The term of a vocabulary rank: Chinese words, a family sharing a 180-byte prefix, single
 * letters among the most frequent, terms with 0xff bytes, numbers, plain words. */
static size_t vocab_term(uint32_t rank, char *buf)
{
    size_t n = 0;
    switch (rank % 8) {
    case 0:
        for (unsigned k = 0; k < 2 + rank % 3; k++)
            n += put_utf8(buf + n, 0x4e00 + (rank * 131 + k * 7919) % 0x5000);
        return n;
    case 1:
        memcpy(buf, "pre", 3);
        memset(buf + 3, 'p', 177);
        return 180 + (size_t)sprintf(buf + 180, "%u", rank);
    case 2:
        if (rank < 8 * 26) {
            buf[0] = (char)('a' + rank / 8);
            return 1;
        }
        return (size_t)sprintf(buf, "w%u", rank);
    case 3: return (size_t)sprintf(buf, rank % 16 == 3 ? "\xff%u" : "y%u\xff\xfe\xff", rank);
    case 4: return (size_t)sprintf(buf, "%u", rank);
    default: return (size_t)sprintf(buf, "term%u", rank);
    }
}

static uint32_t zipf_rank(void)
{
    uint32_t r = (uint32_t)exp(rnd01() * log(VOCAB + 1.0)) - 1;
    return r < VOCAB ? r : VOCAB - 1;
}

static const char *const A_FILTERS[] = {"XC0", "XC1", "XC2", "XC3", "XC4", "XC5", "XC6", "XTall"};

/* Document i (1-based) of the generated corpus, appended to c. */
static void generate_doc(corpus *c, unsigned i, const char *id_prefix)
{
    char id[64], buf[512];
    snprintf(id, sizeof id, "Q%s%05u", id_prefix, i);
    tdoc *d = new_doc(c, id);
    add_term_s(d, "XTall", 0);
    if (i % 3) {
        snprintf(buf, sizeof buf, "XC%u", i % 7);
        add_term_s(d, buf, 0);
    }
    if (i % 5 == 0) {
        snprintf(buf, sizeof buf, "XC%u", (i * 5 + 1) % 7);
        add_term_s(d, buf, 0);
    }
    add_term_s(d, "every", 1 + rnd() % 5000); /* a long list of 2-byte wdfs */
    unsigned draws = i % 50 == 0 ? 2000 : 5 + rnd() % 120;
    for (unsigned k = 0; k < draws; k++) {
        size_t len = vocab_term(zipf_rank(), buf);
        add_term(d, buf, len, 1 + (rnd() % 10 == 0 ? rnd() % 300 : 0));
    }
    if (i % 97 == 0) add_term_s(d, "rare-boolean", 0);
    doc_finish(d);

    snprintf(buf, sizeof buf, "h%08x", rnd());
    set_value(d, 0, buf, strlen(buf)); /* differs in every document */
    if (rnd() % 10 < 3) {
        snprintf(buf, sizeof buf, "2026%02u%02u", 1 + rnd() % 12, 1 + rnd() % 28);
        set_value(d, 1, buf, strlen(buf)); /* valid from */
    }
    if (rnd() % 10 < 3) {
        snprintf(buf, sizeof buf, "20%02u%02u%02u", 26 + rnd() % 2, 1 + rnd() % 12, 1 + rnd() % 28);
        set_value(d, 2, buf, strlen(buf)); /* valid until */
    }
    if (i % 2) set_value(d, 3, "same", 4); /* one value everywhere: equal bounds */
    if (i == 1234) set_value(d, 5, "only", 4);
    if (i % 10 == 7) {
        size_t len = 100 + rnd() % 3000;
        for (size_t k = 0; k < len; k++) buf[k % sizeof buf] = (char)(' ' + rnd() % 95);
        char *v = xmalloc(len);
        for (size_t k = 0; k < len; k++) v[k] = buf[k % sizeof buf];
        v[0] = (char)(0x80 + rnd() % 0x7f); /* high bytes too */
        set_value(d, 7, v, len);
        free(v);
    }

    size_t data_len;
    switch (rnd() % 8) {
    case 0: data_len = 0; break;
    case 7: data_len = 8000 + rnd() % 12000; break;
    default: data_len = 50 + rnd() % 3000;
    }
    if (i % 1000 == 0) data_len = 50 * 1024;
    char *data = xmalloc(data_len + 32);
    size_t n = (size_t)snprintf(data, 32, "document %u:", i);
    for (size_t k = n; k < data_len; k++) data[k] = (char)(rnd() & 0xff); /* any byte, NULs too */
    if (data_len) set_data(d, data, data_len > n ? data_len : n);
    free(data);
}

static corpus corpus_a;
static char a_bulk[128], a_runs[128], a_xapian[128];

static void make_corpus_a(void)
{
    seed(1);
    for (unsigned i = 1; i <= a_docs; i++) generate_doc(&corpus_a, i, "d");
    add_meta(&corpus_a, "format", "3");
    add_meta(&corpus_a, "published_at", "1767225600");
    add_meta(&corpus_a, "长键", "值");
    add_meta(&corpus_a, "dup", "one");
    add_meta(&corpus_a, "empty", "");
    char *big = xmalloc(5001);
    for (int k = 0; k < 5000; k++) big[k] = (char)('a' + k % 26);
    big[5000] = '\0';
    add_meta(&corpus_a, "big", big);
    free(big);
    add_meta(&corpus_a, "dup", "two");
    add_meta(&corpus_a, "\xff\xfe", "last key");
    add_meta(&corpus_a, "A", "first key");
}

/* ---------------------------------------------------------------- tests */

TEST(many_documents_equal_xapians_writer)
{
    make_corpus_a();
    path_of(a_bulk, sizeof a_bulk, "a-bulk");
    path_of(a_xapian, sizeof a_xapian, "a-xapian");
    unsetenv("KB_BULK_RUN_MB");
    CHECK(build_xapian(&corpus_a, a_xapian) == 0);
    CHECK(build_bulk(&corpus_a, a_bulk) == 0);
    CHECK(file_exists(a_bulk, "iamglass"));
    CHECK(!file_exists(a_bulk, "v.tmp"));
    CHECK(!file_exists(a_bulk, ".bulk-postings.tmp"));
    compare_builds(a_bulk, a_xapian, &corpus_a, 400, A_FILTERS, 8, 1, 2);
    /* the test reaches what it is meant to: posting lists over many chunks and blocks */
    int levels = table_levels(a_bulk, "postlist");
    if (levels >= 0) CHECK(levels >= 1);
}

/* A budget of 1 MB writes a run after nearly every document: a merge of thousands of runs.
 * The tables must be byte for byte those of the build with one run. */
TEST(many_runs_merge_to_the_same_database)
{
    path_of(a_runs, sizeof a_runs, "a-runs");
    setenv("KB_BULK_RUN_MB", "1", 1);
    CHECK(build_bulk(&corpus_a, a_runs) == 0);
    unsetenv("KB_BULK_RUN_MB");
    compare_builds(a_runs, a_xapian, &corpus_a, 400, A_FILTERS, 8, 1, 2);
    static const char *const tables[] = {"postlist.glass", "termlist.glass", "docdata.glass"};
    for (int t = 0; t < 3; t++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cmp -s '%s/%s' '%s/%s'", a_bulk, tables[t], a_runs, tables[t]);
        if (system(cmd) != 0) {
            printf("  %s differs between one run and many runs\n", tables[t]);
            check_current_failed = 1;
        }
    }
}

/* Term edge cases: every (previous length, shared prefix, wdf) around the limit of glass's
 * packed term-list byte, wdf 0, 126..128 and large wdfs, terms of 1 and of 245 bytes, long
 * shared prefixes, bytes 0xff and 0x80, Chinese, a term that is a prefix of the next. */
TEST(term_edge_cases_equal_xapians_writer)
{
    corpus c = {0};
    char id[64], prev[300], next[300];
    unsigned n = 0;
    static const size_t lens[] = {1, 2, 3, 5, 10, 50, 84, 85, 126, 127, 200, 244, 245};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        size_t L = lens[li];
        if (L == 0 || L > 245) continue;
        size_t reuses[] = {0, 1, L / 2, L - 1, L};
        for (int ri = 0; ri < 5; ri++) {
            size_t r = reuses[ri];
            if (r > L) continue;
            /* the wdf at which (wdf + 1) * (L + 1) + r stops fitting in a byte, and around it */
            long edge = (long)((255 - r) / (L + 1)) - 1;
            long wdfs[] = {0, 1, edge - 1, edge, edge + 1, 126, 127, 128, 1000, 70000};
            for (int wi = 0; wi < 10; wi++) {
                if (wdfs[wi] < 0) continue;
                snprintf(id, sizeof id, "Qe%05u", ++n);
                tdoc *d = new_doc(&c, id);
                memset(prev, 'm', L);
                memcpy(next, prev, r);
                size_t next_len = r == L ? (L < 245 ? L + 1 : 0) : L;
                if (next_len == 0) { /* a 245-byte prev has no longer extension */
                    next_len = L;
                    r = L - 1;
                    memcpy(next, prev, r);
                }
                for (size_t k = r; k < next_len; k++) next[k] = 'n';
                add_term(d, prev, L, 1 + (uint32_t)(wi % 3));
                add_term(d, next, next_len, (uint32_t)wdfs[wi]);
                add_term_s(d, "common", 1 + n % 7);
                doc_finish(d);
                snprintf(id, sizeof id, "edge %u", n);
                set_data(d, id, strlen(id));
            }
        }
    }
    /* large wdfs and the bounds of the statistics */
    static const uint32_t big[] = {255,     256,     16383,     16384,
                                   2097151, 2097152, 100000000, 0x7fffffffu};
    for (int k = 0; k < 8; k++) {
        snprintf(id, sizeof id, "Qbig%d", k);
        tdoc *d = new_doc(&c, id);
        snprintf(prev, sizeof prev, "bigwdf%d", k);
        add_term_s(d, prev, big[k]);
        add_term_s(d, "bigshared", big[k] / 2 + 1);
        add_term_s(d, "common", 1);
        doc_finish(d);
    }
    /* bytes at the ends of the range, Chinese, single characters, 245-byte terms */
    tdoc *d = new_doc(&c, "Qbytes");
    add_term_s(d, "\xff", 3);
    add_term_s(d, "\xff\xff", 130);
    add_term_s(d, "\xff\xfe\xff", 0);
    add_term_s(d, "\x80", 2);
    add_term_s(d, "\x01", 1);
    add_term_s(d, "\x01\x01", 127);
    add_term_s(d, "a", 1);
    add_term_s(d, "z", 1);
    add_term_s(d, "中", 5);
    add_term_s(d, "中文", 2);
    add_term_s(d, "中文检索", 200);
    add_term_s(d, "檢索", 1);
    add_term_s(d, "common", 1);
    memset(prev, 'L', 245);
    add_term(d, prev, 245, 9);
    prev[244] = 'M';
    add_term(d, prev, 245, 0);
    memset(prev, '\xff', 245);
    add_term(d, prev, 245, 128);
    doc_finish(d);
    /* the same edge terms in many documents, so their posting lists span chunks */
    for (unsigned k = 0; k < 3000; k++) {
        snprintf(id, sizeof id, "Qmany%04u", k);
        d = new_doc(&c, id);
        add_term_s(d, "\xff", 1 + k % 200);
        add_term_s(d, "a", k % 3 ? 0 : 1);
        memset(prev, 'L', 245);
        prev[244] = (char)('A' + k % 3);
        add_term(d, prev, 245, k % 4 ? 1 + k : 0);
        memset(prev, '\xff', 245);
        add_term(d, prev, 245, 1 + k % 150);
        add_term_s(d, "中文", 1 + k % 2);
        if (k % 5 == 0) add_term_s(d, "common", 1);
        doc_finish(d);
        if (k % 4 == 0) set_value(d, 4, "\xff\xff", 2);
        if (k % 4 == 1) set_value(d, 4, "\x01", 1);
    }
    /* a document that uses every slot, one with a single boolean term */
    d = new_doc(&c, "Qallslots");
    add_term_s(d, "common", 2);
    doc_finish(d);
    for (unsigned s = 0; s < KB_GLASS_SLOTS; s++) set_value(d, s, "v", 1);
    d = new_doc(&c, "Qonlyboolean");
    doc_finish(d);

    char bulk[128], xap[128];
    build_both(&c, "edge", bulk, xap);
    static const char *const filters[] = {"Qbytes", "Qallslots"};
    compare_builds(bulk, xap, &c, 300, filters, 2, 0, 0);
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&c);
}

typedef struct {
    size_t n;
    const char *prefix;
} term_count;

static int count_terms(const char *term, void *user)
{
    term_count *tc = user;
    if (!strncmp(term, tc->prefix, strlen(tc->prefix))) tc->n++;
    return 0;
}

static size_t count_with_prefix(const char *dir, const char *prefix)
{
    kbx_writer *w = kbx_writer_open(dir);
    term_count tc = {0, prefix};
    if (kbx_writer_status(w) != KBX_OK || kbx_writer_each_term(w, "", count_terms, &tc) != KBX_OK) {
        printf("  cannot list the terms of %s: %s\n", dir, kbx_writer_errmsg(w));
        tc.n = (size_t)-1;
    }
    kbx_writer_close(w);
    return tc.n;
}

/* Terms holding NUL bytes (escaped as "\0\xff" in posting-list keys). kbx cannot name such a
 * term, so the Xapian-built copy holds a stand-in of the same wdf for each: every other term,
 * the lengths and so the scores are the same. */
TEST(terms_with_nul_bytes_equal_xapians_writer)
{
    static const struct {
        const char *text;
        size_t len;
    } nul_terms[] = {{"\0", 1},   {"\0\0", 2},    {"\0x", 2},     {"a\0", 2},     {"a\0\0", 3},
                     {"a\0b", 3}, {"a\0\xff", 3}, {"a\0\x01", 3}, {"nul\0end", 7}};
    corpus bulk_c = {0}, xap_c = {0};
    char id[64], buf[300];
    for (unsigned k = 0; k < 2500; k++) {
        snprintf(id, sizeof id, "Qn%05u", k);
        tdoc *db = new_doc(&bulk_c, id), *dx = new_doc(&xap_c, id);
        for (size_t t = 0; t < sizeof nul_terms / sizeof *nul_terms; t++) {
            if (k % (t + 1)) continue;
            uint32_t wdf = (uint32_t)((k + t) % 4 == 0 ? 0 : 1 + (k * 7 + t) % 300);
            add_term(db, nul_terms[t].text, nul_terms[t].len, wdf);
            snprintf(buf, sizeof buf, "zstand-in-%zu", t);
            add_term_s(dx, buf, wdf);
        }
        /* neighbours in byte order */
        static const char *const plain[] = {"a", "a\x01", "ab", "nul", "nulx", "b"};
        for (int p = 0; p < 6; p++)
            if ((k + (unsigned)p) % 3 == 0) {
                add_term_s(db, plain[p], 1 + k % 5);
                add_term_s(dx, plain[p], 1 + k % 5);
            }
        /* a 245-byte term holding two NULs: a 247-byte key, 250 with a docid */
        if (k % 2 == 0) {
            memset(buf, 'q', 245);
            buf[10] = buf[100] = '\0';
            add_term(db, buf, 245, 2);
            add_term_s(dx, "zstand-in-long", 2);
        }
        add_term_s(db, "common", 1 + k % 9);
        add_term_s(dx, "common", 1 + k % 9);
        doc_finish(db);
        doc_finish(dx);
        snprintf(buf, sizeof buf, "doc %u", k);
        set_data(db, buf, strlen(buf));
        set_data(dx, buf, strlen(buf));
    }
    char bulk[128], xap[128];
    path_of(bulk, sizeof bulk, "nul-bulk");
    path_of(xap, sizeof xap, "nul-xapian");
    CHECK(build_bulk(&bulk_c, bulk) == 0);
    CHECK(build_xapian(&xap_c, xap) == 0);
    CHECK(check_against_corpus(bulk, &bulk_c) == 0);
    query_skip_prefix = "zstand-in";
    CHECK(compare_searches(bulk, xap, &xap_c, 200, 77, NULL, 0, 0, 0) == 0);
    query_skip_prefix = NULL;
    CHECK(xapian_check(bulk) == 0);
    /* every NUL term is there as a term of its own (the API shows a term up to its NUL) */
    CHECK(count_with_prefix(bulk, "a") == 1 + 1 + 1 + 5); /* a, a\x01, ab and five a\0... */
    CHECK(count_with_prefix(bulk, "nul") == 3);
    CHECK(count_with_prefix(bulk, "") == count_with_prefix(xap, ""));
    if (!have_delve) CHECK(tool_missing("xapian-delve", "NUL terms are not listed") == 0);
    if (have_delve) {
        /* each NUL term's frequency, as delve lists every term (raw bytes) */
        char dump[200], cmd[500];
        snprintf(dump, sizeof dump, "%s.terms", bulk);
        snprintf(cmd, sizeof cmd, "xapian-delve -a -v -1 '%s' > '%s' 2>&1", bulk, dump);
        CHECK(system(cmd) == 0);
        FILE *f = fopen(dump, "rb");
        char *text = xmalloc(1 << 20);
        size_t len = f ? fread(text, 1, (1 << 20) - 1, f) : 0;
        if (f) fclose(f);
        for (size_t t = 0; t < sizeof nul_terms / sizeof *nul_terms; t++) {
            unsigned tf = 0;
            for (unsigned k = 0; k < 2500; k++) tf += k % (t + 1) == 0;
            char line[64];
            line[0] = '\n';
            memcpy(line + 1, nul_terms[t].text, nul_terms[t].len);
            size_t ll = 1 + nul_terms[t].len;
            ll += (size_t)sprintf(line + ll, " %u\n", tf);
            int found = 0;
            for (size_t p = 0; p + ll <= len && !found; p++)
                found = memcmp(text + p, line, ll) == 0;
            if (!found) {
                printf("  delve does not list NUL term %zu with termfreq %u\n", t, tf);
                check_current_failed = 1;
            }
        }
        free(text);
    }
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&bulk_c);
    corpus_free(&xap_c);
}

/* Data of every size around glass's item and block limits (a tag split into parts, the first
 * part filling the rest of a leaf), 50 KB and 300 KB data, empty data; values in every slot or
 * none, equal everywhere or differing, long ones; documents without terms. */
TEST(data_values_and_documents_without_terms_equal_xapians_writer)
{
    corpus c = {0};
    char id[64];
    seed(5);
    static const size_t sizes[] = {0,    1,    2,    1000, 2030, 2031,  2032,  2033,  2040,
                                   2041, 2042, 2043, 2044, 2045, 2046,  4080,  4086,  4090,
                                   4100, 8000, 8170, 8180, 8192, 10000, 51200, 300000};
    size_t n_sizes = sizeof sizes / sizeof *sizes;
    for (unsigned k = 0; k < 600; k++) {
        snprintf(id, sizeof id, "Qv%04u", k);
        tdoc *d = new_doc(&c, k % 50 == 49 ? NULL : id); /* some without any term */
        if (d->id[0] && k % 13 != 0) {
            add_term_s(d, "word", 1 + k % 4);
            char t[32];
            snprintf(t, sizeof t, "w%u", k % 17);
            add_term_s(d, t, 1);
        }
        doc_finish(d);
        size_t len = k < n_sizes ? sizes[k] : (k % 5 == 0 ? rnd() % 20000 : rnd() % 3000);
        char *data = xmalloc(len + 1);
        for (size_t b = 0; b < len; b++) data[b] = (char)(rnd() & 0xff);
        if (len) set_data(d, data, len);
        free(data);
        char v[4000];
        if (k % 3 == 0) set_value(d, 0, "equal", 5);
        if (k % 2 == 0) {
            snprintf(v, sizeof v, "%08u", rnd() % 100000000);
            set_value(d, 1, v, strlen(v));
        }
        if (k == 300) set_value(d, 6, "single", 6);
        if (k % 7 == 0) {
            size_t vl = 1 + rnd() % 3500;
            for (size_t b = 0; b < vl; b++) v[b] = (char)(1 + rnd() % 255);
            set_value(d, 7, v, vl);
        }
        if (k % 11 == 0) set_value(d, 2, "\xff\xff\xff", 3);
        if (k % 11 == 1) set_value(d, 2, "\x01", 1);
        if (k % 11 == 2) set_value(d, 2, "\0\x01", 2); /* a NUL byte: the least value */
    }
    /* a document with values but no terms and no data, and one with nothing at all */
    tdoc *d = new_doc(&c, NULL);
    set_value(d, 3, "alone", 5);
    new_doc(&c, NULL);
    add_meta(&c, "k", "v");

    char bulk[128], xap[128];
    build_both(&c, "data", bulk, xap);
    compare_builds(bulk, xap, &c, 100, NULL, 0, 0, 1);
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&c);
}

/* A build without documents is a valid empty database, which Xapian's writer then fills. */
TEST(a_build_with_no_documents_is_a_valid_empty_database)
{
    char bulk[128], xap[128];
    path_of(bulk, sizeof bulk, "empty-bulk");
    path_of(xap, sizeof xap, "empty-xapian");
    corpus c = {0};
    CHECK(build_bulk(&c, bulk) == 0);
    CHECK(file_exists(bulk, "iamglass"));
    kbx_reader *r = kbx_reader_open(bulk);
    CHECK(kbx_reader_status(r) == KBX_OK);
    if (kbx_reader_status(r) != KBX_OK) printf("  %s\n", kbx_reader_errmsg(r));
    CHECK(kbx_reader_doccount(r) == 0);
    CHECK(kbx_reader_termfreq(r, "anything") == 0);
    kbx_reader_close(r);
    CHECK(xapian_check(bulk) == 0);
    remove_dir(bulk);

    /* with metadata only */
    add_meta(&c, "published_at", "123");
    CHECK(build_bulk(&c, bulk) == 0);
    CHECK(check_against_corpus(bulk, &c) == 0);
    CHECK(xapian_check(bulk) == 0);

    /* Xapian's writer adds to it as to its own empty database */
    CHECK(build_xapian(&c, xap) == 0);
    seed(9);
    for (unsigned i = 1; i <= 300; i++) generate_doc(&c, i, "e");
    kbx_writer *wb = kbx_writer_open(bulk), *wx = kbx_writer_open(xap);
    CHECK(kbx_writer_status(wb) == KBX_OK && kbx_writer_status(wx) == KBX_OK);
    for (size_t i = 0; i < c.n; i++) {
        CHECK(xapian_put(wb, &c, i) == KBX_OK);
        CHECK(xapian_put(wx, &c, i) == KBX_OK);
    }
    CHECK(kbx_writer_commit(wb) == KBX_OK);
    CHECK(kbx_writer_commit(wx) == KBX_OK);
    kbx_writer_close(wb);
    kbx_writer_close(wx);
    compare_builds(bulk, xap, &c, 100, A_FILTERS, 8, 1, 2);
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&c);
}

/* Refused documents: the builder says why, refuses everything after, and publishes nothing. */
TEST(refused_documents_publish_nothing)
{
    char dir[128];
    path_of(dir, sizeof dir, "refused");
    char t245[246], t246[247];
    memset(t245, 'x', 245);
    t245[245] = '\0';
    memset(t246, 'x', 246);
    t246[246] = '\0';
    const kb_glass_term ok_terms[] = {{"a", 1, 1}, {"b", 1, 0}, {t245, 245, 2}};
    const kb_glass_term unsorted[] = {{"b", 1, 1}, {"a", 1, 1}};
    const kb_glass_term prefix_after[] = {{"ab", 2, 1}, {"a", 1, 1}};
    const kb_glass_term duplicate[] = {{"a", 1, 1}, {"a", 1, 2}};
    const kb_glass_term empty[] = {{"", 0, 1}, {"a", 1, 1}};
    const kb_glass_term too_long[] = {{"a", 1, 1}, {t246, 246, 1}};
    const struct {
        const char *what;
        const kb_glass_term *terms;
        size_t n;
    } cases[] = {{"unsorted terms", unsorted, 2},
                 {"a term after its extension", prefix_after, 2},
                 {"a duplicate term", duplicate, 2},
                 {"an empty term", empty, 2},
                 {"a term of 246 bytes", too_long, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        remove_dir(dir);
        kb_glass_builder *b = kb_glass_builder_open(dir);
        CHECK(b && kb_glass_builder_status(b) == KB_GLASS_OK);
        if (!b) continue;
        kb_glass_doc good = {.terms = ok_terms, .n_terms = 3, .data = "x", .data_len = 1};
        CHECK(kb_glass_builder_add(b, &good) == KB_GLASS_OK);
        kb_glass_doc bad = {.terms = cases[k].terms, .n_terms = cases[k].n};
        int rc = kb_glass_builder_add(b, &bad);
        if (rc != KB_GLASS_ERROR || !kb_glass_builder_errmsg(b)[0]) {
            printf("  %s: add returned %d, message '%s'\n", cases[k].what, rc,
                   kb_glass_builder_errmsg(b));
            check_current_failed = 1;
        }
        CHECK(kb_glass_builder_status(b) == KB_GLASS_ERROR);
        /* the builder stays refused: nothing later is added or published */
        CHECK(kb_glass_builder_add(b, &good) == KB_GLASS_ERROR);
        CHECK(kb_glass_builder_commit(b) == KB_GLASS_ERROR);
        kb_glass_builder_close(b);
        CHECK(!file_exists(dir, "iamglass"));
        CHECK(!file_exists(dir, "postlist.glass"));
        CHECK(!file_exists(dir, "termlist.glass"));
        CHECK(!file_exists(dir, "docdata.glass"));
        kbx_reader *r = kbx_reader_open(dir);
        CHECK(kbx_reader_status(r) != KBX_OK);
        kbx_reader_close(r);
    }

    /* closed without a commit: nothing published, and a new build then succeeds */
    remove_dir(dir);
    kb_glass_builder *b = kb_glass_builder_open(dir);
    kb_glass_doc good = {.terms = ok_terms, .n_terms = 3, .data = "x", .data_len = 1};
    CHECK(kb_glass_builder_add(b, &good) == KB_GLASS_OK);
    kb_glass_builder_close(b);
    CHECK(!file_exists(dir, "iamglass"));
    CHECK(!file_exists(dir, "termlist.glass"));
    b = kb_glass_builder_open(dir);
    CHECK(kb_glass_builder_status(b) == KB_GLASS_OK);
    CHECK(kb_glass_builder_add(b, &good) == KB_GLASS_OK);
    CHECK(kb_glass_builder_commit(b) == KB_GLASS_OK);
    kb_glass_builder_close(b);
    kbx_reader *r = kbx_reader_open(dir);
    CHECK(kbx_reader_status(r) == KBX_OK && kbx_reader_doccount(r) == 1);
    CHECK(kbx_reader_termfreq(r, t245) == 1);
    kbx_reader_close(r);
    CHECK(xapian_check(dir) == 0);
    remove_dir(dir);
}

/* A directory that holds a database is refused, and left as it was. */
TEST(an_existing_database_is_refused_and_left_intact)
{
    char dir[128];
    path_of(dir, sizeof dir, "existing");
    corpus c = {0};
    seed(3);
    for (unsigned i = 1; i <= 50; i++) generate_doc(&c, i, "x");
    CHECK(build_xapian(&c, dir) == 0);
    kb_glass_builder *b = kb_glass_builder_open(dir);
    CHECK(b != NULL);
    CHECK(kb_glass_builder_status(b) == KB_GLASS_EXISTS);
    if (!strstr(kb_glass_builder_errmsg(b), "already holds a database")) {
        printf("  message: '%s'\n", kb_glass_builder_errmsg(b));
        check_current_failed = 1;
    }
    kb_glass_doc g;
    to_glass(&c.docs[0], &g);
    CHECK(kb_glass_builder_add(b, &g) != KB_GLASS_OK);
    CHECK(kb_glass_builder_commit(b) != KB_GLASS_OK);
    kb_glass_builder_close(b);
    CHECK(check_against_corpus(dir, &c) == 0);
    CHECK(xapian_check(dir) == 0);
    /* the same for a database the builder wrote */
    char bulk[128];
    path_of(bulk, sizeof bulk, "existing-bulk");
    CHECK(build_bulk(&c, bulk) == 0);
    b = kb_glass_builder_open(bulk);
    CHECK(kb_glass_builder_status(b) == KB_GLASS_EXISTS);
    kb_glass_builder_close(b);
    CHECK(check_against_corpus(bulk, &c) == 0);
    CHECK(xapian_check(bulk) == 0);
    remove_dir(dir);
    remove_dir(bulk);
    corpus_free(&c);
}

/* One writer at a time: a second builder, or Xapian's writer, on a directory a builder holds
 * is locked out; a builder on a directory Xapian's writer holds too. */
TEST(only_one_writer_at_a_time_holds_a_directory)
{
    char dir[128], dir2[128];
    path_of(dir, sizeof dir, "locked");
    path_of(dir2, sizeof dir2, "locked2");
    kb_glass_builder *first = kb_glass_builder_open(dir);
    CHECK(kb_glass_builder_status(first) == KB_GLASS_OK);
    kb_glass_builder *second = kb_glass_builder_open(dir);
    CHECK(second && kb_glass_builder_status(second) == KB_GLASS_LOCKED);
    if (second && !strstr(kb_glass_builder_errmsg(second), "another writer")) {
        printf("  second builder's message: '%s'\n", kb_glass_builder_errmsg(second));
        check_current_failed = 1;
    }
    kb_glass_builder_close(second); /* must not remove what the first is writing */
    kbx_writer *w = kbx_writer_open(dir);
    CHECK(w && kbx_writer_status(w) == KBX_LOCKED);
    if (w && kbx_writer_status(w) != KBX_LOCKED)
        printf("  Xapian's writer: %d %s\n", kbx_writer_status(w), kbx_writer_errmsg(w));
    kbx_writer_close(w);
    /* the first build goes on undisturbed */
    const kb_glass_term terms[] = {{"Qonly", 5, 0}, {"hello", 5, 2}};
    kb_glass_doc g = {.terms = terms, .n_terms = 2, .data = "hi", .data_len = 2};
    CHECK(kb_glass_builder_add(first, &g) == KB_GLASS_OK);
    CHECK(kb_glass_builder_commit(first) == KB_GLASS_OK);
    kb_glass_builder_close(first);
    kbx_reader *r = kbx_reader_open(dir);
    CHECK(kbx_reader_status(r) == KBX_OK && kbx_reader_doccount(r) == 1 &&
          kbx_reader_termfreq(r, "hello") == 1);
    kbx_reader_close(r);
    CHECK(xapian_check(dir) == 0);
    /* released: Xapian's writer opens it now */
    w = kbx_writer_open(dir);
    CHECK(kbx_writer_status(w) == KBX_OK);
    /* and while it holds it, a builder is locked out (it must not touch the tables either) */
    kb_glass_builder *third = kb_glass_builder_open(dir);
    CHECK(third && (kb_glass_builder_status(third) == KB_GLASS_LOCKED));
    kb_glass_builder_close(third);
    kbx_writer_close(w);
    r = kbx_reader_open(dir);
    CHECK(kbx_reader_status(r) == KBX_OK && kbx_reader_doccount(r) == 1);
    kbx_reader_close(r);

    /* Xapian's writer on an empty directory, then a builder */
    w = kbx_writer_open(dir2);
    CHECK(kbx_writer_status(w) == KBX_OK);
    kb_glass_builder *fourth = kb_glass_builder_open(dir2);
    CHECK(fourth && kb_glass_builder_status(fourth) == KB_GLASS_LOCKED);
    kb_glass_builder_close(fourth);
    kbx_writer_close(w);
    remove_dir(dir);
    remove_dir(dir2);
}

/* Xapian's writer updates a bulk-built database as it updates its own: replacements (docids
 * at chunk starts and in the middle of long lists), deletions, additions, metadata. */
static void same_update(const char *dir, corpus *model, int round, int apply_model)
{
    kbx_writer *w = kbx_writer_open(dir);
    CHECK(kbx_writer_status(w) == KBX_OK);
    if (kbx_writer_status(w) != KBX_OK) {
        printf("  %s: %s\n", dir, kbx_writer_errmsg(w));
        kbx_writer_close(w);
        return;
    }
    seed(100 + (uint64_t)round);
    if (round == 0) {
        /* one replacement, one deletion, one addition */
        if (apply_model) {
            corpus tmp = {0};
            generate_doc(&tmp, 10, "d"); /* a new version of document 10 (other terms and values) */
            doc_clear(&model->docs[9]);
            model->docs[9] = tmp.docs[0];
            tmp.n = 0;
            corpus_free(&tmp);
            model->docs[19].deleted = 1;
            generate_doc(model, a_docs + 1, "d");
            add_meta(model, "published_at", "1767312000");
        }
        CHECK(xapian_put(w, model, 9) == KBX_OK);
        CHECK(kbx_writer_delete(w, "Qd00020") == KBX_OK);
        CHECK(xapian_put(w, model, model->n - 1) == KBX_OK);
        CHECK(kbx_writer_set_metadata(w, "published_at", "1767312000") == KBX_OK);
    } else {
        /* many: every 7th of the first 1000 deleted, every 11th replaced, 100 added */
        size_t first_new = model->n;
        if (apply_model) {
            for (size_t i = 0; i < 1000; i++) {
                if (model->docs[i].deleted) continue;
                if (i % 7 == 3) model->docs[i].deleted = 1;
                else if (i % 11 == 5) {
                    corpus tmp = {0};
                    generate_doc(&tmp, (unsigned)i + 1, "d");
                    doc_clear(&model->docs[i]);
                    model->docs[i] = tmp.docs[0];
                    tmp.n = 0;
                    corpus_free(&tmp);
                }
            }
            for (unsigned k = 0; k < 100; k++) generate_doc(model, a_docs + 2 + k, "d");
        }
        for (size_t i = 0; i < 1000; i++) {
            char id[64];
            snprintf(id, sizeof id, "Qd%05zu", i + 1);
            if (i % 7 == 3 && i != 19) CHECK(kbx_writer_delete(w, id) == KBX_OK);
            else if (i % 11 == 5 && i % 7 != 3 && i != 19) CHECK(xapian_put(w, model, i) == KBX_OK);
        }
        if (!apply_model) first_new = model->n - 100;
        for (size_t i = first_new; i < first_new + 100; i++)
            CHECK(xapian_put(w, model, i) == KBX_OK);
    }
    CHECK(kbx_writer_commit(w) == KBX_OK);
    kbx_writer_close(w);
}

TEST(xapian_updates_a_bulk_built_database)
{
    /* corpus_a's databases, built by the first tests */
    for (int round = 0; round < 2; round++) {
        same_update(a_bulk, &corpus_a, round, 1);
        same_update(a_xapian, &corpus_a, round, 0);
        compare_builds(a_bulk, a_xapian, &corpus_a, 300, A_FILTERS, 8, 1, 2);
        CHECK(xapian_check(a_xapian) == 0);
    }
}

/* Docids from 32768 on take three bytes in keys; many small documents. */
TEST(docids_past_32767_equal_xapians_writer)
{
    corpus c = {0};
    char id[64], t[32];
    seed(11);
    for (unsigned k = 1; k <= 40000; k++) {
        snprintf(id, sizeof id, "Qs%05u", k);
        tdoc *d = new_doc(&c, id);
        add_term_s(d, "all", 1 + k % 3);
        snprintf(t, sizeof t, "m%u", k % 1000);
        add_term_s(d, t, 1);
        snprintf(t, sizeof t, "r%u", rnd() % 20000);
        add_term_s(d, t, 1 + rnd() % 4);
        if (k >= 32760 && k <= 32780) add_term_s(d, "border", 1);
        doc_finish(d);
        if (k % 3 == 0) {
            snprintf(t, sizeof t, "%u", k);
            set_value(d, 1, t, strlen(t));
        }
        if (k % 4 == 0) set_data(d, id, strlen(id));
    }
    char bulk[128], xap[128];
    build_both(&c, "big", bulk, xap);
    compare_builds(bulk, xap, &c, 100, NULL, 0, 0, 0);
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&c);
}

/* 40,000 distinct 245-byte terms sharing 240 bytes: long separating keys make the posting-list
 * B-tree three levels deep above its leaves. */
TEST(a_deep_btree_of_long_keys_equals_xapians_and_takes_its_updates)
{
    corpus c = {0};
    char id[64], t[300];
    memset(t, 'k', 240);
    for (unsigned k = 0; k < 2000; k++) {
        snprintf(id, sizeof id, "Qk%04u", k);
        tdoc *d = new_doc(&c, id);
        for (unsigned j = 0; j < 20; j++) {
            sprintf(t + 240, "%05u", j * 2000 + k);
            add_term(d, t, 245, 1 + (j + k) % 3);
        }
        add_term_s(d, "short", 1);
        doc_finish(d);
    }
    char bulk[128], xap[128];
    build_both(&c, "deep", bulk, xap);
    compare_builds(bulk, xap, &c, 100, NULL, 0, 0, 0);
    int levels = table_levels(bulk, "postlist");
    if (levels >= 0 && levels < 3) {
        printf("  the posting-list table has %d levels; the test meant 3 or more\n", levels);
        check_current_failed = 1;
    }
    /* and Xapian's writer updates it (splitting blocks at every level) */
    kbx_writer *wb = kbx_writer_open(bulk), *wx = kbx_writer_open(xap);
    for (unsigned k = 0; k < 300; k++) {
        snprintf(id, sizeof id, "Qk%04u", k * 5);
        CHECK(kbx_writer_delete(wb, id) == KBX_OK && kbx_writer_delete(wx, id) == KBX_OK);
        c.docs[k * 5].deleted = 1;
    }
    for (unsigned k = 0; k < 300; k++) {
        snprintf(id, sizeof id, "Qknew%04u", k);
        tdoc *d = new_doc(&c, id);
        sprintf(t + 240, "%05u", k * 3 + 1);
        t[239] = 'j';
        add_term(d, t, 245, 2);
        add_term_s(d, "short", 1);
        doc_finish(d);
        CHECK(xapian_put(wb, &c, c.n - 1) == KBX_OK && xapian_put(wx, &c, c.n - 1) == KBX_OK);
    }
    CHECK(kbx_writer_commit(wb) == KBX_OK && kbx_writer_commit(wx) == KBX_OK);
    kbx_writer_close(wb);
    kbx_writer_close(wx);
    compare_builds(bulk, xap, &c, 50, NULL, 0, 0, 0);
    remove_dir(bulk);
    remove_dir(xap);
    corpus_free(&c);
}

/* A term's collection frequency (sum of its wdfs) beyond 32 bits: Xapian reads it into a 32-bit
 * count, so the builder must either refuse the build or write something Xapian reads. */
TEST(a_collection_frequency_beyond_32_bits_is_refused_or_read_back)
{
    char dir[128];
    path_of(dir, sizeof dir, "collfreq");
    corpus c = {0};
    for (int k = 0; k < 3; k++) {
        char id[16];
        snprintf(id, sizeof id, "Qc%d", k);
        tdoc *d = new_doc(&c, id);
        add_term_s(d, "huge", 3000000000u);
        add_term_s(d, "small", 1);
        doc_finish(d);
    }
    kb_glass_builder *b = kb_glass_builder_open(dir);
    int rc = kb_glass_builder_status(b);
    for (size_t i = 0; i < c.n && rc == KB_GLASS_OK; i++) {
        kb_glass_doc g;
        to_glass(&c.docs[i], &g);
        rc = kb_glass_builder_add(b, &g);
    }
    if (rc == KB_GLASS_OK) rc = kb_glass_builder_commit(b);
    const char *msg = kb_glass_builder_errmsg(b);
    if (rc != KB_GLASS_OK && !msg[0]) {
        printf("  refused without a message\n");
        check_current_failed = 1;
    }
    kb_glass_builder_close(b);
    if (rc == KB_GLASS_OK) {
        kbx_reader *r = kbx_reader_open(dir);
        CHECK(kbx_reader_status(r) == KBX_OK);
        uint32_t tf = kbx_reader_termfreq(r, "huge");
        if (tf != 3) {
            printf("  termfreq of 'huge' is %u (%s)\n", tf, kbx_reader_errmsg(r));
            check_current_failed = 1;
        }
        kbx_query_term qt = {"huge", 1.0};
        kbx_query q = {.terms = &qt, .n_terms = 1, .limit = 10};
        kbx_results res;
        int src = kbx_reader_search(r, &q, &res);
        if (src != KBX_OK) {
            printf("  search for 'huge': %s\n", kbx_reader_errmsg(r));
            check_current_failed = 1;
        } else {
            CHECK(res.n_hits == 3);
            kbx_results_free(&res);
        }
        kbx_reader_close(r);
        CHECK(xapian_check(dir) == 0);
    } else {
        CHECK(!file_exists(dir, "iamglass"));
    }
    remove_dir(dir);
    corpus_free(&c);
}

/* ---------------------------------------------------------------- the coupling to Xapian 1.4 */

TEST(only_xapian_1_4_gets_bulk_builds)
{
    CHECK(kb_glass_fits_xapian(1, 4));
    CHECK(!kb_glass_fits_xapian(1, 5));
    CHECK(!kb_glass_fits_xapian(1, 3));
    CHECK(!kb_glass_fits_xapian(2, 0));
    CHECK(!kb_glass_fits_xapian(2, 4));
    CHECK(!kb_glass_fits_xapian(0, 4));
    CHECK(!kb_glass_fits_xapian(-1, -1)); /* an unreadable version */
    CHECK(!strncmp(KB_GLASS_CHECKED_XAPIAN, "1.4.", 4));
    /* The libxapian these tests run with is one the builder writes for: otherwise every
     * comparison with Xapian's writer here would compare with another format's writer. */
    int major = 0, minor = 0;
    const char *version = kbx_library_version(&major, &minor);
    printf("  (libxapian %s; the builder was checked against %s)\n", version,
           KB_GLASS_CHECKED_XAPIAN);
    CHECK(kb_glass_fits_xapian(major, minor));
    CHECK(version && !strncmp(version, "1.4.", 4));
}

/* Compile kb/index/glass/glass_version.c (from the repository's root, where the tests run)
 * with the Xapian headers in include_dir (none: the system's) and extra flags; 0 when it
 * compiles. Its compiler output goes to log. */
static int compile_glass_version(const char *include_dir, const char *flags, const char *log)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "${CC:-cc} -std=c11 -Wall -Wextra -Werror -fsyntax-only %s%s%s -Iinclude -Ikb %s "
             "kb/index/glass/glass_version.c > '%s' 2>&1",
             include_dir ? "-I'" : "", include_dir ? include_dir : "", include_dir ? "'" : "",
             flags, log);
    return system(cmd) == 0 ? 0 : -1;
}

static int file_contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

TEST(other_xapian_headers_stop_the_build_with_what_to_do)
{
    if (access("kb/index/glass/glass_version.c", R_OK) != 0) {
        printf("  kb/index/glass/glass_version.c not found: run the tests from the repository root\n");
        check_current_failed = 1;
        return;
    }
    /* Headers that say Xapian 1.5.0, in a folder searched before the system's. */
    char fake[300], header[400], log[400];
    path_of(fake, sizeof fake, "xapian-1.5");
    snprintf(header, sizeof header, "%s/xapian", fake);
    CHECK(mkdir(fake, 0777) == 0 && mkdir(header, 0777) == 0);
    snprintf(header, sizeof header, "%s/xapian/version.h", fake);
    FILE *f = fopen(header, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "#define XAPIAN_VERSION \"1.5.0\"\n#define XAPIAN_MAJOR_VERSION 1\n"
               "#define XAPIAN_MINOR_VERSION 5\n#define XAPIAN_REVISION 0\n");
    fclose(f);
    snprintf(log, sizeof log, "%s/cc.log", fake);

    CHECK(compile_glass_version(NULL, "", log) == 0); /* the system's 1.4 headers */
    CHECK(compile_glass_version(fake, "", log) != 0);
    CHECK(file_contains(log, "checked against Xapian 1.4.22"));
    CHECK(file_contains(log, "these headers are Xapian 1.5.0"));
    CHECK(file_contains(log, "make XAPIAN_UNCHECKED=1"));
    if (check_current_failed) {
        printf("  the compiler said:\n");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "sed 's/^/    /' '%s' | head -n 20", log);
        if (system(cmd) != 0) printf("    (could not show %s)\n", log);
    }
    /* XAPIAN_UNCHECKED=1 (the Makefile's -DKB_GLASS_UNCHECKED_XAPIAN) builds anyway. */
    CHECK(compile_glass_version(fake, "-DKB_GLASS_UNCHECKED_XAPIAN", log) == 0);
    remove_dir(fake);
}

/* Run only the tests named on the command line (all without arguments). */
static int n_only;
static char **only;

static int wanted(const char *name)
{
    if (!n_only) return 1;
    for (int i = 0; i < n_only; i++)
        if (!strcmp(only[i], name)) return 1;
    return 0;
}

#define RUN_WANTED(name)              \
    do {                              \
        if (wanted(#name)) RUN(name); \
    } while (0)

int main(int argc, char **argv)
{
    n_only = argc - 1;
    only = argv + 1;
    if (getenv("KB_SANITIZED") && !strcmp(getenv("KB_SANITIZED"), "1")) a_docs = 1500;
    snprintf(base_dir, sizeof base_dir, "/tmp/kb-test-glass-%d", (int)getpid());
    remove_dir(base_dir);
    if (mkdir(base_dir, 0777) != 0) {
        perror(base_dir);
        return 2;
    }
    have_check = access("/usr/bin/xapian-check", X_OK) == 0;
    have_delve = system("command -v xapian-delve > /dev/null 2>&1") == 0;
    allow_missing_tools = getenv("KB_ALLOW_MISSING_XAPIAN_TOOLS") &&
                          !strcmp(getenv("KB_ALLOW_MISSING_XAPIAN_TOOLS"), "1");
    if (!have_check || !have_delve)
        printf("note: %s missing (Debian package xapian-tools): the tests that need %s %s\n",
               !have_check && !have_delve ? "xapian-check and xapian-delve are"
               : !have_check              ? "xapian-check is"
                                          : "xapian-delve is",
               !have_check && !have_delve ? "them" : "it",
               allow_missing_tools ? "skip those parts (KB_ALLOW_MISSING_XAPIAN_TOOLS=1)" : "fail");
    fflush(stdout);
    RUN_WANTED(only_xapian_1_4_gets_bulk_builds);
    RUN_WANTED(other_xapian_headers_stop_the_build_with_what_to_do);
    RUN_WANTED(many_documents_equal_xapians_writer);
    RUN_WANTED(many_runs_merge_to_the_same_database);
    RUN_WANTED(term_edge_cases_equal_xapians_writer);
    RUN_WANTED(terms_with_nul_bytes_equal_xapians_writer);
    RUN_WANTED(data_values_and_documents_without_terms_equal_xapians_writer);
    RUN_WANTED(a_build_with_no_documents_is_a_valid_empty_database);
    RUN_WANTED(refused_documents_publish_nothing);
    RUN_WANTED(an_existing_database_is_refused_and_left_intact);
    RUN_WANTED(only_one_writer_at_a_time_holds_a_directory);
    RUN_WANTED(xapian_updates_a_bulk_built_database);
    RUN_WANTED(docids_past_32767_equal_xapians_writer);
    RUN_WANTED(a_deep_btree_of_long_keys_equals_xapians_and_takes_its_updates);
    RUN_WANTED(a_collection_frequency_beyond_32_bits_is_refused_or_read_back);
    corpus_free(&corpus_a);
    if (getenv("KB_TEST_KEEP")) printf("kept %s\n", base_dir);
    remove_dir(base_dir);
    CHECK_MAIN_END();
}
