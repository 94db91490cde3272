/*
 * study.c — an agent's study list and "studied" marks (see kb/coaching.h, docs/COACHING.md).
 *
 * The list is computed, not stored: the agent's help requests whose effective verdict says the
 * knowledge base answered them (help_requests_agent_time reads one agent's rows), grouped by the
 * answering document in memory, with the agent's marks from study_marks. So a lead's review that
 * changes a verdict or a document changes the list at once, and a document removed from the
 * index stays on it by id and the title snapshot.
 */
#include "kb/coaching.h"

#include <stdlib.h>
#include <string.h>

#include "coaching/coaching_internal.h"

void kb_study_list_free(kb_study_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].doc_id);
        free(l->items[i].title);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* The item for doc in l, appended when new; NULL when out of memory. A linear search: an
 * agent's list holds tens of documents, not thousands. */
static kb_study_item *item_for(kb_study_list *l, size_t *cap, const char *doc)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].doc_id, doc)) return &l->items[i];
    if (l->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        kb_study_item *v = realloc(l->items, c * sizeof *v);
        if (!v) return NULL;
        l->items = v;
        *cap = c;
    }
    kb_study_item *it = &l->items[l->n];
    memset(it, 0, sizeof *it);
    if (!(it->doc_id = strdup(doc))) return NULL;
    l->n++;
    return it;
}

/* Must-know first, then the most recently asked, then by id (a stable order for equal times). */
static int cmp_items(const void *a, const void *b)
{
    const kb_study_item *x = a, *y = b;
    if (x->must_know != y->must_know) return y->must_know - x->must_know;
    if (x->last_ms != y->last_ms) return y->last_ms > x->last_ms ? 1 : -1;
    return strcmp(x->doc_id, y->doc_id);
}

/* The agent's marks: doc_id and time, into parallel arrays. 0, or -1 when out of memory (then
 * *n holds how many to free). */
typedef struct {
    char **doc;
    int64_t *ms;
    size_t n;
} marks;

static void marks_free(marks *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->doc[i]);
    free(m->doc);
    free(m->ms);
}

static int read_marks(kb_coaching *c, const char *who, marks *m)
{
    kb_db_stmt *s;
    if (kb_db_prepare(c->conn.kdb, "SELECT doc_id, time_ms FROM study_marks WHERE agent = ?1", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot read the study marks");
    kb_db_bind_text(s, 1, who);
    size_t cap = 0;
    int step, oom = 0;
    while ((step = kb_db_step(s)) == KB_DB_ROW) {
        if (m->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **d = realloc(m->doc, cap * sizeof *d);
            if (d) m->doc = d;
            int64_t *t = d ? realloc(m->ms, cap * sizeof *t) : NULL;
            if (t) m->ms = t;
            if (!d || !t) {
                oom = 1;
                break;
            }
        }
        if (kb_db_column_dup(s, 0, &m->doc[m->n]) != 0 || !m->doc[m->n]) {
            oom = 1;
            break;
        }
        m->ms[m->n++] = kb_db_column_int64(s, 1);
    }
    kb_db_finalize(s);
    if (oom) return kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    if (step != KB_DB_DONE) return kb_store_conn_sql_fail(&c->conn, "cannot read the study marks");
    return KB_OK;
}

int kb_coaching_study_list(kb_coaching *c, const char *agent, kb_study_list *out)
{
    c->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    if (!agent || !*agent) return kb_store_conn_fail(&c->conn, KB_INVALID, "agent is required");
    int oom = 0;
    char *who = kb_coaching_redacted(agent, &oom); /* stored ids are redacted: match them so */
    if (oom) return kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    marks m = {0};
    kb_db_stmt *s = NULL;
    int rc = read_marks(c, who, &m), step = KB_DB_DONE;
    size_t cap = 0;
    if (rc != KB_OK) goto done;
    /* Oldest first, so the last title seen is the latest snapshot. */
    if (kb_db_prepare(c->conn.kdb, "SELECT " COACHING_DOC_SQL ", h.time_ms, h.must_know, h.doc_title "
                           "FROM help_requests h WHERE h.agent = ?1 AND " COACHING_ANSWERABLE_SQL
                           " = 1 ORDER BY h.time_ms, h.id", &s) != KB_DB_OK) {
        rc = kb_store_conn_sql_fail(&c->conn, "cannot read the study list");
        goto done;
    }
    kb_db_bind_text(s, 1, who);
    while ((step = kb_db_step(s)) == KB_DB_ROW) {
        const char *doc = kb_db_column_text(s, 0);
        if (!doc) continue; /* answerable without a document: nothing to study */
        kb_study_item *it = item_for(out, &cap, doc);
        if (!it) break;
        int64_t t = kb_db_column_int64(s, 1);
        int mk = (int)kb_db_column_int64(s, 2) != 0;
        if (!it->count) {
            it->first_ms = t;
            for (size_t k = 0; k < m.n; k++)
                if (!strcmp(m.doc[k], doc)) it->studied = 1, it->studied_ms = m.ms[k];
        }
        it->last_ms = t;
        it->count++;
        it->must_know_count += mk;
        it->must_know |= mk;
        /* Asked again after marking it studied: the study did not stick. */
        it->asked_since_studied += it->studied && t > it->studied_ms;
        if (!kb_db_column_is_null(s, 3)) {
            free(it->title);
            if (kb_db_column_dup(s, 3, &it->title) != 0) break;
        }
    }
    if (step == KB_DB_ROW) rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    else if (step != KB_DB_DONE) rc = kb_store_conn_sql_fail(&c->conn, "cannot read the study list");
    else if (out->n) qsort(out->items, out->n, sizeof *out->items, cmp_items);
done:
    kb_db_finalize(s);
    marks_free(&m);
    free(who);
    if (rc != KB_OK) kb_study_list_free(out);
    return rc;
}

int kb_coaching_mark_studied(kb_coaching *c, const char *agent, const char *doc_id,
                             int64_t now_ms, int64_t *studied_ms)
{
    c->conn.code = KB_OK;
    if (studied_ms) *studied_ms = 0;
    if (c->conn.readonly) return kb_store_conn_fail(&c->conn, KB_INVALID, "the store is open read-only");
    if (!agent || !*agent || !doc_id || !*doc_id)
        return kb_store_conn_fail(&c->conn, KB_INVALID, "agent and doc_id are required");
    int oom = 0;
    char *who = kb_coaching_redacted(agent, &oom), *doc = kb_coaching_redacted(doc_id, &oom);
    kb_db_stmt *s = NULL;
    int rc = KB_ERROR;
    if (oom) {
        rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
        goto done;
    }
    if (kb_db_begin(c->conn.kdb, KB_DB_TX_WRITE) != KB_DB_OK) goto sql_fail;
    if (kb_db_prepare(c->conn.kdb, "SELECT 1 FROM help_requests h WHERE h.agent = ?1 AND "
                           COACHING_ANSWERABLE_SQL " = 1 AND " COACHING_DOC_SQL " = ?2 LIMIT 1", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_text(s, 1, who);
    kb_db_bind_text(s, 2, doc);
    int step = kb_db_step(s);
    if (step == KB_DB_DONE) {
        rc = kb_store_conn_fail(&c->conn, KB_NOT_FOUND,
                                "document %s is not on the study list of %s: only documents that "
                                "answered the agent's help requests can be marked studied",
                                doc_id, agent);
        kb_store_conn_rollback(&c->conn);
        goto done;
    }
    if (step != KB_DB_ROW) goto sql_fail;
    kb_db_finalize(s);
    s = NULL;
    /* Idempotent: the first mark's time is kept, a repeat (a double click) changes nothing. */
    if (kb_db_prepare(c->conn.kdb, "INSERT INTO study_marks (agent, doc_id, time_ms) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (agent, doc_id) DO NOTHING", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_text(s, 1, who);
    kb_db_bind_text(s, 2, doc);
    kb_db_bind_int64(s, 3, now_ms);
    if (kb_db_step(s) != KB_DB_DONE) goto sql_fail;
    kb_db_finalize(s);
    s = NULL;
    if (kb_db_prepare(c->conn.kdb, "SELECT time_ms FROM study_marks WHERE agent = ?1 AND doc_id = ?2", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_text(s, 1, who);
    kb_db_bind_text(s, 2, doc);
    if (kb_db_step(s) != KB_DB_ROW) goto sql_fail;
    if (studied_ms) *studied_ms = kb_db_column_int64(s, 0);
    kb_db_finalize(s);
    s = NULL;
    if (kb_db_commit(c->conn.kdb) != KB_DB_OK) goto sql_fail;
    rc = KB_OK;
    goto done;
sql_fail:
    rc = kb_store_conn_sql_fail(&c->conn, "cannot mark the document studied");
    kb_store_conn_rollback(&c->conn);
done:
    kb_db_finalize(s);
    free(who);
    free(doc);
    return rc;
}
