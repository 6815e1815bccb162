/* kafka.h - a Kafka producer and a batch consumer on a libuv loop.
 *
 * librdkafka runs its own threads; we never block the loop on it. Each handle's
 * queue has io events enabled (rd_kafka_queue_io_event_enable): librdkafka
 * writes a byte to a pipe when the queue goes from empty to non-empty, a
 * uv_poll wakes us, and we drain the queue fully. A slow uv_timer is the
 * backstop the librdkafka docs advise, in case a wake-up is missed.
 *
 * Producer: idempotent, acks=all. Every send takes a callback that is called
 * exactly once, on the loop, with the broker's verdict (delivery report), or
 * not at all if sp_producer_send() itself returns -1.
 *
 * Consumer: at-least-once. Messages are handed to the service in batches; the
 * service calls sp_consumer_batch_done() when every message of the batch has
 * been fully processed (its Redis writes acknowledged, its own events
 * delivered). Only then are the batch's offsets stored, and librdkafka commits
 * stored offsets in the background and on close. A crash replays at most the
 * unfinished batches; event ids make the replay harmless downstream.
 *
 * Batches in flight: batches are applied strictly one after another (a case's
 * events in order), but a service whose batch is applied and only waits (for
 * the broker to acknowledge the events it produced) says so with
 * sp_consumer_batch_applied(), and the consumer hands out the next batch
 * while it waits, up to inflight_max batches out at once. Offsets are stored
 * strictly in order: a batch's only when it and every older batch are done.
 * When a batch fails, it and every later batch are handed out again, in
 * order, once all of them have settled: the same replay a restart from the
 * stored offsets would make. A service that never calls
 * sp_consumer_batch_applied() gets one batch at a time. */
#ifndef SP_KAFKA_H
#define SP_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <uv.h>
#include "config.h"
#include "metrics.h"

typedef struct sp_producer sp_producer;
typedef struct sp_consumer sp_consumer;
/* A batch out, from sp_consumer_batch_applied(); owned by the consumer. */
typedef struct sp_consumer_batch sp_consumer_batch;

/* err is RD_KAFKA_RESP_ERR_NO_ERROR on success. */
typedef void (*sp_produce_cb)(rd_kafka_resp_err_t err, void *opaque);

typedef struct sp_header {
    const char *name;
    const char *value;
} sp_header;

/* settings: librdkafka properties (bootstrap.servers at least); a key
 * prefixed "producer." or "consumer." applies to that kind of client only. Ours are
 * applied first (enable.idempotence=true, acks=all, linger.ms=5) so the
 * caller's settings win. Returns a new producer, or NULL with errstr. */
sp_producer *sp_producer_new(uv_loop_t *loop, const sp_conf_kvs *settings,
                             char *errstr, size_t errstr_size);
/* Queues one message. key, value and headers are copied. On 0, cb will be
 * called once with the delivery report; on -1 (errstr filled: queue full,
 * unknown topic...) it will not. */
int sp_producer_send(sp_producer *p, const char *topic, const char *key,
                     const void *value, size_t len, const sp_header *headers,
                     size_t nheaders, sp_produce_cb cb, void *opaque,
                     char *errstr, size_t errstr_size);
/* Messages queued and not yet reported. */
size_t sp_producer_inflight(const sp_producer *p);
/* Where the producer reports on itself: latency (a histogram) observes the
 * seconds from sp_producer_send() to a successful delivery report, which is
 * what a caller waiting for the broker actually waits; errors (a counter)
 * counts sends refused up front and failed delivery reports. Either may be
 * NULL. Borrowed: both must outlive the producer. */
void sp_producer_set_metrics(sp_producer *p, sp_metric *latency, sp_metric *errors);
rd_kafka_t *sp_producer_handle(sp_producer *p);
/* Waits (blocking, up to timeout_ms) for outstanding deliveries, serving their
 * callbacks, then frees the producer and its handles. Call once the loop has
 * nothing left to send; the uv handles are closed, so run the loop after. */
void sp_producer_close(sp_producer *p, int timeout_ms);

/* The partition, of count, a producer puts a message keyed by key on: the
 * CRC-32 of the key modulo count (rd_kafka_msg_partitioner_consistent),
 * which is what librdkafka's default partitioner, consistent_random, does
 * for every non-empty key. Our producers and kcat use that default;
 * sp_kafka_partitioner_check refuses settings that change it. */
int sp_kafka_partition_of(const char *key, int count);
/* 0 if settings leave the partitioner as consistent_random or consistent
 * (so sp_kafka_partition_of holds); -1 with errstr naming the setting. */
int sp_kafka_partitioner_check(const sp_conf_kvs *settings, char *errstr, size_t size);

/* A batch of messages: valid until the batch is done (sp_consumer_batch_done,
 * or sp_consumer_batch_finish once applied) or retried. */
typedef void (*sp_consume_cb)(sp_consumer *c, rd_kafka_message_t **msgs,
                              size_t n, void *opaque);
/* Partitions assigned to or revoked from this instance (rebalance). */
typedef void (*sp_rebalance_cb)(sp_consumer *c, int assigned,
                                const rd_kafka_topic_partition_list_t *parts,
                                void *opaque);

typedef struct sp_consumer_options {
    const char *group_id;
    const char *const *topics; /* NULL-terminated */
    size_t batch_max;          /* messages per batch; 0 = 500 */
    size_t inflight_max;       /* batches out at once (applied, waiting); 0 = 1 */
    sp_consume_cb on_batch;
    sp_rebalance_cb on_rebalance; /* may be NULL */
    void *opaque;
    /* May be NULL. Asked of each message polled while a batch fills, with
     * the n >= 1 messages taken so far: 1 ends the batch before m, which
     * then opens the next batch (held by the consumer meanwhile; dropped,
     * unstored, if its partition is revoked). For a message that must be
     * applied after everything before it is done (screen.h: an erasure
     * that follows events of its case). */
    int (*cut)(rd_kafka_message_t *const *batch, size_t n, const rd_kafka_message_t *m,
               void *opaque);
} sp_consumer_options;

sp_consumer *sp_consumer_new(uv_loop_t *loop, const sp_conf_kvs *settings,
                             const sp_consumer_options *opt, char *errstr,
                             size_t errstr_size);
/* The current batch (the one handed to on_batch last) is fully processed:
 * its offsets are stored once every older batch's are; poll for more. */
void sp_consumer_batch_done(sp_consumer *c);
/* The current batch failed for a reason that may pass (Redis down): hand the
 * same messages to on_batch again after delay_ms. Nothing is stored. */
void sp_consumer_batch_retry(sp_consumer *c, unsigned delay_ms);
/* The current batch's changes are all applied and every event it produced
 * is queued to the producer; what is left is waiting. The next batch may be
 * handed out now. Returns the batch, to be finished with
 * sp_consumer_batch_finish() (never with _done/_retry, which are about the
 * next one now), or NULL if no batch is out (a bug, logged). */
sp_consumer_batch *sp_consumer_batch_applied(sp_consumer *c);
/* An applied batch is done (ok) or failed: failed, it and every later batch
 * are handed to on_batch again, in order, retry_ms after the last of them
 * settles. Nothing of a failed batch, nor of any later one, is stored. */
void sp_consumer_batch_finish(sp_consumer_batch *b, int ok, unsigned retry_ms);
/* Where the consumer reports on itself: processed (a counter) counts the
 * messages of every batch done, once each, however often the batch was
 * retried; retries (a counter) counts sp_consumer_batch_retry() calls.
 * Either may be NULL. Borrowed: both must outlive the consumer. */
void sp_consumer_set_metrics(sp_consumer *c, sp_metric *processed, sp_metric *retries);
/* Number of partitions currently assigned, and whether any batch is out. */
int sp_consumer_assigned(const sp_consumer *c);
/* 1 once the group has given this consumer an assignment, even an empty
 * one (more instances than partitions): the brokers, the credentials and
 * the group coordinator all worked at least once. Stays 1 through later
 * rebalances. */
int sp_consumer_joined(const sp_consumer *c);
int sp_consumer_busy(const sp_consumer *c);
/* Messages of topic (NULL: of every topic) not yet fully processed: the sum
 * of (high watermark - position) over the assigned partitions, from the
 * watermarks librdkafka last fetched, plus those in the batches out. 0 when none is assigned, -1 when unknown. */
int64_t sp_consumer_lag(const sp_consumer *c, const char *topic);
rd_kafka_t *sp_consumer_handle(sp_consumer *c);
/* Stops handing out new batches. cb is called once the batches in flight (if
 * any) are done or given up; then call sp_consumer_close(). */
void sp_consumer_stop(sp_consumer *c, void (*cb)(void *opaque), void *opaque);
/* Commits stored offsets, leaves the group, frees everything. Blocks for at
 * most timeout_ms (the broker may be gone); then closes regardless. */
void sp_consumer_close(sp_consumer *c, int timeout_ms);

/* Copies a message's header value into buf (NUL-terminated). Returns 0 or -1. */
int sp_kafka_header(const rd_kafka_message_t *m, const char *name, char *buf,
                    size_t size);

#endif
