/*
 * gaps_doc_days.c — the per-day counts of the documents searches returned (doc_days, for
 * content health's "never returned"; docs/GAPS.md), added up for one batch of the ingest.
 *
 * Every search of the batch lists up to ten documents (searches.top_ids, a JSON array). The
 * counts used to be made by one INSERT ... SELECT ... GROUP BY over json_each; SQLite groups by
 * sorting, and sorting ten rows a search cost ~100,000 instructions a search (kb-gaps-cost:
 * 38% of the whole ingest). Now:
 *   - the batch's top_ids are read in the ingest's first phase, without the write lock, and
 *     added up in a hash table: the array the store writes (plain strings) is split here; any
 *     other spelling (escapes, blanks, elements that are not strings) goes through the
 *     database's json_each, so the JSON rules are the database's, as before;
 *   - the sums are written in the write transaction by multi-row upserts in the table's key
 *     order (below).
 * The table ends up exactly as the single statement left it; test_gaps compares the two
 * (per_day_document_counts_are_what_the_searches_listed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaps/gaps_internal.h"
#include "util/hash.h"

typedef struct {
    char *doc_id; /* NULL: empty slot */
    int64_t day;
    int64_t returned, top;
} day_count;

struct kb_gaps_doc_days {
    day_count *slots;
    size_t n_slots, n; /* n_slots a power of two, at most half full */
};

void kb_gaps_doc_days_free(kb_gaps_doc_days *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_slots; i++) free(d->slots[i].doc_id);
    free(d->slots);
    free(d);
}

static size_t slot_of(const day_count *slots, size_t n_slots, int64_t day, const char *doc_id)
{
    uint64_t h = kb_hash_bytes(&day, sizeof day, kb_hash_str(doc_id));
    size_t i = (size_t)h & (n_slots - 1);
    while (slots[i].doc_id && (slots[i].day != day || strcmp(slots[i].doc_id, doc_id) != 0))
        i = (i + 1) & (n_slots - 1);
    return i;
}

static int grow(kb_gaps_doc_days *d)
{
    size_t n_slots = d->n_slots ? d->n_slots * 2 : 1024;
    day_count *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < d->n_slots; i++)
        if (d->slots[i].doc_id)
            slots[slot_of(slots, n_slots, d->slots[i].day, d->slots[i].doc_id)] = d->slots[i];
    free(d->slots);
    d->slots = slots;
    d->n_slots = n_slots;
    return 0;
}

/* Count one listing of doc_id on day (top: it was the search's first hit). 0, or -1. */
static int count(kb_gaps_doc_days *d, int64_t day, const char *doc_id, int top)
{
    if ((d->n + 1) * 2 > d->n_slots && grow(d) != 0) return -1;
    day_count *c = &d->slots[slot_of(d->slots, d->n_slots, day, doc_id)];
    if (!c->doc_id) {
        if (!(c->doc_id = strdup(doc_id))) return -1;
        c->day = day;
        d->n++;
    }
    c->returned++;
    c->top += top;
    return 0;
}

/* Whether a top_ids value is a JSON array of plain strings, as the store writes it
 * (events/store.c): `["id","id"]`, no blanks, no escape, no control character, nothing after.
 * Such a value's elements are the bytes between the quotes, so it is read here; any other value
 * is left to the database's JSON (json_each), which decodes escapes, skips elements that are
 * not strings and refuses malformed JSON as before. */
static int plain_string_array(const char *s)
{
    if (*s++ != '[') return 0;
    if (*s == ']') return s[1] == '\0';
    for (;;) {
        if (*s++ != '"') return 0;
        for (; *s != '"'; s++)
            if (*s == '\\' || (unsigned char)*s < 0x20) return 0; /* also the end of the text */
        s++;
        if (*s == ']') return s[1] == '\0';
        if (*s++ != ',') return 0;
    }
}

/* Count the documents of one plain array (see plain_string_array). 0, or -1. */
static int count_plain(kb_gaps_doc_days *d, int64_t day, const char *s)
{
    char small[256];
    int rc = 0;
    for (int key = 0; rc == 0 && *s != ']' && *s; key++) {
        s += *s == '[' || *s == ',' ? 1 : 0;
        if (*s != '"') break;
        const char *start = ++s, *end = strchr(start, '"');
        size_t n = (size_t)(end - start);
        char *id = n < sizeof small ? small : malloc(n + 1);
        if (!id) return -1;
        memcpy(id, start, n);
        id[n] = '\0';
        rc = count(d, day, id, key == 0);
        if (id != small) free(id);
        s = end + 1;
    }
    return rc;
}

/* Count the documents of any other JSON value with the database's json_each, prepared on first
 * use into *each. 0, or -1 (malformed JSON included, as before). */
static int count_json(kb_gaps *g, kb_gaps_doc_days *d, kb_db_stmt **each, int64_t day,
                      const char *json)
{
    if (!*each) {
        char from[512], sql[768];
        if (kb_db_sql_json_each(kb_db_dialect_of(kb_gaps_db(g)), "?1", "j", from, sizeof from) != 0)
            return -1;
        /* (SELECT 1): PostgreSQL's json_each is a LATERAL subquery, which follows a table. */
        snprintf(sql, sizeof sql,
                 "SELECT j.key, j.value FROM (SELECT 1) AS one, %s WHERE j.type = 'text'", from);
        if (!(*each = kb_gaps_stmt(g, sql))) return -1;
    }
    kb_db_reset(*each);
    kb_db_bind_text(*each, 1, json);
    int rc;
    while ((rc = kb_db_step(*each)) == KB_DB_ROW) {
        const char *doc = kb_db_column_text(*each, 1);
        if (doc && count(d, day, doc, kb_db_column_int64(*each, 0) == 0) != 0) {
            rc = KB_DB_ERROR;
            break;
        }
    }
    kb_db_reset(*each);
    return rc == KB_DB_DONE ? 0 : -1;
}

kb_gaps_doc_days *kb_gaps_doc_days_read(kb_gaps *g, int64_t lo, int64_t hi)
{
    kb_gaps_doc_days *d = calloc(1, sizeof *d);
    if (!d || hi <= lo) return d;
    const char *o = kb_gaps_order_of(g, "searches");
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT time_ms / 86400000, top_ids FROM searches WHERE %s > ?1 AND %s <= ?2", o, o);
    kb_db_stmt *s = kb_gaps_stmt(g, sql), *each = NULL;
    if (!s) {
        kb_gaps_doc_days_free(d);
        return NULL;
    }
    kb_db_bind_int64(s, 1, lo);
    kb_db_bind_int64(s, 2, hi);
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        int64_t day = kb_db_column_int64(s, 0);
        const char *ids = kb_db_column_text(s, 1);
        if (!ids) continue; /* NOT NULL in the schema; json_each(NULL) has no rows */
        if (plain_string_array(ids) ? count_plain(d, day, ids) != 0
                                    : count_json(g, d, &each, day, ids) != 0) {
            rc = KB_DB_ERROR;
            break;
        }
    }
    kb_db_reset(s);
    if (rc != KB_DB_DONE) {
        kb_gaps_doc_days_free(d);
        return NULL;
    }
    return d;
}

/* The counts are written with multi-row upserts whose rows are in the table's key order. On
 * SQLite each insertion then lands next to the last: 4,100 instructions a row against 8,900
 * for one row a statement (measured on 50,000 rows; in hash order a multi-row statement was no
 * cheaper than single rows); one INSERT ... SELECT over a JSON parameter cost more again, in
 * json_each and substr. On PostgreSQL a statement is a round trip. Statements of 128, 64, ...,
 * 1 rows are kept by the handle (compiling one of 128 rows costs 1.4 M instructions); a
 * batch's n rows take n / 128 of the largest, then one of each size the rest needs. */
#define MAX_ROWS 128

static int by_key(const void *a, const void *b)
{
    const day_count *x = *(const day_count *const *)a, *y = *(const day_count *const *)b;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return strcmp(x->doc_id, y->doc_id);
}

/* The kept upsert of n rows (day, doc_id, returned, top), n at most MAX_ROWS. */
static kb_db_stmt *upsert(kb_gaps *g, size_t n)
{
    static const char head[] = "INSERT INTO doc_days (day, doc_id, returned, top) VALUES ";
    static const char tail[] =
        " ON CONFLICT (day, doc_id) DO UPDATE SET returned = doc_days.returned + "
        "excluded.returned, top = doc_days.top + excluded.top";
    static const char row[] = ", (?, ?, ?, ?)";
    char sql[sizeof head + sizeof tail + MAX_ROWS * sizeof row], *p = sql;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    for (size_t i = 0; i < n; i++) {
        size_t skip = i ? 0 : 2; /* no ", " before the first */
        memcpy(p, row + skip, sizeof row - 1 - skip);
        p += sizeof row - 1 - skip;
    }
    memcpy(p, tail, sizeof tail);
    return kb_gaps_stmt(g, sql);
}

int kb_gaps_doc_days_write(kb_gaps *g, const kb_gaps_doc_days *d)
{
    if (!d || d->n == 0) return 0;
    const day_count **v = malloc(d->n * sizeof *v);
    if (!v) return -1;
    size_t n = 0;
    for (size_t i = 0; i < d->n_slots; i++)
        if (d->slots[i].doc_id) v[n++] = &d->slots[i];
    qsort(v, n, sizeof *v, by_key);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t rows = MAX_ROWS;
        while (rows > n - i) rows /= 2;
        kb_db_stmt *s = upsert(g, rows);
        if (!s) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < rows; k++, i++) {
            kb_db_bind_int64(s, 4 * (int)k + 1, v[i]->day);
            kb_db_bind_text(s, 4 * (int)k + 2, v[i]->doc_id);
            kb_db_bind_int64(s, 4 * (int)k + 3, v[i]->returned);
            kb_db_bind_int64(s, 4 * (int)k + 4, v[i]->top);
        }
        if (kb_db_step(s) != KB_DB_DONE) rc = -1;
        kb_db_reset(s);
    }
    free(v);
    return rc;
}
