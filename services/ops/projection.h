/* projection.h - ops's read model: every case as ops teams see it.
 *
 * Built only from the topics, so it can be dropped and rebuilt from offset
 * zero with the same result (sendpath-ops --rebuild). Keys, owned by ops
 * alone (docs/architecture.md lists them too):
 *
 *   ops:case:<case>      hash  status, dates, child's name, school, the
 *                              decision and issue dates SEN2 counts, advice
 *                              asked (adv:<adviser>) and returned (advr:...),
 *                              exceptions (exc:<clock>)
 *   ops:timeline:<case>  list  one JSON entry per event, in arrival order
 *   ops:clocks:<case>    hash  clock id -> JSON {clock, due_date, status...}
 *   ops:seen:<case>      set   event ids applied (a repeat is dropped)
 *   ops:dl               hash  clock id -> "case\tclock\tdue\tstarted\texcepted"
 *                              for every open clock an authority must meet
 *                              (informational ones, the parent's appeal
 *                              window, are left out): the deadline lists
 *   ops:who              hash  case -> "school urn\tchild's initials", the
 *                              list rows' join, one HMGET per page
 *   ops:sen2:decided     zset  case by decision day (days since 1970)
 *   ops:sen2:issued      zset  case by final plan day
 *   ops:sen2:arlate      zset  annual review clock id by due day, met late
 *
 * Each event is applied by one Lua script (EVALSHA): the event-id check and
 * the writes are atomic, so a replayed event changes nothing. The script is
 * generic - C decides the writes, the script only does them once - so adding
 * an event kind is a C change. Writes of a consumer batch go out pipelined
 * on one connection; nothing waits for a reply before the next is sent. */
#ifndef OPS_PROJECTION_H
#define OPS_PROJECTION_H

#include "envelope.h"
#include "redis.h"

/* The script's text and its SHA1 (41 bytes, hex and NUL). */
extern const char ops_projection_script[];
void ops_projection_sha(char sha[41]);

/* Applies ev with EVALSHA sha. Returns 0 (cb called with the script's reply:
 * 1 applied, 0 a repeat, or a NOSCRIPT error after a Redis restart: load the
 * script with ops_projection_load() and retry) or -1 (not connected, cb not
 * called), or -2 (the event is too big to apply: dead-letter it). An event
 * ops does not know is still put on the case's timeline. */
int ops_projection_apply(sp_redis *r, const char *sha, const sp_event *ev,
                         sp_redis_cb cb, void *priv);
/* Sends SCRIPT LOAD; cb as sp_redis_command. */
int ops_projection_load(sp_redis *r, sp_redis_cb cb, void *priv);

#endif
