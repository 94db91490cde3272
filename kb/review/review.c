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

#include "kb/gaps.h"
#include "kb/redact.h"
#include "events/store_conn.h"
#include "review/review_internal.h"

kb_review *kb_review_open(const char *data_dir, int readonly, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    sqlite3 *db = kb_store_connect(data_dir, readonly, err, err_len);
    if (!db) return NULL;
    kb_review *r = calloc(1, sizeof *r);
    if (!r) {
        sqlite3_close(db);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    r->db = db;
    r->readonly = readonly;
    return r;
}

void kb_review_close(kb_review *r)
{
    if (!r) return;
    sqlite3_close(r->db);
    free(r);
}

const char *kb_review_errmsg(const kb_review *r) { return r ? r->err : "no store"; }
int kb_review_last_code(const kb_review *r) { return r ? r->code : KB_REVIEW_ERROR; }

int kb_review_fail(kb_review *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->code = code;
    return code;
}

int kb_review_sql_fail(kb_review *r, const char *what)
{
    return kb_review_fail(r, KB_REVIEW_ERROR, "%s: %s", what, sqlite3_errmsg(r->db));
}

void kb_review_add_time(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char buf[32];
    kb_gaps_iso_time(sqlite3_column_int64(s, col), buf);
    cJSON_AddStringToObject(o, key, buf);
}

void kb_review_add_text(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t) cJSON_AddStringToObject(o, key, (const char *)t);
    else cJSON_AddNullToObject(o, key);
}

/* ---------------------------------------------------------------- one request */

#define REQUEST_COLUMNS                                                                          \
    "h.id, h.time_ms, h.agent, a.name, a.team, h.filed_by, h.question, h.answer, "              \
    "h.kb_answerable, h.doc_id, h.confidence, h.override_answerable, h.override_doc_id, "       \
    "h.override_by, h.override_time_ms, h.override_note"

static cJSON *request_json(sqlite3_stmt *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(s, 0));
    kb_review_add_time(o, "time", s, 1);
    kb_review_add_text(o, "agent", s, 2);
    kb_review_add_text(o, "agent_name", s, 3);
    kb_review_add_text(o, "team", s, 4);
    kb_review_add_text(o, "filed_by", s, 5);
    kb_review_add_text(o, "question", s, 6);
    kb_review_add_text(o, "answer", s, 7);
    int kb_answerable = sqlite3_column_int(s, 8) != 0;
    cJSON_AddBoolToObject(o, "kb_answerable", kb_answerable);
    kb_review_add_text(o, "doc_id", s, 9);
    double c = sqlite3_column_double(s, 10);
    cJSON_AddNumberToObject(o, "confidence", (double)(long long)(c * 10000 + 0.5) / 10000);
    int reviewed = sqlite3_column_type(s, 11) != SQLITE_NULL;
    int answerable = reviewed ? sqlite3_column_int(s, 11) != 0 : kb_answerable;
    if (reviewed) {
        cJSON *rv = cJSON_AddObjectToObject(o, "review");
        cJSON_AddBoolToObject(rv, "kb_answerable", answerable);
        kb_review_add_text(rv, "doc_id", s, 12);
        kb_review_add_text(rv, "by", s, 13);
        kb_review_add_time(rv, "at", s, 14);
        kb_review_add_text(rv, "note", s, 15);
    } else {
        cJSON_AddNullToObject(o, "review");
    }
    cJSON_AddBoolToObject(o, "answerable", answerable);
    const unsigned char *doc = !answerable ? NULL
                               : reviewed  ? sqlite3_column_text(s, 12)
                                           : sqlite3_column_text(s, 9);
    if (doc) cJSON_AddStringToObject(o, "effective_doc_id", (const char *)doc);
    else cJSON_AddNullToObject(o, "effective_doc_id");
    return o;
}

cJSON *kb_review_item(kb_review *r, int64_t id)
{
    r->code = KB_REVIEW_OK;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT " REQUEST_COLUMNS " FROM help_requests h LEFT JOIN agents a "
                           "ON a.agent_id = h.agent WHERE h.id = ?1",
                           -1, &s, NULL) != SQLITE_OK) {
        kb_review_sql_fail(r, "cannot read the help request");
        return NULL;
    }
    sqlite3_bind_int64(s, 1, id);
    cJSON *o = NULL;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) o = request_json(s);
    else if (rc == SQLITE_DONE)
        kb_review_fail(r, KB_REVIEW_NOT_FOUND, "no help request with id %lld", (long long)id);
    else kb_review_sql_fail(r, "cannot read the help request");
    sqlite3_finalize(s);
    if (!o) return NULL;
    cJSON *history = cJSON_AddArrayToObject(o, "reviews");
    if (sqlite3_prepare_v2(r->db,
                           "SELECT kb_answerable, doc_id, reviewer, time_ms, note FROM "
                           "help_request_reviews WHERE help_request_id = ?1 ORDER BY id",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        while (sqlite3_step(s) == SQLITE_ROW) {
            cJSON *rv = cJSON_CreateObject();
            cJSON_AddBoolToObject(rv, "kb_answerable", sqlite3_column_int(s, 0) != 0);
            kb_review_add_text(rv, "doc_id", s, 1);
            kb_review_add_text(rv, "by", s, 2);
            kb_review_add_time(rv, "at", s, 3);
            kb_review_add_text(rv, "note", s, 4);
            cJSON_AddItemToArray(history, rv);
        }
        sqlite3_finalize(s);
    }
    return o;
}

/* ---------------------------------------------------------------- the review itself */

int kb_review_set(kb_review *r, int64_t id, int answerable, const char *doc_id, const char *note,
                  const char *reviewer, int64_t now_ms, cJSON **item)
{
    if (item) *item = NULL;
    r->code = KB_REVIEW_OK;
    if (r->readonly) return kb_review_fail(r, KB_REVIEW_INVALID, "the store is open read-only");
    if (doc_id && !answerable)
        return kb_review_fail(r, KB_REVIEW_INVALID,
                              "doc_id goes only with kb_answerable true");
    char *redacted = note ? kb_redact(note, strlen(note), NULL) : NULL;
    if (note && !redacted) return kb_review_fail(r, KB_REVIEW_ERROR, "out of memory");
    sqlite3_stmt *s = NULL;
    int rc = KB_REVIEW_ERROR;
    char *service_doc = NULL;
    if (kb_store_begin_immediate(r->db) != SQLITE_OK) {
        free(redacted);
        return kb_review_sql_fail(r, "cannot record the review");
    }
    if (sqlite3_prepare_v2(r->db, "SELECT kb_answerable, doc_id FROM help_requests WHERE id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        goto sql_fail;
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = kb_review_fail(r, KB_REVIEW_NOT_FOUND, "no help request with id %lld", (long long)id);
        goto out;
    }
    if (step != SQLITE_ROW) goto sql_fail;
    if (sqlite3_column_int(s, 0) && sqlite3_column_text(s, 1))
        service_doc = strdup((const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    s = NULL;
    const char *doc = answerable ? (doc_id ? doc_id : service_doc) : NULL;
    if (sqlite3_prepare_v2(r->db,
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
    if (sqlite3_prepare_v2(r->db,
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
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto sql_fail;
    rc = KB_REVIEW_OK;
    if (item) *item = kb_review_item(r, id);
    goto done;
sql_fail:
    rc = kb_review_sql_fail(r, "cannot record the review");
out:
    if (!sqlite3_get_autocommit(r->db)) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
done:
    sqlite3_finalize(s);
    free(service_doc);
    free(redacted);
    return rc;
}

/* ---------------------------------------------------------------- the list */

cJSON *kb_review_list(kb_review *r, const kb_review_filter *f)
{
    r->code = KB_REVIEW_OK;
    kb_review_filter def = {.verdict = -1, .reviewed = -1};
    if (!f) f = &def;
    size_t limit = f->limit ? f->limit : 50;
    char where[512] = "h.time_ms >= ?1 AND h.time_ms < ?2";
    size_t o = strlen(where);
    if (f->agent) o += (size_t)snprintf(where + o, sizeof where - o, " AND h.agent = ?3");
    if (f->team) o += (size_t)snprintf(where + o, sizeof where - o, " AND a.team = ?4");
    if (f->verdict >= 0)
        o += (size_t)snprintf(where + o, sizeof where - o,
                              " AND coalesce(h.override_answerable, h.kb_answerable) = %d",
                              f->verdict ? 1 : 0);
    if (f->reviewed >= 0)
        snprintf(where + o, sizeof where - o, " AND h.override_time_ms IS %s NULL",
                 f->reviewed ? "NOT" : "");
    char sql[1536], count_sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " REQUEST_COLUMNS " FROM help_requests h LEFT JOIN agents a ON a.agent_id = "
             "h.agent WHERE %s ORDER BY h.time_ms DESC, h.id DESC LIMIT ?5 OFFSET ?6",
             where);
    snprintf(count_sql, sizeof count_sql,
             "SELECT count(*) FROM help_requests h LEFT JOIN agents a ON a.agent_id = h.agent "
             "WHERE %s",
             where);
    sqlite3_stmt *s = NULL, *cs = NULL;
    cJSON *out = cJSON_CreateObject();
    if (!out || sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, count_sql, -1, &cs, NULL) != SQLITE_OK) {
        kb_review_sql_fail(r, "cannot list help requests");
        sqlite3_finalize(s);
        sqlite3_finalize(cs);
        cJSON_Delete(out);
        return NULL;
    }
    sqlite3_stmt *both[2] = {s, cs};
    for (int k = 0; k < 2; k++) {
        sqlite3_bind_int64(both[k], 1, f->from_ms ? f->from_ms : INT64_MIN);
        sqlite3_bind_int64(both[k], 2, f->to_ms ? f->to_ms : INT64_MAX);
        if (f->agent) sqlite3_bind_text(both[k], 3, f->agent, -1, SQLITE_STATIC);
        if (f->team) sqlite3_bind_text(both[k], 4, f->team, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 5, (int64_t)limit);
    sqlite3_bind_int64(s, 6, (int64_t)f->offset);
    int64_t total = 0;
    if (sqlite3_step(cs) == SQLITE_ROW) total = sqlite3_column_int64(cs, 0);
    sqlite3_finalize(cs);
    cJSON_AddNumberToObject(out, "total", (double)total);
    cJSON_AddNumberToObject(out, "offset", (double)f->offset);
    cJSON_AddNumberToObject(out, "limit", (double)limit);
    cJSON *items = cJSON_AddArrayToObject(out, "items");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) cJSON_AddItemToArray(items, request_json(s));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        kb_review_sql_fail(r, "cannot list help requests");
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}
