/* jwt.c - HS256 JSON Web Tokens. See jwt.h.
 *
 * Small on purpose: the encoder is a base64url loop and one HMAC call, which
 * is all a token needs, so no JWT library is linked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "jwt.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sp_jwt_base64url(const void *in, size_t len, char *out, size_t size) {
    const unsigned char *p = in;
    size_t o = 0, need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    if (size < need + 1) return -1;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        size_t n = len - i < 3 ? len - i : 3; /* bytes in this group */
        if (n > 1) v |= (unsigned)p[i + 1] << 8;
        if (n > 2) v |= p[i + 2];
        for (size_t k = 0; k <= n; k++) out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
    return (int)o;
}

/* base64url(s) appended at out + *at; the caller sized out. */
static void append_encoded(char *out, size_t size, size_t *at, const void *s, size_t len) {
    int n = sp_jwt_base64url(s, len, out + *at, size - *at);
    *at += (size_t)(n > 0 ? n : 0);
}

char *sp_jwt_hs256(const char *claims, const void *secret, size_t secret_len,
                   char *errstr, size_t size) {
    size_t hl = strlen(SP_JWT_HEADER), cl = strlen(claims), at = 0;
    size_t cap = (hl + 2) / 3 * 4 + (cl + 2) / 3 * 4 + 48 + 3;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *tok = malloc(cap);
    if (!tok) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    append_encoded(tok, cap, &at, SP_JWT_HEADER, hl);
    tok[at++] = '.';
    append_encoded(tok, cap, &at, claims, cl);
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, at,
              mac, &maclen)) {
        snprintf(errstr, size, "HMAC-SHA256 failed");
        free(tok);
        return NULL;
    }
    tok[at++] = '.';
    append_encoded(tok, cap, &at, mac, maclen);
    return tok;
}
