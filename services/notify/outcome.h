/* outcome.h - what notify says about each attempt, on
 * sendpath.notification-outcomes, and the dead letters of sends that will
 * never work.
 *
 *   notification.sent           <case>/notification.sent/<id>
 *   notification.failed         <case>/notification.failed/<id>/<attempt>
 *   notification.dead_lettered  <case>/notification.dead_lettered/<id>
 *
 * where <id> is the delivery id (the first 32 hex digits of the job's key).
 * A message is sent or dead-lettered once, so those two ids leave the
 * attempt out and stay the same whichever attempt ended it: a republished
 * outcome (after a crash) always has the id of the first. Each failed attempt
 * has its own. data: case_id, event_id, template, recipient_role, channel,
 * printed, outcome (sent, failed, refused or exhausted), attempt, and
 * provider_id (sent), reason (failed, dead-lettered), next_attempt_at
 * (failed). Never an address or a name.
 *
 * A team's daily digest (digest.h) has no case: its outcomes are
 *
 *   notification.digest.sent           team:<team>/notification.digest.sent/<id>
 *   notification.digest.failed         team:<team>/notification.digest.failed/<id>/<attempt>
 *   notification.digest.dead_lettered  team:<team>/notification.digest.dead_lettered/<id>
 *
 * keyed and with subject "team:<team>", data as above without case_id,
 * plus team, day (the digest's day) and catch_up. Nothing goes to the
 * dead-letter topic for a digest: no event caused it.
 *
 * A dead letter's value is the triggering event's text, unchanged, keyed by
 * the case id, with x-reason, x-source-topic "notify:send", x-service and
 * x-delivery-id headers. */
#ifndef NOTIFY_OUTCOME_H
#define NOTIFY_OUTCOME_H

#include <stdint.h>
#include "job.h"
#include "kafka.h"
#include "notify.h"

typedef enum {
    NOTIFY_OUTCOME_SENT,
    NOTIFY_OUTCOME_FAILED,   /* may work later: another attempt is queued */
    NOTIFY_OUTCOME_REFUSED,  /* dead-lettered: the provider refused it */
    NOTIFY_OUTCOME_EXHAUSTED /* dead-lettered: the last attempt failed */
} notify_outcome;

/* "sent", "failed", "refused" or "exhausted": data.outcome. */
const char *notify_outcome_word(notify_outcome o);

/* One attempt's outcome. attempt is job->attempt. detail is the provider id
 * (SENT) or the reason (the others); next_ms the next attempt's Unix ms
 * (FAILED). channel: notify_channel_label(). cb as sp_producer_send. Returns
 * 0, or -1 with errstr (cb not called). */
int notify_outcome_publish(notify_state *st, const notify_job *job, const char *channel,
                           notify_outcome o, const char *detail, int64_t next_ms,
                           sp_produce_cb cb, void *opaque, char *errstr,
                           size_t errstr_size);

/* One attempt's outcome for the team's digest of day (YYYY-MM-DD); as
 * notify_outcome_publish otherwise. */
int notify_outcome_publish_digest(notify_state *st, const notify_job *job,
                                  const char *team, const char *day, int catch_up,
                                  const char *channel, notify_outcome o,
                                  const char *detail, int64_t next_ms, sp_produce_cb cb,
                                  void *opaque, char *errstr, size_t errstr_size);

/* Dead-letters job (REFUSED or EXHAUSTED, with reason): its event to the
 * dead-letter topic, then notification.dead_lettered. cb is called once
 * after both are acknowledged, with the first error. Returns 0, or -1 with
 * errstr (cb not called). */
int notify_outcome_deadletter(notify_state *st, const notify_job *job,
                              const char *channel, notify_outcome o, const char *reason,
                              sp_produce_cb cb, void *opaque, char *errstr,
                              size_t errstr_size);

#endif
