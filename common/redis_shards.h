/* redis_shards.h - Kafka partitions mapped to Redis servers by configuration.
 *
 * hiredis 0.14 has no Redis Cluster client. sendpath does not need one: its
 * keys already belong to partitions (a case's keys to its case's partition,
 * timers' to the shard named in the key, tm:{s<p>}), and the instance
 * working a partition is the only one writing them. So the mapping is a
 * table from configuration:
 *
 *     redis.shards = 0-1@10.0.1.10:6379,2-3@10.0.1.11:6379,4-5@10.0.1.12:6379
 *
 * ranges of partitions (or one partition, "4@host:port"), each with the
 * server holding their keys, or with a Sentinel master name instead of an
 * address ("0-1@sentinel:shard-a", with redis.sentinels; redis_sentinel.h). Start-up refuses a table that does not cover
 * every partition exactly once. One sp_redis connection is opened per
 * distinct server and shared by its partitions; each keeps its own
 * reconnection and timeout (redis.h), so a server that is down stalls only
 * its own partitions. docs/scaling.md has the design, and what is not built
 * (which services route by partition). */
#ifndef SP_REDIS_SHARDS_H
#define SP_REDIS_SHARDS_H

#include <stddef.h>
#include "redis.h"

#define SP_REDIS_SHARDS_MAX 256 /* partitions; timers' TIMERS_MAX_SHARDS */
#define SP_REDIS_HOST_MAX 256

typedef struct sp_redis_shard_range {
    int first, last; /* partitions, inclusive */
    char host[SP_REDIS_HOST_MAX]; /* or the Sentinel master name */
    int port;                     /* 0 for a Sentinel master */
    int sentinel;                 /* 1: host is a Sentinel master name */
} sp_redis_shard_range;

/* Parses spec into out (at most max ranges). Returns the number of ranges,
 * or -1 with errstr naming the faulty part: a malformed range or address,
 * a range past SP_REDIS_SHARDS_MAX, or two ranges sharing a partition. */
int sp_redis_shards_parse(const char *spec, sp_redis_shard_range *out, size_t max,
                          char *errstr, size_t size);

/* 0 if the ranges cover partitions 0 .. partitions-1 and no more; -1 with
 * errstr naming the first partition missing or the first one too many. */
int sp_redis_shards_check(const sp_redis_shard_range *ranges, size_t n, int partitions,
                          char *errstr, size_t size);

typedef struct sp_redis_shards sp_redis_shards;

/* Parses and checks spec for a topic of `partitions` partitions, and starts
 * connecting to every server named (host and port, or master name, from the
 * spec; password, timeout and sentinels from base). Returns NULL with errstr
 * on a bad spec, a Sentinel range without base->sentinels, or no memory. */
sp_redis_shards *sp_redis_shards_open(uv_loop_t *loop, const char *spec, int partitions,
                                      const sp_redis_options *base, char *errstr,
                                      size_t size);

/* The connection holding partition's keys (borrowed, valid until close), or
 * NULL for a partition outside the table. */
sp_redis *sp_redis_shards_get(const sp_redis_shards *sh, int partition);

/* 1 when every server is connected. */
int sp_redis_shards_ready(const sp_redis_shards *sh);
/* Commands in flight over every server. */
size_t sp_redis_shards_pending(const sp_redis_shards *sh);
/* Number of distinct servers, and server i of them (borrowed). */
size_t sp_redis_shards_servers(const sp_redis_shards *sh);
sp_redis *sp_redis_shards_server(const sp_redis_shards *sh, size_t i);
/* Records every server's command latency in one histogram (borrowed). */
void sp_redis_shards_set_metrics(sp_redis_shards *sh, sp_metric *latency);

/* Closes every connection (pending replies arrive first) and frees sh once
 * all are closed; sh must not be used after this call. */
void sp_redis_shards_close(sp_redis_shards *sh);

#endif
