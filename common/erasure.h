/* erasure.h - forgetting a case: the marks a service keeps of the cases it
 * has erased, and the sweep of keys that name a case only inside.
 *
 * Intake erases a closed case (UK GDPR erasure, or the end of retention) and
 * publishes case.erased, which carries no personal data. Each consuming
 * service's runtime (screen.h) hands that event to the service's erase hook,
 * which deletes the service's own keys for the case, and then marks the case
 * erased in "<service>:erased", a set of sha256(case id) in hex. From then
 * on the runtime drops every event keyed by an erased case before the
 * service sees it, so an event still on a topic (a replay, an ops rebuild,
 * a deadline timers fired before it heard of the erasure) cannot write the
 * case back, nor make notify write to a family that is no longer known.
 *
 * The mark is a hash, not the case id: after erasure no key or value in
 * Redis names the case. A case id is random and says nothing about the
 * child, so its hash says less; it only answers "was this id erased?" for
 * someone who already holds the id. Marks are kept for ever (about 100
 * bytes each); see docs/security.md. */
#ifndef SP_ERASURE_H
#define SP_ERASURE_H

#include <stddef.h>
#include "redis.h"

#define SP_ERASURE_HASH_HEX 64

/* Writes sha256(case_id) in hex and a NUL into out (65 bytes). */
void sp_erasure_hash(const char *case_id, char *out, size_t size);
/* The set of marks of service svc ("notify:erased") into buf. */
void sp_erasure_set_key(const char *svc, char *buf, size_t size);
/* SADD <svc>:erased sha256(case_id): the reply to cb is the count added. As
 * sp_redis_command: 0 (cb called once) or -1. */
int sp_erasure_mark(sp_redis *r, const char *svc, const char *case_id, sp_redis_cb cb,
                    void *priv);

/* err is 0 once every key found was deleted. */
typedef void (*sp_erasure_cb)(int err, void *opaque);
/* Deletes every key matching pattern (a SCAN MATCH glob, "intake:idem:*")
 * whose value (a string, or any value of a hash) contains case_id: records
 * keyed by something else (an idempotency key's hash) that hold the case.
 * SCAN goes page by page (500 keys), each page checked and deleted by one
 * script, so Redis is never blocked for long, and a key written during the
 * sweep may be missed (the case is closed: nothing should write it).
 * case_id is copied. Returns 0 (cb will be called once) or -1 (not
 * connected, no memory; cb will not be). */
int sp_erasure_sweep(sp_redis *r, const char *pattern, const char *case_id,
                     sp_erasure_cb cb, void *opaque);
/* As sp_erasure_sweep, for hashes shared by many cases (a week's stopped
 * clocks, an index of open clocks): deletes only the fields whose name
 * contains case_id, and keeps the key. */
int sp_erasure_sweep_fields(sp_redis *r, const char *pattern, const char *case_id,
                            sp_erasure_cb cb, void *opaque);
/* As sp_erasure_sweep, over each of n servers in turn (n >= 1; the array
 * is copied, the connections borrowed): a service that spreads its keys
 * over servers (redis.shards) sweeps them all, since a record written
 * before a partition moved to another server can still be on the old one.
 * cb is called once, after the last server, or at the first failure. */
int sp_erasure_sweep_each(sp_redis *const *servers, size_t n, const char *pattern,
                          const char *case_id, sp_erasure_cb cb, void *opaque);

#endif
