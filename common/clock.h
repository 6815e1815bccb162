/* clock.h - what time it is, for a service.
 *
 * Real by default. In manual mode (tests, demos) time stands still until set,
 * through the service's POST /admin/clock, so a test can make six weeks pass
 * in a second and see exactly which events that produces. Manual time is
 * per process: a test sets it on every service it drives. */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>

typedef struct sp_clock {
    int manual;
    int64_t manual_ms;
} sp_clock;

/* Unix milliseconds now. */
int64_t sp_clock_now_ms(const sp_clock *c);
/* Sets manual time. Returns 0, or -1 if the clock is real. Time may move
 * backwards: tests replaying a scenario need that. */
int sp_clock_set(sp_clock *c, int64_t ms);

#endif
