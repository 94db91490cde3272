/*
 * fuzz_query.c — libFuzzer harness for the query path end to end: kb_search (kb/search/search.c,
 * kb/search/query.c, kb/analysis/synonyms.c, Xapian through kb/xapian/xapian_wrap.cc) and snippets (kb/search/snippet.c), plus
 * kb_searcher_get_document, over a small index built once at start-up from docs/sample-kb
 * (fuzz_sample_index.h).
 *
 * Input framing (so one input drives text, paging and filters together):
 *   byte 0   limit (0..255: 0 means the default, above 100 is capped)
 *   byte 1   offset (0..255)
 *   byte 2   bit 0 include_expired; bits 1-2 pick `today` (local date, 2026-06-01, 1970-01-01,
 *            2099-12-31); bit 3 also fetch the document whose id is the query text
 *   rest     the question, then up to 8 category filters, separated by byte 0x01
 * Invariants (kb/search.h): the search succeeds; hits <= the effective limit; confidence is a
 * number in [0,1]; no hit at all (top_id NULL) means unresolved; every hit has a valid id, a
 * valid UTF-8 title and an HTML-safe snippet (valid UTF-8, the only tags <mark> and </mark>, no
 * raw & " '); with category filters every hit lies in one of the categories; the document JSON,
 * when found, parses and has that id.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_sample_index.h"
#include "kb/analyzer.h"
#include "kb/search.h"

static kb_searcher *searcher;
static kb_analyzer *analyzer; /* to fold category filters the way kb_search does */

static void close_searcher(void) {
    kb_searcher_close(searcher);
    searcher = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512];
    const char *index_dir = fuzz_build_sample_index();
    searcher = kb_searcher_open(index_dir, err, sizeof err);
    analyzer = kb_analyzer_new(err, sizeof err);
    if (!searcher || !analyzer) {
        fprintf(stderr, "fuzz_query: %s\n", err);
        exit(1);
    }
    if (kb_searcher_doccount(searcher) == 0) {
        fprintf(stderr, "fuzz_query: the sample index is empty\n");
        exit(1);
    }
    atexit(close_searcher); /* runs before the index folder is removed */
    return 0;
}

/* 1 when the folded category `cat` is the folded filter or lies below it. */
static int in_category(const char *cat, const char *filter) {
    size_t fl = strlen(filter);
    while (fl > 0 && filter[fl - 1] == '/') fl--;
    char *f = kb_analyzer_fold(analyzer, filter, fl);
    char *c = kb_analyzer_fold(analyzer, cat, strlen(cat));
    FUZZ_REQUIRE(f && c, "fold failed");
    size_t n = strlen(f);
    int in = strncmp(c, f, n) == 0 && (c[n] == '\0' || c[n] == '/');
    free(f);
    free(c);
    return in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    static const char *const todays[] = {NULL, "2026-06-01", "1970-01-01", "2099-12-31"};
    kb_search_request req = {0};
    req.limit = data[0];
    req.offset = data[1];
    req.include_expired = data[2] & 1;
    req.today = todays[(data[2] >> 1) & 3];
    int fetch_document = data[2] & 8;

    /* Split the rest at 0x01 into NUL-terminated pieces (kb_search takes C strings). */
    char *rest = malloc(size - 3 + 1);
    FUZZ_REQUIRE(rest != NULL, "out of memory");
    memcpy(rest, data + 3, size - 3);
    rest[size - 3] = '\0';
    const char *pieces[9];
    size_t n_pieces = 0;
    pieces[n_pieces++] = rest;
    for (char *p = rest; p < rest + (size - 3) && n_pieces < 9; p++)
        if (*p == '\x01') {
            *p = '\0';
            pieces[n_pieces++] = p + 1;
        }
    req.text = pieces[0];
    req.categories = n_pieces > 1 ? pieces + 1 : NULL;
    req.n_categories = n_pieces - 1;

    kb_search_result res;
    int rc = kb_search(searcher, &req, &res);
    FUZZ_REQUIRE(rc == KB_OK, "kb_search returned %d: %s", rc, kb_searcher_errmsg(searcher));
    uint32_t limit = req.limit == 0 ? 10 : req.limit > KB_SEARCH_MAX_LIMIT ? KB_SEARCH_MAX_LIMIT : req.limit;
    FUZZ_REQUIRE(res.n_hits <= limit, "%zu hits for limit %u", res.n_hits, (unsigned)limit);
    FUZZ_REQUIRE(isfinite(res.confidence) && res.confidence >= 0 && res.confidence <= 1,
                 "confidence %g", res.confidence);
    FUZZ_REQUIRE(res.unresolved == 0 || res.unresolved == 1, "unresolved %d", res.unresolved);
    if (!res.top_id) FUZZ_REQUIRE(res.unresolved, "no hit, yet resolved");
    FUZZ_REQUIRE(res.total_estimated >= res.n_hits || req.offset > 0,
                 "%u estimated, %zu returned", (unsigned)res.total_estimated, res.n_hits);
    for (size_t i = 0; i < res.n_hits; i++) {
        const kb_hit *h = &res.hits[i];
        const char *why = "";
        FUZZ_REQUIRE(h->id && *h->id && fuzz_utf8_valid_str(h->id), "hit %zu has a bad id", i);
        FUZZ_REQUIRE(fuzz_utf8_valid_str(h->title), "hit %s: title is not valid UTF-8", h->id);
        FUZZ_REQUIRE(isfinite(h->score), "hit %s: score %g", h->id, h->score);
        FUZZ_REQUIRE(h->snippet && fuzz_utf8_valid_str(h->snippet),
                     "hit %s: snippet is not valid UTF-8", h->id);
        FUZZ_REQUIRE(fuzz_html_safe(h->snippet, &why), "hit %s: snippet not HTML-safe (%s): %s",
                     h->id, why, h->snippet);
        FUZZ_REQUIRE(h->section_id && h->section_title, "hit %s: no section", h->id);
        FUZZ_REQUIRE(h->expired == 0 || req.include_expired, "hit %s expired", h->id);
        if (req.n_categories > 0) {
            int in = 0;
            for (size_t c = 0; c < h->n_categories && !in; c++)
                for (size_t f = 0; f < req.n_categories && !in; f++)
                    in = in_category(h->categories[c], req.categories[f]);
            FUZZ_REQUIRE(in, "hit %s is in none of the %zu categories asked for", h->id,
                         req.n_categories);
        }
    }
    /* A page is a slice of the deeper ranking: the same question asked from the first hit
     * returns the same documents at the same places (the top-k is exact, ties in docid order). */
    if (req.offset + limit <= KB_SEARCH_MAX_LIMIT && res.n_hits > 0) {
        kb_search_request deep = req;
        deep.offset = 0;
        deep.limit = req.offset + limit;
        kb_search_result all;
        rc = kb_search(searcher, &deep, &all);
        FUZZ_REQUIRE(rc == KB_OK, "deeper kb_search returned %d", rc);
        FUZZ_REQUIRE(all.n_hits >= req.offset + res.n_hits, "%zu hits from the first, %zu at offset %u",
                     all.n_hits, res.n_hits, (unsigned)req.offset);
        for (size_t i = 0; i < res.n_hits; i++)
            FUZZ_REQUIRE(strcmp(all.hits[req.offset + i].id, res.hits[i].id) == 0,
                         "hit %zu at offset %u is %s, the deeper ranking has %s there", i,
                         (unsigned)req.offset, res.hits[i].id, all.hits[req.offset + i].id);
        kb_search_result_free(&all);
    }
    kb_search_result_free(&res);

    if (fetch_document) {
        kb_document *doc = NULL;
        rc = kb_searcher_get_document(searcher, req.text, &doc);
        FUZZ_REQUIRE(rc == KB_OK || rc == KB_NOT_FOUND, "get_document returned %d", rc);
        if (rc == KB_OK)
            FUZZ_REQUIRE(doc && strcmp(doc->id, req.text) == 0,
                         "asked for '%s', got another document", req.text);
        kb_searcher_document_free(doc);
    }
    free(rest);
    return 0;
}
