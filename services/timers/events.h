/* events.h - the deadline events timers publishes, and clock naming.
 *
 * Every deadline event's data starts with the same fields (case_id, clock_id,
 * clock, qualifier, started_on, due_date, excepted, exception_reason), so a
 * consumer can treat them alike; each kind adds its own. Ids are built from
 * the clock instance and the fire's sequence number (record.h), never from
 * time or randomness: re-firing after a crash yields the same id. */
#ifndef TIMERS_EVENTS_H
#define TIMERS_EVENTS_H

#include "record.h"
#include "service.h"

#define TIMERS_SLOT_MAX 160

/* "<case_id>:<clock>[:<qualifier>]". */
void timers_slot_make(char *buf, size_t size, const char *case_id, const char *clock,
                      const char *qualifier);
/* Splits a slot. Each part is copied; qualifier gets "" when there is none.
 * Returns 0 or -1. */
int timers_slot_split(const char *slot, char *case_id, size_t case_size, char *clock,
                      size_t clock_size, char *qualifier, size_t qual_size);

/* Each returns a new event text (free with cJSON_free) or NULL. */
char *timers_event_started(sp_service *s, const char *slot, const timers_record *r);
char *timers_event_fire(sp_service *s, const char *slot, const timers_record *r,
                        int seq, const timers_fire_point *p);
/* The same two as pure functions of the source and the time (the ones
 * above pass the service's): tests/unit/test_events.c checks their text
 * against the fields a consumer reads. */
char *timers_event_started_text(const char *source, int64_t now_ms, const char *slot,
                                const timers_record *r);
char *timers_event_fire_text(const char *source, int64_t now_ms, const char *slot,
                             const timers_record *r, int seq, const timers_fire_point *p);
/* met: 1 deadline.met (on_time = on <= due), 0 deadline.cancelled. by: the
 * event type that stopped it. */
char *timers_event_stopped(sp_service *s, const char *slot, const timers_record *r,
                           int met, sp_date on, const char *by);
char *timers_event_excepted(sp_service *s, const char *slot, const timers_record *r);

#endif
