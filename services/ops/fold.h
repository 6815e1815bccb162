/* fold.h - the rebuild's read model in memory, written out once.
 *
 * sendpath-ops --rebuild used to send every consumer batch to Redis as one
 * script call, like the live service: Redis then spent its time starting
 * scripts and hiredis growing one huge argument list (6,500-13,500 events/s,
 * docs/performance.md). A rebuild starts from nothing and nobody reads the
 * model until it ends, so it folds instead: each batch's writes, built by
 * the same projection code as the live path (projection.h) into the same
 * argument list the live script reads (batch.h), are interpreted here in C
 * against hash tables that mirror the Redis keys: the event id checked
 * against its case's seen set, and only then HSET, HSETXX, HDEL, RPUSH,
 * ZADD done, exactly as the script does them. At the end every key is
 * written with plain variadic commands (HSET/RPUSH/SADD/ZADD of up to
 * OPS_FOLD_CHUNK members each), pipelined to the server of its partition
 * with a bounded number in flight. Same interpreter semantics, same keys,
 * same values: tests/integration/test_ops_rebuild.py compares a live
 * model with a rebuilt one key by key.
 *
 * The price is memory: a fold holds its part of the model until it is
 * written (about what Redis itself holds for it, plus the seen ids), so the
 * rebuild folds one range of partitions at a time (rebuild.h); see
 * docs/performance.md. */
#ifndef OPS_FOLD_H
#define OPS_FOLD_H

#include <stddef.h>
#include "batch.h"
#include "service.h"

#define OPS_FOLD_CHUNK 1000 /* members per written command */

typedef struct ops_fold ops_fold;

/* Returns NULL on allocation failure. */
ops_fold *ops_fold_new(void);
void ops_fold_free(ops_fold *f);

/* Applies b, a batch of partition part, as the live script would. Adds the
 * events applied and the repeats dropped to *applied and *repeats.
 * Returns 0, or -1 on allocation failure (the fold is then unusable). */
int ops_fold_apply(ops_fold *f, const ops_batch *b, int part, size_t *applied,
                   size_t *repeats);

/* Number of keys held. */
size_t ops_fold_keys(const ops_fold *f);

/* Writes every key to sp_service_redis(s, its partition), at most
 * max_inflight commands waiting for replies at a time; done(ok, opaque) is
 * called once, after the last reply (ok 0 if any command failed or a
 * server was unreachable). Returns 0, or -1 (done not called). */
int ops_fold_write(ops_fold *f, sp_service *s, size_t max_inflight,
                   void (*done)(int ok, void *opaque), void *opaque);

#endif
