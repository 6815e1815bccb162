/* erase.h - case.erased at ops: the read model forgets the case, and keeps
 * only what SEN2 counts need, with nothing that says whose it was.
 *
 * Dropped: ops:case, ops:timeline, ops:clocks and ops:seen of the case, its
 * row in its shard's ops:who:{s<p>} and any open clock of it in ops:dl:{s<p>}.
 *
 * Kept, anonymously: a decision or final plan the case counted in
 * (ops:sen2:decided, ops:sen2:issued) stays in its day with the case id
 * replaced by "erased_<20 hex>" (a hash of the id), and that id's
 * ops:case hash holds only the two facts the timeliness figures read: the
 * date the request was received and whether the final plan's clock was
 * excepted ("1", never the reason). Annual reviews met late
 * (ops:sen2:arlate) keep their day under the same anonymous id. So the SEN2
 * figures (GET /v1/stats) do not change when a case is erased. The
 * anonymous id is not a case id: no API route accepts it. A rebuild
 * (sendpath-ops --rebuild) starts the SEN2 sets again from the topics, on
 * which erased cases' events are dropped, so it loses these rows: erased
 * cases then no longer count (docs/security.md).
 *
 * OPS_ERASED_KEY, the marks of erased cases, survives a rebuild. */
#ifndef OPS_ERASE_H
#define OPS_ERASE_H

#include "service.h"

#define OPS_ERASED_KEY "ops:erased" /* common/erasure.h: "<service>:erased" */

/* The service's erase hook (service.h). */
int ops_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
              void *opaque);

#endif
