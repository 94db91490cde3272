/*
 * gaps_query.c — reading the editors' queue as the API's JSON: the ranked list with filters, one
 * item with everything behind it, and content health (see kb/gaps.h, docs/API.md).
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

static void add_time(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char buf[32];
    kb_gaps_iso_time(sqlite3_column_int64(s, col), buf);
    cJSON_AddStringToObject(o, key, buf);
}

static void add_text(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t) cJSON_AddStringToObject(o, key, (const char *)t);
    else cJSON_AddNullToObject(o, key);
}

static double round4(double v) { return (double)(long long)(v * 10000 + (v >= 0 ? 0.5 : -0.5)) / 10000; }

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
    "count(DISTINCT question) AS v, sum(source = 'search') AS ns, "                             \
    "sum(source = 'not_found') AS nn, sum(source = 'help_request') AS nh, min(time_ms) AS f, "  \
    "max(time_ms) AS l FROM gap_questions WHERE time_ms >= ?1 AND time_ms < ?2 "                \
    "GROUP BY group_id)"

/* Top variants of an item (in the window when there is one). */
static cJSON *variants(kb_gaps *g, int64_t id, int64_t from, int64_t to, size_t limit,
                       int with_last)
{
    cJSON *a = cJSON_CreateArray();
    sqlite3_stmt *s;
    if (!a || sqlite3_prepare_v2(g->db,
                                 "SELECT question, count(*), max(time_ms) FROM gap_questions "
                                 "WHERE group_id = ?1 AND time_ms >= ?2 AND time_ms < ?3 "
                                 "GROUP BY question ORDER BY count(*) DESC, max(time_ms) DESC "
                                 "LIMIT ?4",
                                 -1, &s, NULL) != SQLITE_OK)
        return a;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    sqlite3_bind_int64(s, 4, (int64_t)limit);
    while (sqlite3_step(s) == SQLITE_ROW) {
        cJSON *v = cJSON_CreateObject();
        add_text(v, "question", s, 0);
        cJSON_AddNumberToObject(v, "count", (double)sqlite3_column_int64(s, 1));
        if (with_last) add_time(v, "last_seen", s, 2);
        cJSON_AddItemToArray(a, v);
    }
    sqlite3_finalize(s);
    return a;
}

/* One row of ITEM_COLUMNS as the API's item object. */
static cJSON *item_json(kb_gaps *g, sqlite3_stmt *s, int64_t from, int64_t to)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int64_t id = sqlite3_column_int64(s, 0);
    double n = (double)sqlite3_column_int64(s, 3), agents = (double)sqlite3_column_int64(s, 4);
    cJSON_AddNumberToObject(o, "id", (double)id);
    add_text(o, "status", s, 1);
    add_text(o, "question", s, 2);
    cJSON_AddNumberToObject(o, "count", n);
    cJSON_AddNumberToObject(o, "agents", agents);
    cJSON_AddNumberToObject(o, "impact", n * agents);
    cJSON_AddNumberToObject(o, "variants", (double)sqlite3_column_int64(s, 5));
    cJSON *src = cJSON_AddObjectToObject(o, "sources");
    cJSON_AddNumberToObject(src, "search", (double)sqlite3_column_int64(s, 6));
    cJSON_AddNumberToObject(src, "not_found", (double)sqlite3_column_int64(s, 7));
    cJSON_AddNumberToObject(src, "help_request", (double)sqlite3_column_int64(s, 8));
    add_time(o, "first_seen", s, 9);
    add_time(o, "last_seen", s, 10);
    add_text(o, "category", s, 11);
    add_text(o, "category_by", s, 20); /* who set it; null: derived from the questions */
    cJSON_AddItemToObject(o, "top_variants", variants(g, id, from, to, 3, 0));
    add_text(o, "suggested_answer", s, 13);
    add_text(o, "suggested_title", s, 14);
    if (sqlite3_column_type(s, 15) == SQLITE_NULL) cJSON_AddNullToObject(o, "suggested_confidence");
    else cJSON_AddNumberToObject(o, "suggested_confidence", round4(sqlite3_column_double(s, 15)));
    add_time(o, "suggested_at", s, 16);
    add_text(o, "answer_doc_id", s, 12);
    add_text(o, "status_by", s, 17);
    add_time(o, "status_at", s, 18);
    add_text(o, "note", s, 19);
    return o;
}

cJSON *kb_gaps_item_summary(kb_gaps *g, int64_t id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(g->db,
                           "SELECT " ITEM_COLUMNS " FROM gap_groups g JOIN " GROUP_COUNTS
                           " c ON c.gid = g.id WHERE g.id = ?3",
                           -1, &s, NULL) != SQLITE_OK) {
        kb_gaps_sql_fail(g, "cannot read the item");
        return NULL;
    }
    sqlite3_bind_int64(s, 3, id);
    cJSON *o = NULL;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) o = item_json(g, s, INT64_MIN, INT64_MAX);
    else if (rc == SQLITE_DONE) kb_gaps_fail(g, KB_GAPS_NOT_FOUND, "no item with id %lld", (long long)id);
    else kb_gaps_sql_fail(g, "cannot read the item");
    sqlite3_finalize(s);
    return o;
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
                 " AND (g.category = ?3 OR substr(g.category, 1, length(?3) + 1) = ?3 || '/')");
}

cJSON *kb_gaps_list(kb_gaps *g, const kb_gaps_filter *f)
{
    g->code = KB_GAPS_OK;
    kb_gaps_filter def = {0};
    if (!f) f = &def;
    size_t limit = f->limit ? f->limit : 50;
    int window = f->from_ms || f->to_ms;
    int64_t from = f->from_ms ? f->from_ms : INT64_MIN, to = f->to_ms ? f->to_ms : INT64_MAX;
    char where[256];
    filter_sql(where, sizeof where, f);
    const char *order = f->sort == KB_GAPS_SORT_RECENT  ? "c.l DESC, g.id DESC"
                        : f->sort == KB_GAPS_SORT_COUNT ? "c.n DESC, c.l DESC, g.id DESC"
                                                        : "c.n * c.a DESC, c.l DESC, g.id DESC";
    const char *counts = window ? WINDOW_COUNTS : GROUP_COUNTS;
    char sql[2048], count_sql[1536];
    snprintf(sql, sizeof sql,
             "SELECT " ITEM_COLUMNS " FROM %s c JOIN gap_groups g ON g.id = c.gid WHERE %s "
             "ORDER BY %s LIMIT ?4 OFFSET ?5",
             counts, where, order);
    snprintf(count_sql, sizeof count_sql,
             "SELECT count(*) FROM %s c JOIN gap_groups g ON g.id = c.gid WHERE %s", counts,
             where);
    cJSON *out = cJSON_CreateObject();
    sqlite3_stmt *s = NULL, *cs = NULL;
    if (!out || sqlite3_prepare_v2(g->db, sql, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(g->db, count_sql, -1, &cs, NULL) != SQLITE_OK) {
        kb_gaps_sql_fail(g, "cannot read the queue");
        sqlite3_finalize(s);
        sqlite3_finalize(cs);
        cJSON_Delete(out);
        return NULL;
    }
    sqlite3_stmt *both[2] = {s, cs};
    for (int k = 0; k < 2; k++) {
        if (window) {
            sqlite3_bind_int64(both[k], 1, from);
            sqlite3_bind_int64(both[k], 2, to);
        }
        if (f->category && *f->category) sqlite3_bind_text(both[k], 3, f->category, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 4, (int64_t)limit);
    sqlite3_bind_int64(s, 5, (int64_t)f->offset);
    int64_t total = 0;
    if (sqlite3_step(cs) == SQLITE_ROW) total = sqlite3_column_int64(cs, 0);
    sqlite3_finalize(cs);
    cJSON_AddNumberToObject(out, "total", (double)total);
    cJSON_AddNumberToObject(out, "offset", (double)f->offset);
    cJSON_AddNumberToObject(out, "limit", (double)limit);
    cJSON *items = cJSON_AddArrayToObject(out, "items");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) cJSON_AddItemToArray(items, item_json(g, s, from, to));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        kb_gaps_sql_fail(g, "cannot read the queue");
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

cJSON *kb_gaps_item(kb_gaps *g, int64_t id, size_t max_rows)
{
    g->code = KB_GAPS_OK;
    int64_t asked = id;
    id = kb_gaps_resolve(g, asked); /* an id merged into another item shows that item */
    if (id <= 0) return NULL;
    cJSON *o = kb_gaps_item_summary(g, id);
    if (!o) return NULL;
    if (id != asked) cJSON_AddNumberToObject(o, "merged_from", (double)asked);
    if (!max_rows) max_rows = 200;
    /* The list's "variants" count becomes the list of variants here; the count moves to
     * variants_total. */
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(o, "variants");
    cJSON_AddNumberToObject(o, "variants_total", count ? count->valuedouble : 0);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "variants",
                                           variants(g, id, INT64_MIN, INT64_MAX, max_rows, 1));
    cJSON *qs = cJSON_AddArrayToObject(o, "questions");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(g->db,
                           "SELECT source, ref, time_ms, agent, question, top_id FROM "
                           "gap_questions WHERE group_id = ?1 ORDER BY time_ms DESC, id DESC "
                           "LIMIT ?2",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)max_rows);
        while (sqlite3_step(s) == SQLITE_ROW) {
            cJSON *q = cJSON_CreateObject();
            add_text(q, "source", s, 0);
            add_text(q, "ref", s, 1);
            add_time(q, "time", s, 2);
            add_text(q, "agent", s, 3);
            add_text(q, "question", s, 4);
            add_text(q, "top_id", s, 5);
            cJSON_AddItemToArray(qs, q);
        }
        sqlite3_finalize(s);
    }
    cJSON_AddNumberToObject(
        o, "questions_total",
        (double)kb_gaps_query_int(g, "SELECT count(*) FROM gap_questions WHERE group_id = ?1", id, 0));
    return o;
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

static cJSON *doc_brief(const kb_doc_info *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "title", d->title);
    return o;
}

cJSON *kb_gaps_health(kb_gaps *g, const kb_doc_list *docs, int days, size_t limit,
                      int64_t now_ms, const char *today)
{
    g->code = KB_GAPS_OK;
    if (days < 1) days = 30;
    if (!limit) limit = 100;
    int64_t since = now_ms - (int64_t)days * 86400000;
    int64_t first_day = since / 86400000;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "days", days);
    cJSON_AddNumberToObject(out, "documents", (double)docs->n);
    cJSON_AddNumberToObject(out, "index_revision", (double)docs->revision);

    /* Documents returned in the window, from the per-day counts. */
    char *seen = calloc(docs->n ? docs->n : 1, 1);
    sqlite3_stmt *s;
    if (!seen || sqlite3_prepare_v2(g->db,
                                    "SELECT DISTINCT doc_id FROM doc_days WHERE day >= ?1", -1,
                                    &s, NULL) != SQLITE_OK) {
        free(seen);
        cJSON_Delete(out);
        kb_gaps_sql_fail(g, "cannot read document counts");
        return NULL;
    }
    sqlite3_bind_int64(s, 1, first_day);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const kb_doc_info *d = kb_doc_list_find(docs, (const char *)sqlite3_column_text(s, 0));
        if (d) seen[d - docs->docs] = 1;
    }
    sqlite3_finalize(s);
    cJSON *never = cJSON_AddArrayToObject(out, "never_returned");
    size_t n_never = 0;
    for (size_t i = 0; i < docs->n; i++) {
        /* A search never returns a document outside its validity: one that expired is listed
         * under "expired" only, one not yet valid is waiting for its date. */
        if (seen[i] || !valid_on(&docs->docs[i], today)) continue;
        if (n_never++ >= limit) continue;
        cJSON *o = doc_brief(&docs->docs[i]);
        cJSON *cats = cJSON_AddArrayToObject(o, "categories");
        for (size_t c = 0; c < docs->docs[i].n_categories; c++)
            cJSON_AddItemToArray(cats, cJSON_CreateString(docs->docs[i].categories[c]));
        if (docs->docs[i].updated[0]) cJSON_AddStringToObject(o, "updated", docs->docs[i].updated);
        else cJSON_AddNullToObject(o, "updated");
        cJSON_AddItemToArray(never, o);
    }
    cJSON_AddNumberToObject(out, "never_returned_total", (double)n_never);
    free(seen);

    cJSON *expired = cJSON_AddArrayToObject(out, "expired");
    size_t n_expired = 0;
    for (size_t i = 0; i < docs->n; i++) {
        const kb_doc_info *d = &docs->docs[i];
        if (!d->valid_until[0] || !today || strcmp(d->valid_until, today) >= 0) continue;
        if (n_expired++ >= limit) continue;
        cJSON *o = doc_brief(d);
        cJSON_AddStringToObject(o, "valid_until", d->valid_until);
        cJSON_AddItemToArray(expired, o);
    }
    cJSON_AddNumberToObject(out, "expired_total", (double)n_expired);

    /* Documents agents said did not answer. */
    cJSON *bad = cJSON_AddArrayToObject(out, "not_answering");
    size_t n_bad = 0;
    if (sqlite3_prepare_v2(
            g->db,
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
            " AND kb_answerable = 1 AND override_answerable = 0 AND doc_id IS NOT NULL)"
            " WHERE doc IS NOT NULL GROUP BY doc"
            " ORDER BY count(DISTINCT search) + sum(ho) DESC, doc",
            -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, since);
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (n_bad++ >= limit) continue;
            const char *id = (const char *)sqlite3_column_text(s, 0);
            const kb_doc_info *d = kb_doc_list_find(docs, id);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id);
            if (d) cJSON_AddStringToObject(o, "title", d->title);
            else cJSON_AddNullToObject(o, "title");
            cJSON_AddNumberToObject(o, "not_found", (double)sqlite3_column_int64(s, 1));
            cJSON_AddNumberToObject(o, "help_overrides", (double)sqlite3_column_int64(s, 2));
            cJSON_AddNumberToObject(o, "agents", (double)sqlite3_column_int64(s, 3));
            cJSON_AddItemToArray(bad, o);
        }
        sqlite3_finalize(s);
    } else {
        cJSON_Delete(out);
        kb_gaps_sql_fail(g, "cannot read feedback");
        return NULL;
    }
    cJSON_AddNumberToObject(out, "not_answering_total", (double)n_bad);
    return out;
}
