/* topic.h - intake's Kafka door: commands from sendpath.commands. */
#ifndef INTAKE_TOPIC_H
#define INTAKE_TOPIC_H

#include "service.h"

/* A batch from the commands topic. Each message is one JSON command:
 *   {"command": "<name>", "case_id": "c_...", "idempotency_key": "...", ...}
 * where name is "request", "sen_support", "plan" or a row of commands.c. A refused
 * command (bad shape, wrong state) goes to the dead-letter topic with the
 * reason in its headers; consumption continues. Storage trouble retries the
 * batch, which idempotency keys make safe. */
void intake_topic_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n);

#endif
