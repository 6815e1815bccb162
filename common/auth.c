/* auth.c - bearer tokens, scopes and the HTTP guard. See auth.h.
 *
 * The token file is read once at start-up into an array of tokens; a
 * request's token is hashed and compared with every line in constant time.
 * There are tens of tokens (one per portal, case system, school, ops team),
 * not millions, so a scan costs less than one Redis round trip.
 *
 * What the guard admitted is kept on the request as a grant: the token and
 * whether it came in only as a school. Handlers ask sp_auth_req_school_ok()
 * once they know the case's school; a school grant that does not match is a
 * 403, like a missing scope, so a school cannot tell another school's case
 * from one it may see but is wrong about (both say "forbidden", never "no
 * such case" before the check). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth.h"
#include "jwt.h"
#include "log.h"

#define AUTH_SCOPE_MAX 24 /* "school:123456", "casework:write" */
#define AUTH_LINE_MAX 1024

typedef struct auth_token auth_token;

/* What a request was admitted as; points back at its token. */
typedef struct auth_grant {
    const auth_token *token;
    int school_only;
} auth_grant;

struct auth_token {
    unsigned char hash[32];
    char name[SP_AUTH_NAME_MAX + 1];
    char scopes[SP_AUTH_MAX_SCOPES][AUTH_SCOPE_MAX + 1];
    size_t nscopes;
    auth_grant grants[2]; /* [0] full, [1] as a school */
};

struct sp_auth {
    int enabled;
    auth_token **tokens;
    size_t n, cap;
    /* Replaced by a reload. A request in flight may still hold a grant
     * pointing into one, and reloads are rare and small: kept until free. */
    auth_token **retired;
    size_t nretired;
};

/* Every request is admitted, as no one in particular, when auth is off. */
static const auth_grant auth_off_grant = {NULL, 0};
static const char auth_off_name[] = "(auth-off)";

static const char *const auth_fixed_scopes[] = {"intake:write", "casework:write",
                                                "ops:read", "admin", NULL};

/* ---- checking spellings -------------------------------------------------- */

int sp_auth_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > SP_AUTH_NAME_MAX) return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._@-", *p)) return 0;
    return 1;
}

static int auth_is_urn(const char *s) {
    return strlen(s) == 6 && strspn(s, "0123456789") == 6;
}

int sp_auth_scope_valid(const char *scope, char *errstr, size_t errstr_size) {
    for (int i = 0; auth_fixed_scopes[i]; i++)
        if (!strcmp(scope, auth_fixed_scopes[i])) return 0;
    if (!strncmp(scope, "school:", 7) && auth_is_urn(scope + 7)) return 0;
    snprintf(errstr, errstr_size,
             "unknown scope '%.40s' (intake:write, casework:write, ops:read, admin, "
             "school:<6-digit URN>)", scope);
    return -1;
}

/* ---- tokens and hashes --------------------------------------------------- */

int sp_auth_token_new(char *out, size_t size, char *errstr, size_t errstr_size) {
    unsigned char raw[32];
    size_t plen = strlen(SP_AUTH_TOKEN_PREFIX);
    if (size < SP_AUTH_TOKEN_SIZE) {
        snprintf(errstr, errstr_size, "token buffer too small");
        return -1;
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        snprintf(errstr, errstr_size, "getrandom: %s", strerror(errno));
        return -1;
    }
    memcpy(out, SP_AUTH_TOKEN_PREFIX, plen);
    sp_jwt_base64url(raw, sizeof(raw), out + plen, size - plen);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

static int auth_sha256(const char *token, unsigned char md[32]) {
    unsigned int n = 0;
    if (!EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) || n != 32)
        return -1;
    return 0;
}

int sp_auth_hash_hex(const char *token, char *out, size_t size) {
    unsigned char md[32];
    if (size < SP_AUTH_HASH_HEX_SIZE || auth_sha256(token, md) != 0) return -1;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int auth_unhex(const char *hex, unsigned char out[32]) {
    if (strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)hex[2 * i]) ||
            !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* ---- the token file -------------------------------------------------------- */

static int auth_add(sp_auth *a, auth_token *t) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        auth_token **nt = realloc(a->tokens, cap * sizeof(*nt));
        if (!nt) return -1;
        a->tokens = nt;
        a->cap = cap;
    }
    t->grants[0] = (auth_grant){t, 0};
    t->grants[1] = (auth_grant){t, 1};
    a->tokens[a->n++] = t;
    return 0;
}

/* Splits "a,b,c" into t->scopes, checking each. */
static int auth_parse_scopes(auth_token *t, char *list, char *errstr, size_t size) {
    char *save = NULL;
    for (char *sc = strtok_r(list, ",", &save); sc; sc = strtok_r(NULL, ",", &save)) {
        if (sp_auth_scope_valid(sc, errstr, size) != 0) return -1;
        if (t->nscopes == SP_AUTH_MAX_SCOPES) {
            snprintf(errstr, size, "more than %d scopes", SP_AUTH_MAX_SCOPES);
            return -1;
        }
        snprintf(t->scopes[t->nscopes++], AUTH_SCOPE_MAX + 1, "%s", sc);
    }
    if (t->nscopes == 0) {
        snprintf(errstr, size, "no scopes");
        return -1;
    }
    return 0;
}

/* Parses "<hex> <name> <scopes>" into t. */
static int auth_parse_line(char *line, auth_token *t, char *errstr, size_t size) {
    char *save = NULL;
    char *hex = strtok_r(line, " \t", &save);
    char *name = strtok_r(NULL, " \t", &save);
    char *scopes = strtok_r(NULL, " \t", &save);
    if (!hex || !name || !scopes || strtok_r(NULL, " \t", &save)) {
        snprintf(errstr, size, "expected '<sha256-hex> <name> <scope>[,<scope>]'");
        return -1;
    }
    if (auth_unhex(hex, t->hash) != 0) {
        snprintf(errstr, size, "the hash is not 64 hex digits (store the SHA-256 of "
                               "the token, never the token)");
        return -1;
    }
    if (!sp_auth_name_valid(name)) {
        snprintf(errstr, size, "the name must be 1 to 64 of A-Z a-z 0-9 . _ @ -");
        return -1;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    return auth_parse_scopes(t, scopes, errstr, size);
}

static int auth_read(sp_auth *a, FILE *f, const char *path, char *errstr, size_t size) {
    char line[AUTH_LINE_MAX], why[256];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        char *p = line;
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0' || *p == '#') continue;
        auth_token *t = calloc(1, sizeof(*t));
        if (!t || auth_parse_line(p, t, why, sizeof(why)) != 0 || auth_add(a, t) != 0) {
            snprintf(errstr, size, "%s line %d: %s", path, lineno, t ? why : "out of memory");
            free(t);
            return -1;
        }
    }
    return 0;
}

sp_auth *sp_auth_load(const char *path, char *errstr, size_t errstr_size) {
    sp_auth *a;
    FILE *f;
    if (!path || !*path) {
        snprintf(errstr, errstr_size, "auth.enabled is on but auth.tokens_file is not set");
        return NULL;
    }
    if (!(f = fopen(path, "r"))) {
        snprintf(errstr, errstr_size, "auth.tokens_file %s: %s", path, strerror(errno));
        return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        fclose(f);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    a->enabled = 1;
    if (auth_read(a, f, path, errstr, errstr_size) != 0) {
        fclose(f);
        sp_auth_free(a);
        return NULL;
    }
    fclose(f);
    return a;
}

sp_auth *sp_auth_disabled(void) { return calloc(1, sizeof(sp_auth)); }

int sp_auth_reload(sp_auth *a, const char *path, char *errstr, size_t errstr_size) {
    sp_auth *fresh = sp_auth_load(path, errstr, errstr_size);
    auth_token **r;
    if (!fresh) return -1;
    r = realloc(a->retired, (a->nretired + a->n + 1) * sizeof(*r));
    if (!r) {
        snprintf(errstr, errstr_size, "out of memory");
        sp_auth_free(fresh);
        return -1;
    }
    if (a->n) memcpy(r + a->nretired, a->tokens, a->n * sizeof(*r));
    a->retired = r;
    a->nretired += a->n;
    free(a->tokens);
    a->tokens = fresh->tokens;
    a->n = fresh->n;
    a->cap = fresh->cap;
    free(fresh); /* its tokens are a's now */
    return 0;
}

void sp_auth_free(sp_auth *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free(a->tokens[i]);
    for (size_t i = 0; i < a->nretired; i++) free(a->retired[i]);
    free(a->tokens);
    free(a->retired);
    free(a);
}

size_t sp_auth_count(const sp_auth *a) { return a->n; }

int sp_auth_enabled(const sp_auth *a) { return a->enabled; }

/* ---- checking a request ------------------------------------------------------ */

/* The token in "Bearer <token>", or NULL. */
static const char *auth_bearer(const char *authorization) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return NULL;
    authorization += 7;
    while (*authorization == ' ') authorization++;
    return *authorization ? authorization : NULL;
}

/* Hashes the token and compares with every line, without stopping early. */
static const auth_token *auth_find(const sp_auth *a, const char *token) {
    unsigned char md[32];
    const auth_token *found = NULL;
    if (auth_sha256(token, md) != 0) return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (CRYPTO_memcmp(md, a->tokens[i]->hash, sizeof(md)) == 0) found = a->tokens[i];
    return found;
}

static int auth_has_scope(const auth_token *t, const char *scope, size_t len) {
    for (size_t i = 0; i < t->nscopes; i++)
        if (strlen(t->scopes[i]) == len && !strncmp(t->scopes[i], scope, len)) return 1;
    return 0;
}

static int auth_has_school(const auth_token *t) {
    for (size_t i = 0; i < t->nscopes; i++)
        if (!strncmp(t->scopes[i], "school:", 7)) return 1;
    return 0;
}

/* 1 if the space-separated list route_scopes has word. */
static int auth_route_has(const char *route_scopes, const char *word) {
    size_t wlen = strlen(word);
    for (const char *p = route_scopes; *p;) {
        size_t n = strcspn(p, " ");
        if (n == wlen && !strncmp(p, word, n)) return 1;
        p += n;
        while (*p == ' ') p++;
    }
    return 0;
}

/* Which of the route's words the token holds: any plain scope wins over
 * "school", which leaves the per-case check to the handler. */
static sp_auth_result auth_match(const auth_token *t, const char *route_scopes) {
    sp_auth_result res = SP_AUTH_FORBIDDEN;
    for (const char *p = route_scopes; *p;) {
        size_t n = strcspn(p, " ");
        if (n == 6 && !strncmp(p, "school", 6)) {
            if (auth_has_school(t)) res = SP_AUTH_ALLOW_SCHOOL;
        } else if (n > 0 && auth_has_scope(t, p, n)) {
            return SP_AUTH_ALLOW;
        }
        p += n;
        while (*p == ' ') p++;
    }
    return res;
}

static sp_auth_result auth_check(const sp_auth *a, const char *authorization,
                                 const char *route_scopes, const auth_token **tok) {
    const char *token;
    *tok = NULL;
    if (route_scopes && auth_route_has(route_scopes, "public")) return SP_AUTH_ALLOW;
    if (!a->enabled) return SP_AUTH_ALLOW;
    if (!route_scopes) return SP_AUTH_UNDECLARED;
    if (!(token = auth_bearer(authorization))) return SP_AUTH_NO_TOKEN;
    if (!(*tok = auth_find(a, token))) return SP_AUTH_BAD_TOKEN;
    return auth_match(*tok, route_scopes);
}

sp_auth_result sp_auth_check(const sp_auth *a, const char *authorization,
                             const char *route_scopes, const char **name) {
    const auth_token *t;
    sp_auth_result res = auth_check(a, authorization, route_scopes, &t);
    *name = t ? t->name : NULL;
    return res;
}

/* ---- the guard ------------------------------------------------------------- */

static void auth_respond_401(sp_http_req *r, sp_auth_result res) {
    const char *detail = res == SP_AUTH_NO_TOKEN
                             ? "Send a token as Authorization: Bearer <token>."
                             : "The bearer token is not one this service knows.";
    cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", "Authorization");
    cJSON_AddStringToObject(e, "reason", res == SP_AUTH_NO_TOKEN ? "is missing"
                                                                 : "is not a valid token");
    cJSON_AddItemToArray(errs, e);
    sp_http_req_add_header(r, "WWW-Authenticate",
                           res == SP_AUTH_NO_TOKEN ? "Bearer realm=\"sendpath\""
                                                   : "Bearer realm=\"sendpath\", "
                                                     "error=\"invalid_token\"");
    sp_http_respond_problem(r, 401, "Unauthorized", detail, errs);
}

static void auth_respond_403(sp_http_req *r, const char *route_scopes) {
    char reason[160];
    cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
    if (route_scopes)
        snprintf(reason, sizeof(reason), "needs one of the scopes: %s", route_scopes);
    else
        snprintf(reason, sizeof(reason), "this route declares no scope, so no token may use it");
    cJSON_AddStringToObject(e, "field", "Authorization");
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddItemToArray(errs, e);
    sp_http_req_add_header(r, "WWW-Authenticate",
                           "Bearer realm=\"sendpath\", error=\"insufficient_scope\"");
    sp_http_respond_problem(r, 403, "Forbidden", "The token does not allow this.", errs);
}

static int auth_guard(sp_http_req *r, const char *route_scopes, void *opaque) {
    const sp_auth *a = opaque;
    const auth_token *t;
    sp_auth_result res =
        auth_check(a, sp_http_req_header(r, "Authorization"), route_scopes, &t);
    if (t) sp_http_req_set_principal(r, t->name, NULL);
    switch (res) {
    case SP_AUTH_ALLOW:
        if (t) sp_http_req_set_principal(r, t->name, &t->grants[0]);
        else if (!a->enabled) sp_http_req_set_principal(r, auth_off_name, &auth_off_grant);
        return 1;
    case SP_AUTH_ALLOW_SCHOOL:
        sp_http_req_set_principal(r, t->name, &t->grants[1]);
        return 1;
    case SP_AUTH_NO_TOKEN:
    case SP_AUTH_BAD_TOKEN:
        auth_respond_401(r, res);
        return 0;
    case SP_AUTH_UNDECLARED:
        sp_error("auth: %s %s declares no scope: refused", sp_http_req_method(r),
                 sp_http_req_path(r));
        /* fall through */
    case SP_AUTH_FORBIDDEN:
        auth_respond_403(r, route_scopes);
        return 0;
    }
    return 0;
}

void sp_auth_attach(sp_auth *a, sp_http *h) { sp_http_set_guard(h, auth_guard, a); }

int sp_auth_req_school_ok(const sp_http_req *r, const char *urn) {
    const auth_grant *g = sp_http_req_grant(r);
    if (!g) return 0; /* not through the guard: fail closed */
    if (!g->school_only) return 1;
    if (!urn || !auth_is_urn(urn)) return 0;
    for (size_t i = 0; i < g->token->nscopes; i++)
        if (!strncmp(g->token->scopes[i], "school:", 7) &&
            !strcmp(g->token->scopes[i] + 7, urn))
            return 1;
    return 0;
}

int sp_auth_req_any_school(const sp_http_req *r) {
    const auth_grant *g = sp_http_req_grant(r);
    return g && !g->school_only;
}

void sp_auth_respond_school_forbidden(sp_http_req *r, const char *field) {
    cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "reason", "is not a school this token acts for");
    cJSON_AddItemToArray(errs, e);
    sp_http_respond_problem(r, 403, "Forbidden",
                            "A school token acts only for its own pupils.", errs);
}
