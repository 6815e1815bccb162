/* deliver.c - one message, exactly once. The protocol is in deliver.h.
 *
 * The crash window, explicitly: between the rename into new/ (step 2) and
 * Redis acknowledging "sent" (step 3). A crash there leaves the key at
 * "sending"; the redelivered event writes the same file name again, which
 * replaces the first copy, or finds it in cur/ and leaves it. A duplicate
 * needs both that crash and a reader that took the file out of new/ and
 * did not leave it in cur/ within those few milliseconds. Outside the window
 * a redelivery either writes the first copy ("sending" before the rename) or
 * only republishes the outcome ("sent").
 *
 * A delivery is a heap record that walks the steps through callbacks: every
 * step either calls the next or ends the record with one result. Errors that
 * may pass (Redis, disk, broker) end in RETRY and the batch is retried from
 * its first message; the protocol makes that harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "deliver.h"
#include "log.h"
#include "message.h"
#include "store.h"

#define DELIVER_ID_HEX 32 /* hex digits of the key in file names and ids */

typedef struct deliver {
    notify_state *st;
    const notify_route *route;
    char case_id[128];
    char event_id[256];
    char key[NOTIFY_SENT_KEY_HEX + 1];
    char name[96];
    notify_outbox_item item;
    char *message, *letter;
    int recovering;
    notify_deliver_cb cb;
    void *opaque;
} deliver;

static void deliver_end(deliver *d, notify_deliver_result res, const char *reason) {
    if (res == NOTIFY_DELIVER_RETRY)
        sp_log(SP_LOG_WARN, d->case_id, "%s to %s: %s", d->route->template_name,
               d->route->role, reason);
    d->cb(res, reason, d->opaque);
    free(d->message);
    free(d->letter);
    free(d);
}

/* ---- step 4: the outcome event --------------------------------------------- */

static void outcome_delivered(rd_kafka_resp_err_t err, void *opaque) {
    deliver *d = opaque;
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, rd_kafka_err2str(err));
        return;
    }
    deliver_end(d, NOTIFY_DELIVER_DONE, NULL);
}

static void outcome_publish(deliver *d) {
    sp_service *s = d->st->s;
    char id[256], errstr[256];
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "case_id", d->case_id);
    cJSON_AddStringToObject(data, "event_id", d->event_id);
    cJSON_AddStringToObject(data, "template", d->route->template_name);
    cJSON_AddStringToObject(data, "recipient_role", d->route->role);
    cJSON_AddStringToObject(data, "channel", d->item.message ? "outbox" : "print");
    cJSON_AddBoolToObject(data, "printed", d->item.letter != NULL);
    cJSON_AddStringToObject(data, "outcome", "sent");
    cJSON_AddStringToObject(data, "provider_id", d->name);
    snprintf(id, sizeof(id), "%s/notification.sent/%.*s", d->case_id, DELIVER_ID_HEX,
             d->key);
    char *text = sp_event_build_text(id, s->source, "notification.sent",
                                     sp_service_now(s), d->case_id, data);
    if (!text) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, "out of memory");
        return;
    }
    int rc = sp_service_publish(s, SP_TOPIC_NOTIFICATIONS, d->case_id, text,
                                strlen(text), outcome_delivered, d, errstr, sizeof(errstr));
    cJSON_free(text);
    if (rc) deliver_end(d, NOTIFY_DELIVER_RETRY, errstr);
}

/* ---- steps 2 and 3: write, then mark --------------------------------------- */

static void deliver_marked(int err, void *opaque) {
    deliver *d = opaque;
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis: cannot mark sent");
        return;
    }
    sp_metric_inc(d->st->m_sent);
    sp_log(SP_LOG_INFO, d->case_id, "%s written for %s as %s%s",
           d->route->template_name, d->route->role, d->name,
           d->recovering ? " (again, after an unfinished attempt)" : "");
    outcome_publish(d);
}

static void deliver_written(int err, const char *errmsg, void *opaque) {
    deliver *d = opaque;
    if (err) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, errmsg);
        return;
    }
    if (notify_store_sent_mark(d->st->s->redis, d->key, d->st->conf->sent_ttl_s,
                               deliver_marked, d))
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis not connected");
}

static void deliver_reserved(notify_sent_state state, void *opaque) {
    deliver *d = opaque;
    char errstr[256];
    switch (state) {
    case NOTIFY_SENT_ERROR:
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis: cannot reserve");
        return;
    case NOTIFY_SENT_DONE: /* written before; make sure the outcome is out */
        sp_metric_inc(d->st->m_repeats);
        sp_log(SP_LOG_DEBUG, d->case_id, "%s for %s already sent; outcome republished",
               d->route->template_name, d->route->role);
        outcome_publish(d);
        return;
    case NOTIFY_SENT_SENDING:
    case NOTIFY_SENT_NEW:
        d->recovering = d->item.recovering = (state == NOTIFY_SENT_SENDING);
        if (notify_outbox_write(&d->st->outbox, &d->item, deliver_written, d, errstr,
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
    int len = snprintf(in, sizeof(in), "%s|%s|%s", d->event_id, d->route->role,
                       d->route->template_name);
    EVP_Digest(in, (size_t)len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++) snprintf(d->key + 2 * i, 3, "%02x", md[i]);
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
    snprintf(mid, sizeof(mid), "%.*s@sendpath", DELIVER_ID_HEX, d->key);
    notify_message m = {d->st->conf->from, to->name, to->email, subject, body, mid,
                        sp_service_now(d->st->s), d->case_id, d->event_id,
                        tpl->name};
    if (to->email && !(d->message = notify_message_build(&m, &d->item.message_len,
                                                         errstr, size)))
        goto out;
    if (to->address && !(d->letter = notify_message_letter(&m, to->address,
                                                           &d->item.letter_len,
                                                           errstr, size)))
        goto out;
    rc = 0;
out:
    free(subject);
    free(body);
    return rc;
}

static int deliver_prepare(deliver *d, const sp_event *ev, const notify_contact *c,
                           char *errstr, size_t size) {
    const sp_template *tpl = d->st->route_templates[d->route - notify_routes];
    notify_recipient to;
    if (notify_route_recipient(d->route, c, &to)) return 1;
    deliver_key(d);
    if (deliver_render(d, tpl, ev, c, &to, errstr, size)) return -1;
    snprintf(d->name, sizeof(d->name), "%lld.N%.*s.sendpath",
             (long long)(ev->time_ms / 1000), DELIVER_ID_HEX, d->key);
    d->item.name = d->name;
    d->item.message = d->message;
    d->item.letter = d->letter;
    return 0;
}

void notify_deliver(notify_state *st, size_t row, const sp_event *ev,
                    const notify_contact *c, notify_deliver_cb cb, void *opaque) {
    char errstr[256];
    deliver *d = calloc(1, sizeof(*d));
    if (!d) {
        cb(NOTIFY_DELIVER_RETRY, "out of memory", opaque);
        return;
    }
    d->st = st;
    d->route = &notify_routes[row];
    d->cb = cb;
    d->opaque = opaque;
    snprintf(d->case_id, sizeof(d->case_id), "%s", ev->subject);
    snprintf(d->event_id, sizeof(d->event_id), "%s", ev->id);
    int rc = deliver_prepare(d, ev, c, errstr, sizeof(errstr));
    if (rc > 0) { /* nobody to send to: not the event's fault, nothing to retry */
        sp_metric_inc(st->m_unreachable);
        sp_log(SP_LOG_WARN, d->case_id, "%s: no address for %s, not sent",
               d->route->template_name, d->route->role);
        deliver_end(d, NOTIFY_DELIVER_DONE, NULL);
    } else if (rc < 0) {
        sp_service_count_error(st->s);
        deliver_end(d, NOTIFY_DELIVER_REFUSED, errstr);
    } else if (notify_store_sent_reserve(st->s->redis, d->key, st->conf->sent_ttl_s,
                                         deliver_reserved, d)) {
        deliver_end(d, NOTIFY_DELIVER_RETRY, "redis not connected");
    }
}
