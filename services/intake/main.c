/* main.c - sendpath-intake: the front door for commands.
 *
 * Accepts commands over HTTP (api.c) and from the commands topic (topic.c),
 * checks them against the command table and the case's state (commands.c),
 * and publishes the accepted facts on the case-events topic (submit.c). A
 * command is answered only after the broker has acknowledged its event: a
 * 201 means the fact is durable and every other service will see it. */
#include <stddef.h>
#include "api.h"
#include "erase.h"
#include "repair.h"
#include "submit.h"
#include "topic.h"

static const sp_conf_def intake_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8101", 0, 65535,
     NULL, "HTTP port of the intake API"},
    {"idempotency.ttl_s", SP_CONF_INT, offsetof(intake_conf, idem_ttl_s), "7776000",
     60, 315360000, NULL, "How long a command's idempotency key is remembered (s)"},
    {"commands.max_bytes", SP_CONF_INT, offsetof(intake_conf, commands_max_bytes),
     "1048576", 256, 67108864, NULL,
     "Largest message taken from the commands topic; a larger one goes to the "
     "dead-letter topic"},
    {"erasure.after_days", SP_CONF_INT, offsetof(intake_conf, erase_after_days), "0", 0,
     36500, NULL,
     "Days after a case was withdrawn or closed before it may be erased (the "
     "authority's retention period); 0: at once"},
    {"repair.after_s", SP_CONF_INT, offsetof(intake_conf, repair_after_s), "60", 1,
     86400, NULL,
     "A request's event still unpublished after this long (its intake died, or the "
     "broker failed it and the client never retried) is published by intake itself"},
    {"repair.interval_ms", SP_CONF_INT, offsetof(intake_conf, repair_interval_ms), "5000",
     100, 3600000, NULL, "How often intake looks for such requests (ms)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static int intake_init(sp_service *s, char *errstr, size_t size) {
    if (intake_api_register(s) || intake_erase_register(s)) {
        snprintf(errstr, size, "intake: too many HTTP routes");
        return -1;
    }
    return intake_repair_start(s, errstr, size);
}

static const int intake_topics[] = {SP_TOPIC_COMMANDS, -1};

static const sp_service_def intake_def = {
    .name = "intake",
    .conf_size = sizeof(intake_conf),
    .conf_table = intake_conf_table,
    .consume = intake_topics,
    /* Every key on its case's partition's server (the child record's too:
     * a new case's id is drawn on its child's partition, submit.c). */
    .redis_by_partition = 1,
    .init = intake_init,
    .on_batch = intake_topic_batch,
    .stop = intake_repair_stop,
};

int main(int argc, char **argv) { return sp_service_main(&intake_def, argc, argv); }
