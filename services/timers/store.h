/* store.h - the timers service's Redis keys: where armed clocks live.
 *
 * Clocks are sharded by the Kafka partition of their case, and every key of a
 * shard carries the hash tag {s<partition>} so a shard sits in one Redis
 * Cluster slot and each Lua script touches one node:
 *
 * A slot in these keys is as stored, in either layout (layout.h); the
 * functions below take and give slots as the service names them, except
 * where a reply is said to be "as stored".
 *
 *   tm:{s<p>}:c:<bb>         hash  slot -> clock record (record.h), bucketed
 *                                  by bb, the last two characters of the case
 *                                  id (random in a ULID): ~100 clocks a bucket
 *                                  stay listpack-encoded in Redis, under half
 *                                  the bytes of one big hash (docs/performance.md)
 *   tm:{s<p>}:q              zset  slot scored by its next fire time (Unix ms);
 *                                  TIMERS_STORE_PARKED_MS: never (an ended
 *                                  informational clock, an unreadable record)
 *   tm:{s<p>}:d:<week>       hash  slot -> "<record>#<outcome>" of clocks
 *                                  stopped in that ISO week; kept 3 weeks so a
 *                                  replayed stop re-announces the same outcome
 *   tm:{s<p>}:x:<case>       set   slots of the case with a qualifier (each
 *                                  adviser, each school), for cancelling
 *   tm:{s<p>}:z:<case>       string the case was withdrawn or closed: no new
 *                                  clock starts, even from a start event that
 *                                  arrives later on another topic (400 days)
 *
 * A shard is fired only by the instance that owns partition p, so a partition
 * moving on rebalance moves its clocks with it, with no locks. Every write
 * that depends on a read is one script (HSETNX, compare-and-set), so a replay
 * or a race with a stop cannot resurrect or double a clock. */
#ifndef TIMERS_STORE_H
#define TIMERS_STORE_H

#include <stdint.h>
#include "redis.h"

/* Arms n clocks of one shard in one script (a migrated caseload arms
 * thousands per batch: one round trip and one script call for them all).
 * Each slot gets its record text and first fire time, unless it is already
 * armed (a replayed start must not reset a running clock) or its case is
 * closed; indexed[i] adds it to its case's cancel index. Reply: array of
 * 2n, a pair per clock in order: {1, record} armed now, {0, the record
 * already there}, or {2, nil} the case is withdrawn or closed. */
int timers_store_arm_many(sp_redis *r, int shard, size_t n, const char *const *slots,
                          const char *const *records, const int64_t *fire_ms,
                          const int *indexed, sp_redis_cb cb, void *priv);

#define TIMERS_STORE_KEY_MAX 48   /* a bucket key: "tm:{s<p>}:c:<bb>" */
#define TIMERS_STORE_SLOT_MAX 160 /* a slot as stored (layout.h) */

/* Up to limit clocks of the shard due at or before now_ms. Reply: array of
 * pairs (slot as stored, record or nil), then one more element: the next fire time
 * after now_ms (a string), or nil if the shard has no other. lease_until > 0
 * leases the clocks returned: their fire time in q becomes lease_until, until
 * timers_store_advance moves them on (0: no lease, q unchanged). */
int timers_store_due(sp_redis *r, int shard, int64_t now_ms, int limit, int64_t lease_until,
                     sp_redis_cb cb, void *priv);

/* Compare-and-set advance of n clocks after their fire was acknowledged:
 * each slot (as stored, from timers_store_due) whose record is still old_records[i] gets new_records[i] and next
 * fire time scores[i]. Reply: integer count advanced. */
int timers_store_advance(sp_redis *r, int shard, size_t n, const char *const *slots,
                         const char *const *old_records, const char *const *new_records,
                         const int64_t *scores, sp_redis_cb cb, void *priv);

/* The fire time of a parked clock in q: 9999-12-31T23:59:59Z, after any
 * due date, so it never fires and its slot stays where erasure and stops
 * find it. */
#define TIMERS_STORE_PARKED_MS INT64_C(253402300799000)
#define TIMERS_STORE_PARKED_MS_STR "253402300799000"

/* Parks n clocks whose records the service cannot read (another release's
 * layout, a hand edit). pairs holds 2n strings, slot (as stored) then the
 * record read with it, lens their lengths (borrowed for the call only):
 * each slot whose record is still that one moves to TIMERS_STORE_PARKED_MS
 * in q, so it no longer takes a place in every fire round. The record is
 * kept; ZADD q <ms> <slot> puts the clock back once it is fixed (docs/ops.md,
 * "SendpathTimersClocksParked"). Reply: integer count parked. */
int timers_store_park(sp_redis *r, int shard, size_t n, const char *const *pairs,
                      const size_t *lens, sp_redis_cb cb, void *priv);

/* Stops open slots started no later than stop_date (yyyymmdd; strictly
 * earlier when the same event also restarts the slot), recording outcome
 * ("m|<yyyymmdd>" met, "c|<yyyymmdd>" cancelled). with_index adds the slots
 * in the case's cancel index (case_id) to the list. Reply: array of triples
 * (slot as stored, "stopped" | "done", record); "done" means an earlier run of this
 * same stop already did it (a replay), so the caller re-announces the same
 * outcome. Slots neither open nor done are left out. */
int timers_store_stop(sp_redis *r, int shard, const char *case_id, const char *stop_date,
                      int strict, const char *outcome, int with_index,
                      const char *const *slots, size_t nslots, int64_t now_ms,
                      sp_redis_cb cb, void *priv);

/* Marks the open clock in slot excepted with reason. Reply: the new record,
 * or nil if the slot is not open. */
int timers_store_except(sp_redis *r, int shard, const char *slot, const char *reason,
                        sp_redis_cb cb, void *priv);

#endif
