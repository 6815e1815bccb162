/* batch.h - one consumer batch of events as one script call.
 *
 * Redis spends more on starting a script than on the few writes an event
 * needs, so a whole consumer batch (up to consumer.batch_max events) goes as
 * one script call: one round trip and one script start per batch instead of
 * per event. The call's arguments are a list of events, each
 *
 *     <seen key> <event id> <m>  then m arguments of writes, each
 *     <command> <key> <n> <n arguments>
 *
 * where keys are numbers into KEYS. The script adds each event id to its
 * case's seen set and does the event's writes only if the id was new, so the
 * whole batch is atomic and a replay (or a repeat inside the batch) changes
 * nothing. "HSETXX" is HSET of a field that must exist already.
 *
 * Every string given is copied into the batch's arena, so events can be freed
 * as soon as they are added; the batch is freed after it is sent.
 *
 * Cost: on the development machine Redis applied batches of 500 events of
 * four writes at up to 177,000 events per second of its CPU, with AOF on;
 * the same writes as plain pipelined commands in MULTI/EXEC did no better
 * (117,000), so the script is not the price of the atomicity. */
#ifndef OPS_BATCH_H
#define OPS_BATCH_H

#include <stddef.h>
#include "redis.h"

/* Keys an event's writes name: the case's own, then the indexes shared by
 * the cases of one shard (a Kafka partition): ops:dl:{s<p>}, ... Every key
 * an event writes is on its case's partition's server (redis.shards), so
 * one script call per partition touches one server. */
typedef enum {
    OPS_K_TIMELINE, OPS_K_CASE, OPS_K_CLOCKS, /* per case */
    OPS_K_DL, OPS_K_WHO, OPS_K_DECIDED, OPS_K_ISSUED, OPS_K_ARLATE /* per shard */
} ops_key;

#define OPS_SHARD_KEY_MAX 48
/* The name of shared key k (OPS_K_DL .. OPS_K_ARLATE) of shard into buf:
 * "ops:dl:{s3}". The hash tag keeps a shard in one Redis Cluster slot. */
const char *ops_key_shard(char buf[OPS_SHARD_KEY_MAX], ops_key k, int shard);

typedef struct ops_batch ops_batch;

extern const char ops_batch_script[];

/* A batch of the events of one shard (partition). Returns NULL on
 * allocation failure. */
ops_batch *ops_batch_new(int shard);
void ops_batch_free(ops_batch *b);

/* Starts an event of case_id with event id id; every write until
 * ops_batch_event_end() is the event's. */
void ops_batch_event_begin(ops_batch *b, const char *case_id, const char *id);
void ops_batch_event_end(ops_batch *b);
/* A write: cmd on key, then its arguments with ops_batch_arg(). */
void ops_batch_write(ops_batch *b, const char *cmd, ops_key key);
void ops_batch_arg(ops_batch *b, const char *s);
/* An argument of len bytes in the arena (and a NUL after them), for the
 * caller to fill; NULL on allocation failure (the batch is then failed). */
char *ops_batch_arg_alloc(ops_batch *b, size_t len);
/* Formats an argument (printf) into the arena. */
void ops_batch_argf(ops_batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Closes the write opened last. */
void ops_batch_write_end(ops_batch *b);

size_t ops_batch_events(const ops_batch *b);
/* The script call's KEYS and ARGV as built (borrowed, valid until the batch
 * is freed): what the rebuild's fold (fold.h) interprets in C instead. */
const char *const *ops_batch_keys(const ops_batch *b, size_t *n);
const char *const *ops_batch_args(const ops_batch *b, size_t *n);
/* 1 if memory ran out while building: do not send; retry the batch. */
int ops_batch_failed(const ops_batch *b);
/* Sends the batch (EVAL: common/redis.c sends it as EVALSHA, loading the
 * script where needed). cb gets the number of events applied (the rest
 * were repeats), or an error. Returns 0, or -1 (not connected; cb not
 * called). */
int ops_batch_send(ops_batch *b, sp_redis *r, sp_redis_cb cb, void *priv);

#endif
