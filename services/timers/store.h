/* store.h - the timers service's Redis keys: where armed clocks live.
 *
 * Clocks are sharded by the Kafka partition of their case, and every key of a
 * shard carries the hash tag {s<partition>} so a shard sits in one Redis
 * Cluster slot and its Lua scripts touch one node:
 *
 *   tm:{s<p>}:c   hash    clock id -> clock record (record.h)
 *   tm:{s<p>}:q   zset    clock id scored by its next fire time (Unix ms)
 *
 * A shard is fired only by the instance that owns partition p, so moving a
 * partition on rebalance moves its clocks with it, with no locks. */
#ifndef TIMERS_STORE_H
#define TIMERS_STORE_H

#include <stdint.h>
#include "redis.h"

/* Arms clock_id with record text and first fire time, unless it is already
 * armed (a replayed start event must not reset a running clock). The reply
 * passed to cb is an integer: 1 armed now, 0 already armed. */
int timers_store_arm(sp_redis *r, int shard, const char *clock_id,
                     const char *record, int64_t fire_ms, sp_redis_cb cb, void *priv);

#endif
