/*
 * structure.c — where in a document's structure a question matches (see search/structure.h).
 */
#include "search/structure.h"

#include <stdlib.h>
#include <string.h>

/* Weights of the two structure facts; tuned together on the shared evaluation sets, the
 * articles sets and the judged sample knowledge base (docs/SEARCH.md, "Structure in ranking"). */
#ifndef KB_STRUCTURE_TITLE_WEIGHT
#define KB_STRUCTURE_TITLE_WEIGHT 0.5
#endif
#ifndef KB_STRUCTURE_PASSAGE_WEIGHT
#define KB_STRUCTURE_PASSAGE_WEIGHT 1.0
#endif

/* The title, folded the way the question's terms are (either script matches). */
static char *folded_title(kb_analyzer *a, const kb_document *doc)
{
    return kb_analyzer_fold(a, doc->title, strlen(doc->title));
}

/* The terms that say what a question is about: words, in-word bigrams, Latin words, numbers,
 * codes. Single characters and bigrams straddling a word's edge match titles by accident as
 * often as not (停 of 停机 in 暂停). */
static int says_what(const kb_query_term *t)
{
    return !t->stop && t->kind != KB_TERM_UNIGRAM && t->kind != KB_TERM_BIGRAM_CROSS;
}

double kb_structure_title_share(kb_analyzer *a, const kb_document *doc, const kb_query *q,
                                uint64_t matched)
{
    double total = 0, in_title = 0;
    char *folded = NULL;
    size_t n = q->n_terms < 64 ? q->n_terms : 64;
    for (size_t i = 0; i < n; i++) {
        const kb_query_term *t = &q->terms[i];
        if (!(matched >> i & 1) || !says_what(t)) continue;
        if (!folded && !(folded = folded_title(a, doc))) return 0;
        double mass = t->weight * t->idf;
        total += mass;
        if (strstr(folded, t->text)) in_title += mass;
    }
    free(folded);
    return total > 0 ? in_title / total : 0;
}

int kb_structure_asked_verbatim(kb_analyzer *a, const kb_document *doc, const char *compact_question)
{
    if (!compact_question || !*compact_question) return 0;
    for (size_t i = 0; i < doc->n_questions; i++) {
        char *q = kb_analyzer_fold_compact(a, doc->questions[i], strlen(doc->questions[i]));
        int same = q && strcmp(q, compact_question) == 0;
        free(q);
        if (same) return 1;
    }
    return 0;
}

double kb_structure_boost(double title_coverage, double passage_coverage)
{
    return 1.0 + KB_STRUCTURE_TITLE_WEIGHT * title_coverage +
           KB_STRUCTURE_PASSAGE_WEIGHT * passage_coverage;
}
