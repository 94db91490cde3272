/*
 * index.c — turn parsed documents into Xapian documents and write them (see kb_index.h).
 *
 * Field weighting is done with within-document frequencies: a term in the title counts
 * KB_WDF_TITLE times, in the body once. That keeps one term space (so a query needs one
 * posting list per term, not one per field) while BM25 still favours title and question hits.
 *
 * Unchanged documents are detected by a content hash stored in a value slot, so re-running the
 * indexer on a whole knowledge base only rewrites what editors changed.
 */
#include "kb_index.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb_analyzer.h"
#include "kb_strmap.h"
#include "kb_term_counts.h"
#include "kb_xapian.h"

/* Bump when analysis or the stored layout changes: every document's hash changes with it, so
 * the next run rewrites them all. */
#define KB_INDEX_FORMAT "1"
/* Xapian terms are limited to 245 bytes; boolean terms longer than this are hashed. */
#define MAX_BOOLEAN_TERM 200

struct kb_index_writer {
    kbx_writer *db;
    kb_analyzer *analyzer;
    kb_term_list terms;
    kb_term_counts counts; /* the document being built: term → wdf */
    kb_index_mode mode;
    kb_strmap seen; /* id → "file:line" of every document added in this run */
    kb_index_stats stats;
    int status;
    char err[1024];
};

static void set_error(kb_index_writer *w, const char *fmt, const char *detail)
{
    snprintf(w->err, sizeof w->err, fmt, detail);
    w->status = KB_INDEX_ERROR;
}

kb_index_writer *kb_index_writer_open(const char *dir, kb_index_mode mode)
{
    kb_index_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->mode = mode;
    kb_term_list_init(&w->terms);
    kb_term_counts_init(&w->counts);
    kb_strmap_init(&w->seen);
    w->analyzer = kb_analyzer_new(w->err, sizeof w->err);
    if (!w->analyzer) {
        w->status = KB_INDEX_ERROR;
        return w;
    }
    w->db = kbx_writer_open(dir);
    if (!w->db) {
        set_error(w, "%s", "out of memory");
        return w;
    }
    int rc = kbx_writer_status(w->db);
    if (rc == KBX_LOCKED) {
        snprintf(w->err, sizeof w->err,
                 "index %s is being written by another kb-indexer; wait for it to finish", dir);
        w->status = KB_INDEX_LOCKED;
        return w;
    }
    if (rc != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot open index %s: %s", dir, kbx_writer_errmsg(w->db));
        w->status = KB_INDEX_ERROR;
        return w;
    }
    if (mode == KB_INDEX_REBUILD && kbx_writer_delete_all(w->db) != KBX_OK)
        set_error(w, "cannot empty the index for rebuilding: %s", kbx_writer_errmsg(w->db));
    return w;
}

int kb_index_writer_status(const kb_index_writer *w) { return w->status; }
const char *kb_index_writer_errmsg(const kb_index_writer *w) { return w->err; }

/* ---------------------------------------------------------------- stored JSON */

static cJSON *string_array(char *const *items, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static const char *block_kind_name(kb_block_kind k)
{
    switch (k) {
    case KB_BLOCK_ITEM: return "item";
    case KB_BLOCK_ROW: return "row";
    default: return "p";
    }
}

char *kb_index_document_json(const kb_document *doc)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", doc->id);
    cJSON_AddStringToObject(o, "title", doc->title);
    cJSON_AddStringToObject(o, "lang", doc->lang ? doc->lang : "");
    cJSON_AddItemToObject(o, "categories", string_array(doc->categories, doc->n_categories));
    cJSON_AddStringToObject(o, "keywords", doc->keywords ? doc->keywords : "");
    cJSON_AddStringToObject(o, "valid_from", doc->valid_from);
    cJSON_AddStringToObject(o, "valid_until", doc->valid_until);
    cJSON_AddStringToObject(o, "updated", doc->updated);
    cJSON_AddItemToObject(o, "questions", string_array(doc->questions, doc->n_questions));
    cJSON_AddStringToObject(o, "source", doc->source ? doc->source : "");
    cJSON_AddNumberToObject(o, "line", doc->line);
    cJSON *sections = cJSON_AddArrayToObject(o, "sections");
    for (size_t i = 0; sections && i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        cJSON *s = cJSON_CreateObject();
        cJSON_AddItemToArray(sections, s);
        cJSON_AddStringToObject(s, "id", sec->id);
        cJSON_AddStringToObject(s, "title", sec->title);
        cJSON *blocks = cJSON_AddArrayToObject(s, "blocks");
        for (size_t j = 0; blocks && j < sec->n_blocks; j++) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToArray(blocks, b);
            cJSON_AddStringToObject(b, "kind", block_kind_name(sec->blocks[j].kind));
            cJSON_AddStringToObject(b, "text", sec->blocks[j].text);
        }
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

/* ---------------------------------------------------------------- terms */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Analyze text and count every term with the field's wdf (added to the document at the end,
 * once per distinct term). */
static int add_text(kb_index_writer *w, const char *text, unsigned wdf)
{
    if (!text || !*text) return 0;
    kb_term_list_clear(&w->terms);
    if (kb_analyze(w->analyzer, text, strlen(text), &w->terms) < 0) return -1;
    for (size_t i = 0; i < w->terms.count; i++)
        if (kb_term_counts_add(&w->counts, w->terms.terms[i].text, wdf) < 0) return -1;
    return 0;
}

/* Add prefix + value as a boolean term, hashing values too long for Xapian. */
static int add_boolean(kbx_doc *d, const char *prefix, const char *value, size_t len)
{
    char term[MAX_BOOLEAN_TERM + 32];
    size_t plen = strlen(prefix);
    if (plen + len <= MAX_BOOLEAN_TERM) {
        memcpy(term, prefix, plen);
        memcpy(term + plen, value, len);
        term[plen + len] = '\0';
    } else {
        snprintf(term, sizeof term, "%s#%016llx", prefix,
                 (unsigned long long)fnv1a(value, len, 1469598103934665603ULL));
    }
    return kbx_doc_add_boolean_term(d, term) == KBX_OK ? 0 : -1;
}

/* Categories are filterable at every level: 业务办理/漫游 gives XC业务办理 and XC业务办理/漫游.
 * They are folded like text, so a filter in either script matches. */
static int add_category_terms(kb_index_writer *w, kbx_doc *d, const char *category)
{
    char *folded = kb_analyzer_fold(w->analyzer, category, strlen(category));
    if (!folded) return -1;
    int rc = 0;
    for (char *p = folded; rc == 0; p++) {
        if (*p == '/' || *p == '\0') rc = add_boolean(d, "XC", folded, (size_t)(p - folded));
        if (*p == '\0') break;
    }
    free(folded);
    return rc;
}

static int add_keyword_terms(kb_index_writer *w, kbx_doc *d, const char *keywords)
{
    char *folded = kb_analyzer_fold(w->analyzer, keywords, strlen(keywords));
    if (!folded) return -1;
    int rc = 0;
    for (char *tok = strtok(folded, " \t\n"); tok && rc == 0; tok = strtok(NULL, " \t\n"))
        rc = add_boolean(d, "XK", tok, strlen(tok));
    free(folded);
    return rc;
}

/* "2026-03-02" → "20260302"; "" → fallback. */
static void compact_date(const char *date, const char *fallback, char out[9])
{
    if (strlen(date) == 10) {
        memcpy(out, date, 4);
        memcpy(out + 4, date + 5, 2);
        memcpy(out + 6, date + 8, 2);
        out[8] = '\0';
    } else {
        snprintf(out, 9, "%s", fallback);
    }
}

static int build_document(kb_index_writer *w, const kb_document *doc, const char *json,
                          const char *hash, kbx_doc *d)
{
    char date[9];
    kb_term_counts_clear(&w->counts);
    if (add_text(w, doc->title, KB_WDF_TITLE) < 0) return -1;
    for (size_t i = 0; i < doc->n_questions; i++)
        if (add_text(w, doc->questions[i], KB_WDF_QUESTION) < 0) return -1;
    if (add_text(w, doc->keywords, KB_WDF_KEYWORD) < 0) return -1;
    for (size_t i = 0; i < doc->n_categories; i++) {
        /* The path's parts are text too ("漫游" in 业务办理/漫游 should match a query). */
        if (add_text(w, doc->categories[i], KB_WDF_CATEGORY) < 0) return -1;
        if (add_category_terms(w, d, doc->categories[i]) < 0) return -1;
    }
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *sec = &doc->sections[i];
        if (add_text(w, sec->title, KB_WDF_SECTION_TITLE) < 0) return -1;
        for (size_t j = 0; j < sec->n_blocks; j++)
            if (add_text(w, sec->blocks[j].text, KB_WDF_BODY) < 0) return -1;
    }
    for (size_t i = 0; i < w->counts.capacity; i++)
        if (w->counts.slots[i].term &&
            kbx_doc_add_term(d, w->counts.slots[i].term, w->counts.slots[i].count) != KBX_OK)
            return -1;
    if (doc->keywords && add_keyword_terms(w, d, doc->keywords) < 0) return -1;
    if (add_boolean(d, "Q", doc->id, strlen(doc->id)) < 0) return -1;
    if (doc->source && add_boolean(d, "XF", doc->source, strlen(doc->source)) < 0) return -1;

    compact_date(doc->valid_from, "00000000", date);
    if (kbx_doc_set_value(d, KB_SLOT_VALID_FROM, date, 8) != KBX_OK) return -1;
    compact_date(doc->valid_until, "99999999", date);
    if (kbx_doc_set_value(d, KB_SLOT_VALID_UNTIL, date, 8) != KBX_OK) return -1;
    compact_date(doc->updated, "", date);
    if (kbx_doc_set_value(d, KB_SLOT_UPDATED, date, strlen(date)) != KBX_OK) return -1;
    if (kbx_doc_set_value(d, KB_SLOT_HASH, hash, strlen(hash)) != KBX_OK) return -1;
    if (kbx_doc_set_value(d, KB_SLOT_ID, doc->id, strlen(doc->id)) != KBX_OK) return -1;
    if (kbx_doc_set_data(d, json, strlen(json)) != KBX_OK) return -1;
    return 0;
}

int kb_index_writer_add(kb_index_writer *w, const kb_document *doc)
{
    if (w->status != KB_INDEX_OK) return KB_INDEX_ERROR;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", doc->source ? doc->source : "?", doc->line);
    const char *earlier = kb_strmap_get(&w->seen, doc->id);
    if (earlier) {
        snprintf(w->err, sizeof w->err,
                 "document id '%s' is used twice in this run (first at %s); the first one is kept",
                 doc->id, earlier);
        return KB_INDEX_ERROR; /* a problem with this document, not with the run */
    }
    if (kb_strmap_put(&w->seen, doc->id, where) < 0) goto oom;

    char *json = kb_index_document_json(doc);
    if (!json) goto oom;
    char hash[17], id_term[MAX_BOOLEAN_TERM + 2], old_hash[32];
    snprintf(hash, sizeof hash, "%016llx",
             (unsigned long long)fnv1a(json, strlen(json),
                                       fnv1a(KB_INDEX_FORMAT, 1, 1469598103934665603ULL)));
    snprintf(id_term, sizeof id_term, "Q%s", doc->id);

    int rc = kbx_writer_get_value(w->db, id_term, KB_SLOT_HASH, old_hash, sizeof old_hash);
    if (rc == KBX_OK && strcmp(old_hash, hash) == 0) {
        w->stats.unchanged++;
        free(json);
        return KB_INDEX_OK;
    }
    if (rc != KBX_OK && rc != KBX_NOT_FOUND) {
        snprintf(w->err, sizeof w->err, "cannot read the index: %s", kbx_writer_errmsg(w->db));
        w->status = KB_INDEX_ERROR;
        free(json);
        return KB_INDEX_ERROR;
    }

    kbx_doc *d = kbx_doc_new();
    if (!d || build_document(w, doc, json, hash, d) < 0) {
        kbx_doc_free(d);
        free(json);
        goto oom;
    }
    free(json);
    if (kbx_writer_replace(w->db, id_term, d) != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot write document '%s': %s", doc->id,
                 kbx_writer_errmsg(w->db));
        w->status = KB_INDEX_ERROR;
        kbx_doc_free(d);
        return KB_INDEX_ERROR;
    }
    kbx_doc_free(d);
    if (rc == KBX_OK) w->stats.replaced++;
    else w->stats.added++;
    return KB_INDEX_OK;

oom:
    set_error(w, "%s", "out of memory while indexing");
    return KB_INDEX_ERROR;
}

int kb_index_writer_remove(kb_index_writer *w, const char *id)
{
    char id_term[MAX_BOOLEAN_TERM + 2];
    char hash[32];
    snprintf(id_term, sizeof id_term, "Q%s", id);
    int rc = kbx_writer_get_value(w->db, id_term, KB_SLOT_HASH, hash, sizeof hash);
    if (rc == KBX_NOT_FOUND) return KB_INDEX_OK;
    if (rc != KBX_OK || kbx_writer_delete(w->db, id_term) != KBX_OK) {
        snprintf(w->err, sizeof w->err, "cannot remove document '%s': %s", id,
                 kbx_writer_errmsg(w->db));
        return KB_INDEX_ERROR;
    }
    w->stats.removed++;
    return KB_INDEX_OK;
}

/* ---------------------------------------------------------------- commit */

typedef struct {
    kb_index_writer *w;
    char **ids;
    size_t n, cap;
} unseen_ids;

static int collect_unseen(const char *term, void *user)
{
    unseen_ids *u = user;
    const char *id = term + 1; /* skip the Q prefix */
    if (kb_strmap_get(&u->w->seen, id)) return 0;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        char **ids = realloc(u->ids, cap * sizeof *ids);
        if (!ids) return 1;
        u->ids = ids;
        u->cap = cap;
    }
    u->ids[u->n] = strdup(id);
    if (!u->ids[u->n]) return 1;
    u->n++;
    return 0;
}

void kb_index_writer_keep_unseen(kb_index_writer *w)
{
    if (w->mode == KB_INDEX_SYNC) w->mode = KB_INDEX_UPDATE;
}

int kb_index_writer_commit(kb_index_writer *w)
{
    if (w->status != KB_INDEX_OK) return KB_INDEX_ERROR;
    if (w->mode == KB_INDEX_SYNC) {
        /* Collect first, delete after: deleting while iterating the term list is not safe. */
        unseen_ids u = {.w = w};
        int rc = kbx_writer_each_term(w->db, "Q", collect_unseen, &u);
        for (size_t i = 0; i < u.n; i++) {
            if (rc == KBX_OK && kb_index_writer_remove(w, u.ids[i]) != KB_INDEX_OK) rc = KBX_ERROR;
            free(u.ids[i]);
        }
        free(u.ids);
        if (rc != KBX_OK) {
            set_error(w, "cannot remove documents no longer in the knowledge base: %s",
                      kbx_writer_errmsg(w->db));
            return KB_INDEX_ERROR;
        }
    }
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    if (kbx_writer_set_metadata(w->db, "published_at", now) != KBX_OK ||
        kbx_writer_set_metadata(w->db, "format", KB_INDEX_FORMAT) != KBX_OK ||
        kbx_writer_commit(w->db) != KBX_OK) {
        set_error(w, "cannot publish the index: %s", kbx_writer_errmsg(w->db));
        return KB_INDEX_ERROR;
    }
    w->stats.total = kbx_writer_doccount(w->db);
    return KB_INDEX_OK;
}

void kb_index_writer_stats(const kb_index_writer *w, kb_index_stats *out) { *out = w->stats; }

void kb_index_writer_close(kb_index_writer *w)
{
    if (!w) return;
    kbx_writer_close(w->db);
    kb_analyzer_free(w->analyzer);
    kb_term_list_free(&w->terms);
    kb_term_counts_free(&w->counts);
    kb_strmap_free(&w->seen);
    free(w);
}
