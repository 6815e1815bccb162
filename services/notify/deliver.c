/* deliver.c - one message, exactly once. The protocol is in deliver.h.
 *
 * The crash windows, explicitly: between the channel taking the message
 * (step 3) and Redis acknowledging the mark (step 4). A crash there leaves
 * the key at "sending", and the redelivered event sends again: harmless for
 * the outbox (same file name), a second copy for smtp and notify (same
 * Message-ID, same Notify reference). Outside the window a redelivery
 * either sends the first copy ("sending" before the channel took it) or
 * only republishes the outcome ("sent").
 *
 * A delivery is a heap record that walks the steps through callbacks: every
 * step either calls the next or ends the record with one result. Errors that
 * may pass (Redis, disk, broker) end in RETRY and the batch is retried from
 * its first message; the protocol makes that harmless. A provider's "later"
 * is not such an error: retry.c takes the job and the delivery is DONE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "deliver.h"
#include "log.h"
#include "message.h"
#include "outcome.h"
#include "retry.h"
#include "store.h"

typedef struct deliver {
    notify_state *st;
    const notify_route *route;
    notify_job job;
    char *letter;
    size_t letter_len;
    char provider_id[160];
    notify_deliver_cb cb; /* NULL once called: the outcome is queued */
    notify_deliver_ack_cb ack;
    void *opaque;
} deliver;

static void deliver_free(deliver *d) {
    notify_job_free(&d->job);
    free(d->letter);
    free(d);
}

static void deliver_end(deliver *d, notify_deliver_result res, const char *reason) {
    if (res == NOTIFY_DELIVER_RETRY)
        sp_log(SP_LOG_WARN, d->job.case_id, "%s to %s: %s", d->route->template_name,
               d->route->role, reason);
    d->cb(res, reason, d->opaque);
    if (d->ack) d->ack(0, d->opaque); /* nothing of this delivery to wait for */
    deliver_free(d);
}

/* ---- step 5: the outcome event --------------------------------------------- */

static void outcome_delivered(rd_kafka_resp_err_t err, void *opaque) {
    deliver *d = opaque;
    if (!d->cb) { /* DONE was reported when the event was queued */
        if (err)
            sp_log(SP_LOG_WARN, d->job.case_id, "%s to %s: outcome: %s",
                   d->route->template_name, d->route->role, rd_kafka_err2str(err));
        d->ack(err ? -1 : 0, d->opaque);
        deliver_free(d);
        return;
    }
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, rd_kafka_err2str(err));
        return;
    }
    deliver_end(d, NOTIFY_DELIVER_DONE, NULL);
}

static void outcome_publish(deliver *d) {
    notify_state *st = d->st;
    char errstr[256];
    if (notify_outcome_publish(st, &d->job, notify_channel_label(&st->channel, &d->job),
                               NOTIFY_OUTCOME_SENT, d->provider_id, 0, outcome_delivered,
                               d, errstr, sizeof(errstr))) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
        return;
    }
    if (d->ack) { /* the caller waits for the broker elsewhere: go on */
        notify_deliver_cb cb = d->cb;
        d->cb = NULL;
        cb(NOTIFY_DELIVER_DONE, NULL, d->opaque);
    }
}

/* ---- steps 3 and 4: send, then mark ---------------------------------------- */

static void deliver_marked(int err, void *opaque) {
    deliver *d = opaque;
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis: cannot mark sent");
        return;
    }
    sp_metric_inc(d->st->m_sent);
    sp_log(SP_LOG_INFO, d->job.case_id, "%s sent to %s on %s as %s%s",
           d->route->template_name, d->route->role,
           notify_channel_label(&d->st->channel, &d->job), d->provider_id,
           d->job.recovering ? " (again, after an unfinished attempt)" : "");
    outcome_publish(d);
}

static void deliver_queued(int err, const char *errmsg, void *opaque) {
    deliver *d = opaque;
    deliver_end(d, err ? NOTIFY_DELIVER_RETRY : NOTIFY_DELIVER_DONE, errmsg);
}

static void deliver_sent(notify_send_outcome res, const char *provider_id,
                         const char *reason, void *opaque) {
    deliver *d = opaque;
    notify_state *st = d->st;
    char errstr[256];
    if (res == NOTIFY_SEND_SENT) {
        snprintf(d->provider_id, sizeof(d->provider_id), "%s", provider_id);
        if (notify_store_sent_mark(notify_retry_redis(st, d->job.partition), d->job.key,
                                   d->job.attempt, d->provider_id, st->conf->sent_ttl_s,
                                   deliver_marked, d))
            deliver_end(d, NOTIFY_DELIVER_RETRY, "redis not connected");
    } else if (st->channel.def->local && res == NOTIFY_SEND_RETRY) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, reason);
    } else if (notify_retry_failed(st->retry, &d->job, 0, res, reason, deliver_queued, d,
                                   errstr, sizeof(errstr))) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
    }
}

static void deliver_send(deliver *d) {
    char errstr[256];
    if (!d->job.to_email) { /* a letter only: it is written */
        deliver_sent(NOTIFY_SEND_SENT, d->job.name, NULL, d);
        return;
    }
    if (notify_channel_send(&d->st->channel, &d->job, deliver_sent, d, errstr,
                            sizeof(errstr)))
        deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
}

/* ---- step 2: the letter ------------------------------------------------------ */

static void letter_written(int err, const char *errmsg, void *opaque) {
    deliver *d = opaque;
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, errmsg);
        return;
    }
    deliver_send(d);
}

static void deliver_reserved(notify_sent_state state, int attempt, const char *provider_id,
                             void *opaque) {
    deliver *d = opaque;
    char errstr[256];
    switch (state) {
    case NOTIFY_SENT_ERROR:
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis: cannot reserve");
        return;
    case NOTIFY_SENT_DONE: /* sent before; make sure the outcome is out */
        sp_metric_inc(d->st->m_repeats);
        sp_log(SP_LOG_DEBUG, d->job.case_id, "%s for %s already sent; outcome republished",
               d->route->template_name, d->route->role);
        d->job.attempt = attempt;
        snprintf(d->provider_id, sizeof(d->provider_id), "%s",
                 *provider_id ? provider_id : d->job.name); /* "": an outbox-era mark */
        outcome_publish(d);
        return;
    case NOTIFY_SENT_QUEUED:
        sp_log(SP_LOG_DEBUG, d->job.case_id, "%s for %s is in the retry queue or "
               "dead-lettered; left to it", d->route->template_name, d->route->role);
        deliver_end(d, NOTIFY_DELIVER_DONE, NULL);
        return;
    case NOTIFY_SENT_SENDING:
    case NOTIFY_SENT_NEW:
        d->job.recovering = state == NOTIFY_SENT_SENDING;
        d->job.attempt = 1;
        if (!d->letter) {
            deliver_send(d);
            return;
        }
        notify_outbox_item item = {.name = d->job.name, .letter = d->letter,
                                   .letter_len = d->letter_len,
                                   .recovering = d->job.recovering};
        if (notify_outbox_write(&d->st->outbox, &item, letter_written, d, errstr,
                                sizeof(errstr)))
            deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
        return;
    }
}

/* ---- step 0: render and check ---------------------------------------------- */

static void deliver_key(deliver *d) {
    unsigned char md[32];
    unsigned int n = 0;
    char in[512];
    int len = snprintf(in, sizeof(in), "%s|%s|%s", d->job.event_id, d->route->role,
                       d->route->template_name);
    EVP_Digest(in, (size_t)len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++) snprintf(d->job.key + 2 * i, 3, "%02x", md[i]);
}

/* The placeholder values as Notify's personalisation. */
static cJSON *personalisation(const notify_values *v) {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < v->n; i++)
        cJSON_AddStringToObject(o, v->vars[i].name, v->vars[i].value);
    return o;
}

/* Renders the message (and letter) into d. Returns 0, or -1 with errstr. */
static int deliver_render(deliver *d, const sp_template *tpl, const sp_event *ev,
                          const notify_contact *c, const notify_recipient *to,
                          char *errstr, size_t size) {
    notify_values v;
    char *subject = NULL, *body = NULL, mid[64];
    int rc = -1;
    if (notify_route_values(d->route, ev, c, &v, errstr, size) ||
        sp_template_render(tpl, v.vars, v.n, &subject, &body, errstr, size))
        return -1;
    notify_message m = {.from = d->st->conf->from, .reply_to = d->st->conf->reply_to,
                        .to_name = to->name, .to_email = to->email, .subject = subject,
                        .body = body,
                        .message_id = notify_job_message_id(&d->job, mid, sizeof(mid)),
                        .date_ms = sp_service_now(d->st->s), .case_id = d->job.case_id,
                        .event_id = d->job.event_id, .template_name = tpl->name};
    if (!(d->job.personalisation = personalisation(&v))) {
        snprintf(errstr, size, "out of memory");
        goto out;
    }
    if (to->email && !(d->job.message = notify_message_build(&m, &d->job.message_len,
                                                             errstr, size)))
        goto out;
    if (to->address && !(d->letter = notify_message_letter(&m, to->address,
                                                           &d->letter_len, errstr, size)))
        goto out;
    rc = 0;
out:
    free(subject);
    free(body);
    return rc;
}

/* Fills the job's copies. Returns 0 or -1 (no memory). */
static int job_fill(deliver *d, const sp_event *ev, const char *text, size_t len,
                    const notify_recipient *to) {
    notify_job *j = &d->job;
    char name[96];
    snprintf(name, sizeof(name), "%lld.N%.*s.sendpath", (long long)(ev->time_ms / 1000),
             NOTIFY_JOB_ID_HEX, j->key);
    j->template_name = strdup(d->route->template_name);
    j->role = strdup(d->route->role);
    j->name = strdup(name);
    j->to_email = to->email ? strdup(to->email) : NULL;
    j->event = strndup(text, len);
    j->event_len = len;
    return j->template_name && j->role && j->name && j->event &&
                   (!to->email || j->to_email) ? 0 : -1;
}

/* Returns 0 (ready), 1 (nobody to send to), 2 with errstr (no memory: retry)
 * or -1 with errstr (refused). */
static int deliver_prepare(deliver *d, const sp_event *ev, const char *text, size_t len,
                           const notify_contact *c, char *errstr, size_t size) {
    const sp_template *tpl = d->st->route_templates[d->route - notify_routes];
    notify_recipient to;
    if (notify_route_recipient(d->route, c, &to)) return 1;
    deliver_key(d);
    if (job_fill(d, ev, text, len, &to)) {
        snprintf(errstr, size, "out of memory");
        return 2;
    }
    if (deliver_render(d, tpl, ev, c, &to, errstr, size)) return -1;
    d->job.printed = d->letter != NULL;
    if (to.email && notify_channel_check(&d->st->channel, &d->job, errstr, size)) return -1;
    return 0;
}

void notify_deliver(notify_state *st, size_t row, int partition, const sp_event *ev,
                    const char *text, size_t len, const notify_contact *c,
                    notify_deliver_cb cb, notify_deliver_ack_cb ack, void *opaque) {
    char errstr[256];
    deliver *d = calloc(1, sizeof(*d));
    if (!d || !(d->job.case_id = strdup(ev->subject)) ||
        !(d->job.event_id = strdup(ev->id))) {
        if (d) free(d->job.case_id);
        free(d);
        cb(NOTIFY_DELIVER_RETRY, "out of memory", opaque);
        if (ack) ack(0, opaque);
        return;
    }
    d->st = st;
    d->job.partition = partition;
    d->route = &notify_routes[row];
    d->cb = cb;
    d->ack = ack;
    d->opaque = opaque;
    int rc = deliver_prepare(d, ev, text, len, c, errstr, sizeof(errstr));
    if (rc == 2) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
    } else if (rc == 1) { /* nobody to send to: not the event's fault, nothing to retry */
        sp_metric_inc(st->m_unreachable);
        sp_log(SP_LOG_WARN, d->job.case_id, "%s: no address for %s, not sent",
               d->route->template_name, d->route->role);
        deliver_end(d, NOTIFY_DELIVER_DONE, NULL);
    } else if (rc < 0) {
        sp_service_count_error(st->s);
        deliver_end(d, NOTIFY_DELIVER_REFUSED, errstr);
    } else if (notify_store_sent_reserve(notify_retry_redis(st, partition), d->job.key,
                                         st->conf->sent_ttl_s, deliver_reserved, d)) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis not connected");
    }
}
