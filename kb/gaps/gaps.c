/*
 * gaps.c — the editors' queue: taking questions in from the event store, re-checking items
 * after a re-index, and the items' life cycle (see kb/gaps.h, docs/GAPS.md).
 *
 * Ingest runs in two phases so the database's write lock is held only for the cheap part:
 *   1. without a transaction, read what arrived since the watermarks (gap_progress), analyze
 *      each question (grouping terms, the top hit's category) and add up the documents the
 *      searches returned per day (gaps_doc_days.c) — the expensive part;
 *   2. in one write transaction (BEGIN IMMEDIATE on SQLite; the cluster's write lock on
 *      PostgreSQL), assign the questions to groups, insert them, update the touched groups'
 *      aggregates, add the per-day document counts, and move the watermarks. Either all of it
 *      commits or none, so a crash never loses or doubles a question; questions are also unique
 *      per (source, ref).
 * The clusterer (the open groups' centroids) is kept between calls and reloaded only when an
 * editor changed a status, a question left the queue or the regroup pass moved questions
 * (gap_progress 'version'), or the index revision changed (the IDF weights).
 *
 * The watermarks follow each source in commit order (kb_gaps_order_of): rows committed after a
 * batch was read always carry larger numbers, so none is skipped. With several nodes on one
 * PostgreSQL store only the node holding the role does this work (gaps_role.c).
 */
#include "kb/gaps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaps/gaps_internal.h"
#include "kb/redact.h"
#include "events/store_conn.h"

/* ---------------------------------------------------------------- the handle */

kb_gaps *kb_gaps_open(const char *data_dir, int readonly, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    kb_gaps *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (kb_store_conn_open_any(&g->conn, data_dir, readonly, err, err_len) != 0) {
        free(g);
        return NULL;
    }
    g->typing_window_ms = KB_GAPS_TYPING_WINDOW_MS;
    return g;
}

void kb_gaps_set_typing_window(kb_gaps *g, int64_t ms)
{
    if (g) g->typing_window_ms = ms > 0 ? ms : 0;
}

void kb_gaps_close(kb_gaps *g)
{
    if (!g) return;
    kb_gap_clusterer_free(g->clusterer);
    for (size_t i = 0; i < g->n_kept; i++) {
        kb_db_finalize(g->kept[i].s);
        free(g->kept[i].sql);
    }
    free(g->kept);
    kb_strmap_free(&g->terms_memo);
    /* A PostgreSQL session goes back to the thread's pool, open: it must not keep the role. */
    if (g->role_held && kb_db_dialect_of(kb_gaps_db(g)) == KB_DB_POSTGRESQL &&
        kb_db_generation(kb_gaps_db(g)) == g->role_generation)
        kb_db_unlock(kb_gaps_db(g), KB_GAPS_ROLE_LOCK);
    kb_store_conn_close(&g->conn);
    free(g);
}

const char *kb_gaps_errmsg(const kb_gaps *g) { return g ? g->conn.err : "no queue"; }
int kb_gaps_last_code(const kb_gaps *g) { return g ? g->conn.code : KB_ERROR; }

/* ---------------------------------------------------------------- small SQL helpers */

kb_db_stmt *kb_gaps_stmt(kb_gaps *g, const char *sql)
{
    /* A few dozen texts, most told apart by their first characters: a linear search costs
     * little beside a step. */
    for (size_t i = 0; i < g->n_kept; i++)
        if (strcmp(g->kept[i].sql, sql) == 0) {
            kb_db_reset(g->kept[i].s);
            kb_db_clear_bindings(g->kept[i].s);
            return g->kept[i].s;
        }
    if (g->n_kept == g->cap_kept) {
        size_t cap = g->cap_kept ? g->cap_kept * 2 : 32;
        struct kb_gaps_kept *v = realloc(g->kept, cap * sizeof *v);
        if (!v) return NULL;
        g->kept = v;
        g->cap_kept = cap;
    }
    kb_db_stmt *s;
    char *copy = strdup(sql);
    if (!copy || kb_db_prepare(kb_gaps_db(g), sql, &s) != KB_DB_OK) {
        free(copy);
        return NULL;
    }
    g->kept[g->n_kept].sql = copy;
    g->kept[g->n_kept].s = s;
    g->n_kept++;
    return s;
}

const char *kb_gaps_order_of(kb_gaps *g, const char *table)
{
    if (kb_db_dialect_of(kb_gaps_db(g)) == KB_DB_POSTGRESQL) return "seq";
    return strcmp(table, "searches") == 0 ? "rowid" : "id";
}

int64_t kb_gaps_query_int(kb_gaps *g, const char *sql, int64_t a, int64_t fallback)
{
    kb_db_stmt *s = kb_gaps_stmt(g, sql);
    int64_t v = fallback;
    if (!s) return fallback;
    if (kb_db_param_count(s) >= 1) kb_db_bind_int64(s, 1, a);
    if (kb_db_step(s) == KB_DB_ROW && !kb_db_column_is_null(s, 0)) v = kb_db_column_int64(s, 0);
    kb_db_reset(s);
    return v;
}

int kb_gaps_exec_id(kb_gaps *g, const char *sql, int64_t id)
{
    kb_db_stmt *s = kb_gaps_stmt(g, sql);
    if (!s) return -1;
    kb_db_bind_int64(s, 1, id);
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_reset(s);
    return rc;
}

int64_t kb_gaps_progress(kb_gaps *g, const char *source)
{
    kb_db_stmt *s = kb_gaps_stmt(g, "SELECT last_id FROM gap_progress WHERE source = ?1");
    int64_t v = 0;
    if (!s) return 0;
    kb_db_bind_text(s, 1, source);
    if (kb_db_step(s) == KB_DB_ROW) v = kb_db_column_int64(s, 0);
    kb_db_reset(s);
    return v;
}

int kb_gaps_set_progress(kb_gaps *g, const char *source, int64_t value)
{
    kb_db_stmt *s = kb_gaps_stmt(g,
                                 "INSERT INTO gap_progress (source, last_id) VALUES (?1, ?2) "
                                 "ON CONFLICT (source) DO UPDATE SET last_id = excluded.last_id");
    if (!s) return -1;
    kb_db_bind_text(s, 1, source);
    kb_db_bind_int64(s, 2, value);
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_reset(s);
    return rc;
}

int kb_gaps_bump_version(kb_gaps *g)
{
    /* The table's name on the right: a bare last_id is ambiguous on PostgreSQL. */
    kb_db_stmt *s =
        kb_gaps_stmt(g, "INSERT INTO gap_progress (source, last_id) VALUES ('version', 1) "
                        "ON CONFLICT (source) DO UPDATE SET last_id = gap_progress.last_id + 1");
    if (!s) return -1;
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_reset(s);
    return rc;
}

char *kb_gaps_col_dup(kb_db_stmt *s, int i)
{
    char *t = NULL;
    kb_db_column_dup(s, i, &t);
    return t;
}

/* ---------------------------------------------------------------- questions waiting */

typedef struct {
    const char *source; /* "search", "not_found", "help_request" */
    char *ref;
    int64_t time_ms;
    char *agent;
    char *question;
    char *top_id;
    char *terms;
    char *category;
} pending;

typedef struct {
    pending *v;
    size_t n, cap;
    int64_t *removed; /* help requests whose review made them answerable */
    size_t n_removed, cap_removed;
    kb_gaps_doc_days *doc_days; /* the batch's searches' returned documents, per day */
} pending_list;

static void pending_free(pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].ref);
        free(l->v[i].agent);
        free(l->v[i].question);
        free(l->v[i].top_id);
        free(l->v[i].terms);
        free(l->v[i].category);
    }
    free(l->v);
    free(l->removed);
    kb_gaps_doc_days_free(l->doc_days);
    memset(l, 0, sizeof *l);
}

/* Append the rows of a prepared statement: ref, time_ms, agent, question, top_id and, for
 * searches while the typing window is on, the two columns of kb_gaps_typing_searches_sql: a
 * step of typing is left out here (gaps_typing.c). */
static int collect(kb_gaps *g, pending_list *l, kb_db_stmt *s, const char *source)
{
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        const char *q = kb_db_column_text(s, 3);
        if (!q || kb_text_is_blank(q)) continue; /* nothing was asked: never queued */
        /* (The columns are known once a row is: PostgreSQL runs the statement at its first
         * step.) */
        if (g->typing_window_ms > 0 && kb_db_column_count(s) >= 7 &&
            kb_gaps_typing_step(q, (int)kb_db_column_int64(s, 5), kb_db_column_text(s, 6)))
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            pending *v = realloc(l->v, cap * sizeof *v);
            if (!v) return -1;
            l->v = v;
            l->cap = cap;
        }
        pending *p = &l->v[l->n];
        memset(p, 0, sizeof *p);
        p->source = source;
        p->ref = kb_gaps_col_dup(s, 0);
        p->time_ms = kb_db_column_int64(s, 1);
        p->agent = kb_gaps_col_dup(s, 2);
        p->question = strdup(q);
        p->top_id = kb_gaps_col_dup(s, 4);
        l->n++;
        if (!p->ref || !p->agent || !p->question) return -1;
    }
    return rc == KB_DB_DONE ? 0 : -1;
}

static int select_into(kb_gaps *g, pending_list *l, const char *sql, int64_t lo, int64_t hi,
                       const char *source)
{
    kb_db_stmt *s = kb_gaps_stmt(g, sql);
    if (!s) return -1;
    kb_db_bind_int64(s, 1, lo);
    kb_db_bind_int64(s, 2, hi);
    if (kb_db_param_count(s) >= 3) kb_db_bind_int64(s, 3, g->typing_window_ms);
    int rc = collect(g, l, s, source);
    kb_db_reset(s);
    return rc;
}

/* Reviews since lo: requests now a gap are (re-)queued, requests now answerable leave. */
static int select_reviews(kb_gaps *g, pending_list *l, int64_t lo, int64_t hi)
{
    kb_db_stmt *s =
        kb_gaps_stmt(g, "SELECT h.id, coalesce(h.override_answerable, h.kb_answerable) "
                        "FROM help_requests h WHERE h.id IN (SELECT help_request_id FROM "
                        "help_request_reviews WHERE id > ?1 AND id <= ?2) ORDER BY h.id");
    if (!s) return -1;
    kb_db_bind_int64(s, 1, lo);
    kb_db_bind_int64(s, 2, hi);
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        if (kb_db_column_int64(s, 1) == 0) continue; /* still a gap: the next query adds it */
        if (l->n_removed == l->cap_removed) {
            size_t cap = l->cap_removed ? l->cap_removed * 2 : 16;
            int64_t *v = realloc(l->removed, cap * sizeof *v);
            if (!v) {
                kb_db_reset(s);
                return -1;
            }
            l->removed = v;
            l->cap_removed = cap;
        }
        l->removed[l->n_removed++] = kb_db_column_int64(s, 0);
    }
    kb_db_reset(s);
    if (rc != KB_DB_DONE) return -1;
    return select_into(g, l,
                       "SELECT CAST(h.id AS TEXT), h.time_ms, h.agent, h.question, NULL "
                       "FROM help_requests h WHERE h.id IN (SELECT help_request_id FROM "
                       "help_request_reviews WHERE id > ?1 AND id <= ?2) "
                       "AND coalesce(h.override_answerable, h.kb_answerable) = 0 ORDER BY h.id",
                       lo, hi, "help_request");
}

/* ---------------------------------------------------------------- analysis */

/* First category of a document, from the searcher (NULL when unknown). */
static char *doc_category(kb_searcher *s, const char *id)
{
    kb_document *doc = NULL;
    char *out = NULL;
    if (!s || !id || kb_searcher_get_document(s, id, &doc) != KB_OK) return NULL;
    if (doc->n_categories && doc->categories[0][0]) out = strdup(doc->categories[0]);
    kb_searcher_document_free(doc);
    return out;
}

char *kb_gaps_question_terms(kb_analyzer *a, const char *question)
{
    char *terms = kb_gaps_terms(a, question);
    if (terms && !terms[0]) {
        /* Nothing informative (only question words, punctuation, emoji): such questions group
         * only with the very same text. */
        free(terms);
        size_t n = strlen(question);
        terms = malloc(n + 2);
        if (terms) {
            terms[0] = '"';
            for (size_t i = 0; i <= n; i++) terms[i + 1] = question[i] == ' ' ? '_' : question[i];
        }
    }
    return terms;
}

/* Bytes of texts and terms the handle remembers; past this the memo starts afresh. Questions
 * of ~100 bytes make it some 15,000 texts; long ones (up to KB_SEARCH_MAX_QUERY_BYTES) fewer. */
#define TERMS_MEMO_BYTES (4 << 20)

/* The question's grouping terms (kb_gaps_question_terms), malloc'd; NULL when out of memory.
 * A busy floor asks the same questions again and again (a fifth of kb-gaps-cost's questions
 * repeat an earlier text), and analysis is the larger part of taking a question in, so the
 * handle remembers the terms of the texts it analyzed. The same analyzer gives the same terms
 * for the same text. */
static char *question_terms(kb_gaps *g, kb_analyzer *a, const char *question)
{
    if (g->terms_memo_analyzer != a || g->terms_memo_bytes > TERMS_MEMO_BYTES) {
        kb_strmap_free(&g->terms_memo);
        g->terms_memo_analyzer = a;
        g->terms_memo_bytes = 0;
    }
    const char *known = kb_strmap_get(&g->terms_memo, question);
    if (known) return strdup(known);
    char *terms = kb_gaps_question_terms(a, question);
    /* Out of memory: not kept. */
    if (terms && kb_strmap_put(&g->terms_memo, question, terms) == 0)
        g->terms_memo_bytes += strlen(question) + strlen(terms) + 2 + 2 * sizeof(char *);
    return terms;
}

static void analyze(kb_gaps *g, pending *p, const kb_gaps_kb *kb)
{
    p->terms = question_terms(g, kb->analyzer, p->question);
    /* The category of the document the service answered with, confidently, and the agent
     * rejected (not_found): the question is most likely about that document's subject. An
     * unresolved search's top hit fell below the confidence threshold, a guess that says
     * nothing about the question (今天天气怎么样 under 银行业务/信用卡), and an unanswerable help
     * request has no hit: neither gives a category. */
    if (!kb->searcher || !p->top_id || strcmp(p->source, "not_found") != 0) return;
    p->category = doc_category(kb->searcher, p->top_id);
}

/* ---------------------------------------------------------------- groups */

static double idf_of(const char *term, void *user)
{
    return kb_searcher_term_idf(user, term);
}

kb_gap_clusterer *kb_gaps_read_groups(kb_gaps *g, const kb_gaps_kb *kb)
{
    kb_gap_clusterer *c = kb_gap_clusterer_new(kb->searcher ? idf_of : NULL, kb->searcher);
    if (!c) return NULL;
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT id, terms, n_questions FROM gap_groups "
                      "WHERE status IN ('open', 'in_progress') ORDER BY id",
                      &s) != KB_DB_OK) {
        kb_gap_clusterer_free(c);
        return NULL;
    }
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW)
        if (kb_gap_clusterer_load(c, kb_db_column_int64(s, 0), kb_db_column_text(s, 1),
                                  kb_db_column_double(s, 2)) < 0) {
            rc = KB_DB_ERROR;
            break;
        }
    kb_db_finalize(s);
    if (rc != KB_DB_DONE) {
        kb_gap_clusterer_free(c);
        return NULL;
    }
    return c;
}

/* (Re)build the ingest's clusterer from the open and in-progress groups. */
static int load_clusterer(kb_gaps *g, const kb_gaps_kb *kb)
{
    kb_gap_clusterer_free(g->clusterer);
    g->clusterer = kb_gaps_read_groups(g, kb);
    return g->clusterer ? 0 : -1;
}

int kb_gaps_id_set_add(kb_gaps_id_set *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        int64_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = id;
    return 0;
}

/* Remove the queued question of help request `id` (reviewed as answerable). */
static int remove_help(kb_gaps *g, int64_t id, kb_gaps_id_set *touched, int *removed)
{
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id);
    int64_t gid = -1;
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT group_id FROM gap_questions WHERE source = 'help_request' "
                      "AND ref = ?1",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_text(s, 1, ref);
    int step = kb_db_step(s);
    if (step == KB_DB_ROW) gid = kb_db_column_int64(s, 0);
    kb_db_finalize(s);
    if (step != KB_DB_ROW && step != KB_DB_DONE) return -1;
    if (gid < 0) return 0;
    if (kb_db_prepare(kb_gaps_db(g),
                      "DELETE FROM gap_questions WHERE source = 'help_request' AND ref = ?1",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_text(s, 1, ref);
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_finalize(s);
    if (rc == 0) {
        *removed = 1;
        rc = kb_gaps_id_set_add(touched, gid);
    }
    return rc;
}

/* 1 when the question is in the queue already, 0 when not, -1 on error. */
static int question_exists(kb_db_stmt *s, const pending *p)
{
    kb_db_reset(s);
    kb_db_bind_text(s, 1, p->source);
    kb_db_bind_text(s, 2, p->ref);
    int rc = kb_db_step(s);
    kb_db_reset(s);
    return rc == KB_DB_ROW ? 1 : rc == KB_DB_DONE ? 0 : -1;
}

const char kb_gaps_new_group_sql[] =
    "INSERT INTO gap_groups (question, first_ms, last_ms, created_ms) VALUES (?1, ?2, ?2, ?2) "
    "RETURNING id";

int64_t kb_gaps_group_id(kb_gaps *g, kb_gap_clusterer *c, long gi, kb_db_stmt *insert,
                         const char *question, int64_t time_ms)
{
    (void)g;
    int64_t gid = kb_gap_clusterer_group_id(c, gi);
    if (gid != 0) return gid;
    kb_db_reset(insert);
    kb_db_bind_text(insert, 1, question);
    kb_db_bind_int64(insert, 2, time_ms);
    /* The new id from RETURNING: SQLite's last_insert_rowid has no PostgreSQL counterpart. */
    int rc = kb_db_step(insert);
    gid = rc == KB_DB_ROW ? kb_db_column_int64(insert, 0) : -1;
    kb_db_reset(insert);
    if (gid <= 0) return -1;
    kb_gap_clusterer_set_group_id(c, gi, gid);
    return gid;
}

/* Assign and insert every pending question, noting each in `adds`. */
static int place_questions(kb_gaps *g, pending_list *l, kb_gaps_adds *adds)
{
    int rc = -1;
    kb_db_stmt *exists =
        kb_gaps_stmt(g, "SELECT 1 FROM gap_questions WHERE source = ?1 AND ref = ?2");
    kb_db_stmt *new_group = exists ? kb_gaps_stmt(g, kb_gaps_new_group_sql) : NULL;
    kb_db_stmt *ins =
        new_group ? kb_gaps_stmt(g, "INSERT INTO gap_questions (group_id, source, ref, time_ms, "
                                    "agent, question, terms, top_id, category) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                  : NULL;
    if (!ins) goto done;
    for (size_t i = 0; i < l->n; i++) {
        pending *p = &l->v[i];
        if (!p->terms) continue;
        int known = question_exists(exists, p);
        if (known < 0) goto done;
        if (known) continue;
        long gi = kb_gap_clusterer_assign(g->clusterer, p->terms, NULL);
        if (gi < 0) goto done;
        int64_t gid = kb_gaps_group_id(g, g->clusterer, gi, new_group, p->question, p->time_ms);
        if (gid <= 0) goto done;
        if (kb_gaps_adds_note(adds, gid, gi, p->source, p->agent, p->question, p->category,
                              p->time_ms) != 0)
            goto done;
        kb_db_bind_int64(ins, 1, gid);
        kb_db_bind_text(ins, 2, p->source);
        kb_db_bind_text(ins, 3, p->ref);
        kb_db_bind_int64(ins, 4, p->time_ms);
        kb_db_bind_text(ins, 5, p->agent);
        kb_db_bind_text(ins, 6, p->question);
        kb_db_bind_text(ins, 7, p->terms);
        kb_db_bind_text(ins, 8, p->top_id); /* NULL binds SQL NULL */
        kb_db_bind_text(ins, 9, p->category);
        if (kb_db_step(ins) != KB_DB_DONE) goto done;
        kb_db_reset(ins);
    }
    rc = 0;
done:
    if (exists) kb_db_reset(exists);
    if (new_group) kb_db_reset(new_group);
    if (ins) kb_db_reset(ins);
    return rc;
}

/* ---------------------------------------------------------------- ingest */

/* Where ingest stands in one source: rows in (lo, hi] are taken in by this call; max is the
 * newest row (for searches, the newest old enough to judge, see gaps_typing.c). */
typedef struct {
    const char *name;  /* gap_progress source */
    const char *max_sql;
    int64_t lo, hi, max;
} watermark;

enum { WM_SEARCHES, WM_FEEDBACK, WM_HELP, WM_REVIEWS, N_WM };

/* Set each source's watermarks, taking at most max_rows rows of each. Returns how many rows
 * wait beyond this batch. */
static long plan_batch(kb_gaps *g, watermark *w, size_t max_rows)
{
    long waiting = 0;
    for (size_t i = 0; i < N_WM; i++) {
        w[i].lo = kb_gaps_progress(g, w[i].name);
        w[i].max = kb_gaps_query_int(g, w[i].max_sql, 0, 0);
        if (w[i].max < w[i].lo) w[i].max = w[i].lo; /* a restored older store: keep going */
        if (i == WM_SEARCHES) w[i].max = kb_gaps_settled_searches(g, w[i].lo, w[i].max);
        w[i].hi = w[i].max - w[i].lo > (int64_t)max_rows ? w[i].lo + (int64_t)max_rows : w[i].max;
        waiting += (long)(w[i].max - w[i].hi);
    }
    return waiting;
}

/* Phase 1, without holding the write lock: read the batch's rows of every source into l and
 * analyze their questions. 0, or -1 with the reason set. */
static int read_batch(kb_gaps *g, const kb_gaps_kb *kb, const watermark *w, pending_list *l)
{
    int rc = 0;
    char searches[1024], help[256];
    const char *h = kb_gaps_order_of(g, "help_requests");
    snprintf(help, sizeof help,
             "SELECT CAST(id AS TEXT), time_ms, agent, question, NULL "
             "FROM help_requests WHERE %s > ?1 AND %s <= ?2 "
             "AND coalesce(override_answerable, kb_answerable) = 0 ORDER BY %s",
             h, h, h);
    rc |= kb_gaps_typing_searches_sql(g, searches, sizeof searches);
    if (rc == 0)
        rc |= select_into(g, l, searches, w[WM_SEARCHES].lo, w[WM_SEARCHES].hi, "search");
    /* "f.kind || ''": with "f.kind =" SQLite read the batch's rows through the index on
     * (kind, time_ms), that is every not_found feedback ever given, each second; this way it
     * reads the batch's id range only (as PostgreSQL's planner does anyway). */
    rc |= select_into(g, l,
                      "SELECT f.search_id, f.time_ms, f.agent, s.query, "
                      "coalesce(f.doc_id, s.top_id) FROM feedback f JOIN searches s "
                      "ON s.search_id = f.search_id WHERE f.id > ?1 AND f.id <= ?2 "
                      "AND f.kind || '' = 'not_found' AND s.unresolved = 0 ORDER BY f.id",
                      w[WM_FEEDBACK].lo, w[WM_FEEDBACK].hi, "not_found");
    rc |= select_into(g, l, help, w[WM_HELP].lo, w[WM_HELP].hi, "help_request");
    rc |= select_reviews(g, l, w[WM_REVIEWS].lo, w[WM_REVIEWS].hi);
    if (rc == 0 && !(l->doc_days = kb_gaps_doc_days_read(g, w[WM_SEARCHES].lo, w[WM_SEARCHES].hi)))
        rc = -1;
    if (rc != 0) return kb_store_conn_sql_fail(&g->conn, "cannot read new events"), -1;
    for (size_t i = 0; i < l->n; i++) analyze(g, &l->v[i], kb);
    return 0;
}

/* Recompute every group in `touched`, then free the set. 0, or -1. */
static int recompute_touched(kb_gaps *g, kb_gaps_id_set *touched)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < touched->n; i++)
        rc = kb_gaps_recompute_group(g, touched->v[i]);
    free(touched->v);
    memset(touched, 0, sizeof *touched);
    return rc;
}

/* Take out the questions of help requests a review made answerable, and recompute their items.
 * *removed is set when a question left the queue. 0, or -1. */
static int remove_answerable(kb_gaps *g, const pending_list *l, int *removed)
{
    kb_gaps_id_set touched = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l->n_removed; i++)
        rc = remove_help(g, l->removed[i], &touched, removed);
    if (rc != 0) {
        free(touched.v);
        return -1;
    }
    return recompute_touched(g, &touched);
}

/* Assign the new questions to groups, insert them, and bring the groups they joined up to date:
 * at the cost of what is added, not of the groups' sizes (gaps_aggregates.c). 0, or -1. */
static int place_new_questions(kb_gaps *g, pending_list *l)
{
    kb_gaps_adds *adds = kb_gaps_adds_new(g);
    int rc = adds && place_questions(g, l, adds) == 0 && kb_gaps_adds_write(adds, g->clusterer) == 0
                 ? 0
                 : -1;
    kb_gaps_adds_free(adds);
    return rc;
}

/* Phase 2, in one write transaction: the removals, the new questions in their groups, the
 * per-day document counts and the watermarks. The clusterer is reloaded first when an editor or
 * a removal changed the open groups, or the index changed. 0, or -1 with the reason set
 * (nothing written; the in-memory groups are dropped, as they may hold what was rolled back). */
static int write_batch(kb_gaps *g, const kb_gaps_kb *kb, const watermark *w, pending_list *l)
{
    if (kb_db_begin(kb_gaps_db(g), KB_DB_TX_WRITE) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot start writing the queue"), -1;
    int64_t version = kb_gaps_progress(g, "version");
    uint64_t revision = kb->searcher ? kb_searcher_revision(kb->searcher) : 0;
    int removed = 0;
    if (remove_answerable(g, l, &removed) != 0) goto fail;
    if (removed && kb_gaps_bump_version(g) != 0) goto fail;
    if (removed) version = kb_gaps_progress(g, "version");
    if (!g->clusterer || g->clusterer_version != version || g->clusterer_revision != revision ||
        g->clusterer_searcher != kb->searcher) {
        if (load_clusterer(g, kb) != 0) goto fail;
    }
    if (place_new_questions(g, l) != 0) goto fail;
    if (kb_gaps_doc_days_write(g, l->doc_days) != 0) goto fail;
    for (size_t i = 0; i < N_WM; i++)
        if (w[i].hi > w[i].lo && kb_gaps_set_progress(g, w[i].name, w[i].hi) != 0) goto fail;
    if (kb_db_commit(kb_gaps_db(g)) != KB_DB_OK) goto fail;
    g->clusterer_version = version;
    g->clusterer_revision = revision;
    g->clusterer_searcher = kb->searcher;
    return 0;
fail:
    kb_store_conn_sql_fail(&g->conn, "cannot update the queue");
    kb_store_conn_rollback(&g->conn);
    kb_gap_clusterer_free(g->clusterer);
    g->clusterer = NULL;
    return -1;
}

long kb_gaps_ingest(kb_gaps *g, const kb_gaps_kb *kb, size_t max_rows)
{
    g->conn.code = KB_OK;
    if (g->conn.readonly) return kb_store_conn_fail(&g->conn, KB_INVALID, "the queue is open read-only"), -1;
    if (!kb || !kb->analyzer) return 0;
    if (max_rows == 0) max_rows = 1000;
    char max_searches[64], max_help[64];
    snprintf(max_searches, sizeof max_searches, "SELECT max(%s) FROM searches",
             kb_gaps_order_of(g, "searches"));
    snprintf(max_help, sizeof max_help, "SELECT max(%s) FROM help_requests",
             kb_gaps_order_of(g, "help_requests"));
    watermark w[N_WM] = {
        [WM_SEARCHES] = {"searches", max_searches, 0, 0, 0},
        [WM_FEEDBACK] = {"feedback", "SELECT max(id) FROM feedback", 0, 0, 0},
        [WM_HELP] = {"help_requests", max_help, 0, 0, 0},
        [WM_REVIEWS] = {"reviews", "SELECT max(id) FROM help_request_reviews", 0, 0, 0},
    };
    /* Questions stored under older grouping rules are analyzed again first, a batch a call. */
    long waiting = kb_gaps_reterm(g, kb, max_rows);
    if (waiting < 0) return -1;
    waiting += plan_batch(g, w, max_rows);
    int any = 0;
    for (size_t i = 0; i < N_WM; i++) any |= w[i].hi > w[i].lo;
    if (!any) return waiting;
    pending_list l = {0};
    int rc = read_batch(g, kb, w, &l) == 0 && write_batch(g, kb, w, &l) == 0 ? 0 : -1;
    pending_free(&l);
    return rc == 0 ? waiting : -1;
}

/* ---------------------------------------------------------------- re-check after re-index */

#define RECHECK_VARIANTS 3
#define RECHECK_BATCH 200

typedef struct {
    int64_t id;
    char *doc, *title;
    double confidence;
} suggestion;

/* Search a group's most frequent phrasings; the document that answers at least half of them
 * confidently is the suggestion. */
static int suggest_for(kb_gaps *g, kb_searcher *s, int64_t id, suggestion *out)
{
    kb_db_stmt *q;
    memset(out, 0, sizeof *out);
    out->id = id;
    /* The phrasings in the representative's order (the text's byte order on an exact tie, so
     * both databases pick the same ones). */
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT question FROM gap_questions WHERE group_id = ?1 GROUP BY "
                      "question ORDER BY count(*) DESC, max(time_ms) DESC, question LIMIT ?2",
                      &q) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(q, 1, id);
    kb_db_bind_int64(q, 2, RECHECK_VARIANTS);
    char *docs[RECHECK_VARIANTS] = {0}, *titles[RECHECK_VARIANTS] = {0};
    double conf[RECHECK_VARIANTS] = {0};
    int n = 0;
    while (n < RECHECK_VARIANTS && kb_db_step(q) == KB_DB_ROW) {
        const char *text = kb_db_column_text(q, 0);
        kb_search_request req = {.text = text ? text : "", .limit = 1};
        kb_search_result res;
        if (kb_search(s, &req, &res) == KB_OK) {
            if (!res.unresolved && res.n_hits && res.hits[0].id) {
                docs[n] = strdup(res.hits[0].id);
                titles[n] = strdup(res.hits[0].title ? res.hits[0].title : "");
                conf[n] = res.confidence;
            }
            kb_search_result_free(&res);
        }
        n++;
    }
    kb_db_finalize(q);
    int best = -1, best_votes = 0;
    for (int i = 0; i < n; i++) {
        if (!docs[i]) continue;
        int votes = 0;
        for (int j = 0; j < n; j++) votes += docs[j] && strcmp(docs[i], docs[j]) == 0;
        if (votes > best_votes || (votes == best_votes && best >= 0 && conf[i] > conf[best])) {
            best = i;
            best_votes = votes;
        }
    }
    if (best >= 0 && 2 * best_votes >= n) {
        out->doc = docs[best];
        out->title = titles[best];
        out->confidence = conf[best];
        docs[best] = titles[best] = NULL;
    }
    for (int i = 0; i < n; i++) {
        free(docs[i]);
        free(titles[i]);
    }
    return 0;
}

static int write_suggestions(kb_gaps *g, suggestion *v, size_t n, uint64_t revision)
{
    kb_db *db = kb_gaps_db(g);
    kb_db_stmt *u;
    if (kb_db_begin(db, KB_DB_TX_WRITE) != KB_DB_OK) return -1;
    if (kb_db_prepare(
            db,
            /* CAST: "?2 IS NULL" alone gives PostgreSQL no type for the parameter. */
            "UPDATE gap_groups SET suggested_ms = CASE WHEN CAST(?2 AS TEXT) IS NULL THEN NULL "
            "WHEN suggested_doc_id IS NOT DISTINCT FROM ?2 THEN suggested_ms ELSE ?5 END, "
            "suggested_doc_id = ?2, suggested_title = ?3, suggested_confidence = ?4, "
            "checked_revision = ?6 WHERE id = ?1 AND status IN ('open', 'in_progress')",
            &u) != KB_DB_OK) {
        kb_store_conn_rollback(&g->conn);
        return -1;
    }
    int64_t now = kb_gaps_now_ms();
    for (size_t i = 0; i < n; i++) {
        kb_db_bind_int64(u, 1, v[i].id);
        kb_db_bind_text(u, 2, v[i].doc); /* NULL: no suggestion (binds SQL NULL) */
        kb_db_bind_text(u, 3, v[i].doc ? v[i].title : NULL);
        if (v[i].doc) kb_db_bind_double(u, 4, v[i].confidence);
        else kb_db_bind_null(u, 4);
        kb_db_bind_int64(u, 5, now);
        kb_db_bind_int64(u, 6, (int64_t)revision);
        if (kb_db_step(u) != KB_DB_DONE) {
            kb_db_finalize(u);
            kb_store_conn_rollback(&g->conn);
            return -1;
        }
    }
    kb_db_finalize(u);
    if (kb_db_commit(db) != KB_DB_OK) {
        kb_store_conn_rollback(&g->conn);
        return -1;
    }
    return 0;
}

long kb_gaps_recheck(kb_gaps *g, kb_searcher *s, uint64_t revision)
{
    g->conn.code = KB_OK;
    if (g->conn.readonly || !s) return kb_store_conn_fail(&g->conn, KB_INVALID, "cannot re-check"), -1;
    long suggested = 0;
    for (;;) {
        /* Items not yet checked against this revision, a batch at a time, so the write
         * transactions stay short and new questions keep flowing in between. */
        kb_db_stmt *q;
        if (kb_db_prepare(kb_gaps_db(g),
                          "SELECT id FROM gap_groups WHERE status IN ('open', 'in_progress') "
                          "AND checked_revision IS DISTINCT FROM ?1 ORDER BY id LIMIT ?2",
                          &q) != KB_DB_OK)
            return kb_store_conn_sql_fail(&g->conn, "cannot list items to re-check"), -1;
        kb_db_bind_int64(q, 1, (int64_t)revision);
        kb_db_bind_int64(q, 2, RECHECK_BATCH);
        int64_t ids[RECHECK_BATCH];
        size_t n = 0;
        int step = KB_DB_DONE;
        while (n < RECHECK_BATCH && (step = kb_db_step(q)) == KB_DB_ROW)
            ids[n++] = kb_db_column_int64(q, 0);
        kb_db_finalize(q);
        if (n < RECHECK_BATCH && step != KB_DB_DONE)
            return kb_store_conn_sql_fail(&g->conn, "cannot list items to re-check"), -1;
        if (n == 0) break;
        suggestion v[RECHECK_BATCH];
        size_t got = 0;
        for (size_t i = 0; i < n; i++)
            if (suggest_for(g, s, ids[i], &v[got]) == 0) got++;
        int rc = write_suggestions(g, v, got, revision);
        for (size_t i = 0; i < got; i++) {
            suggested += v[i].doc != NULL;
            free(v[i].doc);
            free(v[i].title);
        }
        if (rc != 0) return kb_store_conn_sql_fail(&g->conn, "cannot store re-check results"), -1;
    }
    return suggested;
}

/* ---------------------------------------------------------------- life cycle */

unsigned kb_gaps_status_bit(const char *name)
{
    if (!name) return 0;
    if (!strcmp(name, "open")) return KB_GAP_OPEN;
    if (!strcmp(name, "in_progress")) return KB_GAP_IN_PROGRESS;
    if (!strcmp(name, "answered")) return KB_GAP_ANSWERED;
    if (!strcmp(name, "dismissed")) return KB_GAP_DISMISSED;
    if (!strcmp(name, "all")) return KB_GAP_ALL;
    return 0;
}

/* Allowed moves: open and in_progress go anywhere; answered and dismissed only back to open
 * (or stay, e.g. to correct the answering document or the note). */
static int allowed(unsigned from, unsigned to)
{
    if (from & (KB_GAP_OPEN | KB_GAP_IN_PROGRESS)) return 1;
    return to == KB_GAP_OPEN || to == from;
}

int64_t kb_gaps_resolve(kb_gaps *g, int64_t id)
{
    /* The item itself, else the item the regroup pass merged it into (gap_merges is kept
     * current when that item merges in turn, so one step is enough). */
    static const char sql[] =
        "SELECT id FROM gap_groups WHERE id = ?1 "
        "UNION ALL SELECT m.into_id FROM gap_merges m JOIN gap_groups t ON t.id = m.into_id "
        "WHERE m.id = ?1 LIMIT 1";
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g), sql, &s) != KB_DB_OK) {
        kb_store_conn_sql_fail(&g->conn, "cannot read the item");
        return -1;
    }
    kb_db_bind_int64(s, 1, id);
    int rc = kb_db_step(s);
    int64_t found = rc == KB_DB_ROW ? kb_db_column_int64(s, 0) : 0;
    kb_db_finalize(s);
    if (rc == KB_DB_DONE)
        kb_store_conn_fail(&g->conn, KB_NOT_FOUND,
                     "no item with id %lld: its questions have left the queue, reload it",
                     (long long)id);
    else if (rc != KB_DB_ROW)
        return kb_store_conn_sql_fail(&g->conn, "cannot read the item"), -1;
    return found;
}

/* The editor's category, trimmed and redacted, into *out (malloc'd; NULL for none). Returns
 * KB_OK, or KB_INVALID / KB_ERROR with the reason set. */
static int clean_category(kb_gaps *g, const char *in, char **out)
{
    *out = NULL;
    if (!in) return KB_OK;
    size_t sp, n = 0;
    while (*in && (sp = kb_blank_at(in))) in += sp;
    for (size_t i = 0; in[i];) { /* n: just after the last byte that is not a space */
        if ((sp = kb_blank_at(in + i))) i += sp;
        else n = ++i;
    }
    if (n == 0) return KB_OK; /* blank: none */
    if (n > KB_CATEGORY_MAX)
        return kb_store_conn_fail(&g->conn, KB_INVALID, "category too long: at most %d bytes",
                            KB_CATEGORY_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f)
            return kb_store_conn_fail(&g->conn, KB_INVALID,
                                "category must not hold control characters (tabs, line breaks)");
        if (c == '/' && (i == 0 || in[i - 1] == '/' || i + 1 == n))
            return kb_store_conn_fail(&g->conn, KB_INVALID,
                                "category must be a path such as 业务办理/漫游: levels separated by "
                                "single '/', none empty");
    }
    *out = kb_redact(in, n, NULL);
    return *out ? KB_OK : kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory");
}

/* Set or clear the editor's category of item id (inside the caller's transaction). */
static int write_category(kb_gaps *g, int64_t id, const char *category, const char *by,
                          int64_t now_ms)
{
    kb_db_stmt *s;
    const char *sql =
        category ? "UPDATE gap_groups SET category = ?2, category_by = ?3, category_ms = ?4 "
                   "WHERE id = ?1"
                 : "UPDATE gap_groups SET category = " KB_GAPS_DERIVED_CATEGORY ", category_by = NULL, "
                   "category_ms = NULL WHERE id = ?1";
    if (kb_db_prepare(kb_gaps_db(g), sql, &s) != KB_DB_OK) return -1;
    kb_db_bind_int64(s, 1, id);
    if (category) {
        kb_db_bind_text(s, 2, category);
        kb_db_bind_text(s, 3, by ? by : "");
        kb_db_bind_int64(s, 4, now_ms);
    }
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_finalize(s);
    return rc;
}

/* A change as kb_gaps_update writes it: checked, its free text trimmed and redacted. */
typedef struct {
    const char *status; /* NULL: unchanged */
    unsigned to;        /* the status's KB_GAP_* bit */
    const char *doc_id;
    char *note;         /* redacted; NULL: unchanged */
    int set_category;
    char *category;     /* trimmed and redacted; NULL: none */
} checked_change;

/* Check an editor's change into *out (its note and category malloc'd; the caller frees them).
 * KB_OK, or KB_INVALID / KB_ERROR with the reason set (nothing to free). */
static int check_change(kb_gaps *g, const kb_gaps_change *ch, checked_change *out)
{
    memset(out, 0, sizeof *out);
    out->status = ch->status;
    out->to = ch->status ? kb_gaps_status_bit(ch->status) : 0;
    out->doc_id = ch->doc_id;
    out->set_category = ch->set_category;
    if (ch->status && (!out->to || out->to == KB_GAP_ALL))
        return kb_store_conn_fail(&g->conn, KB_INVALID,
                            "status must be one of open, in_progress, answered, dismissed");
    if (!ch->status && !ch->set_category)
        return kb_store_conn_fail(&g->conn, KB_INVALID, "nothing to change: give a status, a category "
                                                "or both");
    if (g->conn.readonly) return kb_store_conn_fail(&g->conn, KB_INVALID, "the queue is open read-only");
    if (ch->set_category && clean_category(g, ch->category, &out->category) != KB_OK)
        return g->conn.code;
    if (ch->note && !(out->note = kb_redact(ch->note, strlen(ch->note), NULL))) {
        free(out->category);
        out->category = NULL;
        return kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory");
    }
    return KB_OK;
}

/* Item id's status and suggested answer (malloc'd). 0, or -1 (the database's error). */
static int read_status(kb_gaps *g, int64_t id, char **status, char **suggested)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g), "SELECT status, suggested_doc_id FROM gap_groups WHERE id = ?1",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, id);
    int rc = kb_db_step(s) == KB_DB_ROW ? 0 : -1;
    if (rc == 0) {
        *status = kb_gaps_col_dup(s, 0);
        *suggested = kb_gaps_col_dup(s, 1);
    }
    kb_db_finalize(s);
    return rc;
}

/* Move item id from status `from` to c's status, recording the answer (for answered: c's doc_id,
 * else the suggestion), who, when and the note. Inside the caller's transaction. KB_OK, or
 * KB_CONFLICT / KB_INVALID / KB_ERROR with the reason set. */
static int write_status(kb_gaps *g, int64_t id, const checked_change *c, const char *from,
                        const char *suggested, const char *by, int64_t now_ms)
{
    if (!allowed(kb_gaps_status_bit(from), c->to))
        return kb_store_conn_fail(&g->conn, KB_CONFLICT, "item %lld is %s: re-open it first (status open)",
                            (long long)id, from ? from : "?");
    const char *answer = NULL;
    if (c->to == KB_GAP_ANSWERED) {
        answer = c->doc_id ? c->doc_id : suggested;
        if (!answer)
            return kb_store_conn_fail(&g->conn, KB_INVALID,
                                "doc_id is required: item %lld has no suggested answer",
                                (long long)id);
    }
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "UPDATE gap_groups SET status = ?2, answer_doc_id = ?3, "
                      "status_by = ?4, status_ms = ?5, note = coalesce(?6, note) "
                      "WHERE id = ?1",
                      &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_text(s, 2, c->status);
    kb_db_bind_text(s, 3, answer); /* NULL binds SQL NULL */
    kb_db_bind_text(s, 4, by ? by : "");
    kb_db_bind_int64(s, 5, now_ms);
    kb_db_bind_text(s, 6, c->note);
    int rc = kb_db_step(s) == KB_DB_DONE ? KB_OK
                                         : kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    kb_db_finalize(s);
    return rc;
}

/* Replace item id's note (inside the caller's transaction). 0, or -1. */
static int write_note(kb_gaps *g, int64_t id, const char *note)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g), "UPDATE gap_groups SET note = ?2 WHERE id = ?1", &s) !=
        KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_text(s, 2, note);
    int rc = kb_db_step(s) == KB_DB_DONE ? 0 : -1;
    kb_db_finalize(s);
    return rc;
}

/* Apply a checked change to the item that holds id's questions now (*target), in one
 * transaction. KB_OK, or the code with the reason set (and nothing written). */
static int apply_change(kb_gaps *g, int64_t id, const checked_change *c, const char *by,
                        int64_t now_ms, int64_t *target)
{
    if (kb_db_begin(kb_gaps_db(g), KB_DB_TX_WRITE) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    char *from = NULL, *suggested = NULL;
    int rc;
    /* An id loaded before the regroup pass merged it: the change is meant for the item its
     * questions joined. */
    *target = kb_gaps_resolve(g, id);
    if (*target <= 0) rc = g->conn.code;
    else if (read_status(g, *target, &from, &suggested) != 0)
        rc = kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    else if (c->status) rc = write_status(g, *target, c, from, suggested, by, now_ms);
    else if (c->note && write_note(g, *target, c->note) != 0)
        rc = kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    else rc = KB_OK;
    /* Cached clusterers reload, and a regroup pass planned before this change is dropped: the
     * item is the editor's now and keeps its questions. */
    if (rc == KB_OK &&
        ((c->set_category && write_category(g, *target, c->category, by, now_ms) != 0) ||
         kb_gaps_bump_version(g) != 0 ||
         kb_db_commit(kb_gaps_db(g)) != KB_DB_OK))
        rc = kb_store_conn_sql_fail(&g->conn, "cannot change the item");
    if (rc != KB_OK) kb_store_conn_rollback(&g->conn);
    free(from);
    free(suggested);
    return rc;
}

int kb_gaps_update(kb_gaps *g, int64_t id, const kb_gaps_change *ch, const char *by,
                   int64_t now_ms, kb_gap_item *item)
{
    if (item) memset(item, 0, sizeof *item);
    g->conn.code = KB_OK;
    static const kb_gaps_change none = {0};
    checked_change c;
    int rc = check_change(g, ch ? ch : &none, &c);
    if (rc != KB_OK) return rc;
    int64_t target = 0;
    rc = apply_change(g, id, &c, by, now_ms, &target);
    /* Stored: an item that cannot be read back leaves *item empty, and the code says OK. */
    if (rc == KB_OK && item && kb_gaps_read_item(g, target, item) == KB_OK &&
        target != id)
        item->merged_from = id;
    free(c.note);
    free(c.category);
    return rc;
}

int kb_gaps_set_status(kb_gaps *g, int64_t id, const char *status, const char *doc_id,
                       const char *note, const char *by, int64_t now_ms, kb_gap_item *item)
{
    kb_gaps_change ch = {.status = status, .doc_id = doc_id, .note = note};
    if (item) memset(item, 0, sizeof *item);
    if (!status) return kb_store_conn_fail(&g->conn, KB_INVALID, "status is required");
    return kb_gaps_update(g, id, &ch, by, now_ms, item);
}
