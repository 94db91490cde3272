/*
 * fuzz_analyzer.c — libFuzzer harness for the analyzer (kb/analysis/analyzer.c: NFKC + case folding,
 * OpenCC t2s, ICU word breaks, bigrams, Latin words and codes).
 *
 * The input is any bytes, invalid UTF-8 included, analyzed the way documents and questions are
 * (kb_analyze, which both sides share), then folded (kb_analyzer_fold) and folded code point by
 * code point (kb_analyzer_fold_codepoint, what snippets use). Invariants (kb/analyzer.h):
 *   - kb_analyze succeeds and appends terms to what the list held (it is not cleared);
 *   - every term is non-empty valid UTF-8 of the length stored, never starting with an ASCII
 *     capital (those are the index's field prefixes), of a known kind;
 *   - the number of terms is bounded by the input: a few per character at most;
 *   - the folded text is valid UTF-8 and folding it again is valid UTF-8 too. Folding is not
 *     required to be idempotent: OpenCC's phrase table turns "怎么麼" into "怎幺麽" and that
 *     into "怎幺么" (found by this harness). The index and the queries each fold the text as
 *     written exactly once, so they still agree;
 *   - a folded code point is a Unicode scalar value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "kb/analyzer.h"

static kb_analyzer *analyzer;
static kb_term_list terms; /* reused across inputs, as the indexer and searcher do */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[256];
    analyzer = kb_analyzer_new(err, sizeof err);
    if (!analyzer) {
        fprintf(stderr, "fuzz_analyzer: kb_analyzer_new: %s\n", err);
        exit(1);
    }
    kb_term_list_init(&terms);
    return 0;
}

/* Decode one code point leniently (bad bytes give U+FFFD), for kb_analyzer_fold_codepoint. */
static uint32_t next_cp(const uint8_t *s, size_t n, size_t *i) {
    uint8_t c = s[*i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || *i + len > n) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; k++) cp = cp << 6 | (s[*i + k] & 0x3F);
    *i += len;
    return cp;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;

    /* A term left from the previous input stays first: kb_analyze appends. */
    kb_term_list_clear(&terms);
    FUZZ_REQUIRE(kb_term_list_push(&terms, "sentinel", 8, KB_TERM_LATIN, 0) == 0, "push failed");
    FUZZ_REQUIRE(kb_analyze(analyzer, text, size, &terms) == 0, "kb_analyze failed");
    FUZZ_REQUIRE(terms.count >= 1 && strcmp(terms.terms[0].text, "sentinel") == 0,
                 "kb_analyze dropped what the list held");
    /* Bound: a Han character gives at most a unigram, two bigrams and its share of words; a
     * Latin/digit run gives its parts and joined forms. 8 per input byte is far above that. */
    FUZZ_REQUIRE(terms.count - 1 <= 8 * size + 8, "%zu terms from %zu bytes", terms.count - 1,
                 size);
    for (size_t i = 1; i < terms.count; i++) {
        const kb_term *t = &terms.terms[i];
        FUZZ_REQUIRE(t->text != NULL, "term %zu has no text", i);
        size_t n = strlen(t->text);
        FUZZ_REQUIRE(n > 0, "term %zu is empty", i);
        FUZZ_REQUIRE(fuzz_utf8_valid(t->text, n), "term %zu is not valid UTF-8", i);
        FUZZ_REQUIRE(!(t->text[0] >= 'A' && t->text[0] <= 'Z'), "term '%s' starts with a capital",
                     t->text);
        FUZZ_REQUIRE(t->kind <= KB_TERM_CODE, "term '%s' has kind %d", t->text, (int)t->kind);
    }

    char *folded = kb_analyzer_fold(analyzer, text, size);
    FUZZ_REQUIRE(folded != NULL, "kb_analyzer_fold failed");
    size_t fn = strlen(folded);
    FUZZ_REQUIRE(fuzz_utf8_valid(folded, fn), "folded text is not valid UTF-8");
    char *again = kb_analyzer_fold(analyzer, folded, fn);
    FUZZ_REQUIRE(again != NULL, "kb_analyzer_fold failed");
    FUZZ_REQUIRE(fuzz_utf8_valid_str(again), "folding the folded text gave invalid UTF-8");
    free(again);
    free(folded);

    for (size_t i = 0; i < size && i < 256;) {
        uint32_t cp = next_cp(data, size, &i);
        uint32_t f = kb_analyzer_fold_codepoint(cp);
        if (cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF))
            FUZZ_REQUIRE(f <= 0x10FFFF && !(f >= 0xD800 && f <= 0xDFFF),
                         "U+%04X folds to U+%04X", (unsigned)cp, (unsigned)f);
    }
    return 0;
}
