/*
 * gaps_query.c — reading the editors' queue into the structs of kb/gaps.h: the ranked list with
 * filters, one item with everything behind it, and content health. How they look in the API is
 * kb-searchd's business (searchd/json_gaps.c, docs/API.md).
 *
 * Without a date window the list reads the groups' stored aggregates (one indexed scan of
 * gap_groups, however many searches were logged). With a window the aggregates are recomputed
 * from the questions inside it (gap_questions_time), so "this week's" counts are this week's.
 */
#include "kb/gaps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/paged_query.h"
#include "gaps/gaps_internal.h"

int64_t kb_gaps_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kb_gaps_iso_time(int64_t ms, char *buf)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[20];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned m = (unsigned)millis % 1000u;
    snprintf(buf, 25, "%.19s.%c%c%cZ", date, '0' + m / 100, '0' + m / 10 % 10, '0' + m % 10);
}

/* Array v (n elements of `size` bytes used, *cap allocated) with room for one more: v itself,
 * or moved; NULL when out of memory (v is left as it was). */
static void *room_for_one(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return v;
    size_t c = *cap ? *cap * 2 : 8;
    void *q = realloc(v, c * size);
    if (q) *cap = c;
    return q;
}

/* Column col as milliseconds, KB_GAPS_NO_TIME for SQL NULL. */
static int64_t take_time(kb_db_stmt *s, int col)
{
    return kb_db_column_is_null(s, col) ? KB_GAPS_NO_TIME : kb_db_column_int64(s, col);
}

static void variants_free(kb_gap_variant *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].question);
    free(v);
}

void kb_gap_item_free(kb_gap_item *it)
{
    if (!it) return;
    char *texts[] = {it->status,         it->question,        it->category,
                     it->category_by,    it->suggested_answer, it->suggested_title,
                     it->answer_doc_id,  it->status_by,       it->note};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) free(texts[i]);
    variants_free(it->top_variants, it->n_top_variants);
    variants_free(it->variants, it->n_variants);
    for (size_t i = 0; i < it->n_questions; i++) {
        kb_gap_question *q = &it->questions[i];
        free(q->source);
        free(q->ref);
        free(q->agent);
        free(q->question);
        free(q->top_id);
    }
    free(it->questions);
    memset(it, 0, sizeof *it);
}

void kb_gap_page_free(kb_gap_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) kb_gap_item_free(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* Columns every item query selects, in this order (the counts come from the group or from the
 * window, see list_sql). */
#define ITEM_COLUMNS                                                                            \
    "g.id, g.status, g.question, c.n, c.a, c.v, c.ns, c.nn, c.nh, c.f, c.l, g.category, "       \
    "g.answer_doc_id, g.suggested_doc_id, g.suggested_title, g.suggested_confidence, "          \
    "g.suggested_ms, g.status_by, g.status_ms, g.note, g.category_by"
#define GROUP_COUNTS                                                                            \
    "(SELECT id AS gid, n_questions AS n, n_agents AS a, n_variants AS v, n_search AS ns, "     \
    "n_not_found AS nn, n_help AS nh, first_ms AS f, last_ms AS l FROM gap_groups)"
#define WINDOW_COUNTS                                                                           \
    "(SELECT group_id AS gid, count(*) AS n, count(DISTINCT agent) AS a, "                      \
    "count(DISTINCT question) AS v, count(*) FILTER (WHERE source = 'search') AS ns, "          \
    "count(*) FILTER (WHERE source = 'not_found') AS nn, "                                      \
    "count(*) FILTER (WHERE source = 'help_request') AS nh, min(time_ms) AS f, "                \
    "max(time_ms) AS l FROM gap_questions WHERE time_ms >= ?1 AND time_ms < ?2 "                \
    "GROUP BY group_id)"

/* An item's most frequent phrasings (in the window when there is one), at most limit, in the
 * representative's order (the text's byte order on an exact tie, the same on both databases).
 * 0, or -1 on error. */
static int read_variants(kb_gaps *g, int64_t id, int64_t from, int64_t to, size_t limit,
                         kb_gap_variant **out, size_t *n)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT question, count(*), max(time_ms) FROM gap_questions "
                      "WHERE group_id = ?1 AND time_ms >= ?2 AND time_ms < ?3 "
                      "GROUP BY question ORDER BY count(*) DESC, max(time_ms) DESC, question "
                      "LIMIT ?4",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_int64(s, 2, from);
    kb_db_bind_int64(s, 3, to);
    kb_db_bind_int64(s, 4, (int64_t)limit);
    size_t cap = 0;
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        kb_gap_variant *more = room_for_one(*out, *n, &cap, sizeof *more);
        if (!more) break;
        *out = more;
        kb_gap_variant *v = &more[(*n)++];
        *v = (kb_gap_variant){0};
        if (kb_db_column_dup(s, 0, &v->question) != 0) break;
        v->count = kb_db_column_int64(s, 1);
        v->last_seen_ms = take_time(s, 2);
    }
    kb_db_finalize(s);
    return rc == KB_DB_DONE ? 0 : -1;
}

/* One row of ITEM_COLUMNS into *it, with its top variants in [from, to). 0, or -1 on error (*it
 * holds what was read; the caller frees it). */
static int read_item_row(kb_gaps *g, kb_db_stmt *s, int64_t from, int64_t to, kb_gap_item *it)
{
    it->id = kb_db_column_int64(s, 0);
    it->count = kb_db_column_int64(s, 3);
    it->agents = kb_db_column_int64(s, 4);
    it->impact = it->count * it->agents;
    it->variants_total = kb_db_column_int64(s, 5);
    it->sources.search = kb_db_column_int64(s, 6);
    it->sources.not_found = kb_db_column_int64(s, 7);
    it->sources.help_request = kb_db_column_int64(s, 8);
    it->first_seen_ms = take_time(s, 9);
    it->last_seen_ms = take_time(s, 10);
    it->suggested_confidence = kb_db_column_is_null(s, 15) ? -1 : kb_db_column_double(s, 15);
    it->suggested_ms = take_time(s, 16);
    it->status_ms = take_time(s, 18);
    int bad = kb_db_column_dup(s, 1, &it->status) | kb_db_column_dup(s, 2, &it->question) |
              kb_db_column_dup(s, 11, &it->category) | kb_db_column_dup(s, 12, &it->answer_doc_id) |
              kb_db_column_dup(s, 13, &it->suggested_answer) |
              kb_db_column_dup(s, 14, &it->suggested_title) |
              kb_db_column_dup(s, 17, &it->status_by) | kb_db_column_dup(s, 19, &it->note) |
              kb_db_column_dup(s, 20, &it->category_by);
    if (bad) return -1;
    return read_variants(g, it->id, from, to, 3, &it->top_variants, &it->n_top_variants);
}

int kb_gaps_read_item(kb_gaps *g, int64_t id, kb_gap_item *out)
{
    memset(out, 0, sizeof *out);
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT " ITEM_COLUMNS " FROM gap_groups g JOIN " GROUP_COUNTS
                      " c ON c.gid = g.id WHERE g.id = ?1",
                      &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot read the item");
    kb_db_bind_int64(s, 1, id);
    int rc = kb_db_step(s), code = KB_OK;
    if (rc == KB_DB_ROW) {
        if (read_item_row(g, s, INT64_MIN, INT64_MAX, out) != 0)
            code = kb_store_conn_sql_fail(&g->conn, "cannot read the item");
    } else if (rc == KB_DB_DONE) {
        code = kb_store_conn_fail(&g->conn, KB_NOT_FOUND, "no item with id %lld", (long long)id);
    } else {
        code = kb_store_conn_sql_fail(&g->conn, "cannot read the item");
    }
    kb_db_finalize(s);
    if (code != KB_OK) kb_gap_item_free(out);
    return code;
}

/* The WHERE clause for statuses and category; binds ?3 (category) when used. */
static void filter_sql(char *buf, size_t len, const kb_gaps_filter *f)
{
    unsigned st = f->statuses ? f->statuses : (KB_GAP_OPEN | KB_GAP_IN_PROGRESS);
    static const char *const names[] = {"open", "in_progress", "answered", "dismissed"};
    size_t o = (size_t)snprintf(buf, len, "g.status IN (");
    int first = 1;
    for (int i = 0; i < 4 && o < len; i++)
        if (st & (1u << i)) {
            o += (size_t)snprintf(buf + o, len - o, "%s'%s'", first ? "" : ", ", names[i]);
            first = 0;
        }
    if (o < len) o += (size_t)snprintf(buf + o, len - o, ")");
    if (f->category && *f->category && o < len)
        snprintf(buf + o, len - o,
                 " AND (g.category = CAST(?3 AS TEXT) OR substr(g.category, 1, "
                 "length(CAST(?3 AS TEXT)) + 1) = CAST(?3 AS TEXT) || '/')");
}

/* What bind_filter binds: the window (?1, ?2) and the category (?3). */
typedef struct {
    const kb_gaps_filter *f;
    int window;
    int64_t from, to;
} list_args;

static void bind_filter(kb_db_stmt *s, const void *arg)
{
    const list_args *a = arg;
    if (a->window) {
        kb_db_bind_int64(s, 1, a->from);
        kb_db_bind_int64(s, 2, a->to);
    }
    if (a->f->category && *a->f->category) kb_db_bind_text(s, 3, a->f->category);
}

int kb_gaps_list(kb_gaps *g, const kb_gaps_filter *f, kb_gap_page *out)
{
    memset(out, 0, sizeof *out);
    g->conn.code = KB_OK;
    kb_gaps_filter def = {0};
    if (!f) f = &def;
    size_t limit = f->limit ? f->limit : 50;
    list_args args = {f, f->from_ms || f->to_ms, f->from_ms ? f->from_ms : INT64_MIN,
                      f->to_ms ? f->to_ms : INT64_MAX};
    char where[256], from[512];
    filter_sql(where, sizeof where, f);
    snprintf(from, sizeof from, "%s c JOIN gap_groups g ON g.id = c.gid",
             args.window ? WINDOW_COUNTS : GROUP_COUNTS);
    const char *order = f->sort == KB_GAPS_SORT_RECENT  ? "c.l DESC, g.id DESC"
                        : f->sort == KB_GAPS_SORT_COUNT ? "c.n DESC, c.l DESC, g.id DESC"
                                                        : "c.n * c.a DESC, c.l DESC, g.id DESC";
    kb_page q;
    if (kb_page_open(kb_gaps_db(g), ITEM_COLUMNS, from, where, order, limit, f->offset,
                     bind_filter, &args, &q) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot read the queue");
    out->total = q.total;
    out->offset = f->offset;
    out->limit = limit;
    size_t cap = 0;
    int rc;
    while ((rc = kb_db_step(q.rows)) == KB_DB_ROW) {
        kb_gap_item *more = room_for_one(out->items, out->n, &cap, sizeof *more);
        if (!more) break;
        out->items = more;
        kb_gap_item *it = &more[out->n++];
        *it = (kb_gap_item){0};
        if (read_item_row(g, q.rows, args.from, args.to, it) != 0) break;
    }
    kb_page_close(&q);
    if (rc != KB_DB_DONE) {
        kb_store_conn_sql_fail(&g->conn, "cannot read the queue");
        kb_gap_page_free(out);
        return KB_ERROR;
    }
    return KB_OK;
}

/* The latest max_rows questions of item id into it->questions. 0, or -1 on error. */
static int read_questions(kb_gaps *g, int64_t id, size_t max_rows, kb_gap_item *it)
{
    kb_db_stmt *s;
    if (kb_db_prepare(kb_gaps_db(g),
                      "SELECT source, ref, time_ms, agent, question, top_id FROM "
                      "gap_questions WHERE group_id = ?1 ORDER BY time_ms DESC, id DESC "
                      "LIMIT ?2",
                      &s) != KB_DB_OK)
        return -1;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_int64(s, 2, (int64_t)max_rows);
    size_t cap = 0;
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        kb_gap_question *more = room_for_one(it->questions, it->n_questions, &cap, sizeof *more);
        if (!more) break;
        it->questions = more;
        kb_gap_question *q = &more[it->n_questions++];
        *q = (kb_gap_question){0};
        q->time_ms = take_time(s, 2);
        if (kb_db_column_dup(s, 0, &q->source) | kb_db_column_dup(s, 1, &q->ref) |
            kb_db_column_dup(s, 3, &q->agent) | kb_db_column_dup(s, 4, &q->question) |
            kb_db_column_dup(s, 5, &q->top_id))
            break;
    }
    kb_db_finalize(s);
    return rc == KB_DB_DONE ? 0 : -1;
}

int kb_gaps_item(kb_gaps *g, int64_t id, size_t max_rows, kb_gap_item *out)
{
    memset(out, 0, sizeof *out);
    g->conn.code = KB_OK;
    int64_t target = kb_gaps_resolve(g, id); /* an id merged into another item shows that item */
    if (target <= 0) return g->conn.code;
    if (kb_gaps_read_item(g, target, out) != KB_OK) return g->conn.code;
    if (target != id) out->merged_from = id;
    if (!max_rows) max_rows = 200;
    if (read_variants(g, target, INT64_MIN, INT64_MAX, max_rows, &out->variants,
                      &out->n_variants) != 0 ||
        read_questions(g, target, max_rows, out) != 0) {
        kb_gap_item_free(out);
        return kb_store_conn_sql_fail(&g->conn, "cannot read the item");
    }
    out->questions_total =
        kb_gaps_query_int(g, "SELECT count(*) FROM gap_questions WHERE group_id = ?1", target, 0);
    return KB_OK;
}

/* ---------------------------------------------------------------- content health */

/* 1 when searches may return d on `today` (YYYY-MM-DD; NULL: no date known, every document). */
static int valid_on(const kb_doc_info *d, const char *today)
{
    if (!today) return 1;
    if (d->valid_until[0] && strcmp(d->valid_until, today) < 0) return 0;
    if (d->valid_from[0] && strcmp(d->valid_from, today) > 0) return 0;
    return 1;
}

static void health_list_free(kb_health_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kb_health_doc *d = &l->docs[i];
        free(d->id);
        free(d->title);
        for (size_t c = 0; c < d->n_categories; c++) free(d->categories[c]);
        free(d->categories);
    }
    free(l->docs);
    memset(l, 0, sizeof *l);
}

void kb_content_health_free(kb_content_health *h)
{
    if (!h) return;
    health_list_free(&h->never_returned);
    health_list_free(&h->expired);
    health_list_free(&h->not_answering);
    memset(h, 0, sizeof *h);
}

/* One more document for list l: counted in its total, and listed while fewer than limit are, in
 * which case *e is its entry (zeroed; else NULL). 0, or -1 when out of memory. */
static int health_add(kb_health_list *l, size_t *cap, size_t limit, kb_health_doc **e)
{
    *e = NULL;
    if (l->total++ >= limit) return 0;
    kb_health_doc *more = room_for_one(l->docs, l->n, cap, sizeof *more);
    if (!more) return -1;
    l->docs = more;
    *e = &more[l->n++];
    **e = (kb_health_doc){0};
    return 0;
}

/* Copies of a document's id and title into e. 0, or -1 when out of memory. */
static int copy_brief(kb_health_doc *e, const kb_doc_info *d)
{
    e->id = strdup(d->id);
    e->title = d->title ? strdup(d->title) : NULL;
    return e->id && (e->title || !d->title) ? 0 : -1;
}

static int copy_categories(kb_health_doc *e, const kb_doc_info *d)
{
    if (!d->n_categories) return 0;
    e->categories = calloc(d->n_categories, sizeof *e->categories);
    if (!e->categories) return -1;
    for (size_t c = 0; c < d->n_categories; c++, e->n_categories++)
        if (!(e->categories[c] = strdup(d->categories[c]))) return -1;
    return 0;
}

/* The documents valid today that no search returned since first_day (the per-day counts).
 * KB_OK or KB_ERROR. */
static int list_never_returned(kb_gaps *g, const kb_doc_list *docs, int64_t first_day,
                               const char *today, size_t limit, kb_health_list *out)
{
    char *seen = calloc(docs->n ? docs->n : 1, 1);
    kb_db_stmt *s;
    if (!seen || kb_db_prepare(kb_gaps_db(g), "SELECT DISTINCT doc_id FROM doc_days WHERE day >= ?1",
                               &s) != KB_DB_OK) {
        free(seen);
        return kb_store_conn_sql_fail(&g->conn, "cannot read document counts");
    }
    kb_db_bind_int64(s, 1, first_day);
    int step;
    while ((step = kb_db_step(s)) == KB_DB_ROW) {
        const kb_doc_info *d = kb_doc_list_find(docs, kb_db_column_text(s, 0));
        if (d) seen[d - docs->docs] = 1;
    }
    kb_db_finalize(s);
    if (step != KB_DB_DONE) {
        free(seen);
        return kb_store_conn_sql_fail(&g->conn, "cannot read document counts");
    }
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < docs->n && rc == 0; i++) {
        /* A search never returns a document outside its validity: one that expired is listed
         * under "expired" only, one not yet valid is waiting for its date. */
        const kb_doc_info *d = &docs->docs[i];
        if (seen[i] || !valid_on(d, today)) continue;
        kb_health_doc *e;
        rc = health_add(out, &cap, limit, &e);
        if (rc == 0 && e) {
            rc = copy_brief(e, d) | copy_categories(e, d);
            memcpy(e->updated, d->updated, sizeof e->updated);
        }
    }
    free(seen);
    return rc == 0 ? KB_OK : kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory");
}

/* The documents valid until before today. KB_OK or KB_ERROR. */
static int list_expired(kb_gaps *g, const kb_doc_list *docs, const char *today, size_t limit,
                        kb_health_list *out)
{
    size_t cap = 0;
    for (size_t i = 0; i < docs->n; i++) {
        const kb_doc_info *d = &docs->docs[i];
        if (!d->valid_until[0] || !today || strcmp(d->valid_until, today) >= 0) continue;
        kb_health_doc *e;
        if (health_add(out, &cap, limit, &e) != 0 || (e && copy_brief(e, d) != 0))
            return kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory");
        if (e) memcpy(e->valid_until, d->valid_until, sizeof e->valid_until);
    }
    return KB_OK;
}

/* The documents agents said did not answer since `since`, most reports first. KB_OK or
 * KB_ERROR. */
static int list_not_answering(kb_gaps *g, const kb_doc_list *docs, int64_t since, size_t limit,
                              kb_health_list *out)
{
    kb_db_stmt *s;
    if (kb_db_prepare(
            kb_gaps_db(g),
            /* One search counts once per document, however many not_found reports it got
             * (the store keeps exact repeats out, but "not found" with and without naming the
             * top hit are two rows about the same document). */
            "SELECT doc, count(DISTINCT search), sum(ho), count(DISTINCT agent) FROM ("
            " SELECT coalesce(f.doc_id, s.top_id) AS doc, f.search_id AS search, 0 AS ho,"
            " f.agent AS agent"
            " FROM feedback f JOIN searches s ON s.search_id = f.search_id"
            " WHERE f.kind = 'not_found' AND f.time_ms >= ?1"
            " UNION ALL"
            " SELECT doc_id, NULL, 1, agent FROM help_requests WHERE time_ms >= ?1"
            " AND kb_answerable = 1 AND override_answerable = 0 AND doc_id IS NOT NULL) AS reports"
            " WHERE doc IS NOT NULL GROUP BY doc"
            " ORDER BY count(DISTINCT search) + sum(ho) DESC, doc",
            &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&g->conn, "cannot read feedback");
    kb_db_bind_int64(s, 1, since);
    size_t cap = 0;
    int rc = 0, step = KB_DB_DONE;
    while (rc == 0 && (step = kb_db_step(s)) == KB_DB_ROW) {
        kb_health_doc *e;
        rc = health_add(out, &cap, limit, &e);
        if (rc != 0 || !e) continue;
        const char *id = kb_db_column_text(s, 0);
        const kb_doc_info *d = kb_doc_list_find(docs, id);
        /* A document no longer in the index keeps its id, without a title. */
        if (d) rc = copy_brief(e, d);
        else rc = (e->id = strdup(id)) ? 0 : -1;
        e->not_found = kb_db_column_int64(s, 1);
        e->help_overrides = kb_db_column_int64(s, 2);
        e->agents = kb_db_column_int64(s, 3);
    }
    kb_db_finalize(s);
    if (rc != 0) return kb_store_conn_fail(&g->conn, KB_ERROR, "out of memory");
    if (step != KB_DB_DONE) return kb_store_conn_sql_fail(&g->conn, "cannot read feedback");
    return KB_OK;
}

int kb_gaps_health(kb_gaps *g, const kb_doc_list *docs, int days, size_t limit, int64_t now_ms,
                   const char *today, kb_content_health *out)
{
    memset(out, 0, sizeof *out);
    g->conn.code = KB_OK;
    if (days < 1) days = 30;
    if (!limit) limit = 100;
    int64_t since = now_ms - (int64_t)days * 86400000;
    out->days = days;
    out->documents = docs->n;
    out->index_revision = docs->revision;
    if (list_never_returned(g, docs, since / 86400000, today, limit, &out->never_returned) ||
        list_expired(g, docs, today, limit, &out->expired) ||
        list_not_answering(g, docs, since, limit, &out->not_answering)) {
        kb_content_health_free(out);
        return g->conn.code;
    }
    return KB_OK;
}
