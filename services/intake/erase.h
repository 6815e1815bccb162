/* erase.h - erasing a closed case (UK GDPR erasure, or the end of the
 * authority's retention period for case records).
 *
 *   POST   /v1/cases/{id}/erase   scope admin
 *   DELETE /v1/cases/{id}         scope admin, the same
 *   {"command": "erase", "case_id": ...} on the commands topic
 *
 * Allowed only once the case is withdrawn or closed (409 otherwise), and,
 * with erasure.after_days set, only that many days after the date it was
 * closed. Idempotent: erasing an erased case answers as the first time.
 *
 * Order: publish case.erased (no personal data: the case id, the date and
 * the state it was in) and wait for the broker; then delete intake's keys
 * for the case and mark it erased (one script); then sweep the idempotency
 * records that name it. Publishing first means a crash anywhere leaves the
 * case erasable again, and a retry republishes the same event id, which
 * every service handles twice harmlessly; deleting first could lose the
 * event with nothing left to retry from. Every other service erases its own
 * keys when it sees the event (common/screen.h). */
#ifndef INTAKE_ERASE_H
#define INTAKE_ERASE_H

#include "service.h"
#include "submit.h"

/* Erases case_id. who: the token's name, or "-" (for the log line); via:
 * "http" or "kafka". cb gets 201 (done; replayed when it was done before),
 * 404, 409 or 503, as every intake command. */
void intake_erase_submit(sp_service *s, const char *case_id, const char *who,
                         const char *via, intake_done_cb cb, void *opaque);
/* The two HTTP routes. Returns 0 or -1 (route table full). */
int intake_erase_register(sp_service *s);
/* Answers a GET for a case intake does not hold: 410 Gone if it was
 * erased, else 404. */
void intake_erase_answer_missing(sp_service *s, sp_http_req *r, const char *case_id);

#endif
