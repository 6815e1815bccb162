/* batch.h - a consumer batch, its cases side by side, each case's events in
 * order.
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
 * Messages of one case (one key) are handled one at a time, in order, so a
 * case's state changes as it did on the topic; messages of different cases
 * run side by side, up to lanes cases at once (notify.batch.cases), so that
 * a batch costs a few round trips to Redis, the disk and the broker rather
 * than a few per message. A failure stops the batch from taking new
 * messages; what is in flight finishes, then the whole batch is retried. */
#ifndef NOTIFY_BATCH_H
#define NOTIFY_BATCH_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "notify.h"

/* Returns a new batch handler running up to lanes cases at once (free with
 * notify_batch_free), or NULL. */
notify_batch *notify_batch_new(notify_state *st, size_t lanes);
/* The service's on_batch: msgs are valid until the batch is done or retried. */
void notify_batch_run(notify_batch *b, rd_kafka_message_t **msgs, size_t n);
void notify_batch_free(notify_batch *b);

#endif
