/* queue.h - the retry queue's Redis keys. Nothing else reads them.
 *
 * One queue per shard (Kafka partition p), on p's server (redis.shards):
 *
 *   notify:retry:{s<p>}       sorted set of delivery keys (sha256 hex),
 *                             scored by the Unix ms of the next attempt, or
 *                             of a claim's lease running out.
 *   notify:retry:{s<p>}:<sha256 hex>
 *                             hash: one queued send: state (retry, sent,
 *                             dead), attempt, reason, outcome, provider_id and
 *                             job (job.h, JSON: personal data, in values only).
 *
 * The shard is the partition of the event that made the job, so a queue is
 * worked by the instance that holds its partition (retry.c), and its keys
 * share a Redis Cluster hash tag, like timers' tm:{s<p>}. Partition -1 names
 * the one queue notify kept before (notify:retry and notify:retry:<sha256>
 * on redis.host), still drained after an upgrade.
 *
 * Every write is one Lua script that also sets the delivery's
 * notify:sent:<key> (store.h) when asked, so the sent key, the queue and the
 * record always change together. What the states mean is retry.c's.
 *
 * Every function returns 0 (its callback will be called exactly once) or -1
 * (Redis not connected, no memory; the callback will not be called). */
#ifndef NOTIFY_QUEUE_H
#define NOTIFY_QUEUE_H

#include <stddef.h>
#include "redis.h"
#include "store.h"

/* One record, as read by a claim. */
typedef struct notify_queued {
    char key[NOTIFY_SENT_KEY_HEX + 1];
    char **fields;  /* name, value, name, value, ... (owned) */
    size_t nfields; /* strings in fields (twice the pairs) */
} notify_queued;

/* err is 0 on success. */
typedef void (*notify_queue_cb)(int err, void *opaque);

/* The queue key of partition (-1: the old global queue) into buf (32 bytes
 * are enough). Returns buf. */
char *notify_queue_name(int partition, char *buf, size_t size);

/* Every function below works on partition's queue (-1: the old one), on r,
 * the server that holds it (the caller's to choose).
 *
 * Sets notify:sent:<key> to sent_value (NULL: leaves it), writes the record's
 * fields (n strings: name, value, ...) and puts key in the queue at score_ms. */
int notify_queue_put(sp_redis *r, int partition, const char *key_hex, const char *sent_value,
                     long long ttl_s, long long score_ms, const char *const *fields,
                     size_t n, notify_queue_cb cb, void *opaque);
/* Takes key out of the queue and drops its record; sets notify:sent:<key>
 * to sent_value unless NULL. */
int notify_queue_remove(sp_redis *r, int partition, const char *key_hex, const char *sent_value,
                        long long ttl_s, notify_queue_cb cb, void *opaque);

/* recs (n of them) belong to the callback's caller: free with
 * notify_queued_free. On error, err != 0 and recs is NULL. */
typedef void (*notify_queue_claimed_cb)(int err, notify_queued *recs, size_t n,
                                        void *opaque);
/* Claims at most limit records due by now_ms: each is re-scored to
 * lease_until_ms, so no other claim (of this process or another) takes it
 * again unless this one never finishes. A queue entry without a record is
 * dropped. */
int notify_queue_claim(sp_redis *r, int partition, long long now_ms,
                       long long lease_until_ms, size_t limit,
                       notify_queue_claimed_cb cb, void *opaque);
/* The value of field name in q, or NULL. Borrowed from q. */
const char *notify_queued_get(const notify_queued *q, const char *name);
/* Frees the records' fields and recs itself (which may be NULL). */
void notify_queued_free(notify_queued *recs, size_t n);

#endif
