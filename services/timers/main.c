/* main.c - sendpath-timers: the statutory clocks.
 *
 * Consumes case events; a rule whose start event arrives arms a clock in
 * Redis and announces it with deadline.started. A batch moves through two
 * stages, each fully acknowledged before the next: Redis writes, then the
 * deadline events. Only then are the batch's offsets stored, so a crash at
 * any point replays the batch, and HSETNX plus deterministic event ids make
 * the replay harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "log.h"
#include "rules.h"
#include "service.h"
#include "store.h"

typedef struct timers_conf {
    sp_common_conf common;
    int receipt_is_day_one;
} timers_conf;

static const sp_conf_def timers_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8103", 0, 65535,
     NULL, "HTTP port of the timers service"},
    {"counting.receipt_is_day_one", SP_CONF_BOOL, offsetof(timers_conf, receipt_is_day_one),
     "no", 0, 0, NULL, "Count the day a request is received as day 1 (due one day "
     "earlier than receipt + N weeks)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* One clock started by this batch, waiting for its Redis write, then its
 * deadline.started event. */
typedef struct started {
    char clock_id[96];
    char case_id[64];
    const timers_rule *rule;
    sp_date base, due;
} started;

typedef struct timers_batch {
    sp_service *s;
    started *items;
    size_t n, cap;
    size_t outstanding;
    int failed;
} timers_batch;

static void batch_finish(timers_batch *b) {
    sp_consumer *c = b->s->consumer;
    int failed = b->failed;
    free(b->items);
    free(b);
    if (failed)
        sp_consumer_batch_retry(c, 500);
    else
        sp_consumer_batch_done(c);
}

static void started_delivered(rd_kafka_resp_err_t err, void *opaque) {
    timers_batch *b = opaque;
    if (err) {
        sp_error("deadline.started not delivered: %s", rd_kafka_err2str(err));
        b->failed = 1;
    }
    if (--b->outstanding == 0) batch_finish(b);
}

static char *started_event(sp_service *s, const started *st) {
    char id[128], base[16], due[16];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "case_id", st->case_id);
    cJSON_AddStringToObject(d, "clock_id", st->clock_id);
    cJSON_AddStringToObject(d, "clock", st->rule->clock);
    cJSON_AddStringToObject(d, "started_on", sp_date_iso(st->base, base, sizeof(base)));
    cJSON_AddStringToObject(d, "due_date", sp_date_iso(st->due, due, sizeof(due)));
    cJSON_AddBoolToObject(d, "excepted", 0);
    snprintf(id, sizeof(id), "%s/started", st->clock_id);
    return sp_event_build_text(id, s->source, "deadline.started", sp_service_now(s),
                               st->case_id, d);
}

/* Stage 2: every clock is in Redis; announce them. */
static void batch_publish(timers_batch *b) {
    char errstr[256];
    if (b->failed || b->n == 0) {
        batch_finish(b);
        return;
    }
    b->outstanding = b->n + 1; /* +1 guards against finishing mid-loop */
    for (size_t i = 0; i < b->n; i++) {
        char *text = started_event(b->s, &b->items[i]);
        if (sp_service_publish(b->s, SP_TOPIC_DEADLINES, b->items[i].case_id, text,
                               strlen(text), started_delivered, b, errstr, sizeof(errstr))) {
            sp_error("%s", errstr);
            b->failed = 1;
            b->outstanding--;
        }
        cJSON_free(text);
    }
    if (--b->outstanding == 0) batch_finish(b);
}

static void armed_cb(sp_redis *r, redisReply *reply, void *priv) {
    timers_batch *b = priv;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        sp_error("timers: arm failed: %s", reply ? reply->str : "no connection");
        b->failed = 1;
    }
    if (--b->outstanding == 0) batch_publish(b);
}

static started *batch_add(timers_batch *b) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        started *n = realloc(b->items, cap * sizeof(*n));
        if (!n) return NULL;
        b->items = n;
        b->cap = cap;
    }
    return memset(&b->items[b->n++], 0, sizeof(started));
}

/* Arms every rule that ev starts. Returns -1 if ev lacks what a rule needs. */
static int apply_starts(timers_batch *b, const sp_event *ev, int shard, char *why,
                        size_t size) {
    timers_conf *conf = b->s->conf;
    timers_counting counting = {conf->receipt_is_day_one};
    for (int i = 0; i < timers_rules_count; i++) {
        const timers_rule *rule = &timers_rules[i];
        const char *base_s = sp_event_str(ev, rule->base_field);
        sp_date base;
        if (strcmp(rule->start_on, ev->type) != 0) continue;
        if (!base_s || sp_date_parse(base_s, &base)) {
            snprintf(why, size, "%s: data.%s must be a date", ev->type, rule->base_field);
            return -1;
        }
        started *st = batch_add(b);
        if (!st) return -1;
        st->rule = rule;
        st->base = base;
        st->due = timers_rule_due(rule, base, &counting);
        snprintf(st->case_id, sizeof(st->case_id), "%s", ev->subject);
        snprintf(st->clock_id, sizeof(st->clock_id), "%s:%s", ev->subject, rule->clock);
        char record[64], due[16];
        snprintf(record, sizeof(record), "%s|due|0", sp_date_iso(st->due, due, sizeof(due)));
        b->outstanding++;
        if (timers_store_arm(b->s->redis, shard, st->clock_id, record,
                             sp_date_start_ms(st->due), armed_cb, b)) {
            b->outstanding--;
            b->failed = 1;
        }
    }
    return 0;
}

static void deadlettered_cb(rd_kafka_resp_err_t err, void *opaque) {
    timers_batch *b = opaque;
    if (err) b->failed = 1; /* not parked: keep the offset, retry the batch */
    if (--b->outstanding == 0) batch_publish(b);
}

static void timers_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    timers_batch *b = calloc(1, sizeof(*b));
    char errstr[256];
    b->s = s;
    b->outstanding = 1; /* released after the loop */
    for (size_t i = 0; i < n && !b->failed; i++) {
        sp_event ev;
        sp_service_count_in(s);
        if (sp_event_parse(msgs[i]->payload, msgs[i]->len, &ev, errstr, sizeof(errstr)) ||
            apply_starts(b, &ev, msgs[i]->partition, errstr, sizeof(errstr))) {
            sp_warn("timers: refused message at %s/%d/%lld: %s",
                    rd_kafka_topic_name(msgs[i]->rkt), msgs[i]->partition,
                    (long long)msgs[i]->offset, errstr);
            b->outstanding++;
            if (sp_service_deadletter(s, msgs[i], errstr, deadlettered_cb, b)) {
                b->outstanding--;
                b->failed = 1;
            }
        }
        sp_event_free(&ev);
    }
    if (--b->outstanding == 0) batch_publish(b);
}

static const int timers_topics[] = {SP_TOPIC_CASE_EVENTS, -1};

static const sp_service_def timers_def = {
    .name = "timers",
    .conf_size = sizeof(timers_conf),
    .conf_table = timers_conf_table,
    .consume = timers_topics,
    .on_batch = timers_on_batch,
};

int main(int argc, char **argv) { return sp_service_main(&timers_def, argc, argv); }
