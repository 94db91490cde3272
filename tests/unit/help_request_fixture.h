/*
 * help_request_fixture.h — a help request written straight into a store, as the service would
 * have classified and stored it: the starting rows of the leads' reviews (test_review) and of
 * coaching and study lists (test_coaching), on SQLite and PostgreSQL alike (kb/db).
 */
#ifndef KB_TEST_HELP_REQUEST_FIXTURE_H
#define KB_TEST_HELP_REQUEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "db/db.h"

/* A help request of agent at time t (Unix ms) with the question 问题 and confidence 0.5:
 * answerable or not, its answering document (or NULL), and the v6 snapshot of that document
 * (must-know for the agent's team, its title or NULL). Returns its id, or -1 after saying why. */
static int64_t insert_help_request(kb_db *db, const char *agent, int64_t t, int answerable,
                                   const char *doc, int must_know, const char *title)
{
    kb_db_stmt *s;
    int64_t id = -1;
    if (kb_db_prepare(db,
                      "INSERT INTO help_requests (time_ms, agent, filed_by, question, "
                      "kb_answerable, doc_id, confidence, must_know, doc_title) "
                      "VALUES (?1, ?2, 'desk', '问题', ?3, ?4, 0.5, ?5, ?6) RETURNING id",
                      &s) != KB_DB_OK) {
        printf("  insert: %s\n", kb_db_errmsg(db));
        return -1;
    }
    kb_db_bind_int64(s, 1, t);
    kb_db_bind_text(s, 2, agent);
    kb_db_bind_int64(s, 3, answerable);
    kb_db_bind_text(s, 4, doc);
    kb_db_bind_int64(s, 5, must_know);
    kb_db_bind_text(s, 6, title);
    if (kb_db_step(s) == KB_DB_ROW) id = kb_db_column_int64(s, 0);
    else printf("  insert: %s\n", kb_db_errmsg(db));
    kb_db_finalize(s);
    return id;
}

#endif
