/* repair.h - republishes the events of requests that never finished.
 *
 * A command is reserved in Redis (the case, the child's open case, the
 * event text: store.h) before its event is published, and marked done once
 * the broker has it. If intake dies in between, or the broker fails the
 * publish and the client never retries with the same key, the case exists
 * in Redis, holds the child's one open request, and no other service has
 * heard of it: no clock runs. The sweep here finds reservations pending
 * longer than repair.after_s (intake:pending) and publishes their held event
 * itself, with the event id the first attempt gave it, so a consumer that
 * did see the first attempt drops the second as a repeat.
 *
 * Every intake instance sweeps; a Lua lease (store.h) keeps two from taking
 * the same reservation in one period, and a double publish is harmless for
 * the same reason as above. */
#ifndef INTAKE_REPAIR_H
#define INTAKE_REPAIR_H

#include "service.h"

/* Starts the sweep on s's loop (repair.interval_ms). Returns 0, or -1 with
 * errstr filled (out of memory). */
int intake_repair_start(sp_service *s, char *errstr, size_t size);
/* Stops the sweep's timer; a sweep in flight finishes on its own, and
 * republished events still unacknowledged are flushed with the producer at
 * shutdown (unmarked ones are swept again by the next start). */
void intake_repair_stop(sp_service *s);

#endif
