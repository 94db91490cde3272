/* test_stored_doc.c — the stored form of a document: what goes in comes back, the index format 2
 * JSON still reads, and damaged records are refused without reading outside them. */
#include "check.h"
#include "document/stored_doc.h"

#include <stdlib.h>

/* A document with every field set, two sections, each block kind, and Traditional text. */
typedef struct {
    kb_document doc;
    kb_section sections[2];
    kb_block blocks[3];
    char *categories[2];
    char *questions[2];
    char *teams[2];
} full_doc;

static void make_full(full_doc *f)
{
    memset(f, 0, sizeof *f);
    f->doc.id = "roam-001";
    f->doc.lang = "zh-Hant";
    f->doc.title = "國際漫遊資費";
    f->doc.keywords = "漫遊 roaming";
    memcpy(f->doc.valid_from, "2026-01-01", 11);
    memcpy(f->doc.valid_until, "2026-12-31", 11);
    memcpy(f->doc.updated, "2026-03-02", 11);
    f->doc.source = "kb/roaming.xml";
    f->doc.line = 42;
    f->categories[0] = "业务办理/漫游";
    f->categories[1] = "资费";
    f->doc.categories = f->categories;
    f->doc.n_categories = 2;
    f->questions[0] = "出国怎么开通漫游？";
    f->questions[1] = "漫游费多少钱";
    f->doc.questions = f->questions;
    f->doc.n_questions = 2;
    f->blocks[0] = (kb_block){KB_BLOCK_PARAGRAPH, "開通國際漫遊需要預存 100 元。", 7};
    f->blocks[1] = (kb_block){KB_BLOCK_ITEM, "日本、韓國 每天 25 元", 9};
    f->blocks[2] = (kb_block){KB_BLOCK_ROW, "美国 | 30 元", 12};
    f->sections[0] = (kb_section){"apply", "如何開通", &f->blocks[0], 2};
    f->sections[1] = (kb_section){"", "", &f->blocks[2], 1};
    f->doc.sections = f->sections;
    f->doc.n_sections = 2;
    f->teams[0] = "营业一组";
    f->teams[1] = "投诉组";
    f->doc.must_know = 1;
    f->doc.must_know_teams = f->teams;
    f->doc.n_must_know_teams = 2;
}

static char *pack(kb_stored_doc_codec *c, const kb_document *doc, size_t *len)
{
    size_t flen;
    char *fields = kb_stored_doc_serialize(doc, &flen);
    char *stored = fields ? kb_stored_doc_pack(c, fields, flen, len) : NULL;
    free(fields);
    return stored;
}

static void check_same(const kb_document *a, const kb_document *b)
{
    CHECK_STR_EQ(b->id, a->id);
    CHECK_STR_EQ(b->lang, a->lang);
    CHECK_STR_EQ(b->title, a->title);
    CHECK_STR_EQ(b->keywords, a->keywords);
    CHECK_STR_EQ(b->valid_from, a->valid_from);
    CHECK_STR_EQ(b->valid_until, a->valid_until);
    CHECK_STR_EQ(b->updated, a->updated);
    CHECK_STR_EQ(b->source, a->source);
    CHECK(b->line == a->line);
    CHECK(b->n_categories == a->n_categories);
    for (size_t i = 0; i < a->n_categories && i < b->n_categories; i++)
        CHECK_STR_EQ(b->categories[i], a->categories[i]);
    CHECK(b->n_questions == a->n_questions);
    for (size_t i = 0; i < a->n_questions && i < b->n_questions; i++)
        CHECK_STR_EQ(b->questions[i], a->questions[i]);
    CHECK(b->must_know == a->must_know);
    CHECK(b->n_must_know_teams == a->n_must_know_teams);
    for (size_t i = 0; i < a->n_must_know_teams && i < b->n_must_know_teams; i++)
        CHECK_STR_EQ(b->must_know_teams[i], a->must_know_teams[i]);
    CHECK(b->n_sections == a->n_sections);
    for (size_t i = 0; i < a->n_sections && i < b->n_sections; i++) {
        CHECK_STR_EQ(b->sections[i].id, a->sections[i].id);
        CHECK_STR_EQ(b->sections[i].title, a->sections[i].title);
        CHECK(b->sections[i].n_blocks == a->sections[i].n_blocks);
        for (size_t j = 0; j < a->sections[i].n_blocks && j < b->sections[i].n_blocks; j++) {
            CHECK(b->sections[i].blocks[j].kind == a->sections[i].blocks[j].kind);
            CHECK_STR_EQ(b->sections[i].blocks[j].text, a->sections[i].blocks[j].text);
        }
    }
}

/* Store doc and read it back: every field must be the same. */
static void check_round_trip(const kb_document *doc)
{
    kb_stored_doc_codec *c = kb_stored_doc_codec_new();
    size_t len = 0;
    char *stored = pack(c, doc, &len);
    CHECK(stored != NULL && len > 4);
    kb_document *back = stored ? kb_stored_doc_read(c, stored, len) : NULL;
    CHECK(back != NULL);
    if (back) check_same(doc, back);
    free(back);
    free(stored);
    kb_stored_doc_codec_free(c);
}

/* Reads every string of a document to its end and returns their total length (+1 each, so it
 * is never 0): a string that ran past its record shows up under ASan. */
static size_t read_every_string(const kb_document *d)
{
    size_t n = strlen(d->id) + strlen(d->lang) + strlen(d->title) + strlen(d->keywords) + 4;
    for (size_t i = 0; i < d->n_categories; i++) n += strlen(d->categories[i]) + 1;
    for (size_t i = 0; i < d->n_questions; i++) n += strlen(d->questions[i]) + 1;
    for (size_t i = 0; i < d->n_must_know_teams; i++) n += strlen(d->must_know_teams[i]) + 1;
    for (size_t i = 0; i < d->n_sections; i++) {
        const kb_section *sec = &d->sections[i];
        n += strlen(sec->id) + strlen(sec->title) + 2;
        for (size_t j = 0; j < sec->n_blocks; j++) n += strlen(sec->blocks[j].text) + 1;
    }
    return n;
}

TEST(every_field_comes_back)
{
    full_doc f;
    make_full(&f);
    check_round_trip(&f.doc);
}

TEST(an_empty_document_comes_back_empty)
{
    kb_document doc = {.id = "x", .lang = "", .title = "t", .keywords = ""};
    kb_stored_doc_codec *c = kb_stored_doc_codec_new();
    size_t len = 0;
    char *stored = pack(c, &doc, &len);
    kb_document *back = stored ? kb_stored_doc_read(c, stored, len) : NULL;
    CHECK(back != NULL);
    if (back) {
        CHECK_STR_EQ(back->id, "x");
        CHECK_STR_EQ(back->source, "");
        CHECK(back->n_categories == 0 && back->n_questions == 0 && back->n_sections == 0);
    }
    free(back);
    free(stored);
    kb_stored_doc_codec_free(c);
}

TEST(the_serialized_fields_are_deterministic)
{
    /* The content hash is computed over them: the same document must give the same bytes. */
    full_doc a, b;
    make_full(&a);
    make_full(&b);
    size_t la, lb;
    char *fa = kb_stored_doc_serialize(&a.doc, &la), *fb = kb_stored_doc_serialize(&b.doc, &lb);
    CHECK(fa && fb && la == lb && memcmp(fa, fb, la) == 0);
    b.blocks[1].text = "日本、韓國 每天 26 元";
    free(fb);
    fb = kb_stored_doc_serialize(&b.doc, &lb);
    CHECK(fb && (la != lb || memcmp(fa, fb, la) != 0));
    free(fa);
    free(fb);
}

TEST(a_header_row_comes_back_as_a_header_row_before_its_rows)
{
    /* Index format 5: snippets need to know which row heads a table. */
    full_doc f;
    make_full(&f);
    kb_block blocks[4] = {f.blocks[0], f.blocks[1], {KB_BLOCK_HEADER, "地区 | 资费", 11}, f.blocks[2]};
    f.sections[0].blocks = &blocks[0];
    f.sections[1] = (kb_section){"rates", "资费", &blocks[2], 2};
    check_round_trip(&f.doc);
}

TEST(the_must_know_mark_comes_back_for_every_team_named_teams_or_none)
{
    /* Index format 6: hits and the document view show 应知应会, reports count it. */
    full_doc f;
    make_full(&f);
    check_round_trip(&f.doc); /* two teams */
    f.doc.n_must_know_teams = 0;
    check_round_trip(&f.doc); /* every team */
    f.doc.must_know = 0;
    check_round_trip(&f.doc); /* not must-know */
    /* Teams without the mark are not stored: the mark alone decides. */
    f.doc.n_must_know_teams = 2;
    kb_stored_doc_codec *c = kb_stored_doc_codec_new();
    size_t len = 0;
    char *stored = pack(c, &f.doc, &len);
    kb_document *back = stored ? kb_stored_doc_read(c, stored, len) : NULL;
    CHECK(back != NULL && back->must_know == 0 && back->n_must_know_teams == 0);
    CHECK(back && kb_document_must_know_for(back, "投诉组") == 0);
    free(back);
    free(stored);
    /* and the rule reads the stored teams */
    f.doc.must_know = 1;
    stored = pack(c, &f.doc, &len);
    back = stored ? kb_stored_doc_read(c, stored, len) : NULL;
    CHECK(back && kb_document_must_know_for(back, "投诉组") == 1 &&
          kb_document_must_know_for(back, "营业二组") == 0 &&
          kb_document_must_know_for(back, NULL) == 0);
    free(back);
    free(stored);
    kb_stored_doc_codec_free(c);
}

TEST(index_format_2_json_still_reads)
{
    /* What kb-indexer stored before the compact form; a daemon upgraded before its index is
     * rebuilt must still show these documents. */
    const char *json =
        "{\"id\":\"roam-001\",\"title\":\"國際漫遊資費\",\"lang\":\"zh-Hant\","
        "\"categories\":[\"业务办理/漫游\",\"资费\"],\"keywords\":\"漫遊 roaming\","
        "\"valid_from\":\"2026-01-01\",\"valid_until\":\"2026-12-31\",\"updated\":\"2026-03-02\","
        "\"questions\":[\"出国怎么开通漫游？\",\"漫游费多少钱\"],\"source\":\"kb/roaming.xml\","
        "\"line\":42,\"sections\":[{\"id\":\"apply\",\"title\":\"如何開通\",\"blocks\":["
        "{\"kind\":\"p\",\"text\":\"開通國際漫遊需要預存 100 元。\"},"
        "{\"kind\":\"item\",\"text\":\"日本、韓國 每天 25 元\"}]},"
        "{\"id\":\"\",\"title\":\"\",\"blocks\":[{\"kind\":\"row\",\"text\":\"美国 | 30 元\"}]}]}";
    full_doc f;
    make_full(&f);
    f.doc.must_know = 0; /* format 2 had no must-know mark */
    f.doc.n_must_know_teams = 0;
    kb_stored_doc_codec *c = kb_stored_doc_codec_new();
    kb_document *back = kb_stored_doc_read(c, json, strlen(json));
    CHECK(back != NULL);
    if (back) check_same(&f.doc, back);
    free(back);
    CHECK(kb_stored_doc_read(c, "{\"id\":", 6) == NULL);
    /* Fields missing or of the wrong type read as empty, not as garbage. */
    const char *odd = "{\"id\":\"x\",\"line\":1e300,\"categories\":[1,\"a\"],\"sections\":{}}";
    back = kb_stored_doc_read(c, odd, strlen(odd));
    CHECK(back != NULL);
    if (back) {
        CHECK_STR_EQ(back->id, "x");
        CHECK_STR_EQ(back->title, "");
        CHECK(back->line == 0);
        CHECK(back->n_categories == 1 && back->n_sections == 0);
    }
    free(back);
    kb_stored_doc_codec_free(c);
}

/* Read fields through the real stored form; NULL or the document. */
static kb_document *read_fields(kb_stored_doc_codec *c, const char *fields, size_t n)
{
    size_t plen;
    char *p = kb_stored_doc_pack(c, fields, n, &plen);
    kb_document *d = p ? kb_stored_doc_read(c, p, plen) : NULL;
    free(p);
    return d;
}

/* The same through the stored form of index formats 3 to 5 (tag byte 1): no must-know mark. */
static kb_document *read_fields_format_3(kb_stored_doc_codec *c, const char *fields, size_t n)
{
    size_t plen;
    char *p = kb_stored_doc_pack(c, fields, n, &plen);
    if (p) p[3] = 1;
    kb_document *d = p ? kb_stored_doc_read(c, p, plen) : NULL;
    free(p);
    return d;
}

/* Hand-built fields: id "x", title "t", the other strings empty, line 0, then `tail`. */
typedef struct {
    char bytes[1 << 20];
    size_t n;
} raw_fields;

static void raw_start(raw_fields *r, const char *dates)
{
    r->n = 0;
    const char *strings[] = {"x", "", "t", "", dates, "", "", ""};
    for (size_t i = 0; i < 8; i++) {
        size_t l = strlen(strings[i]);
        r->bytes[r->n++] = (char)l;
        memcpy(r->bytes + r->n, strings[i], l + 1);
        r->n += l + 1;
    }
    r->bytes[r->n++] = 0; /* line */
}

static void raw_add(raw_fields *r, const char *bytes, size_t n)
{
    memcpy(r->bytes + r->n, bytes, n);
    r->n += n;
}

TEST(damaged_records_are_refused_not_overread)
{
    full_doc f;
    make_full(&f);
    kb_stored_doc_codec *c = kb_stored_doc_codec_new();
    size_t len = 0, flen = 0;
    char *stored = pack(c, &f.doc, &len);
    char *fields = kb_stored_doc_serialize(&f.doc, &flen);
    CHECK(stored != NULL && fields != NULL);
    if (!stored || !fields) return;
    /* Every truncation of the record and of the fields inside it. Each copy is allocated at
     * exactly its length, so ASan (make SANITIZE=1 check) catches a read past its end. */
    for (size_t n = 0; n < len; n++) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, stored, n);
        CHECK(kb_stored_doc_read(c, cut, n) == NULL);
        free(cut);
    }
    for (size_t n = 0; n < flen; n++) CHECK(read_fields(c, fields, n) == NULL);
    CHECK(kb_stored_doc_read(c, "KBD\x02xxxx", 8) == NULL);
    CHECK(kb_stored_doc_read(c, "KBD\x03xxxx", 8) == NULL); /* a tag of no format */
    CHECK(kb_stored_doc_read(c, "plain text", 10) == NULL);
    /* Every single-byte change of the fields is refused or reads as a document whose every
     * string ends inside the record (read_every_string reads them all; ASan sees overreads). */
    for (size_t i = 0; i < flen; i++) {
        char *bad = malloc(flen);
        memcpy(bad, fields, flen);
        bad[i] ^= 0x5a;
        kb_document *d = read_fields(c, bad, flen);
        if (d) {
            CHECK(read_every_string(d) > 0);
        }
        free(d);
        free(bad);
    }
    free(stored);

    static raw_fields r;
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\0\0", 5);
    kb_document *d = read_fields(c, r.bytes, r.n);
    CHECK(d != NULL); /* the hand-built base is valid: what follows fails for its one change */
    free(d);
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\0\0\0", 6);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* a byte after the last field */
    raw_start(&r, "2026-01-01x");
    raw_add(&r, "\0\0\0", 3);
    CHECK(read_fields_format_3(c, r.bytes, r.n) == NULL); /* an 11-character date */
    raw_start(&r, "2026");
    raw_add(&r, "\0\0\0", 3);
    CHECK(read_fields_format_3(c, r.bytes, r.n) == NULL); /* a date that is not YYYY-MM-DD or empty */
    raw_start(&r, "");
    raw_add(&r, "\0\0\x01\0\0\0\0\x01\x03\0\0", 11);
    d = read_fields_format_3(c, r.bytes, r.n); /* block kind 3, a header row since index format 5 */
    CHECK(d != NULL && d->n_sections == 1 && d->sections[0].n_blocks == 1 &&
          d->sections[0].blocks[0].kind == KB_BLOCK_HEADER);
    free(d);
    raw_start(&r, "");
    raw_add(&r, "\0\0\x01\0\0\0\0\x01\x04\0\0", 11);
    CHECK(read_fields_format_3(c, r.bytes, r.n) == NULL); /* block kind 4: no such kind */
    /* Records of formats 3 to 5 (tag byte 1) end after the sections: not must-know. Format 6
     * (tag byte 2) appends the mark (0 or 1) and the teams. */
    raw_start(&r, "");
    raw_add(&r, "\0\0\0", 3);
    d = read_fields_format_3(c, r.bytes, r.n);
    CHECK(d != NULL && d->must_know == 0 && d->n_must_know_teams == 0);
    free(d);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* format 6 without the mark: cut short */
    raw_add(&r, "\x01\0", 2);
    CHECK(read_fields_format_3(c, r.bytes, r.n) == NULL); /* format 3 with a mark: bytes after */
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\x01\x01\x03\xe7\xbb\x84\0", 10);
    d = read_fields(c, r.bytes, r.n);
    CHECK(d != NULL && d->must_know == 1 && d->n_must_know_teams == 1 &&
          strcmp(d->must_know_teams[0], "组") == 0);
    free(d);
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\x02\0", 5);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* a mark other than 0 or 1 */
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\0\x01\x01x\0", 8);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* teams on a document that is not must-know */
    raw_start(&r, "");
    raw_add(&r, "\0\0\0\x01\x02\x01x\0", 8);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* a team missing */
    raw_start(&r, "");
    raw_add(&r, "\xff\xff\xff\xff\x0f", 5);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* 2^32-1 categories in a few bytes */
    raw_start(&r, "");
    raw_add(&r, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11);
    CHECK(read_fields(c, r.bytes, r.n) == NULL); /* a number of more than 64 bits */
    /* More items than any parsed document may hold: 100,001 empty blocks are 300 KB of fields
     * that would become 2.4 MB of kb_block; refused, so a few corrupt bytes cannot make every
     * search allocate hundreds of megabytes. 100,000 read. */
    for (unsigned blocks = KB_DOCUMENT_MAX_DOC_ELEMENTS - 1; blocks <= KB_DOCUMENT_MAX_DOC_ELEMENTS; blocks++) {
        raw_start(&r, "");
        raw_add(&r, "\0\0\x01\0\0\0\0", 7); /* no categories or questions, one section "" "" */
        unsigned char count[3] = {(unsigned char)(0x80 | (blocks & 0x7f)),
                                  (unsigned char)(0x80 | ((blocks >> 7) & 0x7f)),
                                  (unsigned char)(blocks >> 14)};
        raw_add(&r, (const char *)count, 3);
        for (unsigned i = 0; i < blocks; i++) raw_add(&r, "\0\0\0", 3);
        d = read_fields_format_3(c, r.bytes, r.n);
        CHECK((d != NULL) == (blocks < KB_DOCUMENT_MAX_DOC_ELEMENTS));
        free(d);
    }
    /* Fields larger than any document could give are not packed at all. */
    size_t huge = 20u << 20, plen;
    char *big = calloc(1, huge);
    CHECK(big && kb_stored_doc_pack(c, big, huge, &plen) == NULL);
    free(big);
    free(fields);
    kb_stored_doc_codec_free(c);
}

TEST(a_section_without_blocks_between_two_others_comes_back)
{
    full_doc f;
    make_full(&f);
    kb_section sections[3] = {f.sections[0], {"empty", "空", NULL, 0}, f.sections[1]};
    f.doc.sections = sections;
    f.doc.n_sections = 3;
    check_round_trip(&f.doc);
}

int main(void)
{
    RUN(every_field_comes_back);
    RUN(an_empty_document_comes_back_empty);
    RUN(the_serialized_fields_are_deterministic);
    RUN(a_header_row_comes_back_as_a_header_row_before_its_rows);
    RUN(the_must_know_mark_comes_back_for_every_team_named_teams_or_none);
    RUN(index_format_2_json_still_reads);
    RUN(damaged_records_are_refused_not_overread);
    RUN(a_section_without_blocks_between_two_others_comes_back);
    CHECK_MAIN_END();
}
