/*
 * db_sql.c — SQL text for the dialects (see db/db.h): SQLite's placeholders turned into
 * PostgreSQL's, SQLite DDL turned into PostgreSQL DDL, and the fragments that must differ.
 *
 * Both rewrites work on tokens, so nothing inside a string literal ('it''s ?'), a quoted name,
 * a comment or a PostgreSQL dollar-quoted string is ever changed, and `::` (a PostgreSQL cast)
 * is not mistaken for a :name parameter.
 */
#include "db/db_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- tokens */

typedef enum {
    T_SPACE, T_COMMENT, T_STRING, T_QIDENT, T_WORD, T_QPARAM, T_NAMED, T_DOLLAR_PARAM, T_OTHER
} tok_kind;

typedef struct {
    tok_kind kind;
    size_t start, end; /* [start, end) of the SQL text */
    long number;       /* T_QPARAM: N of ?N (0 for a bare ?); T_DOLLAR_PARAM: N of $N */
} tok;

static int word_start(unsigned char c) { return isalpha(c) || c == '_' || c >= 0x80; }
static int word_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

/* Past a quoted run opened at s[i] by q, where q doubled is q itself; backslash escapes when
 * backslashes (PostgreSQL's E'...'). An unterminated one runs to the end: the database reports
 * it. */
static size_t skip_quoted(const char *s, size_t i, char q, int backslashes)
{
    for (i++; s[i]; i++) {
        if (backslashes && s[i] == '\\' && s[i + 1]) {
            i++;
        } else if (s[i] == q) {
            if (s[i + 1] != q) return i + 1;
            i++;
        }
    }
    return i;
}

/* The token starting at s[i] (not at the end). */
static tok next_token(const char *s, size_t i)
{
    tok t = {T_OTHER, i, i + 1, 0};
    unsigned char c = (unsigned char)s[i];
    if (isspace(c)) {
        t.kind = T_SPACE;
        while (s[t.end] && isspace((unsigned char)s[t.end])) t.end++;
    } else if (c == '-' && s[i + 1] == '-') {
        t.kind = T_COMMENT;
        while (s[t.end] && s[t.end] != '\n') t.end++;
    } else if (c == '/' && s[i + 1] == '*') {
        t.kind = T_COMMENT;
        const char *e = strstr(s + i + 2, "*/");
        t.end = e ? (size_t)(e - s) + 2 : strlen(s);
    } else if (c == '\'') {
        t.kind = T_STRING;
        t.end = skip_quoted(s, i, '\'', 0);
    } else if (c == '"' || c == '`') {
        t.kind = T_QIDENT;
        t.end = skip_quoted(s, i, (char)c, 0);
    } else if ((c == 'E' || c == 'e') && s[i + 1] == '\'') {
        t.kind = T_STRING; /* E'...': backslash escapes */
        t.end = skip_quoted(s, i + 1, '\'', 1);
    } else if (word_start(c)) {
        t.kind = T_WORD;
        while (s[t.end] && word_char((unsigned char)s[t.end])) t.end++;
    } else if (isdigit(c)) {
        while (s[t.end] && (isalnum((unsigned char)s[t.end]) || s[t.end] == '.')) t.end++;
    } else if (c == '?') {
        t.kind = T_QPARAM;
        while (isdigit((unsigned char)s[t.end])) t.number = t.number * 10 + (s[t.end++] - '0');
    } else if (c == ':' && s[i + 1] == ':') {
        t.end = i + 2; /* a cast */
    } else if (c == ':' && word_start((unsigned char)s[i + 1])) {
        t.kind = T_NAMED;
        while (s[t.end] && word_char((unsigned char)s[t.end])) t.end++;
    } else if (c == '$' && isdigit((unsigned char)s[i + 1])) {
        t.kind = T_DOLLAR_PARAM;
        while (isdigit((unsigned char)s[t.end])) t.number = t.number * 10 + (s[t.end++] - '0');
    } else if (c == '$') {
        /* $tag$ ... $tag$ (tag may be empty): a PostgreSQL string. */
        size_t j = i + 1;
        while (s[j] && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
        if (s[j] == '$') {
            size_t tag_len = j + 1 - i;
            const char *p = s + j + 1, *e;
            while ((e = strchr(p, '$')) && strncmp(e, s + i, tag_len) != 0) p = e + 1;
            t.kind = T_STRING;
            t.end = e ? (size_t)(e - s) + tag_len : strlen(s);
        }
    }
    return t;
}

static int word_is(const char *s, const tok *t, const char *w)
{
    size_t n = t->end - t->start;
    return t->kind == T_WORD && strlen(w) == n && strncasecmp(s + t->start, w, n) == 0;
}

/* ---------------------------------------------------------------- a growable string */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Drop the spaces at the end (before a clause that is left out). */
static void sb_trim_spaces(sbuf *b)
{
    while (!b->oom && b->n && (b->p[b->n - 1] == ' ' || b->p[b->n - 1] == '\t')) b->p[--b->n] = '\0';
}

static char *sb_finish(sbuf *b)
{
    if (!b->p && !b->oom) sb_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* ---------------------------------------------------------------- placeholders */

void kb_db_translated_free(kb_db_translated *t)
{
    for (int i = 0; t->names && i < t->nparams; i++) free(t->names[i]);
    free(t->names);
    free(t->used);
    free(t->sql);
    memset(t, 0, sizeof *t);
}

/* Make names hold at least n entries (new ones NULL). 0, or -1 when out of memory. */
static int grow_names(kb_db_translated *t, int n)
{
    if (n <= t->nparams) return 0;
    char **v = realloc(t->names, (size_t)n * sizeof *v);
    if (!v) return -1;
    t->names = v;
    unsigned char *u = realloc(t->used, (size_t)n);
    if (!u) return -1;
    t->used = u;
    for (int i = t->nparams; i < n; i++) v[i] = NULL, u[i] = 0;
    t->nparams = n;
    return 0;
}

int kb_db_translate(const char *sql, kb_db_translated *out)
{
    static const char *const writes[] = {"INSERT", "UPDATE", "DELETE"};
    static const char *const tx_words[] = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
                                           "START", "END"};
    memset(out, 0, sizeof *out);
    sbuf b = {0};
    for (size_t i = 0; sql[i];) {
        tok t = next_token(sql, i);
        int idx = 0;
        if (t.kind == T_QPARAM) {
            idx = t.number ? (int)t.number : out->nparams + 1;
        } else if (t.kind == T_NAMED) {
            /* SQLite: a name gets the next number at its first appearance, the same after. */
            for (int k = 0; k < out->nparams && !idx; k++)
                if (out->names[k] && strlen(out->names[k]) == t.end - t.start &&
                    strncmp(out->names[k], sql + t.start, t.end - t.start) == 0)
                    idx = k + 1;
            if (!idx) {
                idx = out->nparams + 1;
                if (grow_names(out, idx) != 0 ||
                    !(out->names[idx - 1] = strndup(sql + t.start, t.end - t.start)))
                    goto oom;
            }
        } else if (t.kind == T_DOLLAR_PARAM) {
            if (grow_names(out, (int)t.number) != 0) goto oom;
            if (t.number > 0) out->used[t.number - 1] = 1;
        } else if (t.kind == T_WORD) {
            for (size_t k = 0; k < sizeof writes / sizeof writes[0]; k++)
                out->is_write |= word_is(sql, &t, writes[k]);
            for (size_t k = 0; k < sizeof tx_words / sizeof tx_words[0]; k++)
                out->has_tx_control |= word_is(sql, &t, tx_words[k]);
        }
        if (idx) {
            if (idx > 32767 || grow_names(out, idx) != 0) goto oom;
            out->used[idx - 1] = 1;
            char num[16];
            sb_add(&b, num, (size_t)snprintf(num, sizeof num, "$%d", idx));
        } else {
            sb_add(&b, sql + t.start, t.end - t.start);
        }
        i = t.end;
    }
    if (!(out->sql = sb_finish(&b))) goto oom_freed;
    return 0;
oom:
    free(b.p);
oom_freed:
    kb_db_translated_free(out);
    return -1;
}

/* ---------------------------------------------------------------- DDL */

/* The next token from i that is not space or a comment; its start is *at. 0 at the end. */
static int next_sig(const char *s, size_t i, tok *t)
{
    while (s[i]) {
        *t = next_token(s, i);
        if (t->kind != T_SPACE && t->kind != T_COMMENT) return 1;
        i = t->end;
    }
    return 0;
}

/* Past a REFERENCES clause whose REFERENCES token ends at i: the table, an optional column list
 * and ON DELETE / ON UPDATE actions. */
static size_t skip_references(const char *s, size_t i)
{
    tok t;
    if (next_sig(s, i, &t) && (t.kind == T_WORD || t.kind == T_QIDENT)) i = t.end;
    if (next_sig(s, i, &t) && s[t.start] == '(') {
        const char *e = strchr(s + t.start, ')');
        i = e ? (size_t)(e - s) + 1 : strlen(s);
    }
    static const char *const actions[] = {"CASCADE", "RESTRICT", "NO", "ACTION", "SET", "NULL",
                                          "DEFAULT"};
    while (next_sig(s, i, &t) && word_is(s, &t, "ON")) {
        tok what;
        if (!next_sig(s, t.end, &what) ||
            !(word_is(s, &what, "DELETE") || word_is(s, &what, "UPDATE")))
            break;
        i = what.end;
        for (int more = 1; more && next_sig(s, i, &t);) {
            more = 0;
            for (size_t k = 0; k < sizeof actions / sizeof actions[0]; k++)
                if (word_is(s, &t, actions[k])) more = 1;
            if (more) i = t.end;
        }
    }
    return i;
}

char *kb_db_ddl(kb_db_dialect d, const char *sql)
{
    if (d != KB_DB_POSTGRESQL) return strdup(sql);
    sbuf b = {0};
    for (size_t i = 0; sql[i];) {
        tok t = next_token(sql, i), n1, n2, n3;
        if (word_is(sql, &t, "INTEGER")) {
            /* INTEGER PRIMARY KEY is SQLite's rowid: a value is assigned when none is given. */
            if (next_sig(sql, t.end, &n1) && word_is(sql, &n1, "PRIMARY") &&
                next_sig(sql, n1.end, &n2) && word_is(sql, &n2, "KEY")) {
                sb_str(&b, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                i = n2.end;
                if (next_sig(sql, i, &n3) && word_is(sql, &n3, "AUTOINCREMENT")) i = n3.end;
                continue;
            }
            sb_str(&b, "BIGINT");
        } else if (word_is(sql, &t, "REAL")) {
            sb_str(&b, "DOUBLE PRECISION");
        } else if (word_is(sql, &t, "WITHOUT") && next_sig(sql, t.end, &n1) &&
                   word_is(sql, &n1, "ROWID")) {
            sb_trim_spaces(&b);
            i = n1.end;
            continue;
        } else if (word_is(sql, &t, "REFERENCES")) {
            sb_trim_spaces(&b);
            i = skip_references(sql, t.end);
            continue;
        } else {
            sb_add(&b, sql + t.start, t.end - t.start);
        }
        i = t.end;
    }
    return sb_finish(&b);
}

/* Whether the statement [start, end) of sql changes data rather than the schema: its first word
 * is INSERT, UPDATE, DELETE or REPLACE (or WITH, which only a data statement starts with here). */
static int is_data_statement(const char *sql, size_t start, size_t end)
{
    tok t;
    if (!next_sig(sql, start, &t) || t.start >= end) return 0;
    static const char *const verbs[] = {"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"};
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (word_is(sql, &t, verbs[k])) return 1;
    return 0;
}

char *kb_db_ddl_only(kb_db_dialect d, const char *sql)
{
    sbuf b = {0};
    size_t start = 0;
    for (size_t i = 0;;) {
        tok t = {T_OTHER, i, i, 0};
        if (sql[i]) t = next_token(sql, i);
        int end = !sql[i] || (t.kind == T_OTHER && sql[t.start] == ';');
        if (end) {
            size_t stop = sql[i] ? t.end : i; /* keeps the ';' */
            if (!is_data_statement(sql, start, stop)) sb_add(&b, sql + start, stop - start);
            start = stop;
            if (!sql[i]) break;
        }
        i = t.end;
    }
    char *kept = sb_finish(&b);
    if (!kept) return NULL;
    char *out = kb_db_ddl(d, kept);
    free(kept);
    return out;
}

/* ---------------------------------------------------------------- fragments */

/* snprintf's result: 0, or -1 (and out emptied) when the fragment did not fit. */
static int put(char *out, size_t len, int n)
{
    if (n >= 0 && (size_t)n < len) return 0;
    if (len) out[0] = '\0';
    return -1;
}

int kb_db_sql_json_each(kb_db_dialect d, const char *expr, const char *alias, char *out,
                        size_t len)
{
    if (d != KB_DB_POSTGRESQL) return put(out, len, snprintf(out, len, "json_each(%s) AS %s", expr, alias));
    /* json_each's columns: value as text (NULL for JSON null), key from 0, and its type names
     * ('text', 'integer', 'real', 'true', 'false', 'null', 'array', 'object'). */
    return put(out, len,
               snprintf(out, len,
                        "LATERAL (SELECT kb_e.e #>> '{}' AS value, kb_e.ord - 1 AS key, "
                        "CASE jsonb_typeof(kb_e.e) WHEN 'string' THEN 'text' "
                        "WHEN 'number' THEN CASE WHEN kb_e.e::text ~ '^-?[0-9]+$' "
                        "THEN 'integer' ELSE 'real' END "
                        "WHEN 'boolean' THEN kb_e.e::text ELSE jsonb_typeof(kb_e.e) END AS type "
                        "FROM jsonb_array_elements(CAST(%s AS jsonb)) WITH ORDINALITY "
                        "AS kb_e(e, ord)) AS %s",
                        expr, alias));
}

int kb_db_sql_group_concat(kb_db_dialect d, int distinct, const char *expr, char *out,
                           size_t len)
{
    if (d != KB_DB_POSTGRESQL)
        return put(out, len, distinct ? snprintf(out, len, "group_concat(DISTINCT %s)", expr)
                                      : snprintf(out, len, "group_concat(%s, ',')", expr));
    return put(out, len, snprintf(out, len, "string_agg(%sCAST(%s AS text), ',')",
                                  distinct ? "DISTINCT " : "", expr));
}
