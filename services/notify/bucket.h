/* bucket.h - a token bucket: at most rate_per_minute sends in any minute.
 *
 * GOV.UK Notify allows 3,000 messages a minute per service and answers 429
 * past that. The bucket holds one second's share of tokens (rate / 60, at
 * least 1) and refills at (rate - capacity) per minute, so a full bucket plus
 * a minute of refill is exactly rate: no 60-second window, sliding or not,
 * can see more, at the cost of running about 2% under the limit when busy.
 * Time is the caller's (uv_now), so the bucket is a pure calculation. */
#ifndef NOTIFY_BUCKET_H
#define NOTIFY_BUCKET_H

#include <stdint.h>

typedef struct notify_bucket {
    double tokens, capacity;
    double per_ms; /* refill */
    uint64_t last_ms;
} notify_bucket;

/* rate_per_minute >= 60 (notify.rate_per_minute's bound). The bucket starts
 * full. */
void notify_bucket_init(notify_bucket *b, long long rate_per_minute, uint64_t now_ms);
/* Takes a token: returns 0, or if there is none, the milliseconds until there
 * will be one (at least 1), taking nothing. */
uint64_t notify_bucket_take(notify_bucket *b, uint64_t now_ms);

#endif
