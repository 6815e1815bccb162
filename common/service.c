/* service.c - start-up, readiness, metrics and shutdown for every service.
 * See service.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocator.h"
#include "dates.h"
#include "log.h"
#include "redis_sentinel.h"
#include "screen.h"
#include "service.h"

/* ---- helpers for services ------------------------------------------------ */

int64_t sp_service_now(const sp_service *s) { return sp_clock_now_ms(&s->clock); }

sp_redis *sp_service_redis(sp_service *s, int partition) {
    return s->shards ? sp_redis_shards_get(s->shards, partition) : s->redis;
}

int sp_service_partition_of(const sp_service *s, const char *case_id) {
    return sp_kafka_partition_of(case_id, s->partitions);
}

sp_redis *sp_service_redis_of(sp_service *s, const char *case_id) {
    return sp_service_redis(s, sp_service_partition_of(s, case_id));
}

size_t sp_service_redis_all(sp_service *s, sp_redis **out, size_t max) {
    size_t n = 0, servers = s->shards ? sp_redis_shards_servers(s->shards) : 0;
    if (s->redis && n < max) out[n++] = s->redis;
    for (size_t i = 0; i < servers && n < max; i++)
        out[n++] = sp_redis_shards_server(s->shards, i);
    return n;
}

typedef struct service_wait {
    sp_service *s;
    void (*cb)(sp_service *, int, void *);
    void *opaque;
    int pending, ok;
} service_wait;

static void service_wait_cb(sp_redis *r, int ok, void *priv) {
    service_wait *w = priv;
    if (!ok) w->ok = 0;
    if (--w->pending > 0) return;
    w->cb(w->s, w->ok, w->opaque);
    free(w);
}

/* Every connection of the service is asked; one that sent nothing since its
 * last confirmed WAIT answers at once (sp_redis_wait). */
int sp_service_redis_wait(sp_service *s, void (*cb)(sp_service *, int, void *),
                          void *opaque) {
    size_t n = s->shards ? sp_redis_shards_servers(s->shards) : 0;
    int replicas = (int)s->common->redis_wait_replicas;
    int timeout = (int)(s->common->redis_timeout_ms / 2); /* before the watchdog's */
    service_wait *w = calloc(1, sizeof(*w));
    if (!w) return -1;
    *w = (service_wait){s, cb, opaque, 1, 1}; /* held once while sending */
    for (size_t i = 0; i <= n; i++) {
        sp_redis *r = i < n ? sp_redis_shards_server(s->shards, i) : s->redis;
        w->pending++;
        if (sp_redis_wait(r, replicas, timeout, service_wait_cb, w)) {
            w->pending--;
            w->ok = 0;
        }
    }
    if (w->pending == 1) { /* nothing sent: no callback will come */
        free(w);
        return -1;
    }
    w->pending--; /* the hold: the last answer calls cb */
    return 0;
}

const char *sp_service_topic(const sp_service *s, sp_topic_id t) {
    return sp_topic_table[t].name;
}

int sp_service_publish(sp_service *s, sp_topic_id t, const char *key,
                       const char *text, size_t len, sp_produce_cb cb,
                       void *opaque, char *errstr, size_t errstr_size) {
    if (sp_producer_send(s->producer, sp_service_topic(s, t), key, text, len, NULL, 0,
                         cb, opaque, errstr, errstr_size))
        return -1;
    sp_metric_inc(s->m_events_out);
    return 0;
}

sp_json_limits sp_service_json_limits(const sp_service *s) {
    return (sp_json_limits){(size_t)s->common->http_max_body,
                            (int)s->common->input_max_depth};
}

int sp_service_deadletter(sp_service *s, const rd_kafka_message_t *m,
                          const char *reason, sp_produce_cb cb, void *opaque) {
    char part[16], off[24], errstr[256], key[256];
    snprintf(part, sizeof(part), "%d", m->partition);
    snprintf(off, sizeof(off), "%lld", (long long)m->offset);
    snprintf(key, sizeof(key), "%.*s", (int)(m->key_len < 255 ? m->key_len : 255),
             m->key ? (const char *)m->key : "");
    sp_header h[] = {{"x-reason", reason},
                     {"x-source-topic", rd_kafka_topic_name(m->rkt)},
                     {"x-source-partition", part},
                     {"x-source-offset", off},
                     {"x-service", s->def->name}};
    sp_metric_inc(s->m_deadletters);
    if (sp_producer_send(s->producer, sp_service_topic(s, SP_TOPIC_DEADLETTER),
                         m->key ? key : NULL, m->payload, m->len, h, 5, cb, opaque,
                         errstr, sizeof(errstr))) {
        sp_error("dead-letter: %s", errstr);
        return -1;
    }
    return 0;
}

int sp_service_deadletter_text(sp_service *s, const char *key, const char *value,
                               size_t len, const char *source, const char *reason,
                               const sp_header *extra, size_t n, sp_produce_cb cb,
                               void *opaque, char *errstr, size_t errstr_size) {
    sp_header h[8] = {{"x-reason", reason},
                      {"x-source-topic", source},
                      {"x-service", s->def->name}};
    size_t nh = 3;
    for (size_t i = 0; i < n && nh < sizeof(h) / sizeof(h[0]); i++) h[nh++] = extra[i];
    if (sp_producer_send(s->producer, sp_service_topic(s, SP_TOPIC_DEADLETTER), key,
                         value, len, h, nh, cb, opaque, errstr, errstr_size))
        return -1;
    sp_metric_inc(s->m_deadletters);
    return 0;
}

void sp_service_count_in(sp_service *s) { sp_metric_inc(s->m_events_in); }
void sp_service_count_error(sp_service *s) { sp_metric_inc(s->m_errors); }

/* ---- HTTP endpoints every service has -------------------------------------- */

/* Ready: not stopping, every Redis connection up, and the consumer has
 * joined its group once. Not "holds partitions": during a rebalance every
 * instance of a service holds none for a few seconds, and readiness that
 * followed them would take every intake pod out of its Service at once on
 * each rollout. Not "Kafka reachable now" either: a broker outage is shared
 * by every instance, so no other instance could take the traffic, and intake
 * answers 503 problem+json itself while its events cannot be delivered.
 * Partitions stay in /readyz's body as information. */
static int service_ready(sp_service *s) {
    if (s->stopping || !s->redis || !sp_redis_ready(s->redis)) return 0;
    if (s->shards && !sp_redis_shards_ready(s->shards)) return 0;
    if (s->consumer && !sp_consumer_joined(s->consumer)) return 0;
    return s->def->ready ? s->def->ready(s) : 1;
}

static void handle_healthz(sp_http_req *r, void *opaque) {
    sp_http_respond(r, 200, "text/plain", "ok\n", 3);
}

static void handle_readyz(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    cJSON *o = cJSON_CreateObject();
    int ready = service_ready(s);
    cJSON_AddBoolToObject(o, "ready", ready);
    cJSON_AddBoolToObject(o, "redis", s->redis && sp_redis_ready(s->redis) &&
                                          (!s->shards || sp_redis_shards_ready(s->shards)));
    if (s->consumer) {
        cJSON_AddBoolToObject(o, "joined", sp_consumer_joined(s->consumer));
        cJSON_AddNumberToObject(o, "partitions", sp_consumer_assigned(s->consumer));
    }
    cJSON_AddBoolToObject(o, "stopping", s->stopping);
    sp_http_respond_json(r, ready ? 200 : 503, o);
}

/* Gauges read from the clients just before each scrape. Lag is per topic,
 * summed over this instance's partitions: the label set stays fixed through
 * rebalances, and sum by (topic) over instances is the group's lag. */
static void metrics_collect(sp_metrics *m, void *opaque) {
    sp_service *s = opaque;
    for (int t = 0; t < SP_TOPIC__COUNT && s->consumer; t++) {
        int64_t lag;
        if (!s->m_lag[t]) continue;
        lag = sp_consumer_lag(s->consumer, sp_service_topic(s, t));
        sp_metric_set(s->m_lag[t], lag >= 0 ? (double)lag : NAN);
    }
    if (s->consumer)
        sp_metric_set(s->m_assigned, sp_consumer_assigned(s->consumer));
    sp_metric_set(s->m_redis_connected, s->redis && sp_redis_ready(s->redis));
    if (s->producer)
        sp_metric_set(s->m_kafka_inflight, (double)sp_producer_inflight(s->producer));
    sp_metric_set(s->m_http_pending, (double)sp_http_pending(s->http));
    sp_metric_set(s->m_ready, service_ready(s));
}

static void handle_metrics(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    size_t len;
    char *text = sp_metrics_render(s->metrics, &len);
    sp_http_respond(r, 200, "text/plain; version=0.0.4", text ? text : "", text ? len : 0);
    free(text);
}

static void handle_clock(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    char ts[32];
    if (strcmp(sp_http_req_method(r), "POST") == 0) {
        size_t len;
        const char *body = sp_http_req_body(r, &len);
        cJSON *o = cJSON_ParseWithLength(body, len);
        cJSON *now = cJSON_GetObjectItemCaseSensitive(o, "now");
        int64_t ms;
        if (!s->clock.manual) {
            cJSON_Delete(o);
            sp_http_respond_problem(r, 409, "Clock is real",
                                    "Start the service with clock.mode = manual", NULL);
            return;
        }
        if (!cJSON_IsString(now) || sp_time_parse_rfc3339(now->valuestring, &ms)) {
            cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "field", "now");
            cJSON_AddStringToObject(e, "reason", "must be an RFC 3339 timestamp");
            cJSON_AddItemToArray(errs, e);
            cJSON_Delete(o);
            sp_http_respond_problem(r, 400, "Invalid clock setting", NULL, errs);
            return;
        }
        cJSON_Delete(o);
        sp_clock_set(&s->clock, ms);
        sp_info("manual clock set to %s", sp_time_rfc3339(ms, ts, sizeof(ts)));
        if (s->def->on_clock) s->def->on_clock(s);
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "now", sp_time_rfc3339(sp_service_now(s), ts, sizeof(ts)));
    cJSON_AddStringToObject(res, "mode", s->clock.manual ? "manual" : "real");
    sp_http_respond_json(r, 200, res);
}

/* ---- shutdown ------------------------------------------------------------ */

static void service_closed_cb(void *opaque) { (void)opaque; }

static void service_finish(sp_service *s) {
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    if (s->consumer) /* commits stored offsets */
        sp_consumer_close(s->consumer, (int)s->common->shutdown_timeout_ms);
    s->consumer = NULL;
    sp_producer_close(s->producer, (int)s->common->shutdown_timeout_ms);
    s->producer = NULL;
    sp_redis_close(s->redis, service_closed_cb, NULL);
    s->redis = NULL;
    sp_redis_shards_close(s->shards);
    s->shards = NULL;
    sp_http_close(s->http, service_closed_cb, NULL);
    s->http = NULL;
    sp_info("stopped");
}

/* Waits until nothing is in flight (or the deadline passes). */
static void service_drain_cb(uv_timer_t *t) {
    sp_service *s = t->data;
    int own = s->def->busy && s->def->busy(s);
    size_t redis = sp_redis_pending(s->redis) +
                   (s->shards ? sp_redis_shards_pending(s->shards) : 0);
    int busy = own || sp_http_pending(s->http) || sp_producer_inflight(s->producer) || redis;
    if (busy && uv_now(s->loop) < s->drain_deadline) return;
    if (busy)
        sp_warn("shutdown: gave up waiting (http %zu, kafka %zu, redis %zu in flight%s)",
                sp_http_pending(s->http), sp_producer_inflight(s->producer), redis,
                own ? ", and the service's own work" : "");
    uv_timer_stop(t);
    service_finish(s);
}

static void service_consumer_stopped(void *opaque) {
    sp_service *s = opaque;
    s->drain_deadline = uv_now(s->loop) + (uint64_t)s->common->shutdown_timeout_ms;
    uv_timer_start(&s->drain_timer, service_drain_cb, 0, 20);
}

static void service_signal_cb(uv_signal_t *h, int signum) {
    sp_service *s = h->data;
    if (s->stopping) return;
    sp_info("signal %d: stopping", signum);
    s->stopping = 1;
    sp_http_quiesce(s->http);
    if (s->def->stop) s->def->stop(s);
    if (s->consumer)
        sp_consumer_stop(s->consumer, service_consumer_stopped, s);
    else
        service_consumer_stopped(s);
}

/* Revoking a token must not wait for a restart: SIGHUP reads the file again. */
static void service_sighup_cb(uv_signal_t *h, int signum) {
    sp_service *s = h->data;
    char errstr[512];
    if (!sp_auth_enabled(s->auth)) {
        sp_warn("SIGHUP: auth is off, no tokens to reload");
    } else if (sp_auth_reload(s->auth, s->common->auth_tokens_file, errstr,
                              sizeof(errstr))) {
        sp_error("SIGHUP: tokens not reloaded, the old ones stay in use: %s", errstr);
    } else {
        sp_info("auth: reloaded %zu tokens from %s", sp_auth_count(s->auth),
                s->common->auth_tokens_file);
    }
}

/* ---- start-up ------------------------------------------------------------ */

static void consumer_batch_cb(sp_consumer *c, rd_kafka_message_t **msgs, size_t n,
                              void *opaque) {
    sp_service *s = opaque;
    sp_screen_batch(s->screen, msgs, n);
}

static void consumer_rebalance_cb(sp_consumer *c, int assigned,
                                  const rd_kafka_topic_partition_list_t *parts,
                                  void *opaque) {
    sp_service *s = opaque;
    if (s->def->on_rebalance) s->def->on_rebalance(s, assigned, parts);
}

static int service_bootstrap(sp_service *s, char *errstr, size_t size) {
    char buf[4096];
    FILE *f;
    size_t n;
    if (sp_conf_kvs_get(&s->kafka, "bootstrap.servers")) return 0;
    if (!s->common->bootstrap_file) {
        snprintf(errstr, size, "no Kafka brokers: set kafka.bootstrap.servers or "
                               "broker.bootstrap_file");
        return -1;
    }
    if (!(f = fopen(s->common->bootstrap_file, "r"))) {
        snprintf(errstr, size, "broker.bootstrap_file %s: cannot open (is "
                 "sendpath-broker running?)", s->common->bootstrap_file);
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
    buf[n] = '\0';
    if (n == 0) {
        snprintf(errstr, size, "broker.bootstrap_file %s is empty",
                 s->common->bootstrap_file);
        return -1;
    }
    return sp_conf_kvs_set(&s->kafka, "bootstrap.servers", buf);
}

static int service_clock(sp_service *s, char *errstr, size_t size) {
    s->clock.manual = s->common->clock_mode == 1;
    s->clock.manual_ms = sp_clock_now_ms(NULL);
    if (s->clock.manual && s->common->clock_start &&
        sp_time_parse_rfc3339(s->common->clock_start, &s->clock.manual_ms)) {
        snprintf(errstr, size, "config key 'clock.start': '%s' is not RFC 3339",
                 s->common->clock_start);
        return -1;
    }
    return 0;
}

/* Bucket bounds in seconds. Redis answers on loopback in well under a
 * millisecond and the client gives up at redis.timeout_ms (2 s by default);
 * a Kafka delivery takes at least linger.ms (5 ms) and librdkafka retries
 * for up to message.timeout.ms (5 min). */
static const double redis_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
static const double kafka_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25, 0.5, 1, 2.5, 5, 10, 30};

/* One gauge per consumed topic, labelled with its name. */
static void service_metrics_lag(sp_service *s) {
    char labels[128];
    for (size_t i = 0; s->def->consume && s->def->consume[i] >= 0; i++) {
        int t = s->def->consume[i];
        if (t >= SP_TOPIC__COUNT) continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\"", sp_service_topic(s, t));
        s->m_lag[t] = sp_metrics_gauge(
            s->metrics, "sendpath_consumer_lag_messages",
            "Messages on this instance's partitions of the topic not yet fully "
            "processed, the batch in hand included (NaN while unknown)", labels);
    }
    if (!s->def->consume) return;
    s->m_assigned = sp_metrics_gauge(s->metrics, "sendpath_consumer_assigned_partitions",
                                     "Partitions assigned to this instance", NULL);
    s->m_processed = sp_metrics_counter(
        s->metrics, "sendpath_consumer_processed_total",
        "Messages consumed and fully processed (their batch done), each once", NULL);
    s->m_retries = sp_metrics_counter(
        s->metrics, "sendpath_consumer_batch_retries_total",
        "Batches handed back to be retried (Redis or a send failed)", NULL);
}

static void service_metrics_clients(sp_service *s) {
    sp_metrics *m = s->metrics;
    s->m_redis_latency = sp_metrics_histogram(
        m, "sendpath_redis_latency_seconds",
        "Time from sending a Redis command to handling its reply", NULL, redis_bounds,
        sizeof(redis_bounds) / sizeof(redis_bounds[0]));
    s->m_redis_connected = sp_metrics_gauge(m, "sendpath_redis_connected",
                                            "1 while connected to Redis", NULL);
    s->m_kafka_latency = sp_metrics_histogram(
        m, "sendpath_kafka_produce_latency_seconds",
        "Time from producing a message to its successful delivery report", NULL,
        kafka_bounds, sizeof(kafka_bounds) / sizeof(kafka_bounds[0]));
    s->m_kafka_errors = sp_metrics_counter(
        m, "sendpath_kafka_produce_errors_total",
        "Messages the producer refused or the broker did not acknowledge", NULL);
    s->m_kafka_inflight = sp_metrics_gauge(m, "sendpath_kafka_inflight_messages",
                                           "Messages produced and not yet reported", NULL);
}

static void service_metrics(sp_service *s) {
    sp_metrics *m = s->metrics = sp_metrics_new();
    s->m_events_in = sp_metrics_counter(m, "sendpath_events_in_total",
                                        "Messages handled; a retried batch may count again",
                                        NULL);
    s->m_events_out = sp_metrics_counter(m, "sendpath_events_out_total",
                                         "Messages published", NULL);
    s->m_errors = sp_metrics_counter(m, "sendpath_errors_total",
                                     "Messages or requests that failed", NULL);
    s->m_deadletters = sp_metrics_counter(m, "sendpath_deadletters_total",
                                          "Messages sent to the dead-letter topic", NULL);
    service_metrics_lag(s);
    service_metrics_clients(s);
    s->m_http_pending = sp_metrics_gauge(m, "sendpath_http_pending_requests",
                                         "HTTP requests waiting for an answer", NULL);
    s->m_up = sp_metrics_gauge(m, "sendpath_up", "1 while the service runs", NULL);
    s->m_ready = sp_metrics_gauge(m, "sendpath_ready",
                                  "1 when ready (Redis connected, consumer group joined "
                                  "once; partitions are not required)",
                                  NULL);
    sp_metric_set(s->m_up, 1);
    sp_metrics_on_collect(m, metrics_collect, s);
}

/* Loads the tokens, or says loudly that there are none to check. */
static int service_auth(sp_service *s, char *errstr, size_t size) {
    if (!s->common->auth_enabled) {
        s->auth = sp_auth_disabled();
        sp_warn("AUTH IS OFF (auth.enabled = no): anyone who can reach port %d may "
                "read and change every case. Never run so with real data.",
                sp_http_port(s->http));
    } else if ((s->auth = sp_auth_load(s->common->auth_tokens_file, errstr, size))) {
        sp_info("auth: %zu tokens from %s", sp_auth_count(s->auth),
                s->common->auth_tokens_file);
    }
    if (!s->auth) return -1;
    sp_auth_attach(s->auth, s->http);
    return 0;
}

/* Probes and metrics are open: an orchestrator and Prometheus must reach
 * them without a secret, and they carry counts, never case data. */
static int service_http(sp_service *s, char *errstr, size_t size) {
    sp_http_options o = {.bind_addr = s->common->http_bind,
                         .port = (int)s->common->http_port,
                         .max_body = (size_t)s->common->http_max_body,
                         .tls_cert_file = s->common->tls_cert_file,
                         .tls_key_file = s->common->tls_key_file,
                         .rate_limit = (double)s->common->http_rate_limit,
                         .rate_burst = (unsigned)s->common->http_rate_burst,
                         .trusted_proxies = s->common->http_trusted_proxies};
    if (!(s->http = sp_http_new(s->loop, &o, errstr, size))) return -1;
    if (service_auth(s, errstr, size)) return -1;
    sp_http_route_scoped(s->http, "GET", "/healthz", "public", handle_healthz, s);
    sp_http_route_scoped(s->http, "GET", "/readyz", "public", handle_readyz, s);
    sp_http_route_scoped(s->http, "GET", "/metrics", "public", handle_metrics, s);
    sp_http_route_scoped(s->http, "GET", "/admin/clock", "admin ops:read", handle_clock, s);
    sp_http_route_scoped(s->http, "POST", "/admin/clock", "admin", handle_clock, s);
    return 0;
}

static int service_kafka(sp_service *s, char *errstr, size_t size) {
    const char *topics[SP_TOPIC__COUNT + 1];
    char group[128];
    size_t n = 0;
    if (!(s->producer = sp_producer_new(s->loop, &s->kafka, errstr, size))) return -1;
    if (!s->def->consume) return 0;
    for (; s->def->consume[n] >= 0 && n < SP_TOPIC__COUNT; n++)
        topics[n] = sp_service_topic(s, s->def->consume[n]);
    topics[n] = NULL;
    snprintf(group, sizeof(group), "%s", s->common->group_id ? s->common->group_id : "");
    if (!s->common->group_id) snprintf(group, sizeof(group), "sendpath-%s", s->def->name);
    sp_consumer_options co = {
        .group_id = group,
        .topics = topics,
        .batch_max = (size_t)s->common->batch_max,
        .inflight_max = (size_t)s->common->batches_in_flight,
        .on_batch = consumer_batch_cb,
        .on_rebalance = consumer_rebalance_cb,
        .opaque = s,
        .cut = s->def->erase && s->def->erase_in_order ? sp_screen_cut : NULL,
    };
    if (!(s->consumer = sp_consumer_new(s->loop, &s->kafka, &co, errstr, size)))
        return -1;
    if (!(s->screen = sp_screen_new(s, (size_t)s->common->batch_max))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    sp_consumer_set_metrics(s->consumer, s->m_processed, s->m_retries);
    return 0;
}

/* How long a service waits at start for the broker to name its topics'
 * partition counts. */
#define SERVICE_METADATA_MS 10000

/* The broker's partition count of topic in md, or -1 if md does not hold it. */
static int service_broker_partitions(const struct rd_kafka_metadata *md, const char *topic) {
    for (int i = 0; md && i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
            return md->topics[i].partition_cnt;
    return -1;
}

/* The partition count of the topics the service reads into s->partitions,
 * as the broker has them: a deployment chooses its own counts (the chart's
 * topics.partitions), and a case id must map to the partition the producer
 * puts its events on (sp_service_partition_of). Without redis.shards a
 * broker that cannot say leaves common/topics.c's count, with a warning (only
 * the HTTP paths' routing uses it, and one server holds every key); with
 * them it is an error, since a wrong count puts a case on two shards. With
 * redis.shards the topics must also agree with each other, for the same
 * reason. */
static int service_partitions(sp_service *s, int sharded, char *errstr, size_t size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk = s->producer ? sp_producer_handle(s->producer) : NULL;
    const char *first = NULL;
    int first_n = 0, rc = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__STATE;
    if (!s->def->consume) return 0;
    if (rk) err = rd_kafka_metadata(rk, 1, NULL, &md, SERVICE_METADATA_MS);
    if (err) md = NULL;
    for (size_t i = 0; s->def->consume[i] >= 0; i++) {
        const char *name = sp_service_topic(s, s->def->consume[i]);
        int n = service_broker_partitions(md, name);
        if (n <= 0 && sharded) {
            snprintf(errstr, size, "redis.shards: the broker did not give the partition "
                     "count of %s (%s)", name, err ? rd_kafka_err2str(err) : "no such topic");
            rc = -1;
            break;
        }
        if (n <= 0) {
            n = sp_topic_table[s->def->consume[i]].partitions;
            sp_warn("%s: the broker did not give the partition count of %s (%s); "
                    "taking %d", s->def->name, name,
                    err ? rd_kafka_err2str(err) : "no such topic", n);
        }
        if (!first) {
            first = name;
            first_n = n;
        }
        if (n != first_n && sharded) {
            snprintf(errstr, size, "redis.shards: %s has %d partitions and %s %d; a "
                     "case would be on two shards", first, first_n, name, n);
            rc = -1;
            break;
        }
        if (n > s->partitions) s->partitions = n;
    }
    if (md) rd_kafka_metadata_destroy(md);
    return rc;
}

/* redis.shards, checked against the partition counts of the topics the
 * service reads (a partition is a shard), and the producer's partitioner
 * (sp_service_partition_of must choose as it does). */
static int service_shards(sp_service *s, const sp_redis_options *ro, char *errstr,
                          size_t size) {
    int sharded = s->common->redis_shards && *s->common->redis_shards;
    if (service_partitions(s, sharded && s->def->redis_by_partition, errstr, size))
        return -1;
    if (!sharded) return 0;
    if (!s->def->redis_by_partition) {
        sp_info("redis.shards: not used by %s, whose keys all stay on redis.host",
                s->def->name);
        return 0;
    }
    if (!s->partitions) {
        snprintf(errstr, size, "redis.shards: %s reads no topic, so has no partitions",
                 s->def->name);
        return -1;
    }
    if (sp_kafka_partitioner_check(&s->kafka, errstr, size)) return -1;
    if (!(s->shards = sp_redis_shards_open(s->loop, s->common->redis_shards, s->partitions,
                                           ro, errstr, size)))
        return -1;
    sp_info("redis: %d partitions over %zu server(s) (redis.shards)", s->partitions,
            sp_redis_shards_servers(s->shards));
    return 0;
}

/* redis.sentinels and redis.sentinel_master, checked before anything
 * connects: a typo must stop the service at start, naming the key. */
static int service_sentinels(sp_service *s, char *errstr, size_t size) {
    const char *list = s->common->redis_sentinels, *master = s->common->redis_sentinel_master;
    sp_sentinel_addr addrs[SP_SENTINEL_MAX];
    if (master && *master && (!list || !*list)) {
        snprintf(errstr, size, "redis.sentinel_master '%s' needs redis.sentinels", master);
        return -1;
    }
    if (list && *list && sp_sentinel_parse(list, addrs, SP_SENTINEL_MAX, errstr, size) < 0)
        return -1;
    if (master && *master)
        sp_info("redis: master '%s' from the sentinels %s (redis.host not used)", master, list);
    return 0;
}

static int service_start(sp_service *s, char *errstr, size_t size) {
    sp_redis_options ro = {s->common->redis_host, (int)s->common->redis_port,
                           s->common->redis_password, (int)s->common->redis_timeout_ms,
                           s->common->redis_sentinels, s->common->redis_sentinel_master,
                           s->common->redis_sentinel_password};
    sp_redis_options shard_ro = ro;
    shard_ro.master = NULL; /* each range names its own */
    snprintf(s->source, sizeof(s->source), "/sendpath/%s", s->def->name);
    if (service_bootstrap(s, errstr, size) || service_clock(s, errstr, size) ||
        service_sentinels(s, errstr, size))
        return -1;
    service_metrics(s);
    if (service_http(s, errstr, size)) return -1;
    if (!(s->redis = sp_redis_new(s->loop, &ro))) {
        snprintf(errstr, size, "redis: cannot start (out of memory, or a bad "
                 "redis.sentinel_master)");
        return -1;
    }
    /* Kafka first: the shards are the broker's partitions. Nothing is
     * consumed before the loop runs. */
    if (service_kafka(s, errstr, size)) return -1;
    sp_producer_set_metrics(s->producer, s->m_kafka_latency, s->m_kafka_errors);
    if (service_shards(s, &shard_ro, errstr, size)) return -1;
    sp_redis_set_metrics(s->redis, s->m_redis_latency);
    if (s->shards) sp_redis_shards_set_metrics(s->shards, s->m_redis_latency);
    if (s->def->init && s->def->init(s, errstr, size)) return -1;
    uv_timer_init(s->loop, &s->drain_timer);
    uv_signal_init(s->loop, &s->sig_term);
    uv_signal_init(s->loop, &s->sig_int);
    uv_signal_init(s->loop, &s->sig_hup);
    s->drain_timer.data = s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
    uv_signal_start(&s->sig_term, service_signal_cb, SIGTERM);
    uv_signal_start(&s->sig_int, service_signal_cb, SIGINT);
    uv_signal_start(&s->sig_hup, service_sighup_cb, SIGHUP);
    return 0;
}

static void usage(const sp_service_def *def) {
    fprintf(stderr,
            "usage: sendpath-%s [--config FILE] [--clock real|manual] [--config-help]\n"
            "  --config FILE   settings file (default: $SENDPATH_CONFIG)\n"
            "  --clock MODE    overrides clock.mode\n"
            "  --config-help   print every setting as a Markdown table\n",
            def->name);
}

/* argv[*i] as one of the settings' own arguments (--config FILE, --clock
 * MODE): taken, *i moved past its value, and 1; otherwise 0. */
static int service_arg_setting(int argc, char **argv, int *i, const char **path) {
    if (*i + 1 >= argc) return 0;
    if (!strcmp(argv[*i], "--config")) *path = argv[++*i];
    else if (!strcmp(argv[*i], "--clock")) setenv("SENDPATH_CLOCK_MODE", argv[++*i], 1);
    else return 0;
    return 1;
}

/* Parses argv; returns 0 to run, 1 to exit 0 (help), -1 to exit 2. */
static int service_args(sp_service *s, int argc, char **argv, const char **path,
                        const sp_conf_def *const *tables) {
    for (int i = 1; i < argc; i++) {
        if (service_arg_setting(argc, argv, &i, path)) {
            continue;
        } else if (!strcmp(argv[i], "--config-help")) {
            sp_config_print_help(tables, s->def->name);
            return 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(s->def);
            return 1;
        } else if (!s->def->parse_arg || !s->def->parse_arg(s, argv[i])) {
            fprintf(stderr, "sendpath-%s: unknown argument '%s'\n", s->def->name, argv[i]);
            usage(s->def);
            return -1;
        }
    }
    return 0;
}

int sp_service_config_check(const sp_service_def *def, int argc, char **argv, char *errstr,
                            size_t size) {
    const sp_conf_def *tables[] = {sp_common_conf_table, def->conf_table, NULL};
    const char *path = getenv("SENDPATH_CONFIG");
    sp_conf_kvs kafka = {0};
    void *conf = calloc(1, def->conf_size);
    int rc;
    if (!conf) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    for (int i = 1; i < argc; i++) service_arg_setting(argc, argv, &i, &path);
    rc = sp_config_load(conf, tables, def->name, path, &kafka, errstr, size) ? -1 : 0;
    sp_config_free(conf, tables);
    sp_conf_kvs_free(&kafka);
    free(conf);
    return rc;
}

int sp_service_main(const sp_service_def *def, int argc, char **argv) {
    sp_service svc = {0}, *s = &svc;
    const sp_conf_def *tables[] = {sp_common_conf_table, def->conf_table, NULL};
    const char *path = getenv("SENDPATH_CONFIG");
    char errstr[512], alloc[64];
    int rc;

    s->def = def;
    s->conf = calloc(1, def->conf_size);
    s->common = s->conf;
    sp_log_init(def->name, SP_LOG_INFO);
    if ((rc = service_args(s, argc, argv, &path, tables)) != 0) {
        free(s->conf);
        return rc > 0 ? 0 : 2;
    }
    if (sp_config_load(s->conf, tables, def->name, path, &s->kafka, errstr,
                       sizeof(errstr))) {
        fprintf(stderr, "sendpath-%s: %s\n", def->name, errstr);
        rc = 2;
        goto out;
    }
    sp_log_set_level((sp_log_level)s->common->log_level);
    s->loop = uv_default_loop();
    if (service_start(s, errstr, sizeof(errstr))) {
        sp_error("cannot start: %s", errstr);
        fprintf(stderr, "sendpath-%s: %s\n", def->name, errstr);
        rc = 1;
        goto out; /* exiting: the OS reclaims what start-up opened */
    }
    sp_info("started: %s on %s:%d, malloc %s", sp_http_tls(s->http) ? "https" : "http",
            s->common->http_bind, sp_http_port(s->http),
            sp_allocator_name(alloc, sizeof(alloc)));
    uv_run(s->loop, UV_RUN_DEFAULT);
    if (def->fini) def->fini(s);
    uv_run(s->loop, UV_RUN_DEFAULT); /* close callbacks of fini */
    sp_metrics_free(s->metrics);
    sp_screen_free(s->screen); /* the consumer, and its batches, closed above */
    sp_auth_free(s->auth); /* the server, and its guard, closed above */
    if (uv_loop_close(s->loop)) sp_warn("loop closed with handles still open");
    rc = 0;
out:
    sp_config_free(s->conf, tables);
    sp_conf_kvs_free(&s->kafka);
    free(s->conf);
    return rc;
}
