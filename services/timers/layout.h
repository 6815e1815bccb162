/* layout.h - how a clock's slot is written in Redis, in both layouts.
 *
 * Layout 1 (until November 2026) stored the slot as the service names it,
 * "<case_id>:<clock>[:<qualifier>]", e.g. 47 bytes for
 * "c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess", and it is stored twice
 * (the record bucket's field and q's member). Layout 2 drops the case id's
 * "c_" and writes a built-in clock as a one-character code:
 * "01M83ZVG008Q4VZ7M2N5P6R9S3:A", 28 bytes, which fits q's member in
 * jemalloc's 32-byte class instead of the 56-byte one (docs/performance.md).
 *
 * New arms write layout 2; every read takes either, so clocks armed before
 * an upgrade keep firing and stopping (docs/deploy.md). A stored slot is
 * layout 2 when its case part does not start with "c_" (a case id always
 * does, sp_case_id_valid) and its clock part is a code; anything else is
 * layout 1. Local milestones (timers.milestones) have no code and keep
 * layout 1. Codes are fixed for ever: a new built-in clock gets a new code,
 * and a code is never reused. Events and logs always carry layout 1 (the
 * clock_id of an event is made from it), so the layout is Redis's alone. */
#ifndef TIMERS_LAYOUT_H
#define TIMERS_LAYOUT_H

#include <stddef.h>

/* Which layout new writes use: 2 (the default), or 1 while a rolling
 * upgrade from a timers that knows only layout 1 is under way (the
 * timers.store.layout setting, docs/deploy.md). Reads take both always. */
void timers_layout_set(int layout);
int timers_layout_get(void);

/* The stored slot of slot, in the layout new writes use. Writes it into out and returns its
 * length; a slot without a code or not of a "c_" case is copied as it is.
 * -1 if out is too small. */
int timers_layout_store(const char *slot, char *out, size_t size);

/* The slot as the service names it (layout 1) of a stored slot of either
 * layout. Returns its length, or -1 if out is too small. */
int timers_layout_slot(const char *stored, char *out, size_t size);

/* The case part of case_id's layout 2 slots (case_id without "c_"). */
const char *timers_layout_case(const char *case_id);

/* The code of a built-in clock, or NULL (a local milestone). */
const char *timers_layout_code(const char *clock);

#endif
