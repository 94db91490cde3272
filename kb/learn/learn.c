/*
 * learn.c — learned phrasings from the store's teaching records (see kb/learn.h).
 *
 * The grouping is one SQL query on either database (kb/db): each teaching record stores its
 * normalized phrasing in teachings.k, so a (document, phrasing) is a GROUP BY and the distinct
 * teachers a count(DISTINCT ...). The key is computed in C (kb_learn_normalize, this handle's
 * analyzer): by kb_learn_teach for the records it writes, and before each grouping for the
 * records written without it (the store's writer copies helpful and click feedback, whose
 * question it does not hold; kb_learn_teach_gap; rows of stores from before schema v7).
 * PostgreSQL cannot call a C function from SQL, and a stored key also spares a call per row per
 * read (docs/CLUSTER.md). The counting rule is applied in C (count_rule), the one place that
 * says what counts.
 */
#include "kb/learn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/analyzer.h"
#include "kb/redact.h"
#include "kb/store.h"
#include "events/store_conn.h"
#include "util/hash.h"

struct kb_learn {
    kb_store_conn c;
    kb_analyzer *analyzer;
};

static const struct {
    unsigned bit;
    const char *name;
} SOURCES[] = {
    {KB_LEARN_HELPFUL, "helpful"}, {KB_LEARN_CLICK, "click"}, {KB_LEARN_HELP_DESK, "help_desk"},
    {KB_LEARN_REVIEW, "review"},   {KB_LEARN_EDITOR, "editor"},
};
#define N_SOURCES (sizeof SOURCES / sizeof SOURCES[0])

const char *kb_learn_source_name(unsigned source)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (SOURCES[i].bit == source) return SOURCES[i].name;
    return "";
}

/* The source bits named in a comma-separated list ("helpful,click"). */
static unsigned source_bits(const char *list)
{
    unsigned bits = 0;
    for (size_t i = 0; list && i < N_SOURCES; i++) {
        size_t n = strlen(SOURCES[i].name);
        for (const char *p = strstr(list, SOURCES[i].name); p; p = strstr(p + 1, SOURCES[i].name))
            if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) bits |= SOURCES[i].bit;
    }
    return bits;
}

/* The key of text that is redacted already (as every stored question is). */
static char *key_of_stored(kb_learn *l, const char *text)
{
    return kb_analyzer_fold_compact(l->analyzer, text, strlen(text));
}

char *kb_learn_normalize(kb_learn *l, const char *text)
{
    /* Redacted first: the stored questions are, so a phrasing an editor names with a customer's
     * number in it is the one learned with the placeholder. */
    char *redacted = kb_redact(text, strlen(text), NULL);
    if (!redacted) return NULL;
    char *key = key_of_stored(l, redacted);
    free(redacted);
    return key;
}

kb_learn *kb_learn_open(const char *data_dir, char *err, size_t err_len)
{
    kb_learn *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (kb_redact_global_init(err, err_len) != 0) {
        free(l);
        return NULL;
    }
    l->analyzer = kb_analyzer_new(err, err_len);
    if (!l->analyzer) {
        free(l);
        return NULL;
    }
    if (kb_store_conn_open_any(&l->c, data_dir, 0, err, err_len) != 0) {
        kb_analyzer_free(l->analyzer);
        free(l);
        return NULL;
    }
    return l;
}

void kb_learn_close(kb_learn *l)
{
    if (!l) return;
    kb_store_conn_close(&l->c);
    kb_analyzer_free(l->analyzer);
    free(l);
}

const char *kb_learn_errmsg(const kb_learn *l) { return l->c.err; }

int64_t kb_learn_version(kb_learn *l)
{
    kb_store_conn_revive(&l->c); /* kb-searchd keeps this handle: survive a database restart */
    kb_db_stmt *s = NULL;
    int64_t v = -1;
    if (kb_db_prepare(l->c.kdb, "SELECT (SELECT coalesce(max(id), 0) FROM teachings), "
                           "(SELECT count(*) FROM learned_marks), "
                           "(SELECT coalesce(sum(time_ms), 0) FROM learned_marks)",
                      &s) == KB_DB_OK &&
        kb_db_step(s) == KB_DB_ROW) {
        int64_t parts[3] = {kb_db_column_int64(s, 0), kb_db_column_int64(s, 1),
                            kb_db_column_int64(s, 2)};
        v = (int64_t)(kb_hash_bytes(parts, sizeof parts, KB_HASH_SEED) >> 1);
    } else {
        kb_store_conn_sql_fail(&l->c, "cannot read the teaching records");
    }
    kb_db_finalize(s);
    return v;
}

/* Whether a phrasing counts: the rule of kb/learn.h, in one place. */
static int count_rule(const kb_learned_phrasing *p)
{
    if (p->removed) return 0;
    if (p->pinned || p->authority) return 1;
    double votes = p->strong_teachers + KB_LEARN_CLICK_VOTE * (p->teachers - p->strong_teachers);
    return votes >= KB_LEARN_VOTES_NEEDED;
}

/* Fill teachings.k where it is missing, in batches of KEY_BATCH in one write transaction each
 * (idempotent: two handles doing it at once write the same keys). KB_OK or the failure. */
#define KEY_BATCH 1000
static int fill_keys(kb_learn *l)
{
    for (;;) {
        kb_db_stmt *s = NULL;
        int64_t ids[KEY_BATCH];
        char *keys[KEY_BATCH];
        int n = 0, rc = KB_DB_DONE;
        if (kb_db_prepare(l->c.kdb, "SELECT id, question FROM teachings WHERE k IS NULL ORDER BY id "
                                    "LIMIT 1000", &s) != KB_DB_OK)
            return kb_store_conn_sql_fail(&l->c, "cannot read the teaching records");
        while (n < KEY_BATCH && (rc = kb_db_step(s)) == KB_DB_ROW) {
            const char *q = kb_db_column_text(s, 1);
            if (!(keys[n] = key_of_stored(l, q ? q : ""))) break;
            ids[n++] = kb_db_column_int64(s, 0);
        }
        kb_db_finalize(s);
        if (rc == KB_DB_ROW && n < KEY_BATCH) rc = kb_store_conn_fail(&l->c, KB_ERROR, "out of memory");
        else if (rc != KB_DB_ROW && rc != KB_DB_DONE)
            rc = kb_store_conn_sql_fail(&l->c, "cannot read the teaching records");
        else rc = KB_OK;
        if (rc == KB_OK && n) {
            s = NULL;
            if (kb_db_begin(l->c.kdb, KB_DB_TX_WRITE) != KB_DB_OK ||
                kb_db_prepare(l->c.kdb, "UPDATE teachings SET k = ?2 WHERE id = ?1", &s) != KB_DB_OK)
                rc = KB_ERROR;
            for (int i = 0; rc == KB_OK && i < n; i++) {
                kb_db_bind_int64(s, 1, ids[i]);
                kb_db_bind_text(s, 2, keys[i]);
                if (kb_db_step(s) != KB_DB_DONE) rc = KB_ERROR;
            }
            kb_db_finalize(s);
            if (rc == KB_OK && kb_db_commit(l->c.kdb) != KB_DB_OK) rc = KB_ERROR;
            if (rc != KB_OK) {
                kb_store_conn_sql_fail(&l->c, "cannot store the teaching records' phrasings");
                kb_db_rollback(l->c.kdb);
            }
        }
        for (int i = 0; i < n; i++) free(keys[i]);
        if (rc != KB_OK || n < KEY_BATCH) return rc;
    }
}

/* The grouped phrasings; WHERE_DOC and ORDER are spliced in (constants of this file), and the
 * one %s is the dialect's group_concat(DISTINCT source). */
#define GROUPED_SQL(where, having, order)                                                        \
    "WITH t AS (SELECT id, doc_id, k, source, teacher, role, time_ms "                          \
    "FROM teachings " where "), "                                                               \
    "g AS (SELECT doc_id, k, count(DISTINCT teacher) AS teachers, "                              \
    "count(DISTINCT CASE WHEN source <> 'click' THEN teacher END) AS strong, count(*) AS events, " \
    "%s AS sources, min(time_ms) AS first_ms, max(time_ms) AS last_ms, "                          \
    "max(CASE WHEN source <> 'click' AND role <> 'agent' THEN 1 ELSE 0 END) AS authority, "     \
    "max(id) AS last_id "                                                                        \
    "FROM t WHERE k <> '' GROUP BY doc_id, k " having ") "                                       \
    "SELECT g.doc_id, g.k, (SELECT question FROM teachings WHERE id = g.last_id), g.teachers, "  \
    "g.strong, g.events, g.sources, g.first_ms, g.last_ms, g.authority, m.state "                \
    "FROM g LEFT JOIN learned_marks m ON m.doc_id = g.doc_id AND m.phrasing = g.k " order

static int read_row(kb_db_stmt *s, kb_learned_phrasing *p)
{
    memset(p, 0, sizeof *p);
    if (kb_db_column_dup(s, 0, &p->doc_id) || kb_db_column_dup(s, 1, &p->phrasing) ||
        kb_db_column_dup(s, 2, &p->text))
        return -1;
    if (!p->text && !(p->text = strdup(""))) return -1;
    p->teachers = (uint32_t)(int)kb_db_column_int64(s, 3);
    p->strong_teachers = (uint32_t)(int)kb_db_column_int64(s, 4);
    p->events = (uint32_t)(int)kb_db_column_int64(s, 5);
    p->sources = source_bits(kb_db_column_text(s, 6));
    p->first_ms = kb_db_column_int64(s, 7);
    p->last_ms = kb_db_column_int64(s, 8);
    p->authority = (int)kb_db_column_int64(s, 9);
    const char *state = kb_db_column_text(s, 10);
    p->pinned = state && !strcmp(state, "pinned");
    p->removed = state && !strcmp(state, "removed");
    p->counted = count_rule(p);
    return 0;
}

/* Run a grouped query; keep the rows (all, or the counted ones only). */
static int run_grouped(kb_learn *l, const char *fmt, const char *doc_id, const char *key,
                       int counted_only, kb_learned_list *out)
{
    memset(out, 0, sizeof *out);
    int rc = fill_keys(l);
    if (rc != KB_OK) return rc;
    char sources[96], sql[2048];
    kb_db_sql_group_concat(kb_db_dialect_of(l->c.kdb), 1, "source", sources, sizeof sources);
    snprintf(sql, sizeof sql, fmt, sources);
    kb_db_stmt *s = NULL;
    if (kb_db_prepare(l->c.kdb, sql, &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&l->c, "cannot read the learned phrasings");
    if (doc_id) kb_db_bind_text(s, 1, doc_id);
    if (key) kb_db_bind_text(s, 2, key);
    size_t cap = 0;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            kb_learned_phrasing *n = realloc(out->items, ncap * sizeof *n);
            if (!n) goto oom;
            out->items = n;
            cap = ncap;
        }
        kb_learned_phrasing *p = &out->items[out->n];
        if (read_row(s, p) != 0) {
            kb_learned_phrasing_free(p);
            goto oom;
        }
        if (counted_only && !p->counted) kb_learned_phrasing_free(p);
        else out->n++;
    }
    kb_db_finalize(s);
    if (rc != KB_DB_DONE) {
        kb_learned_list_free(out);
        return kb_store_conn_sql_fail(&l->c, "cannot read the learned phrasings");
    }
    return KB_OK;
oom:
    kb_db_finalize(s);
    kb_learned_list_free(out);
    return kb_store_conn_fail(&l->c, KB_ERROR, "out of memory reading the learned phrasings");
}

int kb_learn_counted(kb_learn *l, kb_learned_list *out)
{
    static const char sql[] = GROUPED_SQL("", "", "ORDER BY g.doc_id, g.k");
    return run_grouped(l, sql, NULL, NULL, 1, out);
}

int kb_learn_of_document(kb_learn *l, const char *doc_id, kb_learned_list *out)
{
    static const char sql[] =
        GROUPED_SQL("WHERE doc_id = ?1", "", "ORDER BY g.last_ms DESC, g.k");
    return run_grouped(l, sql, doc_id, NULL, 0, out);
}

int kb_learn_get(kb_learn *l, const char *doc_id, const char *phrasing, kb_learned_phrasing *out)
{
    static const char sql[] = GROUPED_SQL("WHERE doc_id = ?1", "HAVING k = ?2", "");
    memset(out, 0, sizeof *out);
    kb_learned_list list;
    int rc = run_grouped(l, sql, doc_id, phrasing, 0, &list);
    if (rc != KB_OK) return rc;
    if (list.n == 0) {
        kb_learned_list_free(&list);
        return kb_store_conn_fail(&l->c, KB_NOT_FOUND, "document %s has learned no such phrasing",
                                  doc_id);
    }
    *out = list.items[0];
    list.n = 0;
    kb_learned_list_free(&list);
    return KB_OK;
}

/* The normalized key of phrasing into *key, or KB_INVALID / KB_ERROR with the message set. */
static int key_of(kb_learn *l, const char *phrasing, char **key)
{
    *key = kb_learn_normalize(l, phrasing ? phrasing : "");
    if (!*key) return kb_store_conn_fail(&l->c, KB_ERROR, "out of memory");
    if (!**key) {
        free(*key);
        *key = NULL;
        return kb_store_conn_fail(&l->c, KB_INVALID, "the phrasing has no letters, digits or "
                                                     "Chinese characters");
    }
    return KB_OK;
}

/* Run one statement with up to four text parameters and one integer (?5). */
static int exec_marks(kb_learn *l, const char *sql, const char *a, const char *b, const char *c,
                      const char *d, int64_t n)
{
    kb_db_stmt *s = NULL;
    int rc = kb_db_prepare(l->c.kdb, sql, &s);
    if (rc == KB_DB_OK) {
        const char *v[4] = {a, b, c, d};
        for (int i = 0; i < 4; i++)
            if (v[i]) kb_db_bind_text(s, i + 1, v[i]);
        if (kb_db_param_count(s) >= 5) kb_db_bind_int64(s, 5, n);
        rc = kb_db_step(s);
    }
    kb_db_finalize(s);
    return rc == KB_DB_DONE ? KB_OK : kb_store_conn_sql_fail(&l->c, "cannot update the learned phrasings");
}

/* Mark (doc_id, key) removed or pinned by `by` (redacted like every name). */
static int set_mark(kb_learn *l, const char *doc_id, const char *key, const char *state,
                    const char *by, int64_t time_ms)
{
    char *who = kb_redact(by ? by : "", strlen(by ? by : ""), NULL);
    int rc = who ? exec_marks(l,
                              "INSERT INTO learned_marks (doc_id, phrasing, state, by_name, time_ms) "
                              "VALUES (?1, ?2, ?4, ?3, ?5) ON CONFLICT (doc_id, phrasing) "
                              "DO UPDATE SET state = ?4, by_name = ?3, time_ms = ?5",
                              doc_id, key, who, state, time_ms)
                 : kb_store_conn_fail(&l->c, KB_ERROR, "out of memory");
    free(who);
    return rc;
}

int kb_learn_remove(kb_learn *l, const char *doc_id, const char *phrasing, const char *by,
                    int64_t time_ms)
{
    char *key;
    int rc = key_of(l, phrasing, &key);
    if (rc != KB_OK) return rc;
    kb_learned_phrasing p;
    rc = kb_learn_get(l, doc_id, key, &p);
    if (rc == KB_OK) {
        kb_learned_phrasing_free(&p);
        rc = set_mark(l, doc_id, key, "removed", by, time_ms);
    }
    free(key);
    return rc;
}

int kb_learn_teach(kb_learn *l, const char *doc_id, const char *question, unsigned source,
                   const char *teacher, const char *role, const char *ref, int64_t time_ms)
{
    const char *name = kb_learn_source_name(source);
    if (!*name || !kb_store_role_is_valid(role) || !doc_id || !question)
        return kb_store_conn_fail(&l->c, KB_INVALID, "invalid teaching: %s",
                                  !*name ? "unknown source" : !doc_id || !question
                                                                  ? "no document or question"
                                                                  : "unknown role");
    /* Everything stored is redacted: the question, and names and ids too (kb/store.h). */
    const char *raw[5] = {doc_id, question, teacher ? teacher : "", ref};
    char *v[5] = {0};
    int oom = 0;
    for (int i = 0; i < 4; i++)
        if (raw[i] && !(v[i] = kb_redact(raw[i], strlen(raw[i]), NULL))) oom = 1;
    if (!oom && !(v[4] = key_of_stored(l, v[1]))) oom = 1; /* teachings.k */
    int rc = KB_OK;
    kb_db_stmt *s = NULL;
    if (oom) {
        rc = kb_store_conn_fail(&l->c, KB_ERROR, "out of memory");
    } else if (kb_db_prepare(l->c.kdb,
                             "INSERT INTO teachings (doc_id, question, source, teacher, role, "
                             "ref, time_ms, k) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                             &s) != KB_DB_OK) {
        rc = kb_store_conn_sql_fail(&l->c, "cannot store the teaching");
    } else {
        kb_db_bind_text(s, 1, v[0]);
        kb_db_bind_text(s, 2, v[1]);
        kb_db_bind_text(s, 3, name);
        kb_db_bind_text(s, 4, v[2]);
        kb_db_bind_text(s, 5, role);
        if (v[3]) kb_db_bind_text(s, 6, v[3]);
        kb_db_bind_int64(s, 7, time_ms);
        kb_db_bind_text(s, 8, v[4]);
        if (kb_db_step(s) != KB_DB_DONE) rc = kb_store_conn_sql_fail(&l->c, "cannot store the teaching");
    }
    kb_db_finalize(s);
    for (int i = 0; i < 5; i++) free(v[i]);
    return rc;
}

int kb_learn_teach_gap(kb_learn *l, int64_t gap_id, const char *doc_id, const char *teacher,
                       const char *role, int64_t time_ms, size_t *n)
{
    if (n) *n = 0;
    if (!kb_store_role_is_valid(role) || !doc_id)
        return kb_store_conn_fail(&l->c, KB_INVALID, "invalid teaching: %s",
                                  !doc_id ? "no document" : "unknown role");
    char *who = kb_redact(teacher ? teacher : "", strlen(teacher ? teacher : ""), NULL);
    char *doc = kb_redact(doc_id, strlen(doc_id), NULL);
    char ref[40];
    snprintf(ref, sizeof ref, "gap:%lld", (long long)gap_id);
    kb_db_stmt *s = NULL;
    int rc = KB_OK;
    /* gap_questions holds each question redacted, as the store does. */
    if (!who || !doc) {
        rc = kb_store_conn_fail(&l->c, KB_ERROR, "out of memory");
    } else if (kb_db_prepare(l->c.kdb, "INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms) "
                   "SELECT ?1, q.question, 'editor', ?2, ?3, ?4, ?5 FROM gap_questions q "
                   "WHERE q.group_id = ?6 AND NOT EXISTS (SELECT 1 FROM teachings t WHERE "
                   "t.doc_id = ?1 AND t.ref = ?4 AND t.question = q.question)", &s) != KB_DB_OK) {
        rc = kb_store_conn_sql_fail(&l->c, "cannot store the teaching");
    } else {
        kb_db_bind_text(s, 1, doc);
        kb_db_bind_text(s, 2, who);
        kb_db_bind_text(s, 3, role);
        kb_db_bind_text(s, 4, ref);
        kb_db_bind_int64(s, 5, time_ms);
        kb_db_bind_int64(s, 6, gap_id);
        if (kb_db_step(s) != KB_DB_DONE) rc = kb_store_conn_sql_fail(&l->c, "cannot store the teaching");
        else if (n) *n = (size_t)kb_db_changes(l->c.kdb);
    }
    kb_db_finalize(s);
    free(who);
    free(doc);
    return rc;
}

int kb_learn_pin(kb_learn *l, const char *doc_id, const char *phrasing, int pinned,
                 const char *by, const char *role, int64_t time_ms)
{
    char *key;
    int rc = key_of(l, phrasing, &key);
    if (rc != KB_OK) return rc;
    kb_learned_phrasing p;
    rc = kb_learn_get(l, doc_id, key, &p);
    if (rc == KB_OK && p.removed) {
        rc = kb_store_conn_fail(&l->c, KB_CONFLICT, "this phrasing was removed from document %s "
                                                    "and is never learned again", doc_id);
    } else if (!pinned) {
        if (rc == KB_OK && !p.pinned)
            rc = kb_store_conn_fail(&l->c, KB_NOT_FOUND, "the phrasing is not pinned");
        else if (rc == KB_OK)
            rc = exec_marks(l, "DELETE FROM learned_marks WHERE doc_id = ?1 AND phrasing = ?2",
                            doc_id, key, NULL, NULL, 0);
    } else {
        if (rc == KB_NOT_FOUND) /* an editor's own phrasing: taught by the editor */
            rc = kb_learn_teach(l, doc_id, phrasing, KB_LEARN_EDITOR, by, role, NULL, time_ms);
        if (rc == KB_OK) rc = set_mark(l, doc_id, key, "pinned", by, time_ms);
    }
    kb_learned_phrasing_free(&p);
    free(key);
    return rc;
}

void kb_learned_phrasing_free(kb_learned_phrasing *p)
{
    if (!p) return;
    free(p->doc_id);
    free(p->phrasing);
    free(p->text);
    memset(p, 0, sizeof *p);
}

void kb_learned_list_free(kb_learned_list *list)
{
    for (size_t i = 0; i < list->n; i++) kb_learned_phrasing_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}
