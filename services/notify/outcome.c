/* outcome.c - outcome events and dead letters. See outcome.h.
 *
 * The outcomes are a table (event type, outcome word, whether the attempt
 * is in the id), so the three event shapes are one builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dates.h"
#include "outcome.h"

static const struct {
    const char *type, *word;
    int attempt_in_id;
    const char *detail; /* the data field detail goes into */
} outcomes[] = {
    [NOTIFY_OUTCOME_SENT] = {"notification.sent", "sent", 0, "provider_id"},
    [NOTIFY_OUTCOME_FAILED] = {"notification.failed", "failed", 1, "reason"},
    [NOTIFY_OUTCOME_REFUSED] = {"notification.dead_lettered", "refused", 0, "reason"},
    [NOTIFY_OUTCOME_EXHAUSTED] = {"notification.dead_lettered", "exhausted", 0, "reason"},
};

/* The same three shapes for a team's daily digest (no case). */
static const char *const digest_types[] = {
    [NOTIFY_OUTCOME_SENT] = "notification.digest.sent",
    [NOTIFY_OUTCOME_FAILED] = "notification.digest.failed",
    [NOTIFY_OUTCOME_REFUSED] = "notification.digest.dead_lettered",
    [NOTIFY_OUTCOME_EXHAUSTED] = "notification.digest.dead_lettered",
};

const char *notify_outcome_word(notify_outcome o) { return outcomes[o].word; }

static cJSON *outcome_data(const notify_job *job, const char *channel, notify_outcome o,
                           const char *detail, int64_t next_ms) {
    cJSON *data = cJSON_CreateObject();
    char ts[32];
    cJSON_AddStringToObject(data, "case_id", job->case_id);
    cJSON_AddStringToObject(data, "event_id", job->event_id);
    cJSON_AddStringToObject(data, "template", job->template_name);
    cJSON_AddStringToObject(data, "recipient_role", job->role);
    cJSON_AddStringToObject(data, "channel", channel);
    cJSON_AddBoolToObject(data, "printed", job->printed);
    cJSON_AddStringToObject(data, "outcome", outcomes[o].word);
    cJSON_AddNumberToObject(data, "attempt", job->attempt);
    if (detail && *detail) cJSON_AddStringToObject(data, outcomes[o].detail, detail);
    if (o == NOTIFY_OUTCOME_FAILED)
        cJSON_AddStringToObject(data, "next_attempt_at",
                                sp_time_rfc3339(next_ms, ts, sizeof(ts)));
    return data;
}

int notify_outcome_publish(notify_state *st, const notify_job *job, const char *channel,
                           notify_outcome o, const char *detail, int64_t next_ms,
                           sp_produce_cb cb, void *opaque, char *errstr, size_t size) {
    sp_service *s = st->s;
    char id[256];
    int n = snprintf(id, sizeof(id), "%s/%s/%.*s", job->case_id, outcomes[o].type,
                     NOTIFY_JOB_ID_HEX, job->key);
    if (outcomes[o].attempt_in_id)
        snprintf(id + n, sizeof(id) - (size_t)n, "/%d", job->attempt);
    char *text = sp_event_build_text(id, s->source, outcomes[o].type, sp_service_now(s),
                                     job->case_id,
                                     outcome_data(job, channel, o, detail, next_ms));
    if (!text) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    int rc = sp_service_publish(s, SP_TOPIC_NOTIFICATIONS, job->case_id, text,
                                strlen(text), cb, opaque, errstr, size);
    cJSON_free(text);
    return rc;
}

int notify_outcome_publish_digest(notify_state *st, const notify_job *job,
                                  const char *team, const char *day, int catch_up,
                                  const char *channel, notify_outcome o,
                                  const char *detail, int64_t next_ms, sp_produce_cb cb,
                                  void *opaque, char *errstr, size_t size) {
    sp_service *s = st->s;
    char id[256], subject[96];
    snprintf(subject, sizeof(subject), "team:%s", team);
    int n = snprintf(id, sizeof(id), "%s/%s/%.*s", subject, digest_types[o],
                     NOTIFY_JOB_ID_HEX, job->key);
    if (outcomes[o].attempt_in_id)
        snprintf(id + n, sizeof(id) - (size_t)n, "/%d", job->attempt);
    cJSON *data = outcome_data(job, channel, o, detail, next_ms);
    cJSON_DeleteItemFromObjectCaseSensitive(data, "case_id");
    cJSON_AddStringToObject(data, "team", team);
    cJSON_AddStringToObject(data, "day", day);
    cJSON_AddBoolToObject(data, "catch_up", catch_up);
    char *text = sp_event_build_text(id, s->source, digest_types[o], sp_service_now(s),
                                     subject, data);
    if (!text) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    int rc = sp_service_publish(s, SP_TOPIC_NOTIFICATIONS, subject, text, strlen(text), cb,
                                opaque, errstr, size);
    cJSON_free(text);
    return rc;
}

/* ---- dead letters: two messages, one callback ------------------------------ */

typedef struct deadletter {
    int pending;
    rd_kafka_resp_err_t err;
    sp_produce_cb cb;
    void *opaque;
} deadletter;

static void deadletter_acked(rd_kafka_resp_err_t err, void *opaque) {
    deadletter *dl = opaque;
    if (err && !dl->err) dl->err = err;
    if (--dl->pending) return;
    dl->cb(dl->err, dl->opaque);
    free(dl);
}

int notify_outcome_deadletter(notify_state *st, const notify_job *job,
                              const char *channel, notify_outcome o, const char *reason,
                              sp_produce_cb cb, void *opaque, char *errstr, size_t size) {
    char id[NOTIFY_JOB_ID_HEX + 1];
    deadletter *dl = calloc(1, sizeof(*dl));
    if (!dl) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    *dl = (deadletter){2, RD_KAFKA_RESP_ERR_NO_ERROR, cb, opaque};
    snprintf(id, sizeof(id), "%.*s", NOTIFY_JOB_ID_HEX, job->key);
    sp_header extra[] = {{"x-delivery-id", id}};
    if (sp_service_deadletter_text(st->s, job->case_id, job->event, job->event_len,
                                   "notify:send", reason, extra, 1, deadletter_acked, dl,
                                   errstr, size)) {
        free(dl);
        return -1;
    }
    if (notify_outcome_publish(st, job, channel, o, reason, 0, deadletter_acked, dl,
                               errstr, size))
        deadletter_acked(RD_KAFKA_RESP_ERR__FAIL, dl); /* the first is out: end once */
    return 0;
}
