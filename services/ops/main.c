/* main.c - sendpath-ops: the read model, its API and (later) the dashboard.
 *
 * Consumes every topic that says something about a case and applies each
 * event to its own Redis projection (projection.h). A batch's offsets are
 * stored once every event of it is applied, so a crash replays, and the
 * projection's event-id check makes the replay change nothing. */
#include <stdio.h>
#include <stdlib.h>
#include "api.h"
#include "envelope.h"
#include "log.h"
#include "projection.h"
#include "service.h"

typedef struct ops_conf {
    sp_common_conf common;
} ops_conf;

static const sp_conf_def ops_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8105", 0, 65535,
     NULL, "HTTP port of the ops API and dashboard"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct ops_batch {
    sp_service *s;
    size_t outstanding;
    int failed;
} ops_batch;

static void batch_step(ops_batch *b) {
    if (--b->outstanding > 0) return;
    sp_consumer *c = b->s->consumer;
    int failed = b->failed;
    free(b);
    if (failed) sp_consumer_batch_retry(c, 500);
    else sp_consumer_batch_done(c);
}

static void applied_cb(sp_redis *r, redisReply *reply, void *priv) {
    ops_batch *b = priv;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        sp_error("ops: apply failed: %s", reply ? reply->str : "no connection");
        b->failed = 1;
    }
    batch_step(b);
}

static void deadlettered_cb(rd_kafka_resp_err_t err, void *opaque) {
    ops_batch *b = opaque;
    if (err) b->failed = 1;
    batch_step(b);
}

static void ops_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    ops_batch *b = calloc(1, sizeof(*b));
    char errstr[256];
    b->s = s;
    b->outstanding = 1;
    for (size_t i = 0; i < n; i++) {
        sp_event ev;
        sp_service_count_in(s);
        b->outstanding++;
        if (sp_event_parse(msgs[i]->payload, msgs[i]->len, &ev, errstr, sizeof(errstr))) {
            if (sp_service_deadletter(s, msgs[i], errstr, deadlettered_cb, b)) {
                b->failed = 1;
                b->outstanding--;
            }
            continue;
        }
        if (ops_projection_apply(s->redis, &ev, applied_cb, b)) {
            b->failed = 1;
            b->outstanding--;
        }
        sp_event_free(&ev);
    }
    batch_step(b);
}

static int ops_init(sp_service *s, char *errstr, size_t size) {
    ops_api_register(s);
    return 0;
}

static const int ops_topics[] = {SP_TOPIC_CASE_EVENTS, SP_TOPIC_DEADLINES,
                                 SP_TOPIC_EVIDENCE, SP_TOPIC_NOTIFICATIONS, -1};

static const sp_service_def ops_def = {
    .name = "ops",
    .conf_size = sizeof(ops_conf),
    .conf_table = ops_conf_table,
    .consume = ops_topics,
    .init = ops_init,
    .on_batch = ops_on_batch,
};

int main(int argc, char **argv) { return sp_service_main(&ops_def, argc, argv); }
