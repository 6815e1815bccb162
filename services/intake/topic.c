/* topic.c - commands from the commands topic. See topic.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "erase.h"
#include "log.h"
#include "submit.h"
#include "topic.h"

typedef struct topic_batch {
    sp_service *s;
    size_t outstanding;
    int retry;
} topic_batch;

typedef struct topic_msg {
    topic_batch *b;
    rd_kafka_message_t *m;
} topic_msg;

static void batch_step(topic_batch *b) {
    if (--b->outstanding > 0) return;
    sp_consumer *c = b->s->consumer;
    int retry = b->retry;
    free(b);
    if (retry) sp_consumer_batch_retry(c, 1000);
    else sp_consumer_batch_done(c);
}

static void deadlettered(rd_kafka_resp_err_t err, void *opaque) {
    topic_batch *b = opaque;
    if (err) b->retry = 1; /* not parked anywhere: keep the offset */
    batch_step(b);
}

static void refuse(topic_batch *b, const rd_kafka_message_t *m, const char *reason) {
    sp_warn("intake: command at %s/%d/%lld refused: %s", rd_kafka_topic_name(m->rkt),
            m->partition, (long long)m->offset, reason);
    b->outstanding++;
    if (sp_service_deadletter(b->s, m, reason, deadlettered, b)) {
        b->outstanding--;
        b->retry = 1;
    }
}

/* "400 Invalid command: date: is required; assess: must be true or false" */
static void describe(const intake_result *res, char *buf, size_t size) {
    size_t o = (size_t)snprintf(buf, size, "%d %s%s%s", res->status,
                                res->title ? res->title : "", res->detail[0] ? ": " : "",
                                res->detail);
    const cJSON *e;
    cJSON_ArrayForEach(e, res->errors) {
        if (o >= size) break;
        o += (size_t)snprintf(buf + o, size - o, "; %s: %s",
                              cJSON_GetStringValue(cJSON_GetObjectItem(e, "field")),
                              cJSON_GetStringValue(cJSON_GetObjectItem(e, "reason")));
    }
}

static void submitted(sp_service *s, intake_result *res, void *opaque) {
    topic_msg *tm = opaque;
    char reason[1024];
    if (res->status == 503) {
        tm->b->retry = 1;
    } else if (res->status != 201) {
        describe(res, reason, sizeof(reason));
        refuse(tm->b, tm->m, reason);
    }
    batch_step(tm->b);
    free(tm);
}

/* Parses the message within the limits: commands.max_bytes and
 * input.max_depth. Returns the body, or NULL with the dead-letter reason. */
static cJSON *parse_limited(sp_service *s, const rd_kafka_message_t *m, char *reason,
                            size_t size) {
    const intake_conf *conf = s->conf;
    sp_json_limits lim = sp_service_json_limits(s);
    sp_json_refusal why;
    char what[64];
    cJSON *body;

    lim.max_bytes = (size_t)conf->commands_max_bytes;
    body = sp_json_parse_limited(m->payload, m->len, &lim, &why);
    if (!body && why == SP_JSON_INVALID)
        snprintf(reason, size, "400 Invalid command: the message is not a JSON object");
    else if (!body)
        snprintf(reason, size, "%s: the message %s", why == SP_JSON_TOO_BIG ?
                 "413 Too large" : "400 Invalid command",
                 sp_json_refusal_reason(why, &lim, what, sizeof(what)));
    return body;
}

static void submit_one(topic_batch *b, rd_kafka_message_t *m) {
    char reason[128];
    cJSON *body = parse_limited(b->s, m, reason, sizeof(reason));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "command"));
    const char *case_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "case_id"));
    const intake_command *c = name ? intake_command_by_name(name) : NULL;
    topic_msg *tm;
    if (!body) {
        refuse(b, m, reason);
    } else if (!cJSON_IsObject(body)) {
        refuse(b, m, "400 Invalid command: the message is not a JSON object");
    } else if (name && !strcmp(name, "erase")) {
        /* Idempotent by nature: no key needed. Who may produce it is the
         * broker's ACL on this topic (docs/security.md). */
        if ((tm = malloc(sizeof(*tm)))) {
            *tm = (topic_msg){b, m};
            b->outstanding++;
            intake_erase_submit(b->s, case_id, "-", "kafka", submitted, tm);
        } else {
            b->retry = 1;
        }
    } else if (!name || (!c && strcmp(name, "request") && strcmp(name, "sen_support") &&
                         strcmp(name, "plan"))) {
        refuse(b, m, "400 Invalid command: command: is missing or not a known command");
    } else if ((tm = malloc(sizeof(*tm)))) {
        const char *key = intake_idempotency_key(NULL, body);
        tm->b = b;
        tm->m = m;
        b->outstanding++;
        if (c)
            intake_submit_command(b->s, c, case_id, body, key, submitted, tm);
        else
            intake_submit_create(b->s, !strcmp(name, "request") ? INTAKE_CREATE_REQUEST
                                       : !strcmp(name, "plan") ? INTAKE_CREATE_PLAN
                                                               : INTAKE_CREATE_SEN_SUPPORT,
                                 body, key, submitted, tm);
    } else {
        b->retry = 1;
    }
    cJSON_Delete(body);
}

void intake_topic_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    topic_batch *b = calloc(1, sizeof(*b));
    if (!b) {
        sp_consumer_batch_retry(s->consumer, 1000);
        return;
    }
    b->s = s;
    b->outstanding = 1; /* released after the loop */
    for (size_t i = 0; i < n; i++) {
        sp_service_count_in(s);
        submit_one(b, msgs[i]);
    }
    batch_step(b);
}
