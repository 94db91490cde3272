/*
 * db_uri.c — a postgresql:// URI as given to --data: checked, and shown without its password.
 *
 * The URI may carry a password (postgresql://kb:PASSWORD@host/db, or ?password=...). It must
 * never reach a message, a log line or /healthz, so the handle keeps a name without it for every
 * message, and the password itself (as written and percent-decoded) as strings that
 * kb_db_fail() scrubs from whatever libpq says. A password that contains an unencoded '@' or '/'
 * is refused before libpq sees it: libpq would split the URI in the wrong place and could echo
 * part of the password back as a host name. (A password is better kept out of the URI
 * altogether, in ~/.pgpass or the file the passfile parameter names: docs/CLUSTER.md.)
 */
#include "db/db_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decode n bytes of s; malloc'd, NULL when out of memory. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
            (l = hexval((unsigned char)s[i + 2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Remember s[0..n) raw and decoded as secrets. 0, or -1 when out of memory. */
static int add_secret(char *secrets[KB_DB_MAX_SECRETS], const char *s, size_t n)
{
    if (n == 0) return 0;
    char *raw = strndup(s, n), *dec = pct_decode(s, n);
    if (!raw || !dec) {
        free(raw);
        free(dec);
        return -1;
    }
    char *both[2] = {raw, dec};
    for (int k = 0; k < 2; k++) {
        int slot = -1;
        for (int i = 0; i < KB_DB_MAX_SECRETS && slot < 0; i++)
            if (!secrets[i] || strcmp(secrets[i], both[k]) == 0) slot = i;
        if (slot < 0 || secrets[slot]) {
            free(both[k]); /* a repeat, or no room: four are plenty for two passwords */
            continue;
        }
        secrets[slot] = both[k];
    }
    return 0;
}

int kb_db_uri_parse(const char *uri, char **name, char *secrets[KB_DB_MAX_SECRETS], char *err,
                    size_t err_len)
{
    *name = NULL;
    const char *rest = strstr(uri, "://");
    if (!rest || !kb_db_is_uri(uri)) {
        snprintf(err, err_len, "not a postgresql:// URI");
        return -1;
    }
    size_t scheme_len = (size_t)(rest - uri) + 3;
    const char *auth = uri + scheme_len;
    size_t auth_len = strcspn(auth, "/?");
    size_t before_query = strcspn(auth, "?");
    const char *at = memchr(auth, '@', auth_len);
    /* The last '@' before the query decides where the user part ends; when it is not the only
     * one in the host part, or lies beyond a '/', the password holds an unencoded '@' or '/'. */
    const char *last_at = NULL;
    for (const char *p = auth; p < auth + before_query; p++)
        if (*p == '@') last_at = p;
    if (last_at && (last_at != at)) {
        snprintf(err, err_len,
                 "%.*s(user and password hidden): the user name and password in a postgresql:// "
                 "URI must be percent-encoded ('@' is %%40, '/' is %%2F, ':' is %%3A)",
                 (int)scheme_len, uri);
        return -1;
    }
    char *out = malloc(strlen(uri) + 1);
    if (!out) goto oom;
    size_t o = 0;
    memcpy(out, uri, scheme_len);
    o = scheme_len;
    const char *host = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t user_len = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        if (colon && add_secret(secrets, colon + 1, (size_t)(at - colon - 1)) != 0) goto oom;
        memcpy(out + o, auth, user_len);
        o += user_len;
        if (user_len) out[o++] = '@';
        host = at + 1;
    }
    /* Host, port and database as given; then the parameters but password ones. */
    size_t host_len = (size_t)(auth + before_query - host);
    memcpy(out + o, host, host_len);
    o += host_len;
    const char *q = auth + before_query;
    if (*q == '?') {
        int first = 1;
        for (const char *p = q + 1; *p;) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            size_t key_len = eq ? (size_t)(eq - p) : n;
            int secret = (key_len == 8 && strncasecmp(p, "password", 8) == 0) ||
                         (key_len == 11 && strncasecmp(p, "sslpassword", 11) == 0);
            if (secret) {
                if (eq && add_secret(secrets, eq + 1, n - key_len - 1) != 0) goto oom;
            } else if (n) {
                out[o++] = first ? '?' : '&';
                memcpy(out + o, p, n);
                o += n;
                first = 0;
            }
            p += n;
            if (*p == '&') p++;
        }
    }
    out[o] = '\0';
    *name = out;
    return 0;
oom:
    free(out);
    snprintf(err, err_len, "out of memory");
    return -1;
}
