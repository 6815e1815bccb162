/* store.c - the timers service's Redis keys. See store.h. */
#include <stdio.h>
#include "store.h"

static const char arm_lua[] =
    "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then\n"
    "  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static void shard_keys(int shard, char *c, char *q, size_t size) {
    snprintf(c, size, "tm:{s%d}:c", shard);
    snprintf(q, size, "tm:{s%d}:q", shard);
}

int timers_store_arm(sp_redis *r, int shard, const char *clock_id,
                     const char *record, int64_t fire_ms, sp_redis_cb cb, void *priv) {
    char c[32], q[32], score[24];
    shard_keys(shard, c, q, sizeof(c));
    snprintf(score, sizeof(score), "%lld", (long long)fire_ms);
    const char *argv[] = {"EVAL", arm_lua, "2", c, q, clock_id, record, score};
    return sp_redis_command_argv(r, cb, priv, 8, argv, NULL);
}
