/* events.h - the events the evidence service publishes, on the evidence
 * topic (sendpath.evidence-events), keyed by case id.
 *
 *   advice.requested  id <case>/advice.requested/<adviser>
 *       data {case_id, adviser, date, request_received_date?, recipient_role,
 *             recipient_email?}
 *   advice.received   id <case>/advice.received/<adviser>
 *       data {case_id, adviser, date, document_ref, author}
 *   evidence.complete id <case>/evidence.complete
 *       data {case_id, date}
 *
 * Ids are deterministic: a request re-announced after a replay, or a return
 * republished after a crash, has the id it had the first time, and consumers
 * (timers, ops) drop the repeat. data.date is the business date: the day the
 * request was sent, the day the advice was received, the day the last advice
 * came in. No due date travels here: timers owns the clocks. */
#ifndef EVIDENCE_EVENTS_H
#define EVIDENCE_EVENTS_H

#include "advisers.h"
#include "service.h"

/* Each returns a new string (free with cJSON_free), or NULL when out of
 * memory. request_received_date may be NULL. */
char *evidence_event_requested(sp_service *s, const char *case_id, const char *adviser,
                               const char *date, const char *request_received_date,
                               const evidence_recipient *to);
char *evidence_event_received(sp_service *s, const char *case_id, const char *adviser,
                              const char *date, const char *document_ref,
                              const char *author);
char *evidence_event_complete(sp_service *s, const char *case_id, const char *date);
/* A copy of an event's text as stored (a held or re-announced event), in
 * the same allocator: free with cJSON_free. NULL when out of memory. */
char *evidence_event_copy(const char *text);

#endif
