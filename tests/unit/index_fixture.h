/*
 * index_fixture.h — documents built in memory, indexed into index_dir, and searched, for the
 * unit tests of the index and the search (test_index_search.c, test_learned.c,
 * test_confidence.c). Each test program defines `static char index_dir[256];` before including
 * it, and uses what it needs (hence the unused attributes).
 */
#ifndef KB_TEST_INDEX_FIXTURE_H
#define KB_TEST_INDEX_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "kb/index.h"
#include "kb/search.h"

/* A one-section document built in memory. */
typedef struct {
    kb_document doc;
    kb_section section;
    kb_block blocks[4];
    char *categories[2];
    char *questions[2];
} test_doc;

__attribute__((unused)) static void make_doc(test_doc *t, const char *id, const char *title, const char *body,
                     const char *category, const char *question)
{
    memset(t, 0, sizeof *t);
    t->doc.id = (char *)id;
    t->doc.lang = "";
    t->doc.title = (char *)title;
    t->doc.keywords = "";
    t->blocks[0].kind = KB_BLOCK_PARAGRAPH;
    t->blocks[0].text = (char *)body;
    t->blocks[0].line = 3;
    t->section.id = "main";
    t->section.title = "说明";
    t->section.blocks = t->blocks;
    t->section.n_blocks = 1;
    t->doc.sections = &t->section;
    t->doc.n_sections = 1;
    if (category) {
        t->categories[0] = (char *)category;
        t->doc.categories = t->categories;
        t->doc.n_categories = 1;
    }
    if (question) {
        t->questions[0] = (char *)question;
        t->doc.questions = t->questions;
        t->doc.n_questions = 1;
    }
    t->doc.source = "test.xml";
    t->doc.line = 1;
}

__attribute__((unused)) static int index_docs(kb_index_mode mode, test_doc *docs, size_t n)
{
    kb_index_writer *w = kb_index_writer_open(index_dir, mode);
    if (!w || kb_index_writer_status(w) != KB_OK) {
        printf("  open: %s\n", w ? kb_index_writer_errmsg(w) : "oom");
        kb_index_writer_close(w);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (kb_index_writer_add(w, &docs[i].doc) != KB_OK) printf("  add: %s\n", kb_index_writer_errmsg(w));
    int rc = kb_index_writer_commit(w);
    kb_index_writer_close(w);
    return rc == KB_OK ? 0 : -1;
}

/* 1 when any hit of the query has this id. */
__attribute__((unused)) static int returns(kb_searcher *s, const char *q, const char *id, int include_expired, const char *today)
{
    kb_search_request req = {.text = q, .limit = 50, .include_expired = include_expired, .today = today};
    kb_search_result res;
    int found = 0;
    if (kb_search(s, &req, &res) != KB_OK) return -1;
    for (size_t i = 0; i < res.n_hits; i++) found |= strcmp(res.hits[i].id, id) == 0;
    kb_search_result_free(&res);
    return found;
}

/* The id of the first hit for a query, or "" (static buffer). */
__attribute__((unused)) static const char *top(kb_searcher *s, const char *q, int include_expired, const char *today)
{
    static char id[256];
    kb_search_request req = {.text = q, .limit = 5, .include_expired = include_expired, .today = today};
    kb_search_result res;
    id[0] = 0;
    if (kb_search(s, &req, &res) != KB_OK) return "(error)";
    if (res.n_hits) snprintf(id, sizeof id, "%s", res.hits[0].id);
    kb_search_result_free(&res);
    return id;
}

#endif
