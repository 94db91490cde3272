/*
 * document_check.c — turn one parsed <document> element into a kb_document, checking it.
 *
 * kb/document/document.c reads the file and builds one <document> element at a time; this file walks that
 * element, checks it and copies what the indexer needs into a kb_document. The checks here are
 * the format's rules as editors read them in docs/FORMAT.md: which elements go where, which are
 * required, which appear once, id and date syntax, dates that exist, valid/@from <= @until,
 * a title and a body that are not blank. The RELAX NG schema (docs/kb-document.rng) says the
 * structural part formally and document.c validates every document against it too, but its
 * messages ("Invalid sequence in interleave") do not tell an editor what to fix, so the walk
 * below reports problems itself, in words, at the line of the element concerned. When this walk
 * finds nothing, the schema is the second opinion.
 *
 * Text is normalised for search and display: runs of XML whitespace (space, tab, CR, LF) become
 * one space and the ends are trimmed; other spaces (U+3000 IDEOGRAPHIC SPACE, U+00A0) are kept as
 * written. Inline markup (b, i, u, em, strong, code, a, br) is dropped and its text kept.
 */
#include "document/document_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Problems reported per document before the rest are summarised: a document broken in a
 * systematic way (say 5,000 rows with a stray attribute) should not bury the other files'
 * messages. */
#define MAX_PROBLEMS_PER_DOCUMENT 20

typedef struct {
    kb_document_report_fn report;
    void *ctx;
    char label[200]; /* "document 'x'", the prefix of every message about this document */
    size_t problems;
    int oom;
} checker;

/* ---- reporting ---------------------------------------------------------------------------- */

static void report_text(checker *c, int line, const char *with_label, const char *msg)
{
    char full[1536];
    c->problems++;
    if (c->problems > MAX_PROBLEMS_PER_DOCUMENT) {
        if (c->problems == MAX_PROBLEMS_PER_DOCUMENT + 1) {
            snprintf(full, sizeof full,
                     "%s: more problems in this document are not listed", c->label);
            c->report(c->ctx, line, full);
        }
        return;
    }
    if (with_label)
        snprintf(full, sizeof full, "%s: %s", with_label, msg);
    else
        snprintf(full, sizeof full, "%s", msg);
    c->report(c->ctx, line, full);
}

static void problem_at(checker *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem_at(checker *c, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report_text(c, line, c->label, msg);
}

#define problem(c, node, ...) problem_at((c), kb_document_node_line(node), __VA_ARGS__)

static void out_of_memory(checker *c)
{
    if (!c->oom) report_text(c, 0, c->label, "out of memory while reading this document");
    c->oom = 1;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static int is_xml_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int is_blank(const xmlChar *s)
{
    for (; s && *s; s++)
        if (!is_xml_space(*s)) return 0;
    return 1;
}

static int named(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns == NULL &&
           strcmp((const char *)n->name, name) == 0;
}

/* How an element is shown in messages: <name>, with its namespace when it has one (the format
 * uses none, so a namespaced element is always a mistake and the namespace is the clue). */
static const char *shown(const xmlNode *n, char *buf, size_t size)
{
    char name[80];
    kb_document_excerpt((const char *)n->name, strlen((const char *)n->name), 40, name,
                        sizeof name);
    if (n->ns && n->ns->prefix)
        snprintf(buf, size, "<%s:%s>", (const char *)n->ns->prefix, name);
    else if (n->ns && n->ns->href)
        snprintf(buf, size, "<%s> (in namespace '%.80s')", name, (const char *)n->ns->href);
    else
        snprintf(buf, size, "<%s>", name);
    return buf;
}

/* The line of a text node's first non-blank character. The parser records the line where the
 * text node ends (see document.c); counting the newlines after its first non-blank character
 * gives the line where the stray text starts, which is where an editor looks. */
static int text_line(const xmlNode *t)
{
    int line = kb_document_node_line(t);
    const xmlChar *s = t->content;
    if (!s) return line;
    while (*s && is_xml_space(*s)) s++;
    for (; *s; s++)
        if (*s == '\n') line--;
    return line > 0 ? line : 1;
}

static int sb_add(checker *c, kb_buf *b, const char *s, size_t n)
{
    if (kb_buf_add(b, s, n) == 0) return 0;
    out_of_memory(c);
    return -1;
}

/* Collapses runs of XML whitespace into one space and trims, in place; returns the new length. */
static size_t collapse(char *s)
{
    char *w = s;
    int pending = 0;
    for (const char *r = s; *r; r++) {
        if (is_xml_space((unsigned char)*r)) {
            pending = (w != s);
            continue;
        }
        if (pending) *w++ = ' ';
        pending = 0;
        *w++ = *r;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static char *dup_str(checker *c, const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) out_of_memory(c);
    return p;
}

static int push_ptr(checker *c, char ***v, size_t *n, char *item)
{
    char **p = realloc(*v, (*n + 1) * sizeof **v);
    if (!p) {
        out_of_memory(c);
        return -1;
    }
    p[(*n)++] = item;
    *v = p;
    return 0;
}

const char *kb_document_text_kind(const char *element)
{
    static const char *const names[][2] = {
        {"title", "title"},     {"category", "category"}, {"keywords", "keywords"},
        {"updated", "date"},    {"q", "question"},        {"p", "paragraph"},
        {"item", "list item"},  {"td", "table cell"},     {"th", "table cell"},
        {"team", "team"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i][0], element) == 0) return names[i][1];
    return "text";
}

/* ---- attributes --------------------------------------------------------------------------- */

/* The value of attribute `name` (no namespace) of el, newly allocated, or NULL when absent.
 * *present tells absent from out of memory. */
static char *attr(checker *c, const xmlNode *el, const char *name, int *present)
{
    *present = 0;
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        if (a->ns || strcmp((const char *)a->name, name) != 0) continue;
        *present = 1;
        xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
        char *copy = dup_str(c, v ? (const char *)v : "");
        xmlFree(v);
        return copy;
    }
    return NULL;
}

/* Reports every attribute of el not in `allowed` (a NULL-terminated list). */
static void check_attributes(checker *c, const xmlNode *el, const char *const *allowed)
{
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = a->ns == NULL && strcmp((const char *)a->name, allowed[i]) == 0;
        if (ok) continue;
        char el_name[200], attr_name[100], list[200] = "";
        kb_document_excerpt((const char *)a->name, strlen((const char *)a->name), 40, attr_name,
                            sizeof attr_name);
        for (size_t i = 0; allowed[i]; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
        }
        if (allowed[0])
            problem(c, el, "%s has an unknown attribute '%s%s%s' (allowed: %s)",
                    shown(el, el_name, sizeof el_name),
                    a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "",
                    a->ns && a->ns->prefix ? ":" : "", attr_name, list);
        else
            problem(c, el, "%s takes no attributes (found '%s%s%s')",
                    shown(el, el_name, sizeof el_name),
                    a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "",
                    a->ns && a->ns->prefix ? ":" : "", attr_name);
    }
}

static const char *const no_attributes[] = {NULL};

/* ---- text ------------------------------------------------------------------------------- */

static int is_inline(const xmlNode *n)
{
    static const char *const names[] = {"b", "i", "u", "em", "strong", "code", "a", "br"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (named(n, names[i])) return 1;
    return 0;
}

/* Appends the text inside `parent` to b. With inline_ok (p, item, td, th) the inline elements are
 * allowed and their text kept; elsewhere (title, q, ...) only text is. `holder` is the element
 * whose text this is, for messages. */
static void collect_text(checker *c, const xmlNode *parent, const xmlNode *holder, int inline_ok,
                         kb_buf *b)
{
    static const char *const href_only[] = {"href", NULL};
    for (const xmlNode *n = parent->children; n && !c->oom; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) sb_add(c, b, (const char *)n->content, strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE) {
            char a[200], h[200];
            if (inline_ok && is_inline(n)) {
                check_attributes(c, n, named(n, "a") ? href_only : no_attributes);
                if (named(n, "br")) {
                    if (n->children && !(n->children->type == XML_TEXT_NODE && !n->children->next &&
                                         is_blank(n->children->content)))
                        problem(c, n, "<br> must be empty: write <br/>");
                    sb_add(c, b, " ", 1);
                } else {
                    collect_text(c, n, holder, inline_ok, b);
                }
            } else if (inline_ok) {
                problem(c, n,
                        "%s is not allowed in %s: text may only use the inline elements b, i, "
                        "u, em, strong, code, a and br",
                        shown(n, a, sizeof a), shown(parent, h, sizeof h));
            } else {
                problem(c, n, "%s is not allowed in %s: it holds plain text only",
                        shown(n, a, sizeof a), shown(holder, h, sizeof h));
            }
        }
    }
}

/* The normalised text of el (see the file comment), newly allocated; NULL when out of memory.
 * Reports text longer than KB_DOCUMENT_MAX_TEXT_BYTES (kb/document/document.c already refuses such
 * documents before building them; this keeps the rule local and true). */
static char *text_of(checker *c, const xmlNode *el, int inline_ok)
{
    kb_buf b = {0};
    collect_text(c, el, el, inline_ok, &b);
    if (c->oom) {
        free(b.data);
        return NULL;
    }
    if (!b.data) return dup_str(c, "");
    if (b.len > KB_DOCUMENT_MAX_TEXT_BYTES)
        problem(c, el, "<%s> (%s) is longer than 1 MiB (%zu bytes): split it", (const char *)el->name,
                kb_document_text_kind((const char *)el->name), b.len);
    collapse(b.data);
    return b.data;
}

/* Reports text other than whitespace directly inside an element that holds only elements. */
static void check_no_text(checker *c, const xmlNode *n, const xmlNode *parent, const char *hint)
{
    if ((n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE) || is_blank(n->content))
        return;
    char ex[168], p[200];
    const char *s = (const char *)n->content;
    while (is_xml_space((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && is_xml_space((unsigned char)s[len - 1])) len--;
    kb_document_excerpt(s, len, 30, ex, sizeof ex);
    problem_at(c, text_line(n), "text '%s' is not allowed directly in %s: %s", ex,
               shown(parent, p, sizeof p), hint);
}

/* ---- ids, languages, dates, categories ---------------------------------------------------- */

int kb_document_id_is_valid(const char *s, size_t len)
{
    if (len < 1 || len > KB_DOC_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

/* A language tag as xsd:language (and BCP 47) write it: zh, zh-CN, zh-Hant-TW, en. */
static int lang_is_valid(const char *s)
{
    size_t part = 0;
    int first = 1;
    for (;; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '-' || ch == '\0') {
            if (part < 1 || part > 8) return 0;
            if (ch == '\0') return 1;
            part = 0;
            first = 0;
        } else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                   (!first && ch >= '0' && ch <= '9')) {
            part++;
        } else {
            return 0;
        }
    }
}

/* Parses YYYY-MM-DD (surrounding whitespace allowed) into out; 0 when it is not a date that
 * exists (2026-02-30, 2026-13-01 and 0000-01-01 are not). */
static int parse_date(const char *s, char out[11])
{
    while (is_xml_space((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && is_xml_space((unsigned char)s[len - 1])) len--;
    if (len != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !(s[i] >= '0' && s[i] <= '9')) return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > days[m - 1] + (m == 2 && leap)) return 0;
    memcpy(out, s, 10);
    out[10] = '\0';
    return 1;
}

/* Rewrites a category path in place: parts split on '/' (or the full-width '／' Chinese input
 * methods type), trimmed, empty parts dropped, joined with '/'. " 业务办理 ／漫游/ " -> "业务办理/漫游". */
static void normalise_category(char *s)
{
    static const char fullwidth_slash[] = "\xef\xbc\x8f"; /* U+FF0F */
    char *w = s;
    const char *r = s;
    while (*r) {
        const char *end = r;
        while (*end && *end != '/' && strncmp(end, fullwidth_slash, 3) != 0) end++;
        const char *a = r, *z = end;
        while (a < z && *a == ' ') a++;
        while (z > a && z[-1] == ' ') z--;
        if (z > a) {
            if (w != s) *w++ = '/';
            memmove(w, a, (size_t)(z - a));
            w += z - a;
        }
        r = *end == '/' ? end + 1 : *end ? end + 3 : end;
    }
    *w = '\0';
}

/* Keywords are whitespace-separated; editors also separate them with commas, semicolons or the
 * Chinese enumeration comma, so those become spaces: "出国，漫游、开通" -> "出国 漫游 开通". */
static void normalise_keywords(char *s)
{
    static const char *const wide[] = {"\xef\xbc\x8c" /* ， */, "\xe3\x80\x81" /* 、 */,
                                       "\xef\xbc\x9b" /* ； */};
    for (char *p = s; *p; p++) {
        if (*p == ',' || *p == ';') {
            *p = ' ';
            continue;
        }
        for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
            if (strncmp(p, wide[i], 3) == 0) memset(p, ' ', 3);
    }
    collapse(s);
}

/* ---- body --------------------------------------------------------------------------------- */

static kb_section *add_section(checker *c, kb_document *d, char *id, char *title)
{
    kb_section *v = realloc(d->sections, (d->n_sections + 1) * sizeof *v);
    if (!v || !id || !title) {
        if (v) d->sections = v;
        free(id);
        free(title);
        out_of_memory(c);
        return NULL;
    }
    d->sections = v;
    kb_section *s = &v[d->n_sections++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->title = title;
    return s;
}

/* Adds a block (taking `text`) unless its text is empty: an empty <p/> carries nothing to find. */
static void add_block(checker *c, kb_section *s, kb_block_kind kind, char *text, int line)
{
    if (!text) return;
    if (!*text) {
        free(text);
        return;
    }
    kb_block *v = realloc(s->blocks, (s->n_blocks + 1) * sizeof *v);
    if (!v) {
        free(text);
        out_of_memory(c);
        return;
    }
    s->blocks = v;
    v[s->n_blocks++] = (kb_block){.kind = kind, .text = text, .line = line};
}

static void parse_list(checker *c, const xmlNode *list, kb_section *s)
{
    size_t items = 0;
    check_attributes(c, list, no_attributes);
    for (const xmlNode *n = list->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, list, "list text goes inside <item>");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (named(n, "item")) {
            items++;
            check_attributes(c, n, no_attributes);
            add_block(c, s, KB_BLOCK_ITEM, text_of(c, n, 1), kb_document_node_line(n));
        } else {
            char a[200];
            problem(c, n, "unknown element %s in <list> (expected <item>)", shown(n, a, sizeof a));
        }
    }
    if (!items) problem(c, list, "<list> has no <item>: write <list><item>...</item></list>");
}

static void parse_row(checker *c, const xmlNode *tr, kb_section *s)
{
    kb_buf row = {0};
    size_t cells = 0, headers = 0;
    int any_text = 0;
    check_attributes(c, tr, no_attributes);
    for (const xmlNode *n = tr->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, tr, "cell text goes inside <td> or <th>");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (named(n, "td") || named(n, "th")) {
            check_attributes(c, n, no_attributes);
            char *cell = text_of(c, n, 1);
            if (!cell) break;
            if (*cell) any_text = 1;
            headers += named(n, "th");
            if (cells++) sb_add(c, &row, " | ", 3);
            sb_add(c, &row, cell, strlen(cell));
            free(cell);
        } else {
            char a[200];
            problem(c, n, "unknown element %s in <tr> (expected <td> or <th>)",
                    shown(n, a, sizeof a));
        }
    }
    if (!cells) problem(c, tr, "<tr> has no cell: write <tr><td>...</td></tr>");
    /* A row of <th> only heads the rows below it: snippets show it with them, never alone. */
    kb_block_kind kind = headers == cells ? KB_BLOCK_HEADER : KB_BLOCK_ROW;
    if (any_text && !c->oom)
        add_block(c, s, kind, row.data, kb_document_node_line(tr)); /* takes row.data */
    else
        free(row.data);
}

static void parse_table(checker *c, const xmlNode *table, kb_section *s)
{
    size_t rows = 0;
    check_attributes(c, table, no_attributes);
    for (const xmlNode *n = table->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, table, "table text goes inside <tr><td>");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (named(n, "tr")) {
            rows++;
            parse_row(c, n, s);
        } else {
            char a[200];
            problem(c, n, "unknown element %s in <table> (expected <tr>)", shown(n, a, sizeof a));
        }
    }
    if (!rows) problem(c, table, "<table> has no <tr>: write <table><tr><td>...</td></tr></table>");
}

static int is_block(const xmlNode *n)
{
    return named(n, "p") || named(n, "list") || named(n, "table");
}

static void parse_block(checker *c, const xmlNode *n, kb_section *s)
{
    if (named(n, "p")) {
        check_attributes(c, n, no_attributes);
        add_block(c, s, KB_BLOCK_PARAGRAPH, text_of(c, n, 1), kb_document_node_line(n));
    } else if (named(n, "list")) {
        parse_list(c, n, s);
    } else {
        parse_table(c, n, s);
    }
}

typedef struct {
    const char *id;
    int line;
} section_id;

static int compare_section_ids(const void *a, const void *b)
{
    const section_id *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

/* Section ids name anchors inside a document, so two sections may not share one. Sorting keeps
 * this O(n log n) on a hostile document of 50,000 sections. */
static void check_section_ids(checker *c, const kb_document *d, const int *lines)
{
    size_t n = 0;
    section_id *v = malloc((d->n_sections + 1) * sizeof *v);
    if (!v) {
        out_of_memory(c);
        return;
    }
    for (size_t i = 0; i < d->n_sections; i++)
        if (d->sections[i].id[0]) v[n++] = (section_id){d->sections[i].id, lines[i]};
    qsort(v, n, sizeof *v, compare_section_ids);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i].id, v[i - 1].id) == 0)
            problem_at(c, v[i].line, "section id '%s' is already used by the section at line %d",
                       v[i].id, v[i - 1].line);
    free(v);
}

static void parse_section(checker *c, kb_document *d, const xmlNode *sec, int **lines)
{
    static const char *const allowed[] = {"id", "title", NULL};
    int has_id, has_title;
    check_attributes(c, sec, allowed);
    char *id = attr(c, sec, "id", &has_id);
    char *title = attr(c, sec, "title", &has_title);
    if (has_id && id && !kb_document_id_is_valid(id, strlen(id))) {
        char ex[168];
        kb_document_excerpt(id, strlen(id), 40, ex, sizeof ex);
        problem(c, sec, "section id '%s' is invalid: " KB_DOC_ID_RULE, ex);
    }
    if (title) collapse(title);
    kb_section *s = add_section(c, d, id ? id : dup_str(c, ""), title ? title : dup_str(c, ""));
    if (!s) return;
    int *l = realloc(*lines, d->n_sections * sizeof **lines);
    if (!l) {
        out_of_memory(c);
        return;
    }
    *lines = l;
    l[d->n_sections - 1] = kb_document_node_line(sec);

    size_t blocks = 0;
    size_t index = d->n_sections - 1; /* `s` moves when a nested section is (wrongly) added */
    for (const xmlNode *n = sec->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, sec, "write text inside <p>");
        if (n->type != XML_ELEMENT_NODE) continue;
        char a[200];
        if (is_block(n)) {
            blocks++;
            parse_block(c, n, &d->sections[index]);
        } else if (named(n, "section")) {
            problem(c, n, "<section> cannot contain <section>: sections are not nested");
        } else {
            problem(c, n, "unknown element %s in <section> (expected <p>, <list> or <table>)",
                    shown(n, a, sizeof a));
        }
    }
    if (!blocks && !c->oom)
        problem(c, sec, "<section> is empty: it needs at least one <p>, <list> or <table>");
}

static void parse_body(checker *c, kb_document *d, const xmlNode *body)
{
    int *lines = NULL; /* line of each section, for the duplicate-id message */
    size_t run = (size_t)-1; /* index of the anonymous section collecting top-level blocks */
    check_attributes(c, body, no_attributes);
    for (const xmlNode *n = body->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, body, "write text inside <p>");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (named(n, "section")) {
            run = (size_t)-1;
            parse_section(c, d, n, &lines);
        } else if (is_block(n)) {
            if (run == (size_t)-1) {
                if (!add_section(c, d, dup_str(c, ""), dup_str(c, ""))) break;
                int *l = realloc(lines, d->n_sections * sizeof *lines);
                if (!l) {
                    out_of_memory(c);
                    break;
                }
                lines = l;
                lines[d->n_sections - 1] = kb_document_node_line(n);
                run = d->n_sections - 1;
            }
            parse_block(c, n, &d->sections[run]);
        } else {
            char a[200];
            problem(c, n,
                    "unknown element %s in <body> (expected <section>, <p>, <list> or <table>)",
                    shown(n, a, sizeof a));
        }
    }
    if (!c->oom) check_section_ids(c, d, lines);
    free(lines);

    /* Anonymous runs whose blocks were all empty carry nothing; drop them. Named sections stay
     * (their title is searchable). */
    size_t kept = 0, blocks = 0;
    for (size_t i = 0; i < d->n_sections; i++) {
        kb_section *s = &d->sections[i];
        blocks += s->n_blocks;
        if (s->n_blocks == 0 && !s->id[0] && !s->title[0]) {
            free(s->id);
            free(s->title);
            free(s->blocks);
            continue;
        }
        d->sections[kept++] = *s;
    }
    d->n_sections = kept;
    if (!blocks && !c->oom)
        problem(c, body,
                "<body> has no text: it needs at least one non-empty <p>, <list> item or <table> "
                "row");
}

/* ---- <must-know> ------------------------------------------------------------------------- */

/* <must-know/> marks the document must-know (应知应会) for every team; <must-know> holding
 * <team> elements marks it for those teams only. A team is plain text, whitespace collapsed,
 * not blank, at most KB_DOCUMENT_TEAM_MAX_CHARS characters. A team named twice is kept once:
 * the meaning is not in doubt, so refusing the document would only cost the editor a retry (the
 * schema, which cannot see repeats, accepts it too). */
static void parse_must_know(checker *c, kb_document *d, const xmlNode *mk)
{
    d->must_know = 1;
    for (const xmlNode *n = mk->children; n && !c->oom; n = n->next) {
        check_no_text(c, n, mk, "name each team inside <team>, or write <must-know/> for every team");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (!named(n, "team")) {
            char a[200];
            problem(c, n, "unknown element %s in <must-know> (expected <team>)",
                    shown(n, a, sizeof a));
            continue;
        }
        check_attributes(c, n, no_attributes);
        char *team = text_of(c, n, 0);
        if (!team) continue;
        size_t chars = kb_document_utf8_chars(team, strlen(team));
        if (!team[0]) {
            problem(c, n, "<team> is empty: name a team, or write <must-know/> for every team");
        } else if (chars > KB_DOCUMENT_TEAM_MAX_CHARS) {
            char ex[168];
            kb_document_excerpt(team, strlen(team), 40, ex, sizeof ex);
            problem(c, n, "<team> '%s' is longer than %d characters (%zu)", ex,
                    KB_DOCUMENT_TEAM_MAX_CHARS, chars);
        } else {
            int seen = 0;
            for (size_t i = 0; i < d->n_must_know_teams && !seen; i++)
                seen = strcmp(d->must_know_teams[i], team) == 0;
            if (!seen && push_ptr(c, &d->must_know_teams, &d->n_must_know_teams, team) == 0)
                continue; /* kept */
        }
        free(team);
    }
}

/* ---- the document ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int once;  /* at most one */
    int line;  /* line of the first one seen, 0 when none */
} child_rule;

size_t kb_document_convert(const xmlNode *el, const char *source, kb_document_report_fn report,
                           void *ctx, kb_document **out, char id_out[129])
{
    static const char *const document_attributes[] = {"id", "lang", NULL};
    static const char *const valid_attributes[] = {"from", "until", NULL};
    checker c = {.report = report, .ctx = ctx};
    *out = NULL;
    id_out[0] = '\0';

    kb_document *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(c.label, sizeof c.label, "document");
        out_of_memory(&c);
        return c.problems;
    }
    d->source = source;
    d->line = kb_document_node_line(el);

    /* The id first: every later message names the document by it. */
    int has_id, has_lang;
    char *id = attr(&c, el, "id", &has_id);
    if (!has_id) {
        report_text(&c, d->line, NULL,
                    "<document> has no id attribute: add id=\"...\" (" KB_DOC_ID_RULE ")");
    } else if (id) {
        char ex[168];
        size_t len = strlen(id);
        kb_document_excerpt(id, len, 40, ex, sizeof ex);
        snprintf(c.label, sizeof c.label, "document '%s'", ex);
        if (kb_document_id_is_valid(id, len)) {
            memcpy(id_out, id, len + 1);
        } else {
            char msg[600];
            size_t chars = kb_document_utf8_chars(id, len);
            if (chars > KB_DOC_ID_MAX)
                snprintf(msg, sizeof msg, "document id '%s' (%zu characters) is invalid: " KB_DOC_ID_RULE,
                         ex, chars);
            else
                snprintf(msg, sizeof msg, "document id '%s' is invalid: " KB_DOC_ID_RULE, ex);
            report_text(&c, d->line, NULL, msg);
        }
    }
    if (!c.label[0]) snprintf(c.label, sizeof c.label, "document without id");
    d->id = id ? id : dup_str(&c, "");

    check_attributes(&c, el, document_attributes);
    d->lang = attr(&c, el, "lang", &has_lang);
    if (has_lang && d->lang && !lang_is_valid(d->lang)) {
        char ex[168];
        kb_document_excerpt(d->lang, strlen(d->lang), 40, ex, sizeof ex);
        problem(&c, el, "lang '%s' is invalid: use a language tag such as zh-CN, zh-TW or en", ex);
    }
    if (!d->lang) d->lang = dup_str(&c, "");

    child_rule rules[] = {{"title", 1, 0},   {"category", 0, 0}, {"keywords", 1, 0},
                          {"valid", 1, 0},   {"updated", 1, 0},  {"questions", 1, 0},
                          {"body", 1, 0},    {"must-know", 1, 0}};
    const size_t n_rules = sizeof rules / sizeof rules[0];
    const xmlNode *valid_el = NULL;

    for (const xmlNode *n = el->children; n && !c.oom; n = n->next) {
        check_no_text(&c, n, el, "a document holds elements (<title>, <body>, ...) only");
        if (n->type != XML_ELEMENT_NODE) continue;
        child_rule *rule = NULL;
        for (size_t i = 0; i < n_rules && !rule; i++)
            if (named(n, rules[i].name)) rule = &rules[i];
        if (!rule) {
            char a[200];
            problem(&c, n,
                    "unknown element %s in <document> (expected <title>, <category>, "
                    "<keywords>, <valid>, <updated>, <questions>, <body> or <must-know>)",
                    shown(n, a, sizeof a));
            continue;
        }
        if (rule->once && rule->line) {
            problem(&c, n, "second <%s> (the first is at line %d): a document has at most one",
                    rule->name, rule->line);
            continue;
        }
        if (!rule->line) rule->line = kb_document_node_line(n);
        check_attributes(&c, n, named(n, "valid") ? valid_attributes : no_attributes);

        if (named(n, "title")) {
            d->title = text_of(&c, n, 0);
            if (d->title && !d->title[0]) problem(&c, n, "<title> is empty");
        } else if (named(n, "category")) {
            char *cat = text_of(&c, n, 0);
            if (cat) normalise_category(cat);
            if (cat && *cat) {
                if (push_ptr(&c, &d->categories, &d->n_categories, cat) != 0) free(cat);
            } else {
                free(cat); /* "<category/>" or "/" names no category: nothing to index */
            }
        } else if (named(n, "keywords")) {
            d->keywords = text_of(&c, n, 0);
            if (d->keywords) normalise_keywords(d->keywords);
        } else if (named(n, "valid")) {
            valid_el = n;
            for (const xmlNode *k = n->children; k; k = k->next)
                if (k->type == XML_ELEMENT_NODE ||
                    ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) &&
                     !is_blank(k->content))) {
                    problem(&c, n, "<valid> must be empty: write <valid from=\"YYYY-MM-DD\" "
                                   "until=\"YYYY-MM-DD\"/>");
                    break;
                }
            static const char *const which[] = {"from", "until"};
            char *dest[] = {d->valid_from, d->valid_until};
            for (int i = 0; i < 2; i++) {
                int present;
                char *v = attr(&c, n, which[i], &present);
                if (v && !parse_date(v, dest[i])) {
                    char ex[168];
                    kb_document_excerpt(v, strlen(v), 30, ex, sizeof ex);
                    problem(&c, n, "<valid> %s=\"%s\" is not a date: use YYYY-MM-DD, a day that "
                                   "exists (e.g. 2026-01-31)",
                            which[i], ex);
                }
                free(v);
            }
        } else if (named(n, "updated")) {
            char *v = text_of(&c, n, 0);
            if (v && !parse_date(v, d->updated)) {
                char ex[168];
                kb_document_excerpt(v, strlen(v), 30, ex, sizeof ex);
                problem(&c, n, "<updated> '%s' is not a date: use YYYY-MM-DD, a day that exists "
                               "(e.g. 2026-03-02)",
                        ex);
            }
            free(v);
        } else if (named(n, "questions")) {
            size_t qs = 0;
            for (const xmlNode *q = n->children; q && !c.oom; q = q->next) {
                check_no_text(&c, q, n, "each question goes inside <q>");
                if (q->type != XML_ELEMENT_NODE) continue;
                if (!named(q, "q")) {
                    char a[200];
                    problem(&c, q, "unknown element %s in <questions> (expected <q>)",
                            shown(q, a, sizeof a));
                    continue;
                }
                qs++;
                check_attributes(&c, q, no_attributes);
                char *text = text_of(&c, q, 0);
                if (text && *text) {
                    if (push_ptr(&c, &d->questions, &d->n_questions, text) != 0) free(text);
                } else {
                    free(text); /* an empty <q/> asks nothing */
                }
            }
            if (!qs) problem(&c, n, "<questions> has no <q>: write <questions><q>...</q></questions>");
        } else if (named(n, "must-know")) {
            parse_must_know(&c, d, n);
        } else { /* body */
            parse_body(&c, d, n);
        }
    }

    if (!rules[0].line) problem(&c, el, "<title> is required");
    if (!rules[6].line) problem(&c, el, "<body> is required");
    if (valid_el && d->valid_from[0] && d->valid_until[0] &&
        strcmp(d->valid_from, d->valid_until) > 0)
        problem(&c, valid_el, "<valid> from=\"%s\" is after until=\"%s\"", d->valid_from,
                d->valid_until);
    if (!d->keywords) d->keywords = dup_str(&c, "");
    if (!d->title) d->title = dup_str(&c, "");

    if (c.problems || c.oom) {
        kb_document_free(d);
        return c.problems ? c.problems : 1;
    }
    *out = d;
    return 0;
}

void kb_document_free(kb_document *d)
{
    if (!d) return;
    free(d->id);
    free(d->lang);
    free(d->title);
    for (size_t i = 0; i < d->n_categories; i++) free(d->categories[i]);
    free(d->categories);
    free(d->keywords);
    for (size_t i = 0; i < d->n_questions; i++) free(d->questions[i]);
    free(d->questions);
    for (size_t i = 0; i < d->n_must_know_teams; i++) free(d->must_know_teams[i]);
    free(d->must_know_teams);
    for (size_t i = 0; i < d->n_sections; i++) {
        kb_section *s = &d->sections[i];
        for (size_t j = 0; j < s->n_blocks; j++) free(s->blocks[j].text);
        free(s->blocks);
        free(s->id);
        free(s->title);
    }
    free(d->sections);
    free(d);
}

/* ---- shared text helpers ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence starting at s (at most `left` bytes), 1 for a stray byte. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : (*s >> 3) == 30 ? 4 : 1;
    return n <= left ? n : 1;
}

size_t kb_document_utf8_chars(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; chars++) i += utf8_len((const unsigned char *)s + i, len - i);
    return chars;
}

size_t kb_document_utf8_valid_len(const unsigned char *s, size_t left)
{
    size_t n = utf8_len(s, left);
    if (n == 1) return *s < 0x80 ? 1 : 0;
    uint32_t cp = *s & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void kb_document_excerpt(const char *s, size_t len, size_t max_chars, char *out, size_t outsz)
{
    static const char ellipsis[] = "\xe2\x80\xa6"; /* … */
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t w = 0, chars = 0, i = 0;
    if (!outsz) return;
    while (i < len && chars < max_chars) {
        /* Excerpts can quote bytes no UTF-8 check has seen yet (the encoding name in the XML
         * declaration is read before libxml2 validates anything): a bad byte is shown as U+FFFD
         * so that messages stay valid UTF-8 wherever they are printed or stored. */
        size_t n = kb_document_utf8_valid_len((const unsigned char *)s + i, len - i);
        size_t shown = n ? n : sizeof replacement - 1;
        if (w + shown + sizeof ellipsis > outsz) break;
        if (n == 0)
            memcpy(out + w, replacement, shown), w += shown, n = 1;
        else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            out[w++] = ' ';
        else
            memcpy(out + w, s + i, n), w += n;
        i += n;
        chars++;
    }
    if (i < len && w + sizeof ellipsis <= outsz) {
        memcpy(out + w, ellipsis, sizeof ellipsis - 1);
        w += sizeof ellipsis - 1;
    }
    out[w] = '\0';
}
