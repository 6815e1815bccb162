/* gauge.h - what an on-call person needs to see on notify's /metrics that
 * no counter tells: how much is waiting, now.
 *
 *   sendpath_notify_retry_queue_depth  sends in the retry queues (queue.h,
 *                                      every partition's and the old one;
 *                                      waiting for their next attempt, or
 *                                      being tried)
 *   sendpath_notify_waiting_events     events in notify:pending:* (waiting
 *                                      for their case's contact or a fact)
 *   sendpath_notify_waiting_cases      cases with such events
 *   sendpath_notify_digest_clocks      open clocks the digest keeps
 *
 * The numbers live in Redis, shared by every notify process, and a render
 * of /metrics cannot wait for Redis: a timer reads them every
 * GAUGE_REFRESH_MS with one script per partition (on its server, which
 * redis.shards names) and one on redis.host, and the gauges show the sums of
 * the last reading (-1 until the first, or while a server does not answer). */
#ifndef NOTIFY_GAUGE_H
#define NOTIFY_GAUGE_H

#include "notify.h"

typedef struct notify_gauge notify_gauge;

/* Registers the gauges and starts the timer. Returns NULL (no memory). */
notify_gauge *notify_gauge_new(notify_state *st);
void notify_gauge_stop(notify_gauge *g);
/* Closes the timer and frees g (in the close callback). NULL is fine. */
void notify_gauge_close(notify_gauge *g);

#endif
