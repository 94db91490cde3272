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

/* Is typed term i of q, or one of its synonyms, in the folded text? */
static int holds_term(const kb_query *q, size_t i, const char *folded)
{
    if (strstr(folded, q->terms[i].text)) return 1;
    for (size_t j = 0; j < q->n_terms; j++)
        if (q->terms[j].expansion && q->terms[j].origin && strcmp(q->terms[j].origin, q->terms[i].text) == 0 &&
            strstr(folded, q->terms[j].text))
            return 1;
    return 0;
}

/* title_share and title_cover of a folded title. */
static void title_facts(const kb_query *q, uint64_t matched, const char *folded, kb_structure_facts *f)
{
    double total = 0, in_title = 0, cover = 0;
    size_t n = q->n_terms < 64 ? q->n_terms : 64;
    for (size_t i = 0; i < n; i++) {
        const kb_query_term *t = &q->terms[i];
        if (!says_what(t)) continue;
        double mass = t->weight * t->idf;
        if (matched >> i & 1) {
            total += mass;
            if (strstr(folded, t->text)) in_title += mass;
        }
        /* The cover is of the question as typed; a synonym stands in for its typed term. */
        if (!t->expansion && holds_term(q, i, folded)) cover += mass;
    }
    f->title_share = total > 0 ? in_title / total : 0;
    f->title_cover = q->info_mass > 0 ? cover / q->info_mass : 0;
    if (f->title_cover > 1) f->title_cover = 1;
}

static int asked_verbatim(kb_analyzer *a, const kb_document *doc, const char *compact_question)
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

/* The share of the document's text (title and body, in bytes) that is body, not counting
 * blocks that only repeat the title. */
static double answer_share(const kb_document *doc)
{
    size_t body = 0, title = strlen(doc->title);
    for (size_t i = 0; i < doc->n_sections; i++)
        for (size_t j = 0; j < doc->sections[i].n_blocks; j++) {
            const char *text = doc->sections[i].blocks[j].text;
            if (strcmp(text, doc->title) != 0) body += strlen(text);
        }
    return body > 0 ? (double)body / (double)(body + title) : 0;
}

kb_structure_facts kb_structure_read(kb_analyzer *a, const kb_document *doc, const kb_query *q,
                                     uint64_t matched, const char *compact_question)
{
    kb_structure_facts f = {0, 0, answer_share(doc), 0};
    f.verbatim = asked_verbatim(a, doc, compact_question);
    if (f.verbatim) {
        f.title_share = f.title_cover = 1;
        return f;
    }
    char *folded = folded_title(a, doc);
    if (folded) title_facts(q, matched, folded, &f);
    free(folded);
    return f;
}

double kb_structure_boost(double title_coverage, double passage_coverage)
{
    return 1.0 + KB_STRUCTURE_TITLE_WEIGHT * title_coverage +
           KB_STRUCTURE_PASSAGE_WEIGHT * passage_coverage;
}
