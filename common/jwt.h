/* jwt.h - JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515), as GOV.UK
 * Notify's API takes them.
 *
 * A token is base64url(header) "." base64url(claims) "." base64url(HMAC-
 * SHA256(secret, the first two parts)), without padding. The header is fixed,
 * {"alg":"HS256","typ":"JWT"}; the claims are the caller's JSON text, used
 * byte for byte, so the caller decides what is in them and a test can compare
 * whole tokens. Only signing is here: sendpath makes tokens, it never checks
 * anyone else's. */
#ifndef SP_JWT_H
#define SP_JWT_H

#include <stddef.h>

#define SP_JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Writes in[0..len) as base64url without padding, and a NUL, into out.
 * Returns the length written, or -1 if out (size bytes) is too small: it
 * needs ceil(4 * len / 3) + 1 bytes. */
int sp_jwt_base64url(const void *in, size_t len, char *out, size_t size);

/* Signs claims (a JSON object's text) with secret[0..secret_len). Returns a
 * new token (free with free()), or NULL with errstr (no memory, or OpenSSL
 * failed). */
char *sp_jwt_hs256(const char *claims, const void *secret, size_t secret_len,
                   char *errstr, size_t errstr_size);

#endif
