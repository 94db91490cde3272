/*
 * agents.c — the agents list (id, name, team) that reports use: the rule every id, name and
 * team keeps, the file kb-searchd --agents reads and PUT /api/agents writes, and the store's
 * agents table (see kb/review.h). The API's JSON form is kb-searchd's (searchd/json_review.c),
 * which builds the list with kb_agent_list_add.
 *
 * The file is tab-separated rather than CSV: names never need quoting, a spreadsheet saves it
 * as "Unicode text", and a line is easy to check by eye. Reports read the table, so kb-report
 * sees the same teams as the service.
 */
#include "kb/review.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb/redact.h"
#include "events/store_conn.h"
#include "review/review_internal.h"

void kb_agent_list_free(kb_agent_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].name);
        free(l->v[i].team);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Length of the UTF-8 sequence at p and its code point, or 0 when p does not start a valid one
 * (overlong forms, surrogates and values above U+10FFFF are invalid). */
static size_t utf8_decode(const unsigned char *p, unsigned *cp)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c < 0x80) return *cp = c, 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF, c &= 0x07;
    else return 0;
    for (size_t k = 1; k < n; k++) {
        unsigned b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
        c = (c << 6) | (b & 0x3F);
    }
    *cp = c;
    return n;
}

/* Code points an editor or a spreadsheet shows as a blank or as nothing at all: a field holding
 * one reads the same as a field without it (and the file parser trims spaces and U+3000 at the
 * ends of a field). */
static int is_space_like(unsigned cp)
{
    return cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
           cp == 0xFEFF;
}

static int is_control(unsigned cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

enum field_kind { FIELD_ID, FIELD_TEXT };

/* What is wrong with an agent id (FIELD_ID) or a name or team (FIELD_TEXT), or NULL. One rule
 * for the file and the API, so that whatever PUT /api/agents accepts and writes to the file
 * reads back the same after a restart:
 *   - at most 128 bytes of valid UTF-8, no tab, line break or other control character (the
 *     file is tab- and line-separated);
 *   - ids: not empty, no blank of any kind (the parser trims blanks at the ends, and an id is one
 *     word like a token's NAME, which may not hold one), not starting with '#' (a comment line);
 *   - names and teams: no blank at either end (the parser would trim it);
 *   - none holds a customer's phone, ID-card or bank-card number or e-mail address: the list
 *     goes into the event store, where customer identifiers are never written (docs/PRIVACY.md). */
static const char *field_problem(const char *s, enum field_kind kind)
{
    size_t n = strlen(s);
    if (n == 0) return kind == FIELD_ID ? "is empty" : NULL;
    if (n > KB_AGENT_FIELD_MAX) return "is longer than 128 bytes";
    if (kind == FIELD_ID && s[0] == '#')
        return "starts with '#', which makes the line a comment in the agents file";
    unsigned first = 0, last = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        size_t len = utf8_decode(p, &cp);
        if (!len) return "is not valid UTF-8";
        if (is_control(cp)) return "holds a tab, line break or control character";
        if (kind == FIELD_ID && is_space_like(cp))
            return "holds a space or another blank: an agent id is one word, like a token's NAME";
        if (p == (const unsigned char *)s) first = cp;
        last = cp;
        p += len;
    }
    if (is_space_like(first) || is_space_like(last))
        return "starts or ends with a blank, which the agents file would drop";
    int found = kb_redact_finds(s, n);
    if (found < 0) return "cannot be checked: out of memory";
    if (found)
        return "holds what looks like a customer's phone, ID-card or bank-card number or e-mail "
               "address, which must not be stored";
    return NULL;
}

const char *kb_agent_id_problem(const char *id) { return field_problem(id, FIELD_ID); }

static int push(kb_agent_list *l, const char *id, const char *name, const char *team)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        kb_agent *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    kb_agent *a = &l->v[l->n];
    a->id = strdup(id);
    a->name = strdup(name);
    a->team = strdup(team);
    if (!a->id || !a->name || !a->team) {
        free(a->id);
        free(a->name);
        free(a->team);
        return -1;
    }
    l->n++;
    return 0;
}

static long find(const kb_agent_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].id, id) == 0) return (long)i;
    return -1;
}

/* Trim spaces (ASCII and U+3000) at both ends, in place. */
static char *trim(char *s)
{
    for (;;) {
        if (*s == ' ') s++;
        else if ((unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
                 (unsigned char)s[2] == 0x80)
            s += 3;
        else break;
    }
    size_t n = strlen(s);
    for (;;) {
        if (n && (s[n - 1] == ' ' || s[n - 1] == '\r')) n--;
        else if (n >= 3 && (unsigned char)s[n - 3] == 0xE3 && (unsigned char)s[n - 2] == 0x80 &&
                 (unsigned char)s[n - 1] == 0x80)
            n -= 3;
        else break;
    }
    s[n] = '\0';
    return s;
}

int kb_agents_parse_file(const char *path, kb_agent_list *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        char *p = line;
        if (no == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3; /* a spreadsheet's byte-order mark */
        if (strlen(p) != (size_t)len - (size_t)(p - line)) {
            snprintf(err, err_len, "%s:%ld: NUL byte in the line", path, no);
            rc = -1;
            break;
        }
        char *t = trim(p);
        if (!*t || *t == '#') continue;
        size_t tabs = 0;
        for (const char *c = p; *c; c++) tabs += *c == '\t';
        if (tabs > 2) {
            snprintf(err, err_len, "%s:%ld: more than 3 tab-separated fields (agent_id, name, team)",
                     path, no);
            rc = -1;
            break;
        }
        char empty[2][1] = {"", ""};
        char *fields[3] = {p, empty[0], empty[1]};
        for (int i = 1; i < 3; i++) {
            char *tab = strchr(fields[i - 1], '\t');
            if (!tab) break;
            *tab = '\0';
            fields[i] = tab + 1;
        }
        static const char *const what[] = {"agent id", "name", "team"};
        const char *problem = NULL;
        int which = 0;
        for (int i = 0; i < 3 && !problem; i++) {
            fields[i] = trim(fields[i]);
            if ((problem = field_problem(fields[i], i == 0 ? FIELD_ID : FIELD_TEXT))) which = i;
        }
        if (problem) {
            snprintf(err, err_len, "%s:%ld: %s %s", path, no, what[which], problem);
            rc = -1;
            break;
        }
        if (find(out, fields[0]) >= 0) {
            snprintf(err, err_len, "%s:%ld: agent id %s appears twice", path, no, fields[0]);
            rc = -1;
            break;
        }
        if (push(out, fields[0], fields[1], fields[2]) != 0) {
            snprintf(err, err_len, "%s: out of memory", path);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc != 0) kb_agent_list_free(out);
    return rc;
}

const char *kb_agent_text_problem(const char *s) { return field_problem(s, FIELD_TEXT); }

/* The first of id, name and team (*which: 0, 1, 2) that breaks the rules, and what is wrong
 * with it; NULL when all three keep them. id NULL: "is required". */
static const char *agent_problem(const char *const v[3], int *which)
{
    for (*which = 0; *which < 3; ++*which) {
        const char *problem = !v[*which] ? "is required"
                              : *which == 0 ? kb_agent_id_problem(v[0])
                                            : kb_agent_text_problem(v[*which]);
        if (problem) return problem;
    }
    return NULL;
}

int kb_agent_list_add(kb_agent_list *l, const char *id, const char *name, const char *team,
                      char *err, size_t err_len)
{
    static const char *const what[] = {"id", "name", "team"};
    const char *v[3] = {id, name ? name : "", team ? team : ""};
    int which;
    const char *problem = agent_problem(v, &which);
    if (problem) {
        snprintf(err, err_len, "%s %s", what[which], problem);
        return KB_INVALID;
    }
    if (find(l, id) >= 0) {
        snprintf(err, err_len, "id %s appears twice", id);
        return KB_INVALID;
    }
    if (push(l, v[0], v[1], v[2]) != 0) {
        snprintf(err, err_len, "out of memory");
        return KB_ERROR;
    }
    return KB_OK;
}

/* Whether every agent of l keeps the rules and its id is unique: the store and the file must
 * never hold what the file parser would read differently or refuse. 0, or -1 with why in err. */
static int check_list(const kb_agent_list *l, char *err, size_t err_len)
{
    static const char *const what[] = {"id", "name", "team"};
    for (size_t i = 0; i < l->n; i++) {
        const char *v[3] = {l->v[i].id, l->v[i].name, l->v[i].team};
        int which;
        const char *problem = agent_problem(v, &which);
        if (!problem) {
            long first = find(l, l->v[i].id);
            if (first >= 0 && (size_t)first < i) which = 0, problem = "appears twice";
        }
        if (problem) {
            snprintf(err, err_len, "agents list, agent %zu: %s %s", i + 1, what[which], problem);
            return -1;
        }
    }
    return 0;
}

int kb_agents_write_file(const char *path, const kb_agent_list *l, char *err, size_t err_len)
{
    if (check_list(l, err, err_len) != 0) return -1;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        free(tmp);
        return -1;
    }
    fprintf(f, "# agent_id\tname\tteam (written by kb-searchd, PUT /api/agents)\n");
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s\t%s\t%s\n", l->v[i].id, l->v[i].name, l->v[i].team);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int kb_review_set_agents(kb_review *r, const kb_agent_list *l)
{
    r->conn.code = KB_OK;
    if (r->conn.readonly) return kb_store_conn_fail(&r->conn, KB_INVALID, "the store is open read-only");
    char why[512];
    if (check_list(l, why, sizeof why) != 0) return kb_store_conn_fail(&r->conn, KB_INVALID, "%s", why);
    kb_db_stmt *s = NULL;
    if (kb_db_begin(r->conn.kdb, KB_DB_TX_WRITE) != KB_DB_OK ||
        kb_db_exec(r->conn.kdb, "DELETE FROM agents") != KB_DB_OK ||
        kb_db_prepare(r->conn.kdb, "INSERT INTO agents (agent_id, name, team) VALUES (?1, ?2, ?3)", &s) != KB_DB_OK)
        goto fail;
    for (size_t i = 0; i < l->n; i++) {
        kb_db_reset(s);
        kb_db_bind_text(s, 1, l->v[i].id);
        kb_db_bind_text(s, 2, l->v[i].name);
        kb_db_bind_text(s, 3, l->v[i].team);
        if (kb_db_step(s) != KB_DB_DONE) goto fail;
    }
    kb_db_finalize(s);
    s = NULL;
    if (kb_db_commit(r->conn.kdb) != KB_DB_OK) goto fail;
    return KB_OK;
fail:
    kb_store_conn_sql_fail(&r->conn, "cannot store the agents list");
    kb_db_finalize(s);
    kb_db_rollback(r->conn.kdb);
    return KB_ERROR;
}

int kb_review_agents(kb_review *r, kb_agent_list *out)
{
    r->conn.code = KB_OK;
    memset(out, 0, sizeof *out);
    kb_db_stmt *s;
    if (kb_db_prepare(r->conn.kdb, "SELECT agent_id, name, team FROM agents ORDER BY agent_id", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
    int rc;
    while ((rc = kb_db_step(s)) == KB_DB_ROW) {
        const char *v[3];
        for (int k = 0; k < 3; k++) v[k] = kb_db_column_text(s, k);
        if (push(out, v[0] ? v[0] : "", v[1] ? v[1] : "", v[2] ? v[2] : "") != 0) break;
    }
    kb_db_finalize(s);
    if (rc == KB_DB_DONE) return KB_OK;
    kb_agent_list_free(out);
    if (rc == KB_DB_ROW) return kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    return kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
}

int kb_review_agent_lookup(kb_review *r, const char *id, int *listed, int *have_list)
{
    r->conn.code = KB_OK;
    *listed = *have_list = 0;
    kb_db_stmt *s;
    if (kb_db_prepare(r->conn.kdb, "SELECT EXISTS (SELECT 1 FROM agents WHERE agent_id = ?1), "
                           "EXISTS (SELECT 1 FROM agents)", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
    kb_db_bind_text(s, 1, id);
    int rc = kb_db_step(s);
    if (rc == KB_DB_ROW) {
        *listed = (int)kb_db_column_int64(s, 0);
        *have_list = (int)kb_db_column_int64(s, 1);
    }
    kb_db_finalize(s);
    return rc == KB_DB_ROW ? KB_OK : kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
}

int kb_review_agent_team(kb_review *r, const char *id, char **team)
{
    r->conn.code = KB_OK;
    *team = NULL;
    kb_db_stmt *s;
    if (kb_db_prepare(r->conn.kdb, "SELECT team FROM agents WHERE agent_id = ?1", &s) != KB_DB_OK)
        return kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
    kb_db_bind_text(s, 1, id ? id : "");
    int rc = kb_db_step(s), oom = 0;
    if (rc == KB_DB_ROW) oom = kb_db_column_dup(s, 0, team);
    kb_db_finalize(s);
    if (oom) return kb_store_conn_fail(&r->conn, KB_ERROR, "out of memory");
    return rc == KB_DB_ROW || rc == KB_DB_DONE
               ? KB_OK
               : kb_store_conn_sql_fail(&r->conn, "cannot read the agents list");
}
