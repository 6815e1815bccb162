/* timeline.h - one entry of a case's timeline (ops:timeline:<case>): the
 * JSON text the case API returns, one per event.
 *
 *   {"id":...,"type":...,"time":...,"business_date":...,
 *    then each of clock, clock_id, due_date, adviser, template,
 *    recipient_role, channel, outcome, reason, by that the event's data
 *    holds as a string}
 *
 * Written straight into the batch's arena, escaped byte for byte as
 * cJSON_PrintUnformatted escapes (common/json_escape.h; the entries of earlier releases were
 * printed by cJSON, and tests/unit/test_timeline.c compares the two): a
 * cJSON tree built, printed and freed per event was 9% of the rebuild's
 * CPU (docs/performance.md). */
#ifndef OPS_TIMELINE_H
#define OPS_TIMELINE_H

#include "batch.h"
#include "envelope.h"

/* ev's entry as the next argument of b's current write. On allocation
 * failure the batch is marked failed (batch.h). */
void ops_timeline_arg(ops_batch *b, const sp_event *ev);

/* The date the event is about: the business date the regulations count
 * from (received_date, date, plan_date, met_on, cancelled_on, started_on),
 * else the day it was recorded, formatted into buf. */
const char *ops_timeline_business_date(const sp_event *ev, char *buf, size_t size);

#endif
