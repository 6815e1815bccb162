/* pipeline.c - a consumer batch: changes, then events, then the offsets.
 * See pipeline.h.
 *
 * With redis.wait_replicas, a stage sits between the changes and the events:
 * the batch's writes must be on that many replicas (WAIT) before anything
 * is published or the offsets stored, so a Redis failover cannot take back
 * a change whose consequences are already out.
 *
 * Once a batch's events are all queued, the pipeline tells the consumer the
 * batch is applied, and the next batch is applied while the broker
 * acknowledges this one's events; the offsets still wait for every
 * acknowledgement, and a failure replays this batch and the later ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "pipeline.h"

typedef struct pipeline_event {
    char *text;
    char key[64];
} pipeline_event;

struct sp_pipeline {
    sp_service *s;
    sp_topic_id topic;
    pipeline_event *out;
    size_t n, cap;
    size_t held;
    int failed, publishing, replicated;
    unsigned retry_ms;
    sp_consumer_batch *applied; /* once published: the consumer moved on */
    void *owned;
};

sp_pipeline *sp_pipeline_new(sp_service *s, sp_topic_id topic) {
    sp_pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        sp_consumer_batch_retry(s->consumer, 500);
        return NULL;
    }
    p->s = s;
    p->topic = topic;
    p->held = 1;
    p->retry_ms = 500;
    return p;
}

sp_service *sp_pipeline_service(const sp_pipeline *p) { return p->s; }
void sp_pipeline_hold(sp_pipeline *p) { p->held++; }
void sp_pipeline_fail(sp_pipeline *p) { p->failed = 1; }
int sp_pipeline_failed(const sp_pipeline *p) { return p->failed; }
void sp_pipeline_set_retry_ms(sp_pipeline *p, unsigned ms) { p->retry_ms = ms; }
void sp_pipeline_own(sp_pipeline *p, void *ptr) { p->owned = ptr; }

void sp_pipeline_emit(sp_pipeline *p, const char *key, char *text) {
    if (!text) {
        p->failed = 1;
        return;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        pipeline_event *o = realloc(p->out, cap * sizeof(*o));
        if (!o) {
            cJSON_free(text);
            p->failed = 1;
            return;
        }
        p->out = o;
        p->cap = cap;
    }
    size_t len = strlen(key);
    if (len >= sizeof(p->out[p->n].key)) len = sizeof(p->out[p->n].key) - 1;
    memcpy(p->out[p->n].key, key, len); /* once per event: no printf */
    p->out[p->n].key[len] = '\0';
    p->out[p->n].text = text;
    p->n++;
}

static void pipeline_free(sp_pipeline *p) {
    for (size_t i = 0; i < p->n; i++) cJSON_free(p->out[i].text);
    free(p->out);
    free(p->owned);
    free(p);
}

static void pipeline_sent(rd_kafka_resp_err_t err, void *opaque) {
    sp_pipeline *p = opaque;
    if (err) {
        sp_error("%s: not delivered: %s", p->s->def->name, rd_kafka_err2str(err));
        p->failed = 1;
    }
    sp_pipeline_release(p);
}

/* Stage 2: every change is in; publish the events in order. */
static void pipeline_publish(sp_pipeline *p) {
    char errstr[256];
    p->publishing = 1;
    p->held = 1;
    for (size_t i = 0; i < p->n && !p->failed; i++) {
        p->held++;
        if (sp_service_publish(p->s, p->topic, p->out[i].key, p->out[i].text,
                               strlen(p->out[i].text), pipeline_sent, p, errstr,
                               sizeof(errstr))) {
            sp_error("%s: %s", p->s->def->name, errstr);
            p->held--;
            p->failed = 1;
        }
    }
    /* Every change is in Redis and every event queued in order behind the
     * last batch's: the consumer may apply the next batch while the broker
     * acknowledges these (consumer.batches_in_flight). */
    if (!p->failed) p->applied = sp_consumer_batch_applied(p->s->consumer);
    sp_pipeline_release(p);
}

static void pipeline_replicated(sp_service *s, int ok, void *opaque) {
    sp_pipeline *p = opaque;
    if (!ok) p->failed = 1;
    sp_pipeline_release(p);
}

/* Stage 1.5: the changes are acknowledged; wait for the replicas. */
static void pipeline_replicate(sp_pipeline *p) {
    p->replicated = 1;
    p->held = 1;
    if (sp_service_redis_wait(p->s, pipeline_replicated, p)) pipeline_replicated(p->s, 0, p);
}

void sp_pipeline_release(sp_pipeline *p) {
    if (--p->held > 0) return;
    if (!p->replicated && !p->failed && p->s->common->redis_wait_replicas > 0) {
        pipeline_replicate(p);
        return;
    }
    if (!p->publishing && !p->failed && p->n > 0) {
        pipeline_publish(p);
        return;
    }
    sp_consumer *c = p->s->consumer;
    sp_consumer_batch *applied = p->applied;
    int failed = p->failed;
    unsigned retry_ms = p->retry_ms;
    pipeline_free(p);
    if (applied) sp_consumer_batch_finish(applied, !failed, retry_ms);
    else if (failed) sp_consumer_batch_retry(c, retry_ms);
    else sp_consumer_batch_done(c);
}

static void pipeline_deadlettered(rd_kafka_resp_err_t err, void *opaque) {
    sp_pipeline *p = opaque;
    if (err) p->failed = 1; /* parked nowhere: keep the offset and retry */
    sp_pipeline_release(p);
}

void sp_pipeline_deadletter(sp_pipeline *p, const rd_kafka_message_t *m, const char *reason) {
    sp_warn("%s: refused %s/%d/%lld: %s", p->s->def->name, rd_kafka_topic_name(m->rkt),
            m->partition, (long long)m->offset, reason);
    p->held++;
    if (sp_service_deadletter(p->s, m, reason, pipeline_deadlettered, p)) {
        p->held--;
        p->failed = 1;
    }
}
