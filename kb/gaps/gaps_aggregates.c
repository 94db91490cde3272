/*
 * gaps_aggregates.c — an item's stored aggregates (gap_groups: its centroid, how many
 * questions, agents, phrasings and per source, first and last time, the representative
 * question, the derived category), two ways that must agree (docs/GAPS.md, "What taking a
 * question in costs"):
 *
 *   - kb_gaps_recompute_group reads every question of the item and computes them afresh. It is
 *     the definition, and what removals, the regroup pass, re-analysis and editors' changes use.
 *   - kb_gaps_adds keeps them up when a batch of the ingest only adds questions, at the cost of
 *     what is added rather than of the item's size: counts are incremented, a new agent is found
 *     by one indexed lookup, and the representative and the derived category come from tallies
 *     per (item, phrasing) and (item, category) (gap_variants, gap_categories; schema v8) read
 *     through an index in their ranking order. The centroid is the one the ingest's clusterer
 *     already holds (the stored one plus the batch's questions).
 *
 * Before, every batch recomputed each item it touched: an unanswered question asked 10,000 times
 * made every batch that added one more read 10,000 rows, and under a busy floor the queue's thread
 * took most of a core. test_gaps (`adding_questions_keeps_every_aggregate_as_a_recompute_would`)
 * checks that the two agree on a stream with repeats, several agents and every source.
 */
#include <stdlib.h>
#include <string.h>

#include "gaps/gaps_internal.h"

/* ---------------------------------------------------------------- the full recompute */

/* The ranking both ways share: most asked, then most recently asked, then (an exact tie) the
 * text's byte order, so the representative never depends on the order rows are read in. */
#define REPRESENTATIVE_FROM_QUESTIONS                                                           \
    "(SELECT question FROM gap_questions WHERE group_id = ?1"                                   \
    " GROUP BY question ORDER BY count(*) DESC, max(time_ms) DESC, question LIMIT 1)"
#define REPRESENTATIVE_FROM_TALLY                                                               \
    "(SELECT v.question FROM gap_variants v WHERE v.group_id = ?1"                              \
    " ORDER BY v.n DESC, v.last_ms DESC, v.question LIMIT 1)"
#define CATEGORY_FROM_TALLY                                                                     \
    "(SELECT c.category FROM gap_categories c WHERE c.group_id = ?1"                            \
    " ORDER BY c.n DESC, c.last_ms DESC, c.category LIMIT 1)"

/* The tallies of item ?1, rebuilt from its questions. */
static const char *const rebuild_tallies[] = {
    "DELETE FROM gap_variants WHERE group_id = ?1",
    "INSERT INTO gap_variants (group_id, question, n, last_ms) SELECT ?1, question, count(*), "
    "max(time_ms) FROM gap_questions WHERE group_id = ?1 GROUP BY question",
    "DELETE FROM gap_categories WHERE group_id = ?1",
    "INSERT INTO gap_categories (group_id, category, n, last_ms) SELECT ?1, category, count(*), "
    "max(time_ms) FROM gap_questions WHERE group_id = ?1 AND category IS NOT NULL "
    "GROUP BY category",
};

int kb_gaps_recompute_group(kb_gaps *g, int64_t id)
{
    kb_gap_clusterer *c = kb_gap_clusterer_new(NULL, NULL);
    long gi = c ? kb_gap_clusterer_load(c, id, "", 0) : -1;
    kb_db *db = kb_gaps_db(g);
    kb_db_stmt *s = NULL;
    char *terms = NULL;
    int rc = -1;
    if (gi < 0) goto done;
    if (kb_db_prepare(db, "SELECT terms FROM gap_questions WHERE group_id = ?1", &s) != KB_DB_OK)
        goto done;
    kb_db_bind_int64(s, 1, id);
    int step;
    while ((step = kb_db_step(s)) == KB_DB_ROW)
        if (kb_gap_clusterer_add_to(c, gi, kb_db_column_text(s, 0)) != 0) break;
    kb_db_finalize(s);
    s = NULL;
    if (step != KB_DB_DONE) goto done;
    terms = kb_gap_clusterer_terms(c, gi);
    if (!terms) goto done;
    static const char sql[] =
        "UPDATE gap_groups SET terms = ?2,"
        " n_questions = (SELECT count(*) FROM gap_questions WHERE group_id = ?1),"
        " n_agents = (SELECT count(DISTINCT agent) FROM gap_questions WHERE group_id = ?1),"
        " n_variants = (SELECT count(DISTINCT question) FROM gap_questions WHERE group_id = ?1),"
        " n_search = (SELECT count(*) FROM gap_questions WHERE group_id = ?1 AND source = 'search'),"
        " n_not_found = (SELECT count(*) FROM gap_questions WHERE group_id = ?1"
        "                AND source = 'not_found'),"
        " n_help = (SELECT count(*) FROM gap_questions WHERE group_id = ?1"
        "           AND source = 'help_request'),"
        " first_ms = coalesce((SELECT min(time_ms) FROM gap_questions WHERE group_id = ?1),"
        "                     first_ms),"
        " last_ms = coalesce((SELECT max(time_ms) FROM gap_questions WHERE group_id = ?1), last_ms),"
        " question = coalesce(" REPRESENTATIVE_FROM_QUESTIONS ", question),"
        " category = CASE WHEN category_by IS NOT NULL THEN category ELSE " KB_GAPS_DERIVED_CATEGORY
        " END WHERE id = ?1";
    if (kb_db_prepare(db, sql, &s) != KB_DB_OK) goto done;
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_text(s, 2, terms);
    if (kb_db_step(s) != KB_DB_DONE) goto done;
    kb_db_finalize(s);
    s = NULL;
    for (size_t i = 0; i < sizeof rebuild_tallies / sizeof *rebuild_tallies; i++)
        if (kb_gaps_exec_id(g, rebuild_tallies[i], id) != 0) goto done;
    /* An open item left without questions that no editor touched (status or category) goes. */
    if (kb_gaps_exec_id(g,
                "DELETE FROM gap_groups WHERE id = ?1 AND n_questions = 0 AND "
                "status = 'open' AND status_by IS NULL AND category_by IS NULL",
                id) != 0)
        goto done;
    rc = 0;
done:
    kb_db_finalize(s);
    free(terms);
    kb_gap_clusterer_free(c);
    return rc;
}

/* ---------------------------------------------------------------- adding questions */

enum { SRC_SEARCH, SRC_NOT_FOUND, SRC_HELP, N_SRC };

/* One item's share of a batch. */
typedef struct {
    int64_t id;
    long gi; /* in the ingest's clusterer */
    int64_t added, by_source[N_SRC], new_agents, new_variants, min_ms, max_ms;
} item_delta;

enum { ST_AGENT_SEEN, ST_VARIANT_NEW, ST_VARIANT_MORE, ST_CATEGORY_NEW, ST_CATEGORY_MORE, N_ST };

static const char *const statements[N_ST] = {
    [ST_AGENT_SEEN] = "SELECT 1 FROM gap_questions WHERE group_id = ?1 AND agent = ?2 LIMIT 1",
    [ST_VARIANT_NEW] = "INSERT INTO gap_variants (group_id, question, n, last_ms) "
                       "VALUES (?1, ?2, 1, ?3) ON CONFLICT (group_id, question) DO NOTHING",
    [ST_VARIANT_MORE] = "UPDATE gap_variants SET n = n + 1, "
                        "last_ms = CASE WHEN last_ms < ?3 THEN ?3 ELSE last_ms END "
                        "WHERE group_id = ?1 AND question = ?2",
    [ST_CATEGORY_NEW] = "INSERT INTO gap_categories (group_id, category, n, last_ms) "
                        "VALUES (?1, ?2, 1, ?3) ON CONFLICT (group_id, category) DO NOTHING",
    [ST_CATEGORY_MORE] = "UPDATE gap_categories SET n = n + 1, "
                         "last_ms = CASE WHEN last_ms < ?3 THEN ?3 ELSE last_ms END "
                         "WHERE group_id = ?1 AND category = ?2",
};

struct kb_gaps_adds {
    kb_gaps *g;
    kb_db_stmt *st[N_ST]; /* kept by the handle (kb_gaps_stmt) */
    item_delta *v;
    size_t n, cap;
};

kb_gaps_adds *kb_gaps_adds_new(kb_gaps *g)
{
    kb_gaps_adds *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->g = g;
    for (int i = 0; i < N_ST; i++)
        if (!(a->st[i] = kb_gaps_stmt(g, statements[i]))) {
            kb_gaps_adds_free(a);
            return NULL;
        }
    return a;
}

void kb_gaps_adds_free(kb_gaps_adds *a)
{
    if (!a) return;
    for (int i = 0; i < N_ST; i++)
        if (a->st[i]) kb_db_reset(a->st[i]);
    free(a->v);
    free(a);
}

/* The batch's entry for item id (added when missing), or NULL when out of memory. A batch
 * touches at most as many items as it has questions, so a linear search is enough. */
static item_delta *delta_of(kb_gaps_adds *a, int64_t id, long gi)
{
    for (size_t i = a->n; i-- > 0;)
        if (a->v[i].id == id) return &a->v[i];
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        item_delta *v = realloc(a->v, cap * sizeof *v);
        if (!v) return NULL;
        a->v = v;
        a->cap = cap;
    }
    item_delta *d = &a->v[a->n++];
    memset(d, 0, sizeof *d);
    d->id = id;
    d->gi = gi;
    return d;
}

/* Run statement st with (?1 item, ?2 text, ?3 time): for the lookup (ST_AGENT_SEEN) 1 when it
 * found a row, else the rows it changed (0 or 1); -1 on error. */
static int step3(kb_gaps_adds *a, int st, int64_t id, const char *text, int64_t time_ms)
{
    kb_db_stmt *s = a->st[st];
    kb_db_reset(s);
    kb_db_bind_int64(s, 1, id);
    kb_db_bind_text(s, 2, text);
    if (kb_db_param_count(s) >= 3) kb_db_bind_int64(s, 3, time_ms);
    int rc = kb_db_step(s);
    int out = rc == KB_DB_ROW             ? 1
              : rc != KB_DB_DONE          ? -1
              : st == ST_AGENT_SEEN       ? 0 /* a lookup that found none */
                                          : (int)kb_db_changes(kb_gaps_db(a->g));
    kb_db_reset(s);
    return out;
}

/* One more question of (item, text) in a tally: a new row, else the row counted up. 1 when the
 * text is new to the item, 0 when not, -1 on error. */
static int tally(kb_gaps_adds *a, int st_new, int st_more, int64_t id, const char *text,
                 int64_t time_ms)
{
    int fresh = step3(a, st_new, id, text, time_ms);
    if (fresh != 0) return fresh;
    return step3(a, st_more, id, text, time_ms) == 1 ? 0 : -1;
}

int kb_gaps_adds_note(kb_gaps_adds *a, int64_t id, long gi, const char *source, const char *agent,
                      const char *question, const char *category, int64_t time_ms)
{
    item_delta *d = delta_of(a, id, gi);
    if (!d) return -1;
    /* Before the question's row is written, so an agent is new to the item when no row has it. */
    int seen = step3(a, ST_AGENT_SEEN, id, agent, 0);
    if (seen < 0) return -1;
    int fresh = tally(a, ST_VARIANT_NEW, ST_VARIANT_MORE, id, question, time_ms);
    if (fresh < 0) return -1;
    if (category && tally(a, ST_CATEGORY_NEW, ST_CATEGORY_MORE, id, category, time_ms) < 0)
        return -1;
    d->new_agents += !seen;
    d->new_variants += fresh;
    d->by_source[!strcmp(source, "search") ? SRC_SEARCH
                 : !strcmp(source, "not_found") ? SRC_NOT_FOUND
                                                : SRC_HELP]++;
    if (d->added == 0 || time_ms < d->min_ms) d->min_ms = time_ms;
    if (d->added == 0 || time_ms > d->max_ms) d->max_ms = time_ms;
    d->added++;
    return 0;
}

int kb_gaps_adds_write(kb_gaps_adds *a, const kb_gap_clusterer *c)
{
    /* The stored first and last times stand for the questions' only while the item has some:
     * an item an editor keeps after its questions left keeps its old times (as the recompute
     * does), and takes the new questions' when it has questions again. */
    static const char sql[] =
        "UPDATE gap_groups SET terms = ?2,"
        " n_questions = n_questions + ?3, n_agents = n_agents + ?4,"
        " n_variants = n_variants + ?5, n_search = n_search + ?6,"
        " n_not_found = n_not_found + ?7, n_help = n_help + ?8,"
        " first_ms = CASE WHEN n_questions = 0 OR ?9 < first_ms THEN ?9 ELSE first_ms END,"
        " last_ms = CASE WHEN n_questions = 0 OR ?10 > last_ms THEN ?10 ELSE last_ms END,"
        " question = coalesce(" REPRESENTATIVE_FROM_TALLY ", question),"
        " category = CASE WHEN category_by IS NOT NULL THEN category ELSE " CATEGORY_FROM_TALLY
        " END WHERE id = ?1";
    kb_db_stmt *s = kb_gaps_stmt(a->g, sql);
    if (!s) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        const item_delta *d = &a->v[i];
        char *terms = kb_gap_clusterer_terms(c, d->gi);
        if (!terms) {
            rc = -1;
            break;
        }
        kb_db_bind_int64(s, 1, d->id);
        kb_db_bind_text(s, 2, terms);
        kb_db_bind_int64(s, 3, d->added);
        kb_db_bind_int64(s, 4, d->new_agents);
        kb_db_bind_int64(s, 5, d->new_variants);
        for (int k = 0; k < N_SRC; k++) kb_db_bind_int64(s, 6 + k, d->by_source[k]);
        kb_db_bind_int64(s, 9, d->min_ms);
        kb_db_bind_int64(s, 10, d->max_ms);
        if (kb_db_step(s) != KB_DB_DONE) rc = -1;
        kb_db_reset(s);
        free(terms);
    }
    a->n = 0;
    return rc;
}
