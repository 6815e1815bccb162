/* service.h - the runtime every sendpath service is built on.
 *
 * A service is one process with one libuv loop that owns: the config, the
 * HTTP server (with /healthz, /readyz, /metrics and /admin/clock), a Redis
 * connection, a Kafka producer and, if the service consumes, a batch consumer.
 * A service's main.c fills an sp_service_def (its name, config rows, topics,
 * and hooks) and calls sp_service_main(); everything generic (start-up,
 * readiness, metrics, graceful shutdown) lives here, written once.
 *
 * SIGHUP reloads auth.tokens_file (a bad file keeps the tokens in use).
 *
 * Shutdown on SIGTERM or SIGINT: stop accepting HTTP connections, stop taking
 * new batches, let the batch in flight finish, wait (bounded) for HTTP answers
 * and Kafka deliveries still out, commit offsets, close, exit 0. */
#ifndef SP_SERVICE_H
#define SP_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"
#include "redis.h"
#include "topics.h"
#include "redis_shards.h"
#include "validate.h"

/* Settings every service has. A service's own config struct must start with
 * this struct (so the common rows' offsets apply to it). */
typedef struct sp_common_conf {
    int log_level;
    char *http_bind;
    long long http_port;
    char *redis_host;
    long long redis_port;
    char *redis_password;
    long long redis_timeout_ms;
    char *redis_shards;
    char *redis_sentinels;
    char *redis_sentinel_master;
    char *redis_sentinel_password;
    long long redis_wait_replicas;
    char *bootstrap_file;
    int clock_mode;
    char *clock_start;
    long long batch_max;
    long long batches_in_flight;
    long long shutdown_timeout_ms;
    char *var_dir;
    char *group_id;
    int auth_enabled;
    char *auth_tokens_file;
    char *tls_cert_file;
    char *tls_key_file;
    /* Limits on what clients send (see docs/security.md). */
    long long http_max_body;
    long long http_rate_limit;
    long long http_rate_burst;
    long long input_max_depth;
    /* Reverse proxies whose X-Forwarded-For names the client (http.h). */
    char *http_trusted_proxies;
    /* Limits on messages from the topics other than commands (screen.h). */
    long long consumer_max_bytes;
    long long consumer_max_depth;
} sp_common_conf;

extern const sp_conf_def sp_common_conf_table[]; /* service_conf.c */

typedef struct sp_service sp_service;

/* err is 0 once the service's keys for the case are gone. */
typedef void (*sp_erase_cb)(sp_service *s, int err, void *opaque);

typedef struct sp_service_def {
    const char *name; /* "timers": binary sendpath-timers, config prefix */
    size_t conf_size; /* sizeof the service's config struct */
    const sp_conf_def *conf_table; /* its own rows (may re-declare common ones) */
    const int *consume; /* topic ids, -1 terminated; NULL: no consumer */
    /* 1: every Redis call names its partition (sp_service_redis), so
     * redis.shards can spread the keys over servers; 0: redis.shards is
     * ignored and every key is on redis.host. */
    int redis_by_partition;
    /* Called once the runtime is up, before the loop runs. */
    int (*init)(sp_service *s, char *errstr, size_t errstr_size);
    /* A batch from the consumer: call sp_consumer_batch_done() or _retry(). */
    void (*on_batch)(sp_service *s, rd_kafka_message_t **msgs, size_t n);
    void (*on_rebalance)(sp_service *s, int assigned,
                         const rd_kafka_topic_partition_list_t *parts);
    /* Extra readiness condition; NULL means always. */
    int (*ready)(sp_service *s);
    /* Manual time was set. */
    void (*on_clock)(sp_service *s);
    /* Stop the service's own timers; called once at shutdown start. */
    void (*stop)(sp_service *s);
    /* 1 while work of the service's own is in flight that shutdown must wait
     * for before Redis and Kafka close (a send on the thread pool); NULL:
     * none. Polled during the drain, bounded by shutdown.timeout_ms. */
    int (*busy)(sp_service *s);
    /* Free the service's state; called last, after everything closed. */
    void (*fini)(sp_service *s);
    /* A command-line flag of the service's own ("--rebuild"); returns 1 if
     * taken, 0 if unknown. */
    int (*parse_arg)(sp_service *s, const char *arg);
    /* case.erased (erasure.h, screen.h): delete every key the service holds
     * for case_id (its Kafka partition is partition). Idempotent: a retried
     * batch calls it again. Returns 0 (cb called once) or -1 (cb not
     * called; the batch is retried). NULL: the service keeps nothing per
     * case, and its events are not screened for erased cases. */
    int (*erase)(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque);
    /* 1: events of a case that come before its case.erased in one batch are
     * applied before the erasure (the batch is cut there, screen.h), as
     * they would be from an earlier batch: ops, whose SEN2 figures keep an
     * erased case's decisions. 0: the erasure goes first and they are
     * dropped: notify, which must not write to a family being forgotten. */
    int erase_in_order;
    /* Every message of a batch as the consumer handed it, before the screen
     * drops any (a dead letter, an erased case's event): for progress that
     * counts offsets (ops --rebuild). May be NULL; must not keep msgs. */
    void (*on_batch_seen)(sp_service *s, rd_kafka_message_t **msgs, size_t n);
} sp_service_def;

struct sp_service {
    const sp_service_def *def;
    void *conf;            /* the service's config struct */
    sp_common_conf *common; /* == conf */
    sp_conf_kvs kafka;     /* librdkafka settings */
    uv_loop_t *loop;
    sp_http *http;
    sp_auth *auth;         /* the guard every route goes through */
    sp_metrics *metrics;
    sp_redis *redis;          /* redis.host: every key not routed by partition */
    sp_redis_shards *shards;  /* redis.shards, or NULL: see sp_service_redis */
    int partitions;           /* of the topics it reads: partition_of's count */
    sp_producer *producer;
    sp_consumer *consumer;
    struct sp_screen *screen; /* limits and erased cases before on_batch */
    sp_clock clock;
    char source[64]; /* CloudEvents source: "/sendpath/<name>" */
    int stopping;
    void *priv; /* the service's own state */

    /* runtime internals */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    uint64_t drain_deadline;
    sp_metric *m_events_in, *m_events_out, *m_errors, *m_deadletters;
    sp_metric *m_lag[SP_TOPIC__COUNT]; /* by topic id; NULL if not consumed */
    sp_metric *m_assigned, *m_processed, *m_retries;
    sp_metric *m_redis_latency, *m_redis_connected;
    sp_metric *m_kafka_latency, *m_kafka_errors, *m_kafka_inflight;
    sp_metric *m_http_pending, *m_up, *m_ready;
};

/* Runs the service; returns the process exit code. */
int sp_service_main(const sp_service_def *def, int argc, char **argv);
/* Loads def's settings as sp_service_main would (--config FILE and --clock
 * MODE from argv, $SENDPATH_CONFIG, the environment), then frees them:
 * for a parent about to run several sp_service_main()s (ops --rebuild
 * --workers=N), so a bad setting is refused once, before any starts.
 * Other arguments are left to sp_service_main. 0, or -1 with errstr. */
int sp_service_config_check(const sp_service_def *def, int argc, char **argv, char *errstr,
                            size_t errstr_size);

int64_t sp_service_now(const sp_service *s);
/* The Redis connection holding partition's keys: its redis.shards server,
 * or s->redis when redis.shards is not set. NULL for a partition outside
 * the shard table (the topic has more partitions than the table covers;
 * the caller fails the batch). Borrowed. */
sp_redis *sp_service_redis(sp_service *s, int partition);
/* The partition of case_id's events on the topics the service reads (all
 * have one count, checked at start), as the producers chose it
 * (sp_kafka_partition_of): for the paths that have a case id but no
 * message (HTTP), so that sp_service_redis(s, sp_service_partition_of(s,
 * id)) is the server the consumer wrote the case's keys on. 0 for a
 * service that reads no topic. */
int sp_service_partition_of(const sp_service *s, const char *case_id);
/* sp_service_redis for case_id's partition (sp_service_partition_of). */
sp_redis *sp_service_redis_of(sp_service *s, const char *case_id);
/* Every Redis connection of the service into out (at most max): s->redis
 * first, then each redis.shards server. Returns the number written.
 * Borrowed. For what must visit every server: an erasure sweep. */
size_t sp_service_redis_all(sp_service *s, sp_redis **out, size_t max);
/* Redis replication is asynchronous: a failover loses the writes the old
 * master acknowledged and had not yet sent on. With redis.wait_replicas = n
 * (> 0) a service calls this before it treats its writes as durable (a
 * batch's offsets, an event published from them): WAIT n on every Redis
 * connection of the service, bounded by half of redis.timeout_ms. cb is
 * called once, later, with ok = 1 if every server had its writes on n
 * replicas. Returns -1 (cb not called) when a connection is down or on no
 * memory. Only call it when s->common->redis_wait_replicas > 0. */
int sp_service_redis_wait(sp_service *s, void (*cb)(sp_service *s, int ok, void *opaque),
                          void *opaque);
/* The name of topic id, as configured. */
const char *sp_service_topic(const sp_service *s, sp_topic_id t);

/* Publishes an event (text) keyed by key on topic t; cb as sp_producer_send.
 * Counts it in events_out on success. Returns 0 or -1 with errstr. */
int sp_service_publish(sp_service *s, sp_topic_id t, const char *key,
                       const char *text, size_t len, sp_produce_cb cb,
                       void *opaque, char *errstr, size_t errstr_size);
/* Sends a message this service refuses to the dead-letter topic, with the
 * reason and its origin (topic, partition, offset, service) in headers, so
 * nothing is lost and consumption goes on. cb as sp_producer_send. */
int sp_service_deadletter(sp_service *s, const rd_kafka_message_t *m,
                          const char *reason, sp_produce_cb cb, void *opaque);
/* As sp_service_deadletter, for a message that is no longer a Kafka
 * message (an event a service kept in Redis): value (len bytes) is sent
 * unchanged, keyed by key, with x-reason, x-source-topic = source (a name
 * such as "notify:pending") and x-service; extra (n headers, may be NULL)
 * are appended. Returns 0 (cb will be called once) or -1 with errstr. */
int sp_service_deadletter_text(sp_service *s, const char *key, const char *value,
                               size_t len, const char *source, const char *reason,
                               const sp_header *extra, size_t n, sp_produce_cb cb,
                               void *opaque, char *errstr, size_t errstr_size);
/* The JSON limits for bodies and messages this service takes from clients:
 * http.max_body bytes and input.max_depth levels. */
sp_json_limits sp_service_json_limits(const sp_service *s);
/* Counts one message consumed from topic. */
void sp_service_count_in(sp_service *s);
void sp_service_count_error(sp_service *s);

#endif
