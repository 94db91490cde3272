/*
 * auth.c — the tokens table: parsing the tokens file, constant-time lookup, reload.
 *
 * The table is small (one line per person or tool) and read on every /api/ request, replaced
 * rarely (SIGHUP, admin reload), so it sits behind a read-write lock: lookups share it, a reload
 * builds the new table outside the lock and swaps one pointer under the write lock.
 *
 * Tokens are kept zero-padded to a fixed size and every lookup compares the presented token
 * against every entry over the full size, so the time taken does not depend on how many leading
 * bytes of a guess were right nor on which entry matched.
 */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kb/redact.h"
#include "log.h"

#define TOKENS_FILE_MAX_BYTES (1024 * 1024)

typedef struct {
    unsigned char token[SEARCHD_AUTH_TOKEN_MAX + 1]; /* zero-padded; last byte = length */
    searchd_identity identity;
} auth_entry;

typedef struct {
    auth_entry *entries;
    size_t n;
} auth_table;

static pthread_rwlock_t auth_lock = PTHREAD_RWLOCK_INITIALIZER;
static auth_table *auth_active;

const char *searchd_auth_role_name(searchd_role role) {
    switch (role) {
    case SEARCHD_ROLE_AGENT: return "agent";
    case SEARCHD_ROLE_EDITOR: return "editor";
    case SEARCHD_ROLE_LEAD: return "lead";
    case SEARCHD_ROLE_ADMIN: return "admin";
    default: return "-";
    }
}

static searchd_role role_from_name(const char *s) {
    if (strcmp(s, "agent") == 0) return SEARCHD_ROLE_AGENT;
    if (strcmp(s, "editor") == 0) return SEARCHD_ROLE_EDITOR;
    if (strcmp(s, "lead") == 0) return SEARCHD_ROLE_LEAD;
    if (strcmp(s, "admin") == 0) return SEARCHD_ROLE_ADMIN;
    return SEARCHD_ROLE_NONE;
}

static void table_free(auth_table *t) {
    if (!t) return;
    /* Tokens are secrets: do not leave them in freed memory. */
    if (t->entries) {
        volatile unsigned char *p = (volatile unsigned char *)t->entries;
        for (size_t i = 0; i < t->n * sizeof *t->entries; i++) p[i] = 0;
    }
    free(t->entries);
    free(t);
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Read the whole file into a NUL-terminated buffer. */
static char *read_file(const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open the tokens file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, err_len, "%s: the tokens file is not a regular file", path);
            fclose(f);
            return NULL;
        }
        /* Readable by the service's own group is fine: that is how the package installs it
         * (root:kb 0640, so that root owns the secrets and the service can only read them). */
        if ((st.st_mode & 007) || ((st.st_mode & 070) && st.st_gid != getegid()))
            searchd_log_warn("tokens file %s is readable by other users: run chmod 600 %s (or "
                             "640 with the group the service runs as)", path, path);
    }
    char *buf = malloc(TOKENS_FILE_MAX_BYTES + 1);
    if (!buf) {
        snprintf(err, err_len, "%s: out of memory", path);
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, TOKENS_FILE_MAX_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        snprintf(err, err_len, "%s: cannot read the tokens file", path);
        free(buf);
        return NULL;
    }
    if (n > TOKENS_FILE_MAX_BYTES) {
        snprintf(err, err_len, "%s: the tokens file is larger than %d bytes", path,
                 TOKENS_FILE_MAX_BYTES);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Parse one line's fields in place; returns the number of fields found (up to 4). */
static int split_fields(char *line, char *fields[4]) {
    int n = 0;
    char *p = line;
    while (*p) {
        while (is_space(*p)) p++;
        if (!*p) break;
        if (n == 4) return 5;
        fields[n++] = p;
        while (*p && !is_space(*p)) p++;
        if (*p) *p++ = '\0';
    }
    return n;
}

/* Check one line's fields f (TOKEN ROLE NAME) and find its role. 0, or -1 with "PATH:LINE: why"
 * in err. */
static int check_fields(char *const f[3], const char *path, int line_no, searchd_role *role,
                        char *err, size_t err_len) {
    size_t tlen = strlen(f[0]);
    if (tlen > SEARCHD_AUTH_TOKEN_MAX) {
        snprintf(err, err_len, "%s:%d: token longer than %d bytes", path, line_no,
                 SEARCHD_AUTH_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)f[0][i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(err, err_len, "%s:%d: token holds a character other than printable ASCII",
                     path, line_no);
            return -1;
        }
    }
    *role = role_from_name(f[1]);
    if (*role == SEARCHD_ROLE_NONE) {
        char shown[40];
        searchd_log_sanitize(shown, sizeof shown, f[1]);
        snprintf(err, err_len, "%s:%d: unknown role \"%s\" (use agent, editor, lead or admin)",
                 path, line_no, shown);
        return -1;
    }
    size_t nlen = strlen(f[2]);
    if (nlen > SEARCHD_AUTH_NAME_MAX) {
        snprintf(err, err_len, "%s:%d: name longer than %d bytes", path, line_no,
                 SEARCHD_AUTH_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < nlen; i++) {
        if ((unsigned char)f[2][i] < 0x20 || f[2][i] == 0x7f) {
            snprintf(err, err_len, "%s:%d: name holds a control character", path, line_no);
            return -1;
        }
    }
    /* The NAME is stored with every search, help request and review of its user, and the store
     * redacts what looks like a customer's number: a NAME such as 13800138000 would be stored
     * as [手机号], and reports could never tell that user from another so named. Refused here,
     * where the administrator can choose another name (the same rule as an agent id,
     * kb_agent_id_problem); the name itself is not shown, since it may be a customer's. */
    int found = kb_redact_finds(f[2], nlen); /* its patterns compiled at start (main.c) */
    if (found < 0) {
        snprintf(err, err_len, "%s:%d: cannot check the name: out of memory", path, line_no);
        return -1;
    }
    if (found) {
        snprintf(err, err_len,
                 "%s:%d: name looks like a customer's phone, ID-card or bank-card number or e-mail "
                 "address: it would be redacted wherever it is stored, and no report could tell "
                 "this user from another; give the user a name without one",
                 path, line_no);
        return -1;
    }
    if (tlen < 16)
        searchd_log_warn("%s:%d: token of %s is only %zu characters: use at least 16 random "
                         "characters", path, line_no, f[2], tlen);
    return 0;
}

/* Add a checked line to t, refusing a token already there. 0, or -1 with why in err. */
static int add_entry(auth_table *t, size_t *cap, char *const f[3], searchd_role role,
                     const char *path, int line_no, char *err, size_t err_len) {
    size_t tlen = strlen(f[0]), nlen = strlen(f[2]);
    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].token[SEARCHD_AUTH_TOKEN_MAX] == tlen &&
            memcmp(t->entries[i].token, f[0], tlen) == 0) {
            snprintf(err, err_len, "%s:%d: the same token appears twice (also for %s)", path,
                     line_no, t->entries[i].identity.name);
            return -1;
        }
    }
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        auth_entry *grown = realloc(t->entries, *cap * sizeof *grown);
        if (!grown) {
            snprintf(err, err_len, "%s: out of memory", path);
            return -1;
        }
        t->entries = grown;
    }
    auth_entry *e = &t->entries[t->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->token, f[0], tlen);
    e->token[SEARCHD_AUTH_TOKEN_MAX] = (unsigned char)tlen;
    e->identity.role = role;
    memcpy(e->identity.name, f[2], nlen);
    return 0;
}

static int parse_table(const char *path, char *text, auth_table *t, char *err, size_t err_len) {
    size_t cap = 0;
    int line_no = 0;
    char *line = text;
    if ((unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
        (unsigned char)line[2] == 0xBF)
        line += 3; /* a UTF-8 BOM from an editor */
    for (char *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        char *p = line;
        while (is_space(*p)) p++;
        if (*p == '\0' || *p == '#') continue;
        char *f[4];
        int nf = split_fields(p, f);
        if (nf != 3) {
            snprintf(err, err_len, "%s:%d: expected \"TOKEN ROLE NAME\" (3 fields), found %d", path,
                     line_no, nf > 4 ? 4 : nf);
            return -1;
        }
        searchd_role role;
        if (check_fields(f, path, line_no, &role, err, err_len) != 0 ||
            add_entry(t, &cap, f, role, path, line_no, err, err_len) != 0)
            return -1;
    }
    if (t->n == 0) {
        snprintf(err, err_len, "%s: no tokens: add lines \"TOKEN ROLE NAME\"", path);
        return -1;
    }
    return 0;
}

int searchd_auth_load(const char *path, char *err, size_t err_len) {
    char *text = read_file(path, err, err_len);
    if (!text) return -1;
    auth_table *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_len, "%s: out of memory", path);
        free(text);
        return -1;
    }
    int rc = parse_table(path, text, t, err, err_len);
    memset(text, 0, strlen(text));
    free(text);
    if (rc != 0) {
        table_free(t);
        return -1;
    }
    pthread_rwlock_wrlock(&auth_lock);
    auth_table *old = auth_active;
    auth_active = t;
    pthread_rwlock_unlock(&auth_lock);
    table_free(old);
    return 0;
}

int searchd_auth_check(const char *authorization, searchd_identity *out) {
    memset(out, 0, sizeof *out);
    if (!authorization) return SEARCHD_AUTH_MISSING;
    while (is_space(*authorization)) authorization++;
    if (strncasecmp(authorization, "Bearer", 6) != 0 || !is_space(authorization[6]))
        return SEARCHD_AUTH_MISSING;
    const char *tok = authorization + 7;
    while (is_space(*tok)) tok++;
    size_t tlen = strlen(tok);
    while (tlen > 0 && is_space(tok[tlen - 1])) tlen--;
    if (tlen == 0) return SEARCHD_AUTH_MISSING;
    if (tlen > SEARCHD_AUTH_TOKEN_MAX) return SEARCHD_AUTH_UNKNOWN;

    unsigned char presented[SEARCHD_AUTH_TOKEN_MAX + 1];
    memset(presented, 0, sizeof presented);
    memcpy(presented, tok, tlen);
    presented[SEARCHD_AUTH_TOKEN_MAX] = (unsigned char)tlen;

    int found = -1;
    pthread_rwlock_rdlock(&auth_lock);
    const auth_table *t = auth_active;
    for (size_t i = 0; t && i < t->n; i++) {
        unsigned diff = 0;
        for (size_t k = 0; k < sizeof presented; k++) diff |= presented[k] ^ t->entries[i].token[k];
        /* No early exit: every entry costs the same whether it matched or not. */
        int match = diff == 0;
        found = match ? (int)i : found;
    }
    if (found >= 0) *out = t->entries[found].identity;
    pthread_rwlock_unlock(&auth_lock);
    return found >= 0 ? SEARCHD_AUTH_OK : SEARCHD_AUTH_UNKNOWN;
}

size_t searchd_auth_count(void) {
    pthread_rwlock_rdlock(&auth_lock);
    size_t n = auth_active ? auth_active->n : 0;
    pthread_rwlock_unlock(&auth_lock);
    return n;
}

void searchd_auth_free(void) {
    pthread_rwlock_wrlock(&auth_lock);
    auth_table *old = auth_active;
    auth_active = NULL;
    pthread_rwlock_unlock(&auth_lock);
    table_free(old);
}
