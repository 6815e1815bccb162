/* screen.h - what the runtime does with a consumer batch before the service
 * sees it: limits on size and depth, and erased cases.
 *
 *   1. Limits. A message longer than consumer.max_bytes, or whose JSON nests
 *      deeper than consumer.max_depth, goes to the dead-letter topic with the
 *      reason ("413 Too large: the message is larger than N bytes", "400
 *      Invalid event: the message nests deeper than N levels") and the
 *      service never parses it. The commands topic is left to intake, which
 *      applies commands.max_bytes and input.max_depth with reasons of its own.
 *   2. Erasure, for a service with an erase hook (service.h): each
 *      case.erased event runs the hook and then marks the case erased
 *      (erasure.h); every other message keyed by an erased case, in this
 *      batch or any later one, is dropped. A service that sets
 *      erase_in_order has its batches cut before an erasure that follows
 *      events of its case (sp_screen_cut), so those are applied first, as
 *      they would have been had they come in an earlier batch; otherwise
 *      they are dropped with the rest.
 *   3. What is left goes to the service's on_batch; when nothing is, the
 *      batch is done here.
 *
 * Anything that fails (a dead letter not acknowledged, Redis down, a hook
 * failing) retries the whole batch, as the pipeline does, and the retry is
 * screened again: at least once, so a refused message may be dead-lettered
 * twice and a hook must be idempotent. The consumer hands out one batch at a
 * time, so one screen per service holds the batch's state. */
#ifndef SP_SCREEN_H
#define SP_SCREEN_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

struct sp_service;
typedef struct sp_screen sp_screen;

/* For up to batch_max messages a batch. Returns NULL when out of memory. */
sp_screen *sp_screen_new(struct sp_service *s, size_t batch_max);
void sp_screen_free(sp_screen *sc);
/* Screens a batch (the consumer's, borrowed until done or retried) and hands
 * the rest on. */
void sp_screen_batch(sp_screen *sc, rd_kafka_message_t **msgs, size_t n);

/* The consumer's cut (kafka.h, sp_consumer_options) for a service with
 * erase_in_order: 1 if m names case.erased and one of the n messages of
 * batch has its key. The type is only searched for, not parsed: a message
 * that merely mentions it cuts a batch in vain, which is harmless. */
int sp_screen_cut(rd_kafka_message_t *const *batch, size_t n, const rd_kafka_message_t *m,
                  void *opaque);

/* Why m breaks the limits (writes the dead-letter reason into reason and
 * returns 1), or 0 when it is within them. max_bytes, max_depth: 0 for no
 * limit. Exposed for the unit tests. */
int sp_screen_refuse(const void *payload, size_t len, size_t max_bytes, int max_depth,
                     char *reason, size_t size);

#endif
