/* projection.h - ops's read model: every case as ops teams see it.
 *
 * Built only from the topics, so it can be thrown away and rebuilt from
 * offset zero with the same result. Keys (owned by ops alone):
 *
 *   ops:case:<case_id>      hash   status, dates, school, child's name
 *   ops:timeline:<case_id>  list   one JSON entry per event, in order
 *   ops:clocks:<case_id>    hash   clock name -> JSON {due_date, state, ...}
 *   ops:seen:<case_id>      set    event ids applied (repeats are dropped)
 *
 * Each event is applied by one Lua script, so the dedupe check and the writes
 * are atomic: a replayed event changes nothing. */
#ifndef OPS_PROJECTION_H
#define OPS_PROJECTION_H

#include "envelope.h"
#include "redis.h"

/* Applies ev. Returns 0 (cb called with the script's reply: 1 applied, 0 a
 * repeat) or -1 (not connected, cb not called). An event ops does not know is
 * still put on the case's timeline. */
int ops_projection_apply(sp_redis *r, const sp_event *ev, sp_redis_cb cb, void *priv);

#endif
