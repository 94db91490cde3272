/*
 * stored_doc.c — write and read the stored form of a document (see document/stored_doc.h).
 *
 * The fields, in this order, each string as a LEB128 length, its bytes and a NUL (so a reader
 * can point into the bytes instead of copying them), each count as a LEB128 number:
 *
 *   id lang title keywords valid_from valid_until updated source line
 *   n_categories category...   n_questions question...
 *   n_sections { id title n_blocks { kind-byte text }... }...
 *   must_know n_teams team...                                  (since index format 6)
 *
 * The kind byte is the kb_block_kind number (0 paragraph, 1 item, 2 row, 3 header row since index
 * format 5). A reader refuses a kind it does not know, so a daemon older than format 5 cannot
 * read documents with header rows: upgrade the daemon before re-indexing (docs/OPERATIONS.md).
 *
 * The must-know mark (<must-know>, issue 19, index format 6) comes last, as the number 0 or 1
 * and the teams, and the tag's last byte says whether the record has it: 2 with it, 1 for the
 * records of formats 3 to 5, which end after the sections and still read (as not must-know). A
 * reader older than format 6 refuses tag 2, like the header kind above; a truncated record of
 * either kind is still refused, since the tag says where it must end.
 *
 * The stored form is TAG followed by one zstd frame of those bytes (level 1: documents are
 * small and mostly Chinese text, where higher levels gain a few percent for several times the
 * time). Xapian then tries its own zlib on the frame, finds nothing to gain, and keeps it as it is.
 */
#include "document/stored_doc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "util/buf.h"

static const char TAG[4] = {'K', 'B', 'D', 2};      /* index format 6 on: with the mark */
static const char TAG_FORMAT_3[4] = {'K', 'B', 'D', 1}; /* formats 3 to 5: without it */
#define ZSTD_LEVEL 1
/* What a document the parser accepts can serialize to: its text and attributes plus a length
 * and a NUL for each of its elements. A record claiming more is corrupt; the limits also bound
 * what a few corrupt bytes can make a reader allocate (each 3-byte block becomes a kb_block). */
#define MAX_FIELDS_BYTES (KB_DOCUMENT_MAX_DOC_BYTES + 16u * KB_DOCUMENT_MAX_DOC_ELEMENTS + 4096u)
#define MAX_ITEMS KB_DOCUMENT_MAX_DOC_ELEMENTS

struct kb_stored_doc_codec {
    ZSTD_CCtx *compress;
    ZSTD_DCtx *decompress;
};

kb_stored_doc_codec *kb_stored_doc_codec_new(void) { return calloc(1, sizeof(kb_stored_doc_codec)); }

void kb_stored_doc_codec_free(kb_stored_doc_codec *c)
{
    if (!c) return;
    ZSTD_freeCCtx(c->compress);
    ZSTD_freeDCtx(c->decompress);
    free(c);
}

/* ---------------------------------------------------------------- writing */

static void put_number(kb_buf *o, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = v & 0x7f;
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    kb_buf_add(o, b, n);
}

static void put_string(kb_buf *o, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_number(o, n);
    kb_buf_add(o, s ? s : "", n);
    kb_buf_add(o, "", 1);
}

char *kb_stored_doc_serialize(const kb_document *doc, size_t *len)
{
    kb_buf o = {0};
    put_string(&o, doc->id);
    put_string(&o, doc->lang);
    put_string(&o, doc->title);
    put_string(&o, doc->keywords);
    put_string(&o, doc->valid_from);
    put_string(&o, doc->valid_until);
    put_string(&o, doc->updated);
    put_string(&o, doc->source);
    put_number(&o, doc->line > 0 ? (uint64_t)doc->line : 0);
    put_number(&o, doc->n_categories);
    for (size_t i = 0; i < doc->n_categories; i++) put_string(&o, doc->categories[i]);
    put_number(&o, doc->n_questions);
    for (size_t i = 0; i < doc->n_questions; i++) put_string(&o, doc->questions[i]);
    put_number(&o, doc->n_sections);
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *s = &doc->sections[i];
        put_string(&o, s->id);
        put_string(&o, s->title);
        put_number(&o, s->n_blocks);
        for (size_t j = 0; j < s->n_blocks; j++) {
            unsigned char kind = (unsigned char)s->blocks[j].kind;
            kb_buf_add(&o, &kind, 1);
            put_string(&o, s->blocks[j].text);
        }
    }
    put_number(&o, doc->must_know ? 1 : 0);
    put_number(&o, doc->must_know ? doc->n_must_know_teams : 0);
    for (size_t i = 0; doc->must_know && i < doc->n_must_know_teams; i++)
        put_string(&o, doc->must_know_teams[i]);
    if (o.failed) {
        free(o.data);
        return NULL;
    }
    *len = o.len;
    return o.data;
}

char *kb_stored_doc_pack(kb_stored_doc_codec *c, const char *fields, size_t len, size_t *out_len)
{
    if (len > MAX_FIELDS_BYTES) return NULL; /* the reader would refuse it */
    if (!c->compress && !(c->compress = ZSTD_createCCtx())) return NULL;
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound)) return NULL;
    char *out = malloc(sizeof TAG + bound);
    if (!out) return NULL;
    memcpy(out, TAG, sizeof TAG);
    size_t n = ZSTD_compressCCtx(c->compress, out + sizeof TAG, bound, fields, len, ZSTD_LEVEL);
    if (ZSTD_isError(n)) {
        free(out);
        return NULL;
    }
    *out_len = sizeof TAG + n;
    return out;
}

/* ---------------------------------------------------------------- reading */

typedef struct {
    char *p, *end;
    int bad;
} cursor;

static uint64_t get_number(cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; !c->bad; shift += 7) {
        if (c->p == c->end || shift > 63) {
            c->bad = 1;
            break;
        }
        unsigned char b = (unsigned char)*c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return 0;
}

/* A string of the record, NUL-terminated in place; "" once the record turned out bad. */
static char *get_string(cursor *c)
{
    uint64_t n = get_number(c);
    if (c->bad || n >= (uint64_t)(c->end - c->p) || c->p[n] != '\0') {
        c->bad = 1;
        return "";
    }
    char *s = c->p;
    c->p += n + 1;
    return s;
}

/* A count, bounded by what the rest of the record could hold (every item takes a byte). */
static size_t get_count(cursor *c)
{
    uint64_t n = get_number(c);
    if (n > (uint64_t)(c->end - c->p)) c->bad = 1;
    return c->bad ? 0 : (size_t)n;
}

/* A date as kb/document.h promises it, "YYYY-MM-DD" or "", so readers can copy it as it is. */
static void get_date(cursor *c, char out[11])
{
    const char *s = get_string(c);
    size_t n = strlen(s);
    if (n != 0 && n != 10) c->bad = 1;
    snprintf(out, 11, "%s", c->bad ? "" : s);
}

typedef struct {
    size_t categories, questions, sections, blocks, teams;
} counts;

/* Walk the fields. With doc NULL, only count and check them; otherwise fill doc, whose arrays
 * were sized by the counting walk. Returns 0, or -1 when the record is malformed. */
static int walk(char *fields, size_t len, int with_mark, counts *n, kb_document *doc)
{
    cursor c = {fields, fields + len, 0};
    kb_document scratch;
    kb_document *d = doc ? doc : &scratch;
    d->id = get_string(&c);
    d->lang = get_string(&c);
    d->title = get_string(&c);
    d->keywords = get_string(&c);
    get_date(&c, d->valid_from);
    get_date(&c, d->valid_until);
    get_date(&c, d->updated);
    d->source = get_string(&c);
    uint64_t line = get_number(&c);
    d->line = line > 0x7fffffff ? 0 : (int)line;

    d->n_categories = get_count(&c);
    for (size_t i = 0; i < d->n_categories && !c.bad; i++) {
        char *s = get_string(&c);
        if (doc) doc->categories[i] = s;
    }
    d->n_questions = get_count(&c);
    for (size_t i = 0; i < d->n_questions && !c.bad; i++) {
        char *s = get_string(&c);
        if (doc) doc->questions[i] = s;
    }
    d->n_sections = get_count(&c);
    size_t blocks = 0;
    for (size_t i = 0; i < d->n_sections && !c.bad; i++) {
        kb_section scratch_section, *s = doc ? &doc->sections[i] : &scratch_section;
        s->id = get_string(&c);
        s->title = get_string(&c);
        s->n_blocks = get_count(&c);
        if (doc) s->blocks = doc->sections[0].blocks + blocks;
        for (size_t j = 0; j < s->n_blocks && !c.bad; j++) {
            unsigned kind = c.p < c.end ? (unsigned char)*c.p++ : (c.bad = 1, 0);
            if (kind > KB_BLOCK_HEADER) c.bad = 1; /* a kind this reader does not know */
            char *text = get_string(&c);
            if (doc) s->blocks[j] = (kb_block){.kind = (kb_block_kind)kind, .text = text, .line = 0};
        }
        blocks += s->n_blocks;
    }
    /* The must-know mark, absent from records written before index format 6. */
    d->must_know = 0;
    d->n_must_know_teams = 0;
    if (with_mark && !c.bad) {
        uint64_t mk = get_number(&c);
        if (mk > 1) c.bad = 1;
        d->must_know = (int)mk;
        d->n_must_know_teams = get_count(&c);
        if (!d->must_know && d->n_must_know_teams) c.bad = 1;
        for (size_t i = 0; i < d->n_must_know_teams && !c.bad; i++) {
            char *s = get_string(&c);
            if (doc) doc->must_know_teams[i] = s;
        }
    }
    if (c.bad || c.p != c.end) return -1;
    if (d->n_categories + d->n_questions + d->n_sections + blocks + d->n_must_know_teams >
        MAX_ITEMS)
        return -1;
    if (!doc)
        *n = (counts){d->n_categories, d->n_questions, d->n_sections, blocks,
                      d->n_must_know_teams};
    return 0;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Lay the arrays out after the fields in one block and fill them. block starts with the
 * kb_document, followed by len bytes of fields. Takes block; returns the document or NULL. */
static kb_document *finish(char *block, size_t len, int with_mark)
{
    size_t fields_at = sizeof(kb_document);
    counts n;
    if (walk(block + fields_at, len, with_mark, &n, NULL) < 0) {
        free(block);
        return NULL;
    }
    size_t at = align8(fields_at + len);
    size_t categories_at = at;
    size_t questions_at = categories_at + n.categories * sizeof(char *);
    size_t teams_at = questions_at + n.questions * sizeof(char *);
    size_t sections_at = align8(teams_at + n.teams * sizeof(char *));
    size_t blocks_at = align8(sections_at + n.sections * sizeof(kb_section));
    size_t total = blocks_at + n.blocks * sizeof(kb_block);
    char *grown = realloc(block, total ? total : 1);
    if (!grown) {
        free(block);
        return NULL;
    }
    kb_document *doc = (kb_document *)grown;
    memset(doc, 0, sizeof *doc);
    doc->categories = (char **)(grown + categories_at);
    doc->questions = (char **)(grown + questions_at);
    doc->must_know_teams = (char **)(grown + teams_at);
    doc->sections = (kb_section *)(grown + sections_at);
    /* walk() places each section's blocks from the first section's pointer onwards. */
    kb_block *blocks = (kb_block *)(grown + blocks_at);
    if (n.sections) doc->sections[0].blocks = blocks;
    walk(grown + fields_at, len, with_mark, &n, doc);
    return doc;
}

static const char *json_string(const cJSON *o, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return v ? v : "";
}

static size_t json_strings(const cJSON *array, const char **out, size_t cap)
{
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        if (n < cap && cJSON_IsString(item)) out[n++] = item->valuestring;
    }
    return n;
}

/* Index format 2 stored the document as JSON; read it by serializing it the current way. */
static kb_document *read_json(const char *data, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(data, len);
    if (!o) return NULL;
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(o, "categories");
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(o, "questions");
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(o, "sections");
    size_t n_cats = (size_t)cJSON_GetArraySize(cats), n_qs = (size_t)cJSON_GetArraySize(qs);
    size_t n_secs = (size_t)cJSON_GetArraySize(secs), n_blocks = 0;
    const cJSON *sec;
    cJSON_ArrayForEach(sec, secs) {
        n_blocks += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sec, "blocks"));
    }
    const char **cat_v = calloc(n_cats + 1, sizeof *cat_v);
    const char **q_v = calloc(n_qs + 1, sizeof *q_v);
    kb_section *sec_v = calloc(n_secs + 1, sizeof *sec_v);
    kb_block *block_v = calloc(n_blocks + 1, sizeof *block_v);
    kb_document *out = NULL;
    if (!cat_v || !q_v || !sec_v || !block_v) goto done;

    kb_document d = {0};
    d.id = (char *)json_string(o, "id");
    d.lang = (char *)json_string(o, "lang");
    d.title = (char *)json_string(o, "title");
    d.keywords = (char *)json_string(o, "keywords");
    snprintf(d.valid_from, sizeof d.valid_from, "%s", json_string(o, "valid_from"));
    snprintf(d.valid_until, sizeof d.valid_until, "%s", json_string(o, "valid_until"));
    snprintf(d.updated, sizeof d.updated, "%s", json_string(o, "updated"));
    d.source = json_string(o, "source");
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(o, "line");
    d.line = cJSON_IsNumber(line) && line->valuedouble >= 0 && line->valuedouble < 2e9
                 ? (int)line->valuedouble
                 : 0;
    d.categories = (char **)cat_v;
    d.n_categories = json_strings(cats, cat_v, n_cats);
    d.questions = (char **)q_v;
    d.n_questions = json_strings(qs, q_v, n_qs);
    d.sections = sec_v;
    size_t b = 0;
    cJSON_ArrayForEach(sec, secs) {
        kb_section *s = &sec_v[d.n_sections++];
        s->id = (char *)json_string(sec, "id");
        s->title = (char *)json_string(sec, "title");
        s->blocks = block_v + b;
        const cJSON *blk;
        cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(sec, "blocks")) {
            const char *kind = json_string(blk, "kind");
            s->blocks[s->n_blocks++] = (kb_block){
                .kind = !strcmp(kind, "item") ? KB_BLOCK_ITEM
                        : !strcmp(kind, "row") ? KB_BLOCK_ROW
                                               : KB_BLOCK_PARAGRAPH,
                .text = (char *)json_string(blk, "text")};
        }
        b += s->n_blocks;
    }
    size_t flen;
    char *fields = kb_stored_doc_serialize(&d, &flen);
    char *block = fields ? malloc(sizeof(kb_document) + flen) : NULL;
    if (block) {
        memcpy(block + sizeof(kb_document), fields, flen);
        out = finish(block, flen, 1);
    }
    free(fields);
done:
    free(cat_v);
    free(q_v);
    free(sec_v);
    free(block_v);
    cJSON_Delete(o);
    return out;
}

kb_document *kb_stored_doc_read(kb_stored_doc_codec *c, const char *data, size_t len)
{
    if (len > 0 && data[0] == '{') return read_json(data, len);
    if (len < sizeof TAG) return NULL;
    int with_mark = memcmp(data, TAG, sizeof TAG) == 0;
    if (!with_mark && memcmp(data, TAG_FORMAT_3, sizeof TAG) != 0) return NULL;
    const char *frame = data + sizeof TAG;
    size_t frame_len = len - sizeof TAG;
    unsigned long long n = ZSTD_getFrameContentSize(frame, frame_len);
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || n > MAX_FIELDS_BYTES)
        return NULL;
    if (!c->decompress && !(c->decompress = ZSTD_createDCtx())) return NULL;
    char *block = malloc(sizeof(kb_document) + (size_t)n);
    if (!block) return NULL;
    size_t got = ZSTD_decompressDCtx(c->decompress, block + sizeof(kb_document), (size_t)n,
                                     frame, frame_len);
    if (ZSTD_isError(got) || got != n) {
        free(block);
        return NULL;
    }
    return finish(block, (size_t)n, with_mark);
}
