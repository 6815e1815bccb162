/* pipeline.h - one consumer batch through a service: changes, then events.
 *
 * Every consuming service does the same three things with a batch, and this
 * is where they are written once:
 *
 *   1. apply each message: Redis scripts, dead letters, each an asynchronous
 *      operation held open with sp_pipeline_hold() and closed with
 *      sp_pipeline_release(); the events the changes produce are appended, in
 *      message order, with sp_pipeline_emit();
 *   2. when every operation of stage 1 is closed, publish the events in order
 *      and wait for the broker to acknowledge each; meanwhile the consumer
 *      hands out the next batch (sp_consumer_batch_applied), so a service's
 *      batch state must not outlive stage 1 unless the pipeline owns it;
 *   3. then sp_consumer_batch_done(); or, if anything failed (Redis down, a
 *      send refused), sp_consumer_batch_retry() and nothing is stored.
 *
 * A pipeline frees itself at the end. It starts held once, for the loop that
 * applies the messages: release it after the loop. */
#ifndef SP_PIPELINE_H
#define SP_PIPELINE_H

#include "service.h"

typedef struct sp_pipeline sp_pipeline;

/* Events are published on topic. Returns NULL (and retries the batch) on
 * allocation failure. */
sp_pipeline *sp_pipeline_new(sp_service *s, sp_topic_id topic);
sp_service *sp_pipeline_service(const sp_pipeline *p);

void sp_pipeline_hold(sp_pipeline *p);
/* Closes one operation; the last close moves the pipeline on. */
void sp_pipeline_release(sp_pipeline *p);
/* Marks the batch failed: it will be retried, not acknowledged. */
void sp_pipeline_fail(sp_pipeline *p);
int sp_pipeline_failed(const sp_pipeline *p);

/* Appends an event to publish, keyed by key. Takes ownership of text (a
 * cJSON allocation: free with cJSON_free); NULL text fails the batch. */
void sp_pipeline_emit(sp_pipeline *p, const char *key, char *text);
/* Sends m to the dead-letter topic with reason, as an operation of stage 1. */
void sp_pipeline_deadletter(sp_pipeline *p, const rd_kafka_message_t *m, const char *reason);

/* Frees ptr (with free()) when the pipeline ends: a service's per-batch
 * state that its operations point to. */
void sp_pipeline_own(sp_pipeline *p, void *ptr);

/* Retry delay for a failed batch, default 500 ms. */
void sp_pipeline_set_retry_ms(sp_pipeline *p, unsigned ms);

#endif
