/*
 * fuzz_document.c — libFuzzer harness for the knowledge-base XML parser (kb/document/document.c and
 * kb/document/document_check.c) through kb_document_parse_memory, the in-memory twin of
 * kb_document_parse_file (same parse() underneath).
 *
 * The input is the content of one file. Besides "no crash, no leak, no UB", every document the
 * parser delivers must be what kb/document.h promises the indexer:
 *   - an id of 1-128 characters from [A-Za-z0-9._:-];
 *   - every string (title, categories, keywords, questions, section ids and titles, block text)
 *     non-NULL, valid UTF-8, with no element text over KB_DOCUMENT_MAX_TEXT_BYTES;
 *   - dates "" or YYYY-MM-DD, and valid_from <= valid_until when both are set;
 *   - categories without empty parts; its JSON for the document view (searchd_document_json)
 *     parses;
 *   - it reads back from its stored form (document/stored_doc.h) as the same document.
 * The input's bytes are also read as a stored record and as the serialized fields of one:
 * damaged or hostile records must be refused or read, never read outside their bytes.
 * The return code is a kb_status (kb/status.h), KB_OK exactly when every problem reported
 * was a warning (libxml2's, passed on with "warning: " in front), and
 * every problem has a non-empty message in valid UTF-8 (editors read them in a terminal).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "kb/document.h"
#include "document_json.h" /* searchd/: the document view's JSON */
#include "kb/index.h"
#include "document/stored_doc.h"

static kb_stored_doc_codec *codec;

typedef struct {
    size_t documents, problems, warnings;
} counts;

static void check_text(const char *what, const char *s) {
    FUZZ_REQUIRE(s != NULL, "%s is NULL", what);
    size_t n = strlen(s);
    FUZZ_REQUIRE(fuzz_utf8_valid(s, n), "%s is not valid UTF-8", what);
    FUZZ_REQUIRE(n <= KB_DOCUMENT_MAX_TEXT_BYTES, "%s is %zu bytes", what, n);
}

static void check_date(const char *what, const char d[11]) {
    if (d[0] == '\0') return;
    int ok = strlen(d) == 10 && d[4] == '-' && d[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) ok = 0;
    FUZZ_REQUIRE(ok, "%s is '%s', not YYYY-MM-DD", what, d);
}

static int on_document(const kb_document *doc, void *user) {
    counts *c = user;
    c->documents++;
    size_t idn = doc->id ? strlen(doc->id) : 0;
    FUZZ_REQUIRE(idn >= 1 && idn <= 128, "id has %zu characters", idn);
    FUZZ_REQUIRE(strspn(doc->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == idn,
                 "id '%s' has a character outside [A-Za-z0-9._:-]", doc->id);
    check_text("lang", doc->lang);
    check_text("title", doc->title);
    check_text("keywords", doc->keywords);
    for (size_t i = 0; i < doc->n_categories; i++) {
        const char *cat = doc->categories[i];
        check_text("category", cat);
        FUZZ_REQUIRE(cat[0] != '/' && !strstr(cat, "//") && (!*cat || cat[strlen(cat) - 1] != '/'),
                     "category '%s' has an empty part", cat);
    }
    for (size_t i = 0; i < doc->n_questions; i++) check_text("question", doc->questions[i]);
    for (size_t i = 0; i < doc->n_sections; i++) {
        const kb_section *s = &doc->sections[i];
        check_text("section id", s->id);
        check_text("section title", s->title);
        for (size_t b = 0; b < s->n_blocks; b++) {
            check_text("block", s->blocks[b].text);
            FUZZ_REQUIRE(s->blocks[b].kind <= KB_BLOCK_HEADER, "block kind %d", (int)s->blocks[b].kind);
        }
    }
    check_date("valid_from", doc->valid_from);
    check_date("valid_until", doc->valid_until);
    check_date("updated", doc->updated);
    if (doc->valid_from[0] && doc->valid_until[0])
        FUZZ_REQUIRE(strcmp(doc->valid_from, doc->valid_until) <= 0, "valid from %s until %s",
                     doc->valid_from, doc->valid_until);

    /* What the indexer stores for the document view and snippets must read back as JSON. */
    char *json = searchd_document_json(doc);
    FUZZ_REQUIRE(json != NULL, "searchd_document_json failed");
    cJSON *parsed = cJSON_Parse(json);
    FUZZ_REQUIRE(parsed != NULL, "stored JSON does not parse: %.200s", json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(parsed, "id");
    FUZZ_REQUIRE(cJSON_IsString(id) && strcmp(id->valuestring, doc->id) == 0,
                 "document JSON has the wrong id");
    cJSON_Delete(parsed);

    /* What the index keeps reads back as the same document (the JSON shows every field). */
    size_t fields_len, stored_len;
    char *fields = kb_stored_doc_serialize(doc, &fields_len);
    FUZZ_REQUIRE(fields != NULL, "kb_stored_doc_serialize failed");
    char *stored = kb_stored_doc_pack(codec, fields, fields_len, &stored_len);
    FUZZ_REQUIRE(stored != NULL, "kb_stored_doc_pack failed");
    kb_document *back = kb_stored_doc_read(codec, stored, stored_len);
    FUZZ_REQUIRE(back != NULL, "the stored form of %s does not read back", doc->id);
    char *back_json = searchd_document_json(back);
    FUZZ_REQUIRE(back_json && strcmp(back_json, json) == 0, "stored form of %s reads back as %.200s",
                 doc->id, back_json ? back_json : "(null)");
    free(back_json);
    free(back);
    free(stored);
    free(fields);
    free(json);
    return 0;
}

static void on_problem(const char *file, int line, const char *message, void *user) {
    counts *c = user;
    c->problems++;
    /* libxml2's warnings (e.g. XML version 1.1) are passed on but do not make a file invalid. */
    if (message && strncmp(message, "warning: ", 9) == 0) c->warnings++;
    FUZZ_REQUIRE(file && strcmp(file, "fuzz.xml") == 0, "problem names file '%s'", file ? file : "(null)");
    FUZZ_REQUIRE(line >= 0, "problem at line %d", line);
    FUZZ_REQUIRE(message && *message, "empty problem message");
    FUZZ_REQUIRE(fuzz_utf8_valid_str(message), "problem message is not valid UTF-8: %s", message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (kb_document_global_init() != 0) {
        fprintf(stderr, "fuzz_document: kb_document_global_init failed\n");
        exit(1);
    }
    codec = kb_stored_doc_codec_new();
    if (!codec) exit(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    counts c = {0, 0, 0};
    int rc = kb_document_parse_memory((const char *)data, size, "fuzz.xml", on_document,
                                      on_problem, &c);
    FUZZ_REQUIRE(rc == KB_OK || rc == KB_INVALID, "parse returned %d", rc);
    FUZZ_REQUIRE((rc == KB_OK) == (c.problems == c.warnings),
                 "returned %d after %zu problems (%zu of them warnings)", rc, c.problems, c.warnings);

    /* The same bytes as a whole stored record (format 2's JSON, or a damaged tag or frame). */
    kb_document *raw = kb_stored_doc_read(codec, (const char *)data, size);
    if (raw) {
        char *json = searchd_document_json(raw);
        FUZZ_REQUIRE(json != NULL, "a raw record that read has no JSON");
        free(json);
    }
    free(raw);

    /* The same bytes as a stored record's fields. */
    size_t stored_len;
    char *stored = kb_stored_doc_pack(codec, (const char *)data, size, &stored_len);
    FUZZ_REQUIRE(stored != NULL, "kb_stored_doc_pack failed");
    kb_document *doc = kb_stored_doc_read(codec, stored, stored_len);
    if (doc) {
        char *json = searchd_document_json(doc);
        FUZZ_REQUIRE(json != NULL, "a record that read has no JSON");
        free(json);
    }
    free(doc);
    free(stored);
    return 0;
}
