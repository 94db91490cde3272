/*
 * coaching.c — the handle, and coaching sessions: recording one and listing them (see
 * kb/coaching.h, docs/COACHING.md).
 *
 * A session is one row in coaching_sessions and one per covered document in coaching_docs,
 * written in one BEGIN IMMEDIATE transaction. Everything stored is redacted (the note is free
 * text a lead typed; ids and names like everywhere in the store), and the documents' titles are
 * snapshots, so a session stays readable after a document leaves the index.
 */
#include "kb/coaching.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb/document.h"
#include "kb/redact.h"
#include "kb/review.h"
#include "coaching/coaching_internal.h"
#include "events/paged_query.h"

kb_coaching *kb_coaching_open(const char *data_dir, int readonly, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    kb_coaching *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (kb_store_conn_open_any(&c->conn, data_dir, readonly, err, err_len) != 0) {
        free(c);
        return NULL;
    }
    /* Marks and sessions have the durability of help requests: fsync'd before the call returns
     * (said here rather than left to the library's compiled-in default; on PostgreSQL,
     * synchronous_commit on, which a borrowed session keeps anyway). */
    if (!readonly && kb_db_exec(c->conn.kdb, kb_db_dialect_of(c->conn.kdb) == KB_DB_SQLITE
                                                 ? "PRAGMA synchronous = FULL"
                                                 : "SET synchronous_commit = on") != KB_DB_OK) {
        snprintf(err, err_len, "cannot set up the event store: %s",
                 kb_store_db_message(c->conn.kdb));
        kb_store_conn_close(&c->conn);
        free(c);
        return NULL;
    }
    return c;
}

void kb_coaching_close(kb_coaching *c)
{
    if (!c) return;
    kb_store_conn_close(&c->conn);
    free(c);
}

const char *kb_coaching_errmsg(const kb_coaching *c) { return c ? c->conn.err : "no store"; }
int kb_coaching_last_code(const kb_coaching *c) { return c ? c->conn.code : KB_ERROR; }

int kb_coaching_day_ms(const char *day, int days, int64_t *out)
{
    int64_t start;
    if (kb_review_parse_date(day, &start) != 0) return -1;
    int y, m, d;
    if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d + days;
    tm.tm_isdst = -1;
    *out = (int64_t)mktime(&tm) * 1000;
    return 0;
}

char *kb_coaching_redacted(const char *s, int *oom)
{
    if (!s) return NULL;
    char *r = kb_redact(s, strlen(s), NULL);
    if (!r) *oom = 1;
    return r;
}

/* ---------------------------------------------------------------- recording */

/* NULL when s is a valid session, else what is wrong (for KB_INVALID). */
static const char *session_problem(const kb_coaching_new *s, char *why, size_t len)
{
    int64_t day;
    const char *p;
    if (!s->agent || !*s->agent) return "agent is required";
    if ((p = kb_agent_id_problem(s->agent))) {
        snprintf(why, len, "agent %s", p);
        return why;
    }
    if (!s->day || kb_review_parse_date(s->day, &day) != 0)
        return "date must be a day, YYYY-MM-DD";
    if (s->n_docs > KB_COACHING_MAX_DOCS) {
        snprintf(why, len, "at most %d documents per session", KB_COACHING_MAX_DOCS);
        return why;
    }
    for (size_t i = 0; i < s->n_docs; i++) {
        const char *id = s->doc_ids[i];
        if (!id || !kb_document_id_is_valid(id, strlen(id))) {
            snprintf(why, len, "doc_ids[%zu] is not a document id: " KB_DOC_ID_RULE, i);
            return why;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->doc_ids[k], id)) {
                snprintf(why, len, "doc_ids[%zu] repeats %s", i, id);
                return why;
            }
    }
    if (s->note && strlen(s->note) > KB_COACHING_NOTE_MAX_BYTES) {
        snprintf(why, len, "note is longer than %d bytes", KB_COACHING_NOTE_MAX_BYTES);
        return why;
    }
    return NULL;
}

static void bind_or_null(kb_db_stmt *s, int i, const char *v)
{
    if (v) kb_db_bind_text(s, i, v);
    else kb_db_bind_null(s, i);
}

int kb_coaching_record(kb_coaching *c, const kb_coaching_new *s, int64_t *id)
{
    c->conn.code = KB_OK;
    if (id) *id = 0;
    if (c->conn.readonly) return kb_store_conn_fail(&c->conn, KB_INVALID, "the store is open read-only");
    char why[256];
    const char *problem = session_problem(s, why, sizeof why);
    if (problem) return kb_store_conn_fail(&c->conn, KB_INVALID, "%s", problem);
    int oom = 0;
    char *agent = kb_coaching_redacted(s->agent, &oom);
    char *lead = kb_coaching_redacted(s->lead ? s->lead : "", &oom);
    char *note = s->note && *s->note ? kb_coaching_redacted(s->note, &oom) : NULL;
    kb_db_stmt *st = NULL;
    int rc = KB_ERROR;
    if (oom) {
        rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
        goto done;
    }
    if (kb_db_begin(c->conn.kdb, KB_DB_TX_WRITE) != KB_DB_OK) goto sql_fail;
    /* the new id by RETURNING: SQLite's last_insert_rowid has no PostgreSQL counterpart */
    if (kb_db_prepare(c->conn.kdb, "INSERT INTO coaching_sessions (agent, lead, day, note, time_ms) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                      &st) != KB_DB_OK)
        goto sql_fail;
    bind_or_null(st, 1, agent);
    bind_or_null(st, 2, lead);
    bind_or_null(st, 3, s->day);
    bind_or_null(st, 4, note);
    kb_db_bind_int64(st, 5, s->now_ms);
    if (kb_db_step(st) != KB_DB_ROW) goto sql_fail;
    int64_t sid = kb_db_column_int64(st, 0);
    if (kb_db_step(st) != KB_DB_DONE) goto sql_fail;
    kb_db_finalize(st);
    st = NULL;
    if (kb_db_prepare(c->conn.kdb, "INSERT INTO coaching_docs (session_id, doc_id, title) VALUES (?1, ?2, ?3)", &st) != KB_DB_OK)
        goto sql_fail;
    for (size_t i = 0; i < s->n_docs; i++) {
        char *doc = kb_coaching_redacted(s->doc_ids[i], &oom);
        char *title = s->titles ? kb_coaching_redacted(s->titles[i], &oom) : NULL;
        kb_db_bind_int64(st, 1, sid);
        bind_or_null(st, 2, doc);
        bind_or_null(st, 3, title);
        int step = oom ? KB_DB_ERROR : kb_db_step(st);
        free(doc);
        free(title);
        kb_db_reset(st);
        if (step != KB_DB_DONE) goto sql_fail;
    }
    kb_db_finalize(st);
    st = NULL;
    if (kb_db_commit(c->conn.kdb) != KB_DB_OK) goto sql_fail;
    if (id) *id = sid;
    rc = KB_OK;
    goto done;
sql_fail:
    rc = kb_store_conn_sql_fail(&c->conn, "cannot record the coaching session");
    kb_store_conn_rollback(&c->conn);
done:
    kb_db_finalize(st);
    free(agent);
    free(lead);
    free(note);
    return rc;
}

/* ---------------------------------------------------------------- reading */

void kb_coaching_session_free(kb_coaching_session *s)
{
    if (!s) return;
    free(s->agent);
    free(s->agent_name);
    free(s->team);
    free(s->lead);
    free(s->note);
    for (size_t i = 0; i < s->n_docs; i++) {
        free(s->docs[i].doc_id);
        free(s->docs[i].title);
    }
    free(s->docs);
    memset(s, 0, sizeof *s);
}

void kb_coaching_page_free(kb_coaching_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) kb_coaching_session_free(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}


/* A row of SESSION_COLUMNS into *o. 0, or -1 when out of memory. */
int kb_coaching_read_session(kb_db_stmt *s, kb_coaching_session *o)
{
    memset(o, 0, sizeof *o);
    o->id = kb_db_column_int64(s, 0);
    const char *day = kb_db_column_text(s, 5);
    snprintf(o->day, sizeof o->day, "%s", day ? day : "");
    o->recorded_ms = kb_db_column_int64(s, 7);
    return kb_db_column_dup(s, 1, &o->agent) | kb_db_column_dup(s, 2, &o->agent_name) |
           kb_db_column_dup(s, 3, &o->team) | kb_db_column_dup(s, 4, &o->lead) |
           kb_db_column_dup(s, 6, &o->note);
}

int kb_coaching_read_docs(kb_coaching *c, kb_coaching_session *o)
{
    kb_db_stmt *s;
    /* the order the lead gave: SQLite's rowid, PostgreSQL's seq column (no rowid there) */
    if (kb_db_prepare(c->conn.kdb,
                      kb_db_dialect_of(c->conn.kdb) == KB_DB_SQLITE
                          ? "SELECT doc_id, title FROM coaching_docs WHERE session_id = ?1 ORDER BY rowid"
                          : "SELECT doc_id, title FROM coaching_docs WHERE session_id = ?1 ORDER BY seq",
                      &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot read a coaching session");
    kb_db_bind_int64(s, 1, o->id);
    size_t cap = 0;
    int rc, oom = 0;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        if (o->n_docs == cap) {
            cap = cap ? cap * 2 : 4;
            kb_coaching_doc *v = realloc(o->docs, cap * sizeof *v);
            if (!v) {
                oom = 1;
                break;
            }
            o->docs = v;
        }
        kb_coaching_doc *d = &o->docs[o->n_docs++];
        memset(d, 0, sizeof *d);
        if (kb_db_column_dup(s, 0, &d->doc_id) | kb_db_column_dup(s, 1, &d->title)) {
            oom = 1;
            break;
        }
    }
    kb_db_finalize(s);
    if (oom) return kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    if (rc != KB_DB_DONE) return kb_store_conn_sql_fail(&c->conn, "cannot read a coaching session");
    return KB_OK;
}

int kb_coaching_get(kb_coaching *c, int64_t id, kb_coaching_session *out)
{
    c->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_db_stmt *s;
    if (kb_db_prepare(c->conn.kdb, "SELECT " SESSION_COLUMNS " FROM " SESSION_FROM
                                       " WHERE s.id = ?1", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot read a coaching session");
    kb_db_bind_int64(s, 1, id);
    int step = kb_db_step(s), rc = KB_OK;
    if (step == KB_DB_ROW && kb_coaching_read_session(s, out) != 0)
        rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    else if (step == KB_DB_DONE)
        rc = kb_store_conn_fail(&c->conn, KB_NOT_FOUND, "no coaching session with id %lld",
                                (long long)id);
    else if (step != KB_DB_ROW)
        rc = kb_store_conn_sql_fail(&c->conn, "cannot read a coaching session");
    kb_db_finalize(s);
    if (rc == KB_OK) rc = kb_coaching_read_docs(c, out);
    if (rc != KB_OK) kb_coaching_session_free(out);
    return rc;
}

static void bind_filter(kb_db_stmt *s, const void *arg)
{
    const kb_coaching_filter *f = arg;
    kb_db_bind_text(s, 1, f->from ? f->from : "0000-00-00");
    kb_db_bind_text(s, 2, f->to ? f->to : "9999-99-99");
    if (f->agent) kb_db_bind_text(s, 3, f->agent);
    if (f->team) kb_db_bind_text(s, 4, f->team);
}

int kb_coaching_list(kb_coaching *c, const kb_coaching_filter *f, kb_coaching_page *out)
{
    c->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_coaching_filter none = {0};
    if (!f) f = &none;
    int64_t ms;
    if ((f->from && kb_review_parse_date(f->from, &ms) != 0) ||
        (f->to && kb_review_parse_date(f->to, &ms) != 0))
        return kb_store_conn_fail(&c->conn, KB_INVALID, "from and to must be days, YYYY-MM-DD");
    out->limit = f->limit ? f->limit : 50;
    out->offset = f->offset;
    char where[256];
    /* days are "YYYY-MM-DD": their text order is their time order */
    snprintf(where, sizeof where, "s.day >= ?1 AND s.day <= ?2%s%s",
             f->agent ? " AND s.agent = ?3" : "", f->team ? " AND coalesce(a.team, '') = ?4" : "");
    kb_page q;
    if (kb_page_open(c->conn.kdb, SESSION_COLUMNS, SESSION_FROM, where, "s.day DESC, s.id DESC",
                            out->limit, out->offset, bind_filter, f, &q) != KB_DB_OK)
        return kb_store_conn_sql_fail(&c->conn, "cannot list coaching sessions");
    out->total = q.total;
    size_t cap = 0;
    int rc = KB_OK, step;
    while ((step = kb_db_step(q.rows)) == KB_DB_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            kb_coaching_session *v = realloc(out->items, cap * sizeof *v);
            if (!v) break;
            out->items = v;
        }
        if (kb_coaching_read_session(q.rows, &out->items[out->n]) != 0) {
            kb_coaching_session_free(&out->items[out->n]);
            break;
        }
        out->n++;
    }
    if (step == KB_DB_ROW) rc = kb_store_conn_fail(&c->conn, KB_ERROR, "out of memory");
    else if (step != KB_DB_DONE) rc = kb_store_conn_sql_fail(&c->conn, "cannot list coaching sessions");
    kb_page_close(&q);
    for (size_t i = 0; rc == KB_OK && i < out->n; i++) rc = kb_coaching_read_docs(c, &out->items[i]);
    if (rc != KB_OK) kb_coaching_page_free(out);
    return rc;
}
