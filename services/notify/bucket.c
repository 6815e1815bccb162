/* bucket.c - the token bucket. See bucket.h. */
#include "bucket.h"

void notify_bucket_init(notify_bucket *b, long long rate, uint64_t now_ms) {
    b->capacity = rate / 60 > 1 ? (double)(rate / 60) : 1.0;
    b->per_ms = ((double)rate - b->capacity) / 60000.0;
    b->tokens = b->capacity;
    b->last_ms = now_ms;
}

uint64_t notify_bucket_take(notify_bucket *b, uint64_t now_ms) {
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
        if (b->tokens > b->capacity) b->tokens = b->capacity;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    return (uint64_t)((1.0 - b->tokens) / b->per_ms) + 1;
}
