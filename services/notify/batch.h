/* batch.h - a consumer batch, handled one message at a time, in order.
 *
 * Per message: parse the envelope; an event that opens a case
 * (request.received, sen_support.registered, plan.imported) updates the
 * contact projection, and any event that tells a fact (fact.h) saves it;
 * either then retries whatever was waiting for the case. An event that a
 * route wants is sent if its case's contact and the facts its messages need
 * are known, and waits (notify:pending) if not. Refused messages go to the dead-letter topic and
 * the batch goes on. The batch is done (offsets stored) only when every
 * message is finished: its Redis writes answered, its files written and its
 * outcome events acknowledged by the broker. A failure that may pass (Redis
 * down, disk, broker) retries the whole batch after a backoff; every step is
 * idempotent, so the messages already handled are harmless to see again.
 *
 * One message at a time keeps a case's events in order and makes the state
 * one record. Notify's volume (letters per council per day) is far below
 * what this costs; if it ever matters, messages of different cases can run
 * side by side. */
#ifndef NOTIFY_BATCH_H
#define NOTIFY_BATCH_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "notify.h"

/* Returns a new batch handler (free with notify_batch_free), or NULL. */
notify_batch *notify_batch_new(notify_state *st);
/* The service's on_batch: msgs are valid until the batch is done or retried. */
void notify_batch_run(notify_batch *b, rd_kafka_message_t **msgs, size_t n);
void notify_batch_free(notify_batch *b);

#endif
