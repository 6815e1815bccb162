/* auth.h - bearer tokens and scopes for every service's HTTP API.
 *
 * A token is "spt_" followed by 43 base64url characters (32 random bytes).
 * Services never see it stored: the token file (auth.tokens_file) holds one
 * line per token,
 *
 *     <sha256-hex of the token> <name> <scope>[,<scope>...]
 *
 * with '#' comments and blank lines allowed. Scopes:
 *
 *     intake:write      portals and case systems: new requests and registrations
 *     casework:write    LA caseworkers: every casework command, imports
 *     school:<URN>      a school (6-digit URN): only its own pupils' cases
 *     ops:read          reading cases, clocks and evidence
 *     admin             test and operations endpoints (/admin/clock)
 *
 * Each route declares what admits it (sp_http_route_scoped): a space-separated
 * list of those scopes, where "school" admits any school:<URN> token and leaves
 * the per-case check to the handler (sp_auth_req_school_ok), and "public"
 * needs no token. A route that declares nothing is refused (fail closed).
 *
 * Answers: no or unknown token 401 with WWW-Authenticate: Bearer; a known
 * token without the scope, or a school acting for another school's pupil,
 * 403; both application/problem+json. Every answer is logged once, by
 * http.c's access log, with the token's name (never the token).
 *
 * Why a plain SHA-256 and not a keyed hash: the tokens are 256-bit random
 * values, so a leaked file cannot be reversed by guessing; a key would add a
 * second secret to deploy without adding strength. Comparison is constant
 * time (CRYPTO_memcmp) over every line, so timing does not say which token
 * came close. */
#ifndef SP_AUTH_H
#define SP_AUTH_H

#include <stddef.h>
#include "http.h"

#define SP_AUTH_TOKEN_PREFIX "spt_"
/* "spt_" + 43 characters + NUL */
#define SP_AUTH_TOKEN_SIZE 48
#define SP_AUTH_HASH_HEX_SIZE 65
#define SP_AUTH_MAX_SCOPES 16
#define SP_AUTH_NAME_MAX 64

typedef struct sp_auth sp_auth;

/* Reads and checks the token file. Returns a new table (free with
 * sp_auth_free), or NULL with errstr naming the line. An empty file is
 * allowed (every request is then refused). */
sp_auth *sp_auth_load(const char *path, char *errstr, size_t errstr_size);
/* A table that admits every request without a token: auth.enabled = off. */
sp_auth *sp_auth_disabled(void);
/* Reads path again and, if every line is good, replaces a's tokens with it
 * (a new token works, a removed one is refused from the next request on).
 * Tokens of requests still in flight stay valid until sp_auth_free. On an
 * error a is unchanged. Returns 0, or -1 with errstr. */
int sp_auth_reload(sp_auth *a, const char *path, char *errstr, size_t errstr_size);
void sp_auth_free(sp_auth *a);
/* Number of tokens loaded. */
size_t sp_auth_count(const sp_auth *a);
int sp_auth_enabled(const sp_auth *a);

/* Checks one scope's spelling ("school:123456", "ops:read"). Returns 0 or
 * -1 with errstr. */
int sp_auth_scope_valid(const char *scope, char *errstr, size_t errstr_size);
/* Checks a token name: 1 to 64 of [A-Za-z0-9._@-]. Returns 1 if valid. */
int sp_auth_name_valid(const char *name);

/* A fresh random token into out (SP_AUTH_TOKEN_SIZE bytes). Returns 0, or -1
 * with errstr (no random source). */
int sp_auth_token_new(char *out, size_t size, char *errstr, size_t errstr_size);
/* The hex SHA-256 of token into out (SP_AUTH_HASH_HEX_SIZE bytes). Returns 0
 * or -1 (OpenSSL failed). */
int sp_auth_hash_hex(const char *token, char *out, size_t size);

/* The outcome of checking one request against one route. */
typedef enum {
    SP_AUTH_ALLOW,        /* admitted by a scope that covers every case */
    SP_AUTH_ALLOW_SCHOOL, /* admitted as a school: the handler checks the URN */
    SP_AUTH_NO_TOKEN,     /* 401: no Authorization: Bearer header */
    SP_AUTH_BAD_TOKEN,    /* 401: not a token in the file */
    SP_AUTH_FORBIDDEN,    /* 403: a known token without a scope for the route */
    SP_AUTH_UNDECLARED    /* 403: the route declares no scope */
} sp_auth_result;

/* Checks authorization (the header's value, may be NULL) against a route's
 * scope list (may be NULL). *name is set to the token's name when one
 * matched (borrowed from a, valid while a lives), else to NULL. */
sp_auth_result sp_auth_check(const sp_auth *a, const char *authorization,
                             const char *route_scopes, const char **name);

/* Makes a guard every route of h goes through: checks the token, answers
 * 401/403 itself, and records who asked for the access log and for
 * sp_auth_req_school_ok(). a is borrowed and must outlive h. */
void sp_auth_attach(sp_auth *a, sp_http *h);

/* 1 if the request may act for a case of school urn (NULL or "" when the
 * case names no school): always when it was admitted by a non-school scope;
 * as a school, only when one of the token's school:<URN> scopes is urn. */
int sp_auth_req_school_ok(const sp_http_req *r, const char *urn);
/* 1 if the request may act for every school (not admitted as a school), so
 * a handler can skip reading the case's school. */
int sp_auth_req_any_school(const sp_http_req *r);
/* Answers the request 403 naming the field that failed the school check. */
void sp_auth_respond_school_forbidden(sp_http_req *r, const char *field);

#endif
