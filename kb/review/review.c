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
    if (kb_store_conn_open(&r->conn, data_dir, readonly, err, err_len) != 0) {
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
static int read_entry(sqlite3_stmt *s, int first, kb_review_entry *e)
{
    e->kb_answerable = sqlite3_column_int(s, first) != 0;
    e->at_ms = sqlite3_column_int64(s, first + 3);
    return kb_store_column_text(s, first + 1, &e->doc_id) |
           kb_store_column_text(s, first + 2, &e->by) |
           kb_store_column_text(s, first + 4, &e->note);
}

/* A row of REQUEST_COLUMNS into *h. 0, or -1 when out of memory (h is then freed). */
static int read_request(sqlite3_stmt *s, kb_help_request_record *h)
{
    memset(h, 0, sizeof *h);
    h->id = sqlite3_column_int64(s, 0);
    h->time_ms = sqlite3_column_int64(s, 1);
    int oom = kb_store_column_text(s, 2, &h->agent) | kb_store_column_text(s, 3, &h->agent_name) |
              kb_store_column_text(s, 4, &h->team) | kb_store_column_text(s, 5, &h->filed_by) |
              kb_store_column_text(s, 6, &h->question) | kb_store_column_text(s, 7, &h->answer) |
              kb_store_column_text(s, 9, &h->doc_id);
    h->kb_answerable = sqlite3_column_int(s, 8) != 0;
    double c = sqlite3_column_double(s, 10);
    h->confidence = (double)(long long)(c * 10000 + 0.5) / 10000;
    h->reviewed = sqlite3_column_type(s, 11) != SQLITE_NULL;
    if (h->reviewed) oom |= read_entry(s, 11, &h->review);
    h->answerable = h->reviewed ? h->review.kb_answerable : h->kb_answerable;
    const char *doc = !h->answerable ? NULL : h->reviewed ? h->review.doc_id : h->doc_id;
    if (doc && !(h->effective_doc_id = strdup(doc))) oom = -1;
    oom |= kb_store_column_text(s, 16, &h->doc_title);
    h->must_know = sqlite3_column_int(s, 17) != 0;
    h->must_know_miss = h->answerable && h->must_know;
    if (oom) kb_help_request_record_free(h);
    return oom ? -1 : 0;
}

/* Every review of request id, oldest first, into h->reviews. */
static int read_history(kb_review *r, int64_t id, kb_help_request_record *h)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->conn.db,
                           "SELECT kb_answerable, doc_id, reviewer, time_ms, note FROM "
                           "help_request_reviews WHERE help_request_id = ?1 ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the reviews");
    sqlite3_bind_int64(s, 1, id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
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
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW) return kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    if (rc != SQLITE_DONE) return kb_store_conn_sql_fail(&r->conn, "cannot read the reviews");
    return KB_OK;
}

int kb_review_item(kb_review *r, int64_t id, kb_help_request_record *out)
{
    r->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->conn.db,
                           "SELECT " REQUEST_COLUMNS " FROM " REQUEST_FROM " WHERE h.id = ?1", -1,
                           &s, NULL) != SQLITE_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the help request");
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s), rc = KB_OK;
    if (step == SQLITE_ROW && read_request(s, out) != 0)
        rc = kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    else if (step == SQLITE_DONE)
        rc = kb_store_conn_fail(&r->conn, KB_NOT_FOUND, "no help request with id %lld", (long long)id);
    else if (step != SQLITE_ROW) rc = kb_store_conn_sql_fail(&r->conn, "cannot read the help request");
    sqlite3_finalize(s);
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
    sqlite3_stmt *s = NULL;
    int rc = KB_ERROR;
    char *service_doc = NULL;
    if (kb_store_begin_immediate(r->conn.db) != SQLITE_OK) {
        free(redacted);
        free(title);
        return kb_store_conn_sql_fail(&r->conn, "cannot record the review");
    }
    if (sqlite3_prepare_v2(r->conn.db, "SELECT kb_answerable, doc_id FROM help_requests WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = kb_store_conn_fail(&r->conn, KB_NOT_FOUND, "no help request with id %lld", (long long)id);
        goto out;
    }
    if (step != SQLITE_ROW) goto sql_fail;
    if (sqlite3_column_int(s, 0) && sqlite3_column_text(s, 1))
        service_doc = strdup((const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    s = NULL;
    const char *doc = answerable ? (doc_id ? doc_id : service_doc) : NULL;
    if (sqlite3_prepare_v2(r->conn.db,
                           "INSERT INTO help_request_reviews (help_request_id, time_ms, reviewer, "
                           "kb_answerable, doc_id, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &s, NULL) != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_text(s, 3, reviewer ? reviewer : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, answerable != 0);
    if (doc) sqlite3_bind_text(s, 5, doc, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 5);
    if (redacted) sqlite3_bind_text(s, 6, redacted, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 6);
    if (sqlite3_step(s) != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(r->conn.db,
                           "UPDATE help_requests SET override_answerable = ?2, override_doc_id = "
                           "?3, override_by = ?4, override_time_ms = ?5, override_note = ?6 "
                           "WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, answerable != 0);
    if (doc) sqlite3_bind_text(s, 3, doc, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 3);
    sqlite3_bind_text(s, 4, reviewer ? reviewer : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now_ms);
    if (redacted) sqlite3_bind_text(s, 6, redacted, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 6);
    if (sqlite3_step(s) != SQLITE_DONE) goto sql_fail;
    sqlite3_finalize(s);
    s = NULL;
    if (snap) {
        if (sqlite3_prepare_v2(r->conn.db,
                               "UPDATE help_requests SET must_know = ?2, doc_title = ?3 WHERE id = ?1",
                               -1, &s, NULL) != SQLITE_OK)
            goto sql_fail;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int(s, 2, snap->must_know != 0);
        if (title) sqlite3_bind_text(s, 3, title, -1, SQLITE_STATIC);
        else sqlite3_bind_null(s, 3);
        if (sqlite3_step(s) != SQLITE_DONE) goto sql_fail;
        sqlite3_finalize(s);
        s = NULL;
    }
    if (sqlite3_exec(r->conn.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto sql_fail;
    rc = KB_OK;
    goto done;
sql_fail:
    rc = kb_store_conn_sql_fail(&r->conn, "cannot record the review");
out:
    if (!sqlite3_get_autocommit(r->conn.db)) sqlite3_exec(r->conn.db, "ROLLBACK", NULL, NULL, NULL);
done:
    sqlite3_finalize(s);
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

static void bind_filter(sqlite3_stmt *s, const void *arg)
{
    const kb_review_filter *f = arg;
    sqlite3_bind_int64(s, 1, f->from_ms ? f->from_ms : INT64_MIN);
    sqlite3_bind_int64(s, 2, f->to_ms ? f->to_ms : INT64_MAX);
    if (f->agent) sqlite3_bind_text(s, 3, f->agent, -1, SQLITE_STATIC);
    if (f->team) sqlite3_bind_text(s, 4, f->team, -1, SQLITE_STATIC);
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
    kb_paged_query q;
    if (kb_paged_query_open(r->conn.db, REQUEST_COLUMNS, REQUEST_FROM, where,
                            "h.time_ms DESC, h.id DESC", out->limit, out->offset, bind_filter, f,
                            &q) != SQLITE_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot list help requests");
    out->total = q.total;
    size_t cap = 0;
    int rc = KB_OK, step;
    while ((step = sqlite3_step(q.rows)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            kb_help_request_record *v = realloc(out->items, cap * sizeof *v);
            if (!v) break;
            out->items = v;
        }
        if (read_request(q.rows, &out->items[out->n]) != 0) break;
        out->n++;
    }
    if (step == SQLITE_ROW) rc = kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    else if (step != SQLITE_DONE) rc = kb_store_conn_sql_fail(&r->conn, "cannot list help requests");
    kb_paged_query_close(&q);
    if (rc != KB_OK) kb_help_request_page_free(out);
    return rc;
}
