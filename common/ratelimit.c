/* ratelimit.c - token buckets per client in a fixed table. See ratelimit.h.
 *
 * Open addressing: a client hashes to a slot and is looked for in the
 * RL_PROBE slots from there. Tokens are kept as a double and refilled lazily
 * on each take, from the time since the bucket was last touched, so nothing
 * runs between requests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ratelimit.h"

#define RL_PROBE 8
#define RL_KEY_MAX 64

typedef struct rl_bucket {
    char key[RL_KEY_MAX]; /* "" = free */
    double tokens;
    uint64_t touched_ms;
} rl_bucket;

struct sp_ratelimit {
    double rate;  /* tokens per ms */
    double burst;
    size_t mask;  /* slots - 1 */
    rl_bucket *b;
};

sp_ratelimit *sp_ratelimit_new(double rate, unsigned burst, size_t slots) {
    sp_ratelimit *rl;
    size_t n = RL_PROBE;

    if (rate <= 0 || burst < 1) return NULL;
    while (n < slots) n *= 2;
    if (!(rl = calloc(1, sizeof(*rl)))) return NULL;
    if (!(rl->b = calloc(n, sizeof(*rl->b)))) {
        free(rl);
        return NULL;
    }
    rl->rate = rate / 1000.0;
    rl->burst = burst;
    rl->mask = n - 1;
    return rl;
}

void sp_ratelimit_free(sp_ratelimit *rl) {
    if (!rl) return;
    free(rl->b);
    free(rl);
}

/* FNV-1a over the kept part of the key. */
static size_t rl_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; s[i] && i < RL_KEY_MAX - 1; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* The client's bucket, or a fresh one in a free or the stalest slot. */
static rl_bucket *rl_find(sp_ratelimit *rl, const char *client, uint64_t now_ms) {
    size_t at = rl_hash(client), klen = strnlen(client, RL_KEY_MAX - 1);
    rl_bucket *victim = NULL;

    for (size_t i = 0; i < RL_PROBE; i++) {
        rl_bucket *b = &rl->b[(at + i) & rl->mask];
        if (b->key[0] && strncmp(b->key, client, klen) == 0 && b->key[klen] == '\0')
            return b;
        if (!victim || !b->key[0] ||
            (victim->key[0] && b->touched_ms < victim->touched_ms))
            victim = b;
    }
    memcpy(victim->key, client, klen);
    victim->key[klen] = '\0';
    victim->tokens = rl->burst;
    victim->touched_ms = now_ms;
    return victim;
}

uint64_t sp_ratelimit_take(sp_ratelimit *rl, const char *client, uint64_t now_ms) {
    rl_bucket *b = rl_find(rl, client, now_ms);

    if (now_ms > b->touched_ms) { /* a clock that goes back refills nothing */
        b->tokens += (double)(now_ms - b->touched_ms) * rl->rate;
        if (b->tokens > rl->burst) b->tokens = rl->burst;
        b->touched_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    return (uint64_t)ceil((1.0 - b->tokens) / rl->rate);
}
