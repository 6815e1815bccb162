/* main.c - sendpath-evidence: advice requested from professionals, and their
 * returns.
 *
 * Foundation stage: the service joins the stack, consumes case events and
 * acknowledges them, so its consumer group, health and metrics are real.
 * Advice requests (reg 6) are driven from decisions to assess, which arrive
 * with the casework commands. */
#include <stdlib.h>
#include "envelope.h"
#include "log.h"
#include "service.h"

typedef struct evidence_conf {
    sp_common_conf common;
} evidence_conf;

static const sp_conf_def evidence_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8102", 0, 65535,
     NULL, "HTTP port of the evidence API"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static void evidence_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    for (size_t i = 0; i < n; i++) sp_service_count_in(s);
    sp_consumer_batch_done(s->consumer);
}

static const int evidence_topics[] = {SP_TOPIC_CASE_EVENTS, -1};

static const sp_service_def evidence_def = {
    .name = "evidence",
    .conf_size = sizeof(evidence_conf),
    .conf_table = evidence_conf_table,
    .consume = evidence_topics,
    .on_batch = evidence_on_batch,
};

int main(int argc, char **argv) { return sp_service_main(&evidence_def, argc, argv); }
