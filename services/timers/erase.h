/* erase.h - case.erased at timers: the case's clocks go, without a word.
 *
 * A case is erasable only once withdrawn or closed, when timers has already
 * cancelled its clocks (deadline.cancelled). What is left is dropped from
 * the case's shard: any record still armed in its bucket and the fire queue,
 * its cancel index (x) and closed-case tombstone (z), and its stopped
 * clocks' outcomes in the week hashes (d), which are swept since their week
 * is that of the stop. No event is published: every consumer drops the
 * case's events from now on (common/screen.h), so a deadline.cancelled now
 * would be dropped unread. */
#ifndef TIMERS_ERASE_H
#define TIMERS_ERASE_H

#include "service.h"

/* The service's erase hook (service.h); partition is the case's shard. */
int timers_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque);

#endif
