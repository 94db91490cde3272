/*
 * kb-words — print the words of each question as our analyzer segments them; for benchmarks.
 *
 *   kb-words < questions.txt > words.txt
 *
 * Input: one question per line. Output: one line per input line (empty when the question has
 * no terms), the question's dictionary words (KB_TERM_WORD), Latin words (KB_TERM_LATIN) and
 * numbers (KB_TERM_NUMBER) from kb_analyze, in order, each once, separated by single spaces.
 * A question without any of those (e.g. a run of one-character segments) gets its character
 * bigrams (KB_TERM_BIGRAM) instead, so every question with Han text has some words.
 *
 * bench/run.sh uses it to build the comparison queries for Groonga ("the question's words
 * joined with OR"), so both engines are asked about the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/analyzer.h"

/* Print the terms of the kinds accepted by want(), each once; returns how many were printed. */
static size_t print_terms(const kb_term_list *l, int (*want)(kb_term_kind))
{
    size_t printed = 0;
    for (size_t i = 0; i < l->count; i++) {
        const kb_term *t = &l->terms[i];
        if (!want(t->kind)) continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = want(l->terms[j].kind) && strcmp(l->terms[j].text, t->text) == 0;
        if (seen) continue;
        printf("%s%s", printed ? " " : "", t->text);
        printed++;
    }
    return printed;
}

static int is_word(kb_term_kind k)
{
    return k == KB_TERM_WORD || k == KB_TERM_LATIN || k == KB_TERM_NUMBER;
}

static int is_bigram(kb_term_kind k)
{
    return k == KB_TERM_BIGRAM;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: kb-words < questions > words\n");
        return 2;
    }
    char err[512];
    kb_analyzer *a = kb_analyzer_new(err, sizeof err);
    if (!a) {
        fprintf(stderr, "kb-words: %s\n", err);
        return 1;
    }
    kb_term_list terms;
    kb_term_list_init(&terms);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        kb_term_list_clear(&terms);
        if (kb_analyze(a, line, (size_t)n, &terms) != 0) {
            fprintf(stderr, "kb-words: out of memory\n");
            status = 1;
            break;
        }
        if (print_terms(&terms, is_word) == 0) print_terms(&terms, is_bigram);
        putchar('\n');
    }
    free(line);
    kb_term_list_free(&terms);
    kb_analyzer_free(a);
    if (fflush(stdout) != 0) status = 1;
    return status;
}
