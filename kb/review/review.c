/*
 * review.c — leads' reviews of help requests: confirm or override the service's verdict, list
 * the requests with their reviews (see kb/review.h, docs/GAPS.md "Review").
 *
 * A review is one row in help_request_reviews (the history, never changed) plus the latest
 * verdict copied onto the request (override_*), in one BEGIN IMMEDIATE transaction, so reports
 * read one row per request and the history stays complete.
 */
#include "kb/review.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/redact.h"
#include "events/paged_query.h"
#include "events/store_conn.h"
#include "review/review_internal.h"

kb_review *kb_review_open(const char *data_dir, int readonly, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    kb_review *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (kb_store_conn_open_any(&r->conn, data_dir, readonly, err, err_len) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void kb_review_close(kb_review *r)
{
    if (!r) return;
    kb_store_conn_close(&r->conn);
    free(r);
}

const char *kb_review_errmsg(const kb_review *r) { return r ? r->conn.err : "no store"; }
int kb_review_last_code(const kb_review *r) { return r ? r->conn.code : KB_ERROR; }

static void entry_free(kb_review_entry *e)
{
    free(e->doc_id);
    free(e->by);
    free(e->note);
}

void kb_help_request_record_free(kb_help_request_record *h)
{
    if (!h) return;
    free(h->agent);
    free(h->agent_name);
    free(h->team);
    free(h->filed_by);
    free(h->question);
    free(h->answer);
    free(h->doc_id);
    entry_free(&h->review);
    free(h->effective_doc_id);
    free(h->doc_title);
    for (size_t i = 0; i < h->n_reviews; i++) entry_free(&h->reviews[i]);
    free(h->reviews);
    memset(h, 0, sizeof *h);
}

void kb_help_request_page_free(kb_help_request_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) kb_help_request_record_free(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- one request */

#define REQUEST_COLUMNS                                                                          \
    "h.id, h.time_ms, h.agent, a.name, a.team, h.filed_by, h.question, h.answer, "              \
    "h.kb_answerable, h.doc_id, h.confidence, h.override_answerable, h.override_doc_id, "       \
    "h.override_by, h.override_time_ms, h.override_note, h.doc_title, h.must_know"
#define REQUEST_FROM "help_requests h LEFT JOIN agents a ON a.agent_id = h.agent"

/* A review from five columns from `first` on: verdict, doc_id, reviewer, time, note (the
 * history's own columns, or the latest review copied onto the request). 0, or -1 when out of
 * memory. */
static int read_entry(kb_db_stmt *s, int first, kb_review_entry *e)
{
    e->kb_answerable = (int)kb_db_column_int64(s, first) != 0;
    e->at_ms = kb_db_column_int64(s, first + 3);
    return kb_db_column_dup(s, first + 1, &e->doc_id) |
           kb_db_column_dup(s, first + 2, &e->by) |
           kb_db_column_dup(s, first + 4, &e->note);
}

/* A row of REQUEST_COLUMNS into *h. 0, or -1 when out of memory (h is then freed). */
static int read_request(kb_db_stmt *s, kb_help_request_record *h)
{
    memset(h, 0, sizeof *h);
    h->id = kb_db_column_int64(s, 0);
    h->time_ms = kb_db_column_int64(s, 1);
    int oom = kb_db_column_dup(s, 2, &h->agent) | kb_db_column_dup(s, 3, &h->agent_name) |
              kb_db_column_dup(s, 4, &h->team) | kb_db_column_dup(s, 5, &h->filed_by) |
              kb_db_column_dup(s, 6, &h->question) | kb_db_column_dup(s, 7, &h->answer) |
              kb_db_column_dup(s, 9, &h->doc_id);
    h->kb_answerable = (int)kb_db_column_int64(s, 8) != 0;
    double c = kb_db_column_double(s, 10);
    h->confidence = (double)(long long)(c * 10000 + 0.5) / 10000;
    h->reviewed = !kb_db_column_is_null(s, 11);
    if (h->reviewed) oom |= read_entry(s, 11, &h->review);
    h->answerable = h->reviewed ? h->review.kb_answerable : h->kb_answerable;
    const char *doc = !h->answerable ? NULL : h->reviewed ? h->review.doc_id : h->doc_id;
    if (doc && !(h->effective_doc_id = strdup(doc))) oom = -1;
    oom |= kb_db_column_dup(s, 16, &h->doc_title);
    h->must_know = (int)kb_db_column_int64(s, 17) != 0;
    h->must_know_miss = h->answerable && h->must_know;
    if (oom) kb_help_request_record_free(h);
    return oom ? -1 : 0;
}

/* Every review of request id, oldest first, into h->reviews. */
static int read_history(kb_review *r, int64_t id, kb_help_request_record *h)
{
    kb_db_stmt *s;
    if (kb_db_prepare(r->conn.kdb, "SELECT kb_answerable, doc_id, reviewer, time_ms, note FROM "
                           "help_request_reviews WHERE help_request_id = ?1 ORDER BY id", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the reviews");
    kb_db_bind_int64(s, 1, id);
    size_t cap = 0;
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        if (h->n_reviews == cap) {
            cap = cap ? cap * 2 : 4;
            kb_review_entry *v = realloc(h->reviews, cap * sizeof *v);
            if (!v) break;
            h->reviews = v;
        }
        kb_review_entry *e = &h->reviews[h->n_reviews];
        memset(e, 0, sizeof *e);
        h->n_reviews++;
        if (read_entry(s, 0, e) != 0) break;
    }
    kb_db_finalize(s);
    if (rc == KB_DB_ROW) return kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    if (rc != KB_DB_DONE) return kb_store_conn_sql_fail(&r->conn, "cannot read the reviews");
    return KB_OK;
}

int kb_review_item(kb_review *r, int64_t id, kb_help_request_record *out)
{
    r->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_db_stmt *s;
    if (kb_db_prepare(r->conn.kdb, "SELECT " REQUEST_COLUMNS " FROM " REQUEST_FROM " WHERE h.id = ?1", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the help request");
    kb_db_bind_int64(s, 1, id);
    int step = kb_db_step(s), rc = KB_OK;
    if (step == KB_DB_ROW && read_request(s, out) != 0)
        rc = kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    else if (step == KB_DB_DONE)
        rc = kb_store_conn_fail(&r->conn, KB_NOT_FOUND, "no help request with id %lld", (long long)id);
    else if (step != KB_DB_ROW) rc = kb_store_conn_sql_fail(&r->conn, "cannot read the help request");
    kb_db_finalize(s);
    if (rc == KB_OK) rc = read_history(r, id, out);
    if (rc != KB_OK) kb_help_request_record_free(out);
    return rc;
}

/* ---------------------------------------------------------------- the review itself */

int kb_review_set(kb_review *r, int64_t id, int answerable, const char *doc_id, const char *note,
                  const char *reviewer, int64_t now_ms)
{
    return kb_review_set_doc(r, id, answerable, doc_id, note, reviewer, now_ms, NULL);
}

int kb_review_set_doc(kb_review *r, int64_t id, int answerable, const char *doc_id,
                      const char *note, const char *reviewer, int64_t now_ms,
                      const kb_review_doc_snapshot *snap)
{
    r->conn.code = KB_OK;
    if (r->conn.readonly) return kb_store_conn_fail(&r->conn, KB_INVALID, "the store is open read-only");
    if (doc_id && !answerable)
        return kb_store_conn_fail(&r->conn, KB_INVALID,
                              "doc_id goes only with kb_answerable true");
    if (!doc_id || !answerable) snap = NULL; /* the lead named no document: keep the filing's */
    char *redacted = note ? kb_redact(note, strlen(note), NULL) : NULL;
    char *title = snap && snap->title ? kb_redact(snap->title, strlen(snap->title), NULL) : NULL;
    if ((note && !redacted) || (snap && snap->title && !title)) {
        free(redacted);
        free(title);
        return kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    }
    kb_db_stmt *s = NULL;
    int rc = KB_ERROR;
    char *service_doc = NULL;
    if (kb_db_begin(r->conn.kdb, KB_DB_TX_WRITE) != KB_DB_OK) {
        free(redacted);
        free(title);
        return kb_store_conn_sql_fail(&r->conn, "cannot record the review");
    }
    if (kb_db_prepare(r->conn.kdb, "SELECT kb_answerable, doc_id FROM help_requests WHERE id = ?1", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_int64(s, 1, id);
    int step = kb_db_step(s);
    if (step == KB_DB_DONE) {
        rc = kb_store_conn_fail(&r->conn, KB_NOT_FOUND, "no help request with id %lld", (long long)id);
        goto out;
    }
    if (step != KB_DB_ROW) goto sql_fail;
    if ((int)kb_db_column_int64(s, 0) && kb_db_column_text(s, 1))
        service_doc = strdup(kb_db_column_text(s, 1));
    kb_db_finalize(s);
    s = NULL;
    const char *doc = answerable ? (doc_id ? doc_id : service_doc) : NULL;
    if (kb_db_prepare(r->conn.kdb, "INSERT INTO help_request_reviews (help_request_id, time_ms, reviewer, "
                           "kb_answerable, doc_id, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_int64(s, 2, now_ms);
    kb_db_bind_text(s, 3, reviewer ? reviewer : "");
    kb_db_bind_int64(s, 4, answerable != 0);
    if (doc) kb_db_bind_text(s, 5, doc);
    else kb_db_bind_null(s, 5);
    if (redacted) kb_db_bind_text(s, 6, redacted);
    else kb_db_bind_null(s, 6);
    if (kb_db_step(s) != KB_DB_DONE) goto sql_fail;
    kb_db_finalize(s);
    s = NULL;
    if (kb_db_prepare(r->conn.kdb, "UPDATE help_requests SET override_answerable = ?2, override_doc_id = "
                           "?3, override_by = ?4, override_time_ms = ?5, override_note = ?6 "
                           "WHERE id = ?1", &s) != KB_DB_OK)
        goto sql_fail;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_int64(s, 2, answerable != 0);
    if (doc) kb_db_bind_text(s, 3, doc);
    else kb_db_bind_null(s, 3);
    kb_db_bind_text(s, 4, reviewer ? reviewer : "");
    kb_db_bind_int64(s, 5, now_ms);
    if (redacted) kb_db_bind_text(s, 6, redacted);
    else kb_db_bind_null(s, 6);
    if (kb_db_step(s) != KB_DB_DONE) goto sql_fail;
    kb_db_finalize(s);
    s = NULL;
    if (snap) {
        if (kb_db_prepare(r->conn.kdb, "UPDATE help_requests SET must_know = ?2, doc_title = ?3 WHERE id = ?1", &s) != KB_DB_OK)
            goto sql_fail;
        kb_db_bind_int64(s, 1, id);
        kb_db_bind_int64(s, 2, snap->must_know != 0);
        if (title) kb_db_bind_text(s, 3, title);
        else kb_db_bind_null(s, 3);
        if (kb_db_step(s) != KB_DB_DONE) goto sql_fail;
        kb_db_finalize(s);
        s = NULL;
    }
    if (kb_db_commit(r->conn.kdb) != KB_DB_OK) goto sql_fail;
    rc = KB_OK;
    goto done;
sql_fail:
    rc = kb_store_conn_sql_fail(&r->conn, "cannot record the review");
out:
    kb_db_rollback(r->conn.kdb);
done:
    kb_db_finalize(s);
    free(service_doc);
    free(redacted);
    free(title);
    return rc;
}

/* ---------------------------------------------------------------- the list */

/* The filter's WHERE clause; parameters ?1 .. ?4 (bind_filter). */
static void filter_sql(char *where, size_t len, const kb_review_filter *f)
{
    size_t o = (size_t)snprintf(where, len, "h.time_ms >= ?1 AND h.time_ms < ?2");
    if (f->agent) o += (size_t)snprintf(where + o, len - o, " AND h.agent = ?3");
    if (f->team) o += (size_t)snprintf(where + o, len - o, " AND a.team = ?4");
    if (f->verdict >= 0)
        o += (size_t)snprintf(where + o, len - o,
                              " AND coalesce(h.override_answerable, h.kb_answerable) = %d",
                              f->verdict ? 1 : 0);
    if (f->reviewed >= 0)
        snprintf(where + o, len - o, " AND h.override_time_ms IS %s NULL",
                 f->reviewed ? "NOT" : "");
}

static void bind_filter(kb_db_stmt *s, const void *arg)
{
    const kb_review_filter *f = arg;
    kb_db_bind_int64(s, 1, f->from_ms ? f->from_ms : INT64_MIN);
    kb_db_bind_int64(s, 2, f->to_ms ? f->to_ms : INT64_MAX);
    if (f->agent) kb_db_bind_text(s, 3, f->agent);
    if (f->team) kb_db_bind_text(s, 4, f->team);
}

int kb_review_list(kb_review *r, const kb_review_filter *f, kb_help_request_page *out)
{
    r->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_review_filter def = {.verdict = -1, .reviewed = -1};
    if (!f) f = &def;
    out->limit = f->limit ? f->limit : 50;
    out->offset = f->offset;
    char where[512];
    filter_sql(where, sizeof where, f);
    kb_page q;
    if (kb_page_open(r->conn.kdb, REQUEST_COLUMNS, REQUEST_FROM, where,
                            "h.time_ms DESC, h.id DESC", out->limit, out->offset, bind_filter, f,
                            &q) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot list help requests");
    out->total = q.total;
    size_t cap = 0;
    int rc = KB_OK, step;
    while ((step = kb_db_step(q.rows)) == KB_DB_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            kb_help_request_record *v = realloc(out->items, cap * sizeof *v);
            if (!v) break;
            out->items = v;
        }
        if (read_request(q.rows, &out->items[out->n]) != 0) break;
        out->n++;
    }
    if (step == KB_DB_ROW) rc = kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    else if (step != KB_DB_DONE) rc = kb_store_conn_sql_fail(&r->conn, "cannot list help requests");
    kb_page_close(&q);
    if (rc != KB_OK) kb_help_request_page_free(out);
    return rc;
}
