/* ratelimit.h - a token bucket per client, for the HTTP server's request rate.
 *
 * Each client (an address, as text) has a bucket of `burst` tokens that
 * refills at `rate` tokens a second; a request takes one token or is refused
 * with the time until one is there (the 429's Retry-After). Buckets live in a
 * fixed table allocated at start: a client the table has no room for takes
 * the slot of the bucket idle longest in its probe window, which can only be
 * generous (a forgotten client starts again with a full bucket), never
 * refuse someone wrongly, and memory does not grow with the number of
 * clients. Time is passed in by the caller (milliseconds, any monotonic
 * origin), so the module is pure and tests need no clock. */
#ifndef SP_RATELIMIT_H
#define SP_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sp_ratelimit sp_ratelimit;

/* rate: tokens per second (> 0); burst: bucket size (>= 1); slots: clients
 * tracked at once (rounded up to a power of two). Returns a new limiter (free
 * with sp_ratelimit_free), or NULL when out of memory. */
sp_ratelimit *sp_ratelimit_new(double rate, unsigned burst, size_t slots);
void sp_ratelimit_free(sp_ratelimit *rl);

/* Takes a token for client at now_ms. Returns 0 if the request may go on,
 * else the milliseconds until the client's next token (> 0). client is
 * borrowed; at most 63 bytes of it are kept. */
uint64_t sp_ratelimit_take(sp_ratelimit *rl, const char *client, uint64_t now_ms);

#endif
