/* gauges.h - sendpath_deadlines{clock,state}: open deadlines on /metrics.
 *
 * Alert rules are written against exactly this name and these labels:
 *   sendpath_deadlines{clock="<clock>",state="open|approaching|overdue"}
 * The states are the deadline lists' (deadlines.h), so a gauge and the list
 * it summarises always agree. A render cannot wait for Redis, so the gauges
 * are refreshed from ops:dl every ops.gauge_interval_ms and whenever the
 * manual clock is set; a scrape reads the last refresh. A clock that had
 * deadlines and has none now reads 0 rather than vanishing, so an alert on
 * it resolves. */
#ifndef OPS_GAUGES_H
#define OPS_GAUGES_H

#include "ops.h"

typedef struct ops_gauges ops_gauges;

/* Starts the refresh timer. Returns NULL on allocation failure. */
ops_gauges *ops_gauges_start(sp_service *s, unsigned interval_ms);
/* Refreshes now (a refresh in flight is let finish first). */
void ops_gauges_refresh(ops_gauges *g);
/* Stops the timer; frees g once its handle is closed and no read is out. */
void ops_gauges_stop(ops_gauges *g);

#endif
