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
 *   ops:seen:<case>      set   event ids applied, less the case id they
 *                              start with (a repeat is dropped)
 * and, one of each per shard (Kafka partition p, on p's Redis server):
 *   ops:dl:{s<p>}        hash  clock id -> "case\tclock\tdue\tstarted\texcepted"
 *                              for every open clock an authority must meet
 *                              (informational ones, the parent's appeal
 *                              window, are left out): the deadline lists
 *   ops:who:{s<p>}       hash  case -> "school urn\tchild's initials", the
 *                              list rows' join, one HMGET per page
 *   ops:sen2:decided:{s<p>} zset  case by decision day (days since 1970)
 *   ops:sen2:issued:{s<p>}  zset  case by final plan day
 *   ops:sen2:arlate:{s<p>}  zset  annual review clock id by due day, met late
 *
 * A consumer batch is applied by one script call (batch.h): each event's
 * id is checked against its case's seen set and its writes done only if new,
 * atomically, so a replayed event changes nothing. This module decides the
 * writes - adding an event kind is a C change - and the script only does
 * them once. */
#ifndef OPS_PROJECTION_H
#define OPS_PROJECTION_H

#include "batch.h"
#include "envelope.h"

/* Adds ev's writes to the batch (every string is copied: ev may be freed
 * after). An event ops does not know is still put on the case's timeline. */
void ops_projection_add(ops_batch *b, const sp_event *ev);
/* 0 for an event about no case: a team's daily digest outcome
 * (notification.digest.*, subject "team:<team>"). The read model is per
 * case, so ops skips it, neither applied nor dead-lettered. */
int ops_projection_wants(const sp_event *ev);

#endif
