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
#include "pipeline.h"
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

static void applied_cb(sp_redis *r, redisReply *reply, void *priv) {
    sp_pipeline *p = priv;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        sp_error("ops: apply failed: %s", reply ? reply->str : "no connection");
        sp_pipeline_fail(p);
    }
    sp_pipeline_release(p);
}

static void ops_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    sp_pipeline *p = sp_pipeline_new(s, SP_TOPIC_DEADLETTER); /* ops publishes nothing */
    char errstr[256];
    if (!p) return;
    for (size_t i = 0; i < n && !sp_pipeline_failed(p); i++) {
        sp_event ev;
        sp_service_count_in(s);
        if (sp_event_parse(msgs[i]->payload, msgs[i]->len, &ev, errstr, sizeof(errstr))) {
            sp_pipeline_deadletter(p, msgs[i], errstr);
            continue;
        }
        sp_pipeline_hold(p);
        if (ops_projection_apply(s->redis, &ev, applied_cb, p)) {
            sp_pipeline_fail(p);
            sp_pipeline_release(p);
        }
        sp_event_free(&ev);
    }
    sp_pipeline_release(p);
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
