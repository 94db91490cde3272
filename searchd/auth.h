/*
 * auth.h — bearer tokens and roles for the /api/ calls.
 *
 * The tokens file holds one "TOKEN ROLE NAME" per line (blank lines and lines starting with '#'
 * are ignored). ROLE is agent, editor, lead or admin; NAME identifies the person or tool in
 * logs and in the event store. The table is loaded at start-up and replaced on SIGHUP or
 * POST /api/admin/reload; a file that fails to parse leaves the previous table in force.
 */
#ifndef SEARCHD_AUTH_H
#define SEARCHD_AUTH_H

#include <stddef.h>

#define SEARCHD_AUTH_TOKEN_MAX 128 /* bytes */
#define SEARCHD_AUTH_NAME_MAX 64   /* bytes */

/* Roles are bits so a route can allow a set of them. */
typedef enum {
    SEARCHD_ROLE_NONE = 0,
    SEARCHD_ROLE_AGENT = 1,
    SEARCHD_ROLE_EDITOR = 2,
    SEARCHD_ROLE_LEAD = 4,
    SEARCHD_ROLE_ADMIN = 8
} searchd_role;

#define SEARCHD_ROLES_ANY (SEARCHD_ROLE_AGENT | SEARCHD_ROLE_EDITOR | SEARCHD_ROLE_LEAD | SEARCHD_ROLE_ADMIN)

typedef struct {
    searchd_role role;
    char name[SEARCHD_AUTH_NAME_MAX + 1];
} searchd_identity;

enum { SEARCHD_AUTH_OK = 0, SEARCHD_AUTH_MISSING = 1, SEARCHD_AUTH_UNKNOWN = 2 };

/* Parse the tokens file and make it the active table. Returns 0, or -1 with "FILE:LINE: why"
 * (or "FILE: why") in err, keeping the previous table. Thread-safe. */
int searchd_auth_load(const char *path, char *err, size_t err_len);

/* Resolve an Authorization header value ("Bearer TOKEN"; may be NULL). Every known token is
 * compared in constant time, so response timing does not reveal how much of a guess was right. */
int searchd_auth_check(const char *authorization, searchd_identity *out);

/* Number of tokens in the active table. */
size_t searchd_auth_count(void);

const char *searchd_auth_role_name(searchd_role role);

/* Free the active table (at exit). */
void searchd_auth_free(void);

#endif
