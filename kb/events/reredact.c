/*
 * reredact.c — every redacted column of the store through the current kb_redact() again, as a
 * schema step (see events/reredact.h, docs/PRIVACY.md "Stores written before a widening").
 *
 * How, and why so:
 *   - One table at a time, in key order, PAGE_ROWS rows per SELECT (keyset paging: each page
 *     starts after the last key read). PostgreSQL holds a statement's whole result in memory
 *     (db/db.h), so one SELECT of a store of millions of searches would hold them all; a page at
 *     a time keeps memory flat on both databases. Nothing but the migration writes meanwhile
 *     (it holds the write transaction), so no row is missed between pages.
 *   - Only rows whose text changes are written. A widening touches few rows: writing every row
 *     would rewrite the whole database (and its WAL) for nothing.
 *   - Most tables are keyed by an id the step does not change. Where the key itself is
 *     redacted (the agents list, learned marks, study marks, a coaching session's documents, the
 *     gap queue's per-phrasing tallies) two keys can become one: 138/0013/8000 and
 *     139/0013/8000 are both [手机号]. The step never fails on that. The row merges into the one
 *     that already holds the new key, by the rule of its table (a tally adds up, a learned mark
 *     keeps the latest verdict, a study mark the first time), or, where two rows say the same
 *     thing, one is kept (feedback is stored once per search, kind and document: the rule of the
 *     writer and of PostgreSQL's feedback_once index).
 *   - What is derived from a text follows it: a teaching whose question changes loses its
 *     normalized key (teachings.k = NULL: kb/learn computes it again, as it does for rows of
 *     before schema v7); a learned mark's phrasing is redacted like the key it matches; a gap
 *     item whose questions change gets its representative question and its counts of phrasings
 *     and agents recomputed; the grouping terms of a changed question and the item's centroid
 *     lose what the redaction now takes (an Arabic-Indic phone number was a term), and the
 *     queue is told to analyze its questions again (gap_progress 'terms_version'), which brings
 *     terms and centroids to exactly what the current rules give.
 *   - Paging reads a key that a page of the same table may have changed (the agents list, when
 *     a row moves to a later key): the row is read again, and redacting redacted text changes
 *     nothing.
 */
#include "events/reredact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/redact.h"

#define PAGE_ROWS 1000
#define MAX_COLS 10

enum { INT, TEXT }; /* a column's type */

/* What the step does to a column. */
enum {
    KEY = 1,      /* part of the key rows are paged and written by (keys come first) */
    REDACT = 2,   /* kb_redact() */
    PHRASING = 4, /* a normalized phrasing (kb_learn_normalize: folded, letters and digits only):
                   * kb_redact(), then the placeholder's brackets dropped as normalizing does */
    TERMS = 8,    /* a question's grouping terms (gap_questions.terms) */
    CENTROID = 16 /* an item's centroid, "term TAB count" lines (gap_groups.terms) */
};

typedef struct {
    const char *name;
    int type;
    unsigned how;
} column;

typedef struct {
    int null;
    int64_t i;
    char *t;
} value;

typedef struct {
    value old[MAX_COLS], now[MAX_COLS];
} row;

typedef struct {
    kb_db *db;
    kb_reredact_stats *stats;
    int64_t *groups; /* gap items whose questions changed */
    size_t n_groups, cap_groups;
    int questions_changed; /* a gap question's text changed: the queue analyzes them again */
} run;

typedef struct table_spec table_spec;
struct table_spec {
    const char *table;
    int pg_only;       /* the table exists on PostgreSQL only */
    column cols[MAX_COLS];
    /* SQL over one row: :name is a column's new value, :old_name the value read. */
    const char *update;
    const char *clash; /* SELECT: another row that already holds what this one becomes */
    const char *merge; /* with a clash: fold this row into that one (NULL: that one stays) */
    const char *drop;  /* with a clash: this row goes */
    /* Before a changed row is written: may take changes back (0) or fail (-1). */
    int (*before)(run *r, const table_spec *t, row *w);
    /* After it was written or merged: keep what the run must know. 0 or -1 (memory). */
    int (*after)(run *r, const table_spec *t, row *w);
};

/* ---------------------------------------------------------------- text transforms */

/* kb_redact()ed copy; NULL when memory ran out. *found: how many replacements. */
static char *redacted(const char *s, int *found)
{
    int n = 0;
    char *r = kb_redact(s, strlen(s), &n);
    if (found) *found = n;
    return r;
}

/* A phrasing as kb_learn_normalize would make it from text redacted by today's rules: the
 * stored phrasing is folded already and holds only letters and digits, so what the redaction
 * adds is the placeholder, whose brackets normalizing drops ("[手机号]" -> "手机号"). */
static char *phrasing_redacted(const char *s)
{
    char *r = redacted(s, NULL);
    if (!r) return NULL;
    size_t o = 0;
    for (size_t i = 0; r[i];) {
        size_t p = kb_redact_placeholder_at(r + i);
        if (p >= 2) {
            memmove(r + o, r + i + 1, p - 2);
            o += p - 2;
            i += p;
        } else {
            r[o++] = r[i++];
        }
    }
    r[o] = '\0';
    return r;
}

/* The exact-text term of a question with nothing informative in it, as kb/gaps stores it
 * ('"' then the text, spaces as '_'), so it groups only with the very same text. */
static char *exact_term(const char *question)
{
    size_t n = strlen(question);
    char *t = malloc(n + 2);
    if (!t) return NULL;
    t[0] = '"';
    for (size_t i = 0; i <= n; i++) t[i + 1] = question[i] == ' ' ? '_' : question[i];
    return t;
}

/* A question's terms without the ones the redaction now takes (a number in another script's
 * digits was a term). An exact-text term is made again from the (redacted) question, and so is
 * one for a question left with no term, as kb/gaps gives a question with nothing informative.
 * Terms that lose nothing come back as they were. NULL when memory ran out. */
static char *terms_redacted(const char *terms, const char *question)
{
    size_t n = strlen(terms);
    char *out = malloc(n + 1), *o = out;
    int dropped = 0, exact = 0;
    if (!out) return NULL;
    for (const char *p = terms; *p;) {
        size_t len = strcspn(p, " ");
        int found = 0;
        if (*p == '"') {
            exact = 1;
        } else {
            char *term = strndup(p, len), *r = term ? redacted(term, &found) : NULL;
            int oom = !r;
            free(term);
            free(r);
            if (oom) {
                free(out);
                return NULL;
            }
            dropped |= found != 0;
        }
        if (*p != '"' && !found) {
            if (o > out) *o++ = ' ';
            memcpy(o, p, len);
            o += len;
        }
        p += len + (p[len] == ' ');
    }
    *o = '\0';
    if (!dropped && !exact) {
        memcpy(out, terms, n + 1);
        return out;
    }
    if (*out) return out;
    free(out);
    return exact_term(question);
}

typedef struct {
    char *term;
    double count;
} term_line;

static int by_term(const void *a, const void *b)
{
    return strcmp(((const term_line *)a)->term, ((const term_line *)b)->term);
}

/* An item's centroid ("term TAB count" lines in the terms' byte order) without the terms the
 * redaction now takes; an exact-text term is redacted in place, and two that become one add
 * up. NULL when memory ran out. */
static char *centroid_redacted(const char *terms)
{
    size_t n = 0, cap = 0, bytes = 1;
    term_line *v = NULL;
    int oom = 0, changed = 0;
    for (const char *p = terms; *p && !oom;) {
        size_t len = strcspn(p, "\n");
        const char *tab = memchr(p, '\t', len);
        char *term = tab ? strndup(p, (size_t)(tab - p)) : NULL;
        int found = 0;
        char *r = term ? redacted(term, &found) : NULL;
        if (tab && !r) oom = 1;
        if (r && strcmp(r, term) != 0) changed = 1;
        if (r && (!found || term[0] == '"')) {
            if (n == cap) {
                term_line *w = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
                if (!w) oom = 1;
                else v = w;
            }
            if (!oom) {
                v[n].term = r;
                v[n++].count = strtod(tab + 1, NULL);
                bytes += strlen(r) + 24;
                r = NULL;
            }
        }
        free(term);
        free(r);
        p += len + (p[len] == '\n');
    }
    /* Nothing redacted: the centroid as it was, not written out again. */
    char *out = oom ? NULL : changed ? malloc(bytes) : strdup(terms), *o = out;
    if (out && changed) {
        if (n) qsort(v, n, sizeof *v, by_term);
        *o = '\0';
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && !strcmp(v[i].term, v[i + 1].term)) {
                v[i + 1].count += v[i].count;
                continue;
            }
            o += sprintf(o, "%s\t%.0f\n", v[i].term, v[i].count);
        }
    }
    for (size_t i = 0; i < n; i++) free(v[i].term);
    free(v);
    return out;
}

/* ---------------------------------------------------------------- the tables */

static int keep_phrasing_in_use(run *r, const table_spec *t, row *w);
static int note_gap_question(run *r, const table_spec *t, row *w);
static int note_gap_item(run *r, const table_spec *t, row *w);

#define C(name, type, how) {name, type, how}

/* Every table with a redacted column (docs/PRIVACY.md's list), and how each is written back.
 * Not here: generated or enumerated values (search ids, kinds, statuses, roles), what comes
 * from the index rather than a client (top_ids, doc_days, categories of documents), and
 * teachings.ref (a search id, a help request id or "gap:N", generated). Order matters where
 * one table's result is another's input: teachings before learned_marks. */
static const table_spec TABLES[] = {
    {"searches", 0,
     {C("search_id", TEXT, KEY), C("agent", TEXT, REDACT), C("query", TEXT, REDACT)},
     "UPDATE searches SET agent = :agent, query = :query WHERE search_id = :old_search_id",
     NULL, NULL, NULL, NULL, NULL},
    /* Feedback is stored once per search, kind and document: a row that becomes another's
     * twin goes. */
    {"feedback", 0,
     {C("id", INT, KEY), C("search_id", TEXT, 0), C("kind", TEXT, 0), C("agent", TEXT, REDACT),
      C("doc_id", TEXT, REDACT)},
     "UPDATE feedback SET agent = :agent, doc_id = :doc_id WHERE id = :old_id",
     "SELECT 1 FROM feedback WHERE search_id = :search_id AND kind = :kind AND "
     "coalesce(doc_id, '') = coalesce(:doc_id, '') AND id <> :old_id",
     NULL, "DELETE FROM feedback WHERE id = :old_id", NULL, NULL},
    {"feedback_parked", 1,
     {C("id", INT, KEY), C("search_id", TEXT, 0), C("kind", TEXT, 0), C("agent", TEXT, REDACT),
      C("doc_id", TEXT, REDACT)},
     "UPDATE feedback_parked SET agent = :agent, doc_id = :doc_id WHERE id = :old_id",
     "SELECT 1 FROM feedback_parked WHERE search_id = :search_id AND kind = :kind AND "
     "coalesce(doc_id, '') = coalesce(:doc_id, '') AND id <> :old_id",
     NULL, "DELETE FROM feedback_parked WHERE id = :old_id", NULL, NULL},
    {"help_requests", 0,
     {C("id", INT, KEY), C("agent", TEXT, REDACT), C("filed_by", TEXT, REDACT),
      C("question", TEXT, REDACT), C("answer", TEXT, REDACT), C("doc_id", TEXT, REDACT),
      C("doc_title", TEXT, REDACT), C("override_by", TEXT, REDACT),
      C("override_doc_id", TEXT, REDACT), C("override_note", TEXT, REDACT)},
     "UPDATE help_requests SET agent = :agent, filed_by = :filed_by, question = :question, "
     "answer = :answer, doc_id = :doc_id, doc_title = :doc_title, override_by = :override_by, "
     "override_doc_id = :override_doc_id, override_note = :override_note WHERE id = :old_id",
     NULL, NULL, NULL, NULL, NULL},
    {"help_request_reviews", 0,
     {C("id", INT, KEY), C("reviewer", TEXT, REDACT), C("doc_id", TEXT, REDACT),
      C("note", TEXT, REDACT)},
     "UPDATE help_request_reviews SET reviewer = :reviewer, doc_id = :doc_id, note = :note "
     "WHERE id = :old_id",
     NULL, NULL, NULL, NULL, NULL},
    /* Two agent ids that become one: the list keeps the row that holds it (the agents file,
     * loaded again, is refused until its ids hold no identifier: kb_agent_id_problem). */
    {"agents", 0,
     {C("agent_id", TEXT, KEY | REDACT), C("name", TEXT, REDACT), C("team", TEXT, REDACT)},
     "UPDATE agents SET agent_id = :agent_id, name = :name, team = :team "
     "WHERE agent_id = :old_agent_id",
     "SELECT 1 FROM agents WHERE agent_id = :agent_id AND agent_id <> :old_agent_id", NULL,
     "DELETE FROM agents WHERE agent_id = :old_agent_id", NULL, NULL},
    {"gap_groups", 0,
     {C("id", INT, KEY), C("question", TEXT, REDACT), C("note", TEXT, REDACT),
      C("category", TEXT, REDACT), C("status_by", TEXT, REDACT), C("category_by", TEXT, REDACT),
      C("answer_doc_id", TEXT, REDACT), C("terms", TEXT, CENTROID)},
     "UPDATE gap_groups SET question = :question, note = :note, category = :category, "
     "status_by = :status_by, category_by = :category_by, answer_doc_id = :answer_doc_id, "
     "terms = :terms WHERE id = :old_id",
     NULL, NULL, NULL, NULL, note_gap_item},
    {"gap_questions", 0,
     {C("id", INT, KEY), C("group_id", INT, 0), C("agent", TEXT, REDACT),
      C("question", TEXT, REDACT), C("terms", TEXT, TERMS)},
     "UPDATE gap_questions SET agent = :agent, question = :question, terms = :terms "
     "WHERE id = :old_id",
     NULL, NULL, NULL, NULL, note_gap_question},
    /* The tally of an item's phrasing: two phrasings that become one add up. */
    {"gap_variants", 0,
     {C("group_id", INT, KEY), C("question", TEXT, KEY | REDACT), C("n", INT, 0),
      C("last_ms", INT, 0)},
     "UPDATE gap_variants SET question = :question WHERE group_id = :old_group_id AND "
     "question = :old_question",
     "SELECT 1 FROM gap_variants WHERE group_id = :group_id AND question = :question AND "
     "question <> :old_question",
     "UPDATE gap_variants SET n = n + :n, last_ms = CASE WHEN last_ms < :last_ms THEN :last_ms "
     "ELSE last_ms END WHERE group_id = :group_id AND question = :question",
     "DELETE FROM gap_variants WHERE group_id = :old_group_id AND question = :old_question", NULL,
     note_gap_item},
    /* The normalized key (k) of a question that changes is computed again by kb/learn. */
    {"teachings", 0,
     {C("id", INT, KEY), C("doc_id", TEXT, REDACT), C("question", TEXT, REDACT),
      C("teacher", TEXT, REDACT)},
     "UPDATE teachings SET doc_id = :doc_id, question = :question, teacher = :teacher, "
     "k = CASE WHEN question = :question THEN k END WHERE id = :old_id",
     NULL, NULL, NULL, NULL, NULL},
    /* An editor's verdict on a phrasing: two that become one keep the latest (on a tie,
     * removed: never learned again is the safer of the two). */
    {"learned_marks", 0,
     {C("doc_id", TEXT, KEY | REDACT), C("phrasing", TEXT, KEY | PHRASING), C("state", TEXT, 0),
      C("by_name", TEXT, REDACT), C("time_ms", INT, 0)},
     "UPDATE learned_marks SET doc_id = :doc_id, phrasing = :phrasing, by_name = :by_name "
     "WHERE doc_id = :old_doc_id AND phrasing = :old_phrasing",
     "SELECT 1 FROM learned_marks WHERE doc_id = :doc_id AND phrasing = :phrasing AND "
     "NOT (doc_id = :old_doc_id AND phrasing = :old_phrasing)",
     "UPDATE learned_marks SET state = :state, by_name = :by_name, time_ms = :time_ms "
     "WHERE doc_id = :doc_id AND phrasing = :phrasing AND (time_ms < :time_ms OR "
     "(time_ms = :time_ms AND CAST(:state AS TEXT) = 'removed'))",
     "DELETE FROM learned_marks WHERE doc_id = :old_doc_id AND phrasing = :old_phrasing",
     keep_phrasing_in_use, NULL},
    /* Studied once, at the first time. */
    {"study_marks", 0,
     {C("agent", TEXT, KEY | REDACT), C("doc_id", TEXT, KEY | REDACT), C("time_ms", INT, 0)},
     "UPDATE study_marks SET agent = :agent, doc_id = :doc_id WHERE agent = :old_agent AND "
     "doc_id = :old_doc_id",
     "SELECT 1 FROM study_marks WHERE agent = :agent AND doc_id = :doc_id AND "
     "NOT (agent = :old_agent AND doc_id = :old_doc_id)",
     "UPDATE study_marks SET time_ms = :time_ms WHERE agent = :agent AND doc_id = :doc_id AND "
     "time_ms > :time_ms",
     "DELETE FROM study_marks WHERE agent = :old_agent AND doc_id = :old_doc_id", NULL, NULL},
    {"coaching_sessions", 0,
     {C("id", INT, KEY), C("agent", TEXT, REDACT), C("lead", TEXT, REDACT),
      C("note", TEXT, REDACT)},
     "UPDATE coaching_sessions SET agent = :agent, lead = :lead, note = :note WHERE id = :old_id",
     NULL, NULL, NULL, NULL, NULL},
    /* A session lists a document once: of two that become one, the one listed keeps its place. */
    {"coaching_docs", 0,
     {C("session_id", INT, KEY), C("doc_id", TEXT, KEY | REDACT), C("title", TEXT, REDACT)},
     "UPDATE coaching_docs SET doc_id = :doc_id, title = :title WHERE session_id = "
     ":old_session_id AND doc_id = :old_doc_id",
     "SELECT 1 FROM coaching_docs WHERE session_id = :session_id AND doc_id = :doc_id AND "
     "doc_id <> :old_doc_id",
     NULL, "DELETE FROM coaching_docs WHERE session_id = :old_session_id AND doc_id = :old_doc_id",
     NULL, NULL},
};
#undef C

static size_t n_cols(const table_spec *t)
{
    size_t n = 0;
    while (n < MAX_COLS && t->cols[n].name) n++;
    return n;
}

static size_t n_keys(const table_spec *t)
{
    size_t n = 0;
    while (n < MAX_COLS && t->cols[n].name && (t->cols[n].how & KEY)) n++;
    return n;
}

/* ---------------------------------------------------------------- rows */

static void row_free(row *w, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        if (w->now[c].t != w->old[c].t) free(w->now[c].t);
        free(w->old[c].t);
    }
    memset(w, 0, sizeof *w);
}

/* Bind :name to the new values and :old_name to the values read, where the statement has them. */
static void bind_row(kb_db_stmt *s, const table_spec *t, const row *w)
{
    char param[64];
    for (size_t c = 0; c < n_cols(t); c++)
        for (int old = 0; old < 2; old++) {
            snprintf(param, sizeof param, ":%s%s", old ? "old_" : "", t->cols[c].name);
            int i = kb_db_param_index(s, param);
            const value *v = old ? &w->old[c] : &w->now[c];
            if (!i) continue;
            if (v->null) kb_db_bind_null(s, i);
            else if (t->cols[c].type == INT) kb_db_bind_int64(s, i, v->i);
            else kb_db_bind_text(s, i, v->t);
        }
}

/* Run one statement over row w; with rows_out, *rows_out says whether it returned a row.
 * KB_DB_OK or the failure's code. */
static int run_sql(run *r, const char *sql, const table_spec *t, const row *w, int *rows_out)
{
    kb_db_stmt *s = NULL;
    int rc = kb_db_prepare(r->db, sql, &s);
    if (rc == KB_DB_OK) {
        bind_row(s, t, w);
        rc = kb_db_step(s);
        if (rows_out) *rows_out = rc == KB_DB_ROW;
        rc = rc == KB_DB_ROW || rc == KB_DB_DONE ? KB_DB_OK : rc;
    }
    kb_db_finalize(s);
    return rc;
}

/* The row's new values: each column through its transform. 1 when any changed, 0 when none,
 * -1 when memory ran out. */
static int transform(const table_spec *t, row *w)
{
    int changed = 0;
    const char *question = NULL; /* the row's redacted question, for its terms */
    for (size_t c = 0; c < n_cols(t); c++) {
        w->now[c] = w->old[c];
        unsigned how = t->cols[c].how;
        if (w->old[c].null || t->cols[c].type != TEXT || !(how & ~KEY)) continue;
        const char *v = w->old[c].t;
        char *nv = how & REDACT     ? redacted(v, NULL)
                   : how & PHRASING ? phrasing_redacted(v)
                   : how & CENTROID ? centroid_redacted(v)
                                    : terms_redacted(v, question ? question : "");
        if (!nv) return -1;
        if (!strcmp(nv, v)) {
            free(nv);
        } else {
            w->now[c].t = nv;
            changed = 1;
        }
        if (!strcmp(t->cols[c].name, "question")) question = w->now[c].t;
    }
    return changed;
}

/* Whether any of the row's values changed. */
static int differs(const table_spec *t, const row *w)
{
    for (size_t c = 0; c < n_cols(t); c++)
        if (w->now[c].t != w->old[c].t) return 1;
    return 0;
}

/* Write a changed row: in place, or, when its new key (or its once-only values) belongs to
 * another row already, merged into that one. KB_DB_OK or the failure's code. */
static int write_row(run *r, const table_spec *t, row *w)
{
    if (t->before && t->before(r, t, w) != 0) return KB_DB_ERROR;
    if (!differs(t, w)) return KB_DB_OK;
    int clash = 0, rc = t->clash ? run_sql(r, t->clash, t, w, &clash) : KB_DB_OK;
    if (rc != KB_DB_OK) return rc;
    if (clash) {
        if (t->merge && (rc = run_sql(r, t->merge, t, w, NULL)) != KB_DB_OK) return rc;
        rc = run_sql(r, t->drop, t, w, NULL);
        r->stats->rows_merged++;
    } else {
        rc = run_sql(r, t->update, t, w, NULL);
        r->stats->rows_changed++;
    }
    if (rc == KB_DB_OK && t->after && t->after(r, t, w) != 0) rc = KB_DB_ERROR;
    return rc;
}

/* The SELECT of one page: the first (after = 0) or the one after a key. */
static char *page_sql(const table_spec *t, int after)
{
    char cols[512] = "", keys[128] = "", params[128] = "";
    size_t nk = n_keys(t);
    for (size_t c = 0; c < n_cols(t); c++) {
        strcat(cols, c ? ", " : "");
        strcat(cols, t->cols[c].name);
    }
    for (size_t k = 0; k < nk; k++) {
        strcat(keys, k ? ", " : "");
        strcat(keys, t->cols[k].name);
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s?%zu", k ? ", " : "",
                 k + 1);
    }
    char *sql;
    int n = after ? asprintf(&sql, "SELECT %s FROM %s WHERE (%s) > (%s) ORDER BY %s LIMIT %d",
                             cols, t->table, keys, params, keys, PAGE_ROWS)
                  : asprintf(&sql, "SELECT %s FROM %s ORDER BY %s LIMIT %d", cols, t->table, keys,
                             PAGE_ROWS);
    return n < 0 ? NULL : sql;
}

/* Read one page into page[] (*n rows), after the key in `last` when after is set. */
static int read_page(run *r, const table_spec *t, int after, const row *last, row *page,
                     size_t *n)
{
    char *sql = page_sql(t, after);
    kb_db_stmt *s = NULL;
    *n = 0;
    if (!sql) return KB_DB_ERROR;
    int rc = kb_db_prepare(r->db, sql, &s);
    free(sql);
    for (size_t k = 0; rc == KB_DB_OK && after && k < n_keys(t); k++)
        rc = t->cols[k].type == INT ? kb_db_bind_int64(s, (int)k + 1, last->old[k].i)
                                    : kb_db_bind_text(s, (int)k + 1, last->old[k].t);
    while (rc == KB_DB_OK && (rc = kb_db_step(s)) == KB_DB_ROW) {
        row *w = &page[(*n)++];
        memset(w, 0, sizeof *w);
        for (size_t c = 0; c < n_cols(t); c++) {
            w->old[c].null = kb_db_column_is_null(s, (int)c);
            if (t->cols[c].type == INT) w->old[c].i = kb_db_column_int64(s, (int)c);
            else if (kb_db_column_dup(s, (int)c, &w->old[c].t) != 0) rc = KB_DB_ERROR;
        }
        if (rc == KB_DB_ROW) rc = KB_DB_OK;
    }
    kb_db_finalize(s);
    return rc == KB_DB_DONE ? KB_DB_OK : rc;
}

/* One table, page by page. */
static int reredact_table(run *r, const table_spec *t)
{
    row *page = calloc(PAGE_ROWS, sizeof *page), cursor;
    size_t n = 0, nc = n_cols(t);
    int rc = page ? KB_DB_OK : KB_DB_ERROR;
    memset(&cursor, 0, sizeof cursor);
    for (int after = 0; rc == KB_DB_OK; after = 1) {
        rc = read_page(r, t, after, &cursor, page, &n);
        for (size_t i = 0; rc == KB_DB_OK && i < n; i++) {
            r->stats->rows_read++;
            int changed = transform(t, &page[i]);
            if (changed < 0) rc = KB_DB_ERROR;
            else if (changed) rc = write_row(r, t, &page[i]);
        }
        if (rc != KB_DB_OK || n < PAGE_ROWS) break;
        /* The next page starts after the last key as read. */
        row_free(&cursor, nc);
        for (size_t k = 0; k < n_keys(t); k++) {
            cursor.old[k] = page[n - 1].old[k];
            if (page[n - 1].now[k].t == page[n - 1].old[k].t) page[n - 1].now[k].t = NULL;
            page[n - 1].old[k].t = NULL;
            cursor.now[k] = cursor.old[k];
        }
        for (size_t i = 0; i < n; i++) row_free(&page[i], nc);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) row_free(&page[i], nc);
    row_free(&cursor, nc);
    free(page);
    return rc;
}

/* ---------------------------------------------------------------- what follows the text */

static int column_of(const table_spec *t, const char *name)
{
    for (size_t c = 0; c < n_cols(t); c++)
        if (!strcmp(t->cols[c].name, name)) return (int)c;
    return -1;
}

/* A learned mark matches the teachings by their key (doc_id, k). A key is computed again from
 * its question when the question changed (teachings above); one whose question did not change
 * stays as it is, and so must the mark on it: its phrasing is left as read. */
static int keep_phrasing_in_use(run *r, const table_spec *t, row *w)
{
    int p = column_of(t, "phrasing"), d = column_of(t, "doc_id");
    if (w->now[p].t == w->old[p].t) return 0;
    kb_db_stmt *s = NULL;
    int in_use = 0;
    if (kb_db_prepare(r->db, "SELECT 1 FROM teachings WHERE doc_id = ?1 AND k = ?2", &s) !=
        KB_DB_OK)
        return -1;
    kb_db_bind_text(s, 1, w->now[d].t);
    kb_db_bind_text(s, 2, w->old[p].t);
    int rc = kb_db_step(s);
    in_use = rc == KB_DB_ROW;
    kb_db_finalize(s);
    if (rc != KB_DB_ROW && rc != KB_DB_DONE) return -1;
    if (in_use) {
        free(w->now[p].t);
        w->now[p].t = w->old[p].t;
    }
    return 0;
}

static int note_group(run *r, int64_t id)
{
    if (r->n_groups == r->cap_groups) {
        size_t cap = r->cap_groups ? r->cap_groups * 2 : 64;
        int64_t *v = realloc(r->groups, cap * sizeof *v);
        if (!v) return -1;
        r->groups = v;
        r->cap_groups = cap;
    }
    r->groups[r->n_groups++] = id;
    return 0;
}

/* A gap question changed: its item's representative and counts are recomputed at the end; if
 * its text changed, the queue analyzes its questions again. */
static int note_gap_question(run *r, const table_spec *t, row *w)
{
    int q = column_of(t, "question");
    if (w->now[q].t != w->old[q].t) r->questions_changed = 1;
    return note_group(r, w->old[column_of(t, "group_id")].i);
}

/* An item whose own text or phrasings' tally changed: its representative is recomputed too. */
static int note_gap_item(run *r, const table_spec *t, row *w)
{
    int id = column_of(t, "id");
    return note_group(r, w->old[id >= 0 ? id : column_of(t, "group_id")].i);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The gap items whose questions or phrasings changed: the representative (the most frequent
 * phrasing, then the newest, then byte order: kb/gaps' rule), the number of phrasings and of
 * agents from their questions as they are now. An item without questions keeps its own,
 * redacted above. */
static int fix_gap_items(run *r)
{
    static const char sql[] =
        "UPDATE gap_groups SET"
        " question = coalesce((SELECT question FROM gap_questions WHERE group_id = ?1"
        " GROUP BY question ORDER BY count(*) DESC, max(time_ms) DESC, question LIMIT 1), question),"
        " n_variants = (SELECT count(DISTINCT question) FROM gap_questions WHERE group_id = ?1),"
        " n_agents = (SELECT count(DISTINCT agent) FROM gap_questions WHERE group_id = ?1)"
        " WHERE id = ?1 AND EXISTS (SELECT 1 FROM gap_questions WHERE group_id = ?1)";
    if (r->n_groups) qsort(r->groups, r->n_groups, sizeof *r->groups, cmp_id); /* not NULL, 0 */
    kb_db_stmt *s = NULL;
    int rc = r->n_groups ? kb_db_prepare(r->db, sql, &s) : KB_DB_OK;
    for (size_t i = 0; rc == KB_DB_OK && i < r->n_groups; i++) {
        if (i && r->groups[i] == r->groups[i - 1]) continue;
        kb_db_reset(s);
        kb_db_bind_int64(s, 1, r->groups[i]);
        rc = kb_db_step(s) == KB_DB_DONE ? KB_DB_OK : KB_DB_ERROR;
        if (rc == KB_DB_OK) r->stats->groups_fixed++;
    }
    kb_db_finalize(s);
    /* Terms and centroids exactly as the current rules give them for the new texts: the queue
     * analyzes its questions again, a batch at a time (kb/gaps' re-analysis, as after a change
     * of its rules). */
    if (rc == KB_DB_OK && r->questions_changed)
        rc = kb_db_exec(r->db, "DELETE FROM gap_progress WHERE source IN ('terms_version', "
                               "'terms_upto')");
    return rc;
}

/* ---------------------------------------------------------------- the step */

int kb_reredact_store(kb_db *db, kb_reredact_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    run r = {.db = db, .stats = stats};
    int pg = kb_db_dialect_of(db) == KB_DB_POSTGRESQL, rc = KB_DB_OK;
    for (size_t i = 0; rc == KB_DB_OK && i < sizeof TABLES / sizeof TABLES[0]; i++)
        if (pg || !TABLES[i].pg_only) rc = reredact_table(&r, &TABLES[i]);
    if (rc == KB_DB_OK) rc = fix_gap_items(&r);
    free(r.groups);
    return rc;
}
