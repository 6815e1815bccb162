/* kafka.c - librdkafka producer and batch consumer on a libuv loop.
 * See kafka.h for the delivery guarantees; this file is the plumbing.
 *
 * Wake-ups: librdkafka writes one byte to our pipe when a queue goes from
 * empty to non-empty and not again until it has been emptied, so every wake-up
 * drains the queue completely (rd_kafka_poll until it serves nothing, or
 * rd_kafka_consumer_poll until NULL). The consumer is the exception: it stops
 * at batch_max and at a batch in flight, so it re-kicks itself with a zero
 * timer when a batch is done rather than waiting for a wake-up that will not
 * come. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "kafka.h"
#include "log.h"

#define SP_KAFKA_BACKSTOP_MS 100

/* ---- shared plumbing ---------------------------------------------------- */

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf) {
    sp_log_level l = level <= 3 ? SP_LOG_ERROR : level <= 5 ? SP_LOG_WARN
                   : level == 6 ? SP_LOG_INFO : SP_LOG_DEBUG;
    sp_log(l, NULL, "kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque) {
    /* librdkafka retries transient errors itself; only fatal ones need us. */
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        sp_error("kafka fatal error: %s", buf);
    } else {
        sp_warn("kafka %s: %s", rd_kafka_err2name(err), reason);
    }
}

/* The settings meant for role ("producer." or "consumer."): a key with the
 * role's prefix applies to that client alone (prefix stripped), a key with
 * the other role's prefix is skipped, and any other key applies to both. */
static const char *kafka_key_for(const char *key, const char *role) {
    const char *other = strcmp(role, "producer.") ? "producer." : "consumer.";
    if (strncmp(key, role, strlen(role)) == 0) return key + strlen(role);
    if (strncmp(key, other, strlen(other)) == 0) return NULL;
    return key;
}

/* Builds a librdkafka conf: our defaults first, then the caller's settings. */
static rd_kafka_conf_t *kafka_conf_build(const char *const *defaults,
                                         const sp_conf_kvs *settings, const char *role,
                                         char *errstr, size_t size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; defaults[i]; i += 2) {
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], errstr, size) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    }
    for (size_t i = 0; settings && i < settings->count; i++) {
        const char *key = kafka_key_for(settings->items[i].key, role);
        if (key && rd_kafka_conf_set(conf, key, settings->items[i].value, errstr, size) !=
                       RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int pipe_open(int fds[2], char *errstr, size_t size) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, size, "pipe2: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void pipe_drain(int fd) {
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

/* ---- producer ------------------------------------------------------------ */

struct sp_producer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int fds[2];
    uv_poll_t poll;
    uv_timer_t backstop;
    size_t inflight;
    int open_handles;
    sp_metric *m_latency, *m_errors; /* borrowed; may be NULL */
};

/* Every message carries one, callback or not, so its latency can be taken
 * when the delivery report comes back. */
typedef struct produce_req {
    sp_produce_cb cb; /* may be NULL */
    void *opaque;
    uint64_t sent_ns; /* uv_hrtime(): uv_now() is cached per loop turn */
} produce_req;

static void producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                           void *opaque) {
    sp_producer *p = opaque;
    produce_req *req = m->_private;
    p->inflight--;
    if (m->err) sp_metric_inc(p->m_errors);
    else if (req) sp_metric_observe(p->m_latency, (double)(uv_hrtime() - req->sent_ns) / 1e9);
    if (req) {
        if (req->cb) req->cb(m->err, req->opaque);
        free(req);
    }
}

static void producer_serve(sp_producer *p) {
    pipe_drain(p->fds[0]);
    while (rd_kafka_poll(p->rk, 0) > 0) {
    }
}

static void producer_poll_cb(uv_poll_t *h, int status, int events) {
    producer_serve(h->data);
}

static void producer_backstop_cb(uv_timer_t *t) { producer_serve(t->data); }

sp_producer *sp_producer_new(uv_loop_t *loop, const sp_conf_kvs *settings,
                             char *errstr, size_t size) {
    static const char *const defaults[] = {
        "enable.idempotence", "true", "acks", "all", "linger.ms", "5",
        "log.queue", "true", "client.id", "sendpath", NULL};
    sp_producer *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;
    if (!p) return NULL;
    p->fds[0] = p->fds[1] = -1;
    if (!(conf = kafka_conf_build(defaults, settings, "producer.", errstr, size))) goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, producer_dr_cb);
    rd_kafka_conf_set_opaque(conf, p);
    if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, size))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_set_log_queue(p->rk, NULL); /* logs served on our loop */
    if (pipe_open(p->fds, errstr, size)) goto fail;
    p->mainq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->mainq, p->fds[1], "1", 1);
    uv_poll_init(loop, &p->poll, p->fds[0]);
    uv_timer_init(loop, &p->backstop);
    p->poll.data = p->backstop.data = p;
    p->open_handles = 2;
    uv_poll_start(&p->poll, UV_READABLE, producer_poll_cb);
    uv_timer_start(&p->backstop, producer_backstop_cb, SP_KAFKA_BACKSTOP_MS,
                   SP_KAFKA_BACKSTOP_MS);
    return p;
fail:
    if (p->rk) rd_kafka_destroy(p->rk);
    if (p->fds[0] >= 0) close(p->fds[0]), close(p->fds[1]);
    free(p);
    return NULL;
}

static rd_kafka_headers_t *headers_build(const sp_header *h, size_t n) {
    rd_kafka_headers_t *hdrs;
    if (n == 0) return NULL;
    hdrs = rd_kafka_headers_new(n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, -1);
    return hdrs;
}

int sp_producer_send(sp_producer *p, const char *topic, const char *key,
                     const void *value, size_t len, const sp_header *headers,
                     size_t nheaders, sp_produce_cb cb, void *opaque,
                     char *errstr, size_t size) {
    produce_req *req = malloc(sizeof(*req));
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;
    if (!req) {
        snprintf(errstr, size, "out of memory");
        sp_metric_inc(p->m_errors);
        return -1;
    }
    req->cb = cb;
    req->opaque = opaque;
    req->sent_ns = uv_hrtime();
    hdrs = headers_build(headers, nheaders);
    err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                            RD_KAFKA_V_VALUE((void *)value, len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(req),
                            RD_KAFKA_V_END);
    if (err) {
        snprintf(errstr, size, "produce to %s: %s", topic, rd_kafka_err2str(err));
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free(req);
        sp_metric_inc(p->m_errors);
        return -1;
    }
    p->inflight++;
    return 0;
}

size_t sp_producer_inflight(const sp_producer *p) { return p->inflight; }

int sp_kafka_partition_of(const char *key, int count) {
    if (count <= 0) return 0;
    return (int)rd_kafka_msg_partitioner_consistent(NULL, key, strlen(key), count, NULL,
                                                    NULL);
}

int sp_kafka_partitioner_check(const sp_conf_kvs *settings, char *errstr, size_t size) {
    const char *v = sp_conf_kvs_get(settings, "partitioner");
    if (!v || !strcmp(v, "consistent_random") || !strcmp(v, "consistent")) return 0;
    snprintf(errstr, size, "kafka.partitioner = %s: keys routed by partition "
             "(redis.shards) need consistent_random or consistent", v);
    return -1;
}

void sp_producer_set_metrics(sp_producer *p, sp_metric *latency, sp_metric *errors) {
    p->m_latency = latency;
    p->m_errors = errors;
}

rd_kafka_t *sp_producer_handle(sp_producer *p) { return p->rk; }

static void producer_handle_closed(uv_handle_t *h) {
    sp_producer *p = h->data;
    if (--p->open_handles == 0) free(p);
}

void sp_producer_close(sp_producer *p, int timeout_ms) {
    rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);
    if (err) sp_error("kafka producer: %zu message(s) not delivered before close: %s",
                      p->inflight, rd_kafka_err2str(err));
    rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(p->mainq);
    rd_kafka_destroy(p->rk);
    close(p->fds[0]);
    close(p->fds[1]);
    uv_close((uv_handle_t *)&p->poll, producer_handle_closed);
    uv_close((uv_handle_t *)&p->backstop, producer_handle_closed);
}

/* ---- consumer ------------------------------------------------------------ */

/* The group's committed offset of one assigned partition, as librdkafka's
 * statistics last reported it (RD_KAFKA_OFFSET_INVALID: none committed). */
typedef struct consumer_committed {
    char topic[256];
    int32_t partition;
    int64_t offset;
} consumer_committed;

/* Where a batch out stands (kafka.h: batches in flight). */
typedef enum {
    BATCH_APPLYING, /* with the service, which has not said it is applied */
    BATCH_WAITING,  /* applied; the service waits for the rest (acknowledgements) */
    BATCH_DONE,     /* finished; stored once every older batch is */
    BATCH_FAILED,   /* to be applied again, with every later batch */
    BATCH_REPLAY    /* waiting to be handed out again, in order */
} consumer_batch_state;

struct sp_consumer_batch {
    sp_consumer *c;
    rd_kafka_message_t **msgs; /* batch_max long, allocated at start */
    size_t n;
    consumer_batch_state state;
};

struct sp_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int fds[2];
    uv_poll_t poll;
    uv_timer_t backstop, kick, retry;
    sp_consumer_options opt;
    char *group; /* owned copy of opt.group_id */
    /* The batches out, oldest first: a ring of opt.inflight_max slots, head
     * the oldest, count in use. At most one is APPLYING. */
    sp_consumer_batch *ring;
    size_t head, count;
    int failed;      /* a batch failed: replay once it and the later ones settle */
    int replay_wait; /* the retry timer holds the replay back */
    unsigned retry_ms;
    int stopping, assigned, joined, open_handles;
    void (*stop_cb)(void *);
    void *stop_opaque;
    sp_metric *m_processed, *m_retries; /* borrowed; may be NULL */
    consumer_committed *committed; /* from statistics; see consumer_stats_cb */
    int ncommitted;
    /* The message that ended the last batch (opt.cut): the first of the
     * next. Polled, so the position is past it; never stored until it is. */
    rd_kafka_message_t *carry;
};

/* The i-th batch out, 0 the oldest. */
static sp_consumer_batch *consumer_at(const sp_consumer *c, size_t i) {
    return &c->ring[(c->head + i) % c->opt.inflight_max];
}

/* The batch with the service, or NULL: the newest, or during a replay the
 * one being replayed. */
static sp_consumer_batch *consumer_applying(const sp_consumer *c) {
    for (size_t i = c->count; i-- > 0;)
        if (consumer_at(c, i)->state == BATCH_APPLYING) return consumer_at(c, i);
    return NULL;
}

/* A carried message whose partition is revoked is dropped: its offset was
 * never stored, so whoever owns the partition next fetches it again. */
static void consumer_drop_carry(sp_consumer *c, const rd_kafka_topic_partition_list_t *parts) {
    const rd_kafka_message_t *m = c->carry;
    if (!m || (parts && !rd_kafka_topic_partition_list_find(
                            parts, rd_kafka_topic_name(m->rkt), m->partition)))
        return;
    rd_kafka_message_destroy(c->carry);
    c->carry = NULL;
}

static void consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts,
                                  void *opaque) {
    sp_consumer *c = opaque;
    int assign = (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS);
    if (!assign) consumer_drop_carry(c, parts);
    if (!assign && c->opt.on_rebalance) c->opt.on_rebalance(c, 0, parts, c->opt.opaque);
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, assign ? parts : NULL);
    if (aerr) sp_error("kafka assign: %s", rd_kafka_err2str(aerr));
    c->assigned = assign ? parts->cnt : 0;
    if (assign) c->joined = 1; /* even with no partitions: the group took us in */
    sp_info("kafka consumer %s: %s %d partition(s)", c->opt.group_id,
            assign ? "assigned" : "revoked", parts->cnt);
    if (assign && c->opt.on_rebalance) c->opt.on_rebalance(c, 1, parts, c->opt.opaque);
}

/* Hands the next batch to be replayed to the service; 0 if there is none. */
static int consumer_replay_next(sp_consumer *c) {
    for (size_t i = 0; i < c->count; i++) {
        sp_consumer_batch *b = consumer_at(c, i);
        if (b->state != BATCH_REPLAY) continue;
        b->state = BATCH_APPLYING;
        c->opt.on_batch(c, b->msgs, b->n, c->opt.opaque);
        return 1;
    }
    return 0;
}

/* Hands out the next batch: one to replay, or up to batch_max new messages
 * while a slot is free. Never while a batch is with the service (batches
 * are applied strictly one after another), nor while a failure waits for
 * the later batches to settle. */
static void consumer_drain(sp_consumer *c) {
    rd_kafka_message_t *m;
    sp_consumer_batch *b;
    /* Empty the wake-up pipe even while batches are out, or the
     * level-triggered poll fires without end; finishing a batch kicks a
     * drain itself. */
    pipe_drain(c->fds[0]);
    if (c->stopping || c->failed || c->replay_wait || consumer_applying(c)) return;
    if (consumer_replay_next(c) || c->count == c->opt.inflight_max) return;
    b = consumer_at(c, c->count);
    b->n = 0;
    if (c->carry) b->msgs[b->n++] = c->carry, c->carry = NULL;
    while (b->n < c->opt.batch_max && (m = rd_kafka_consumer_poll(c->rk, 0))) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sp_warn("kafka consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (b->n && c->opt.cut && c->opt.cut(b->msgs, b->n, m, c->opt.opaque)) {
            c->carry = m;
            break;
        }
        b->msgs[b->n++] = m;
    }
    if (b->n == 0) return;
    b->state = BATCH_APPLYING;
    c->count++;
    c->opt.on_batch(c, b->msgs, b->n, c->opt.opaque);
}

static void consumer_poll_cb(uv_poll_t *h, int status, int events) {
    consumer_drain(h->data);
}

static void consumer_timer_cb(uv_timer_t *t) {
    sp_consumer *c = t->data;
    if (c->stopping && c->count == 0 && c->stop_cb) {
        void (*cb)(void *) = c->stop_cb;
        c->stop_cb = NULL;
        cb(c->stop_opaque);
        return;
    }
    consumer_drain(c);
}

/* Notes one partition's committed offset, from a statistics "partitions"
 * entry, as entry n. Returns 1 if noted, 0 if the entry is not a partition
 * (librdkafka lists an "unassigned" -1), -1 on allocation failure. */
static int consumer_note_committed(sp_consumer *c, int n, const char *topic,
                                   const cJSON *part) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(part, "partition");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(part, "committed_offset");
    if (!cJSON_IsNumber(id) || id->valueint < 0 || !cJSON_IsNumber(off)) return 0;
    if (n % 16 == 0) {
        consumer_committed *more = realloc(c->committed, (size_t)(n + 16) * sizeof(*more));
        if (!more) return -1;
        c->committed = more;
    }
    snprintf(c->committed[n].topic, sizeof(c->committed[n].topic), "%s", topic);
    c->committed[n].partition = (int32_t)id->valueint;
    c->committed[n].offset = (int64_t)off->valuedouble;
    return 1;
}

/* librdkafka's statistics (statistics.interval.ms), served on the loop by
 * rd_kafka_consumer_poll. Only the committed offsets are kept: the position
 * of a partition from which nothing was consumed since it was assigned is
 * unknown to rd_kafka_position(), yet fetching starts at the committed
 * offset, so that is where the partition stands (sp_consumer_lag). Without
 * it, a service restarted with nothing left to do reported every message of
 * its partitions as lag, for ever: the chaos suite saw it after a SIGKILL. */
static int consumer_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    sp_consumer *c = opaque;
    cJSON *root = cJSON_ParseWithLength(json, len), *topic, *part;
    int n = 0, r;
    cJSON_ArrayForEach(topic, cJSON_GetObjectItemCaseSensitive(root, "topics")) {
        cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(topic, "partitions")) {
            if ((r = consumer_note_committed(c, n, topic->string, part)) == -1) goto done;
            n += r;
        }
    }
done:
    c->ncommitted = n;
    cJSON_Delete(root);
    return 0; /* librdkafka frees json */
}

/* The committed offset of topic/partition from the last statistics;
 * RD_KAFKA_OFFSET_INVALID if none was committed, RD_KAFKA_OFFSET_END if no
 * statistics told yet. */
static int64_t consumer_committed_offset(const sp_consumer *c, const char *topic,
                                         int32_t partition) {
    for (int i = 0; i < c->ncommitted; i++)
        if (c->committed[i].partition == partition && strcmp(c->committed[i].topic, topic) == 0)
            return c->committed[i].offset;
    return RD_KAFKA_OFFSET_END;
}

static int consumer_ring_new(sp_consumer *c) {
    if (!(c->ring = calloc(c->opt.inflight_max, sizeof(*c->ring)))) return -1;
    for (size_t i = 0; i < c->opt.inflight_max; i++) {
        c->ring[i].c = c;
        if (!(c->ring[i].msgs = calloc(c->opt.batch_max, sizeof(*c->ring[i].msgs)))) return -1;
    }
    return 0;
}

static void consumer_ring_free(sp_consumer *c) {
    for (size_t i = 0; c->ring && i < c->opt.inflight_max; i++) free(c->ring[i].msgs);
    free(c->ring);
}

sp_consumer *sp_consumer_new(uv_loop_t *loop, const sp_conf_kvs *settings,
                             const sp_consumer_options *opt, char *errstr,
                             size_t size) {
    static const char *const defaults[] = {
        "enable.auto.offset.store", "false", "enable.auto.commit", "true",
        "auto.offset.reset", "earliest", "log.queue", "true",
        "enable.partition.eof", "false",
        /* Committed offsets for sp_consumer_lag (consumer_stats_cb). */
        "statistics.interval.ms", "1000", NULL};
    sp_consumer *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    if (!c) return NULL;
    c->fds[0] = c->fds[1] = -1;
    c->opt = *opt;
    if (!(c->group = strdup(opt->group_id))) goto fail;
    c->opt.group_id = c->group;
    c->opt.topics = NULL; /* not kept: borrowed for this call only */
    if (!c->opt.batch_max) c->opt.batch_max = 500;
    if (!c->opt.inflight_max) c->opt.inflight_max = 1;
    if (consumer_ring_new(c)) goto fail;
    if (!(conf = kafka_conf_build(defaults, settings, "consumer.", errstr, size))) goto fail;
    if (rd_kafka_conf_set(conf, "group.id", opt->group_id, errstr, size)) goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, consumer_rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, consumer_stats_cb);
    rd_kafka_conf_set_opaque(conf, c);
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, size))) goto fail;
    conf = NULL; /* owned by rk now */
    rd_kafka_set_log_queue(c->rk, NULL);
    rd_kafka_poll_set_consumer(c->rk);
    subs = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; opt->topics[i]; i++)
        rd_kafka_topic_partition_list_add(subs, opt->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        snprintf(errstr, size, "subscribe: %s", rd_kafka_err2str(err));
        goto fail;
    }
    if (pipe_open(c->fds, errstr, size)) goto fail;
    c->q = rd_kafka_queue_get_consumer(c->rk);
    rd_kafka_queue_io_event_enable(c->q, c->fds[1], "1", 1);
    uv_poll_init(loop, &c->poll, c->fds[0]);
    uv_timer_init(loop, &c->backstop);
    uv_timer_init(loop, &c->kick);
    uv_timer_init(loop, &c->retry);
    c->poll.data = c->backstop.data = c->kick.data = c->retry.data = c;
    c->open_handles = 4;
    uv_poll_start(&c->poll, UV_READABLE, consumer_poll_cb);
    uv_timer_start(&c->backstop, consumer_timer_cb, SP_KAFKA_BACKSTOP_MS,
                   SP_KAFKA_BACKSTOP_MS);
    return c;
fail:
    if (conf) rd_kafka_conf_destroy(conf);
    if (c->rk) rd_kafka_destroy(c->rk);
    if (c->fds[0] >= 0) close(c->fds[0]), close(c->fds[1]);
    consumer_ring_free(c);
    free(c->group);
    free(c);
    return NULL;
}

static void consumer_store_offsets(sp_consumer *c, const sp_consumer_batch *b) {
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->n);
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(offs, topic, m->partition);
        if (!tp) tp = rd_kafka_topic_partition_list_add(offs, topic, m->partition);
        if (m->offset + 1 > tp->offset) tp->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, offs);
    /* A partition revoked while its batch was out cannot be stored: its new
     * owner replays those messages, which ids make harmless. */
    if (err) sp_warn("kafka offsets store: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(offs);
}

static void consumer_release(sp_consumer_batch *b) {
    for (size_t i = 0; i < b->n; i++) rd_kafka_message_destroy(b->msgs[i]);
    b->n = 0;
}

/* Gives up the batches from the i-th on (stopping): nothing of theirs is
 * stored, so they are replayed on restart. */
static void consumer_give_up(sp_consumer *c, size_t i) {
    for (size_t k = i; k < c->count; k++) consumer_release(consumer_at(c, k));
    if (i < c->count) c->count = i;
}

static void consumer_retry_cb(uv_timer_t *t) {
    sp_consumer *c = t->data;
    c->replay_wait = 0;
    consumer_drain(c);
}

/* After a failure: once the failed batch and every later one have settled
 * (none with the service or waiting), all of them are handed out again, in
 * order, after the retry delay. Replaying the later ones too keeps a case's
 * events applied in order, exactly as a restart from the stored offsets
 * would. Returns at once while any is still out. */
static void consumer_replay_from(sp_consumer *c, size_t first) {
    for (size_t i = first; i < c->count; i++) {
        consumer_batch_state st = consumer_at(c, i)->state;
        if (st == BATCH_APPLYING || st == BATCH_WAITING) return;
    }
    c->failed = 0;
    if (c->stopping) {
        consumer_give_up(c, first);
        return;
    }
    for (size_t i = first; i < c->count; i++) consumer_at(c, i)->state = BATCH_REPLAY;
    c->replay_wait = 1;
    uv_timer_start(&c->retry, consumer_retry_cb, c->retry_ms, 0);
}

/* Stores the offsets of the oldest batches while they are done, so offsets
 * are stored strictly in order, then moves a failure on. */
static void consumer_settle(sp_consumer *c) {
    while (c->count && consumer_at(c, 0)->state == BATCH_DONE) {
        sp_consumer_batch *b = consumer_at(c, 0);
        sp_metric_add(c->m_processed, (double)b->n);
        consumer_store_offsets(c, b);
        consumer_release(b);
        c->head = (c->head + 1) % c->opt.inflight_max;
        c->count--;
    }
    if (!c->failed) return;
    for (size_t i = 0; i < c->count; i++)
        if (consumer_at(c, i)->state == BATCH_FAILED) {
            consumer_replay_from(c, i);
            return;
        }
}

void sp_consumer_batch_finish(sp_consumer_batch *b, int ok, unsigned retry_ms) {
    sp_consumer *c = b->c;
    if (ok) {
        b->state = BATCH_DONE;
    } else {
        sp_metric_inc(c->m_retries);
        b->state = BATCH_FAILED;
        if (!c->failed || retry_ms > c->retry_ms) c->retry_ms = retry_ms;
        c->failed = 1;
    }
    consumer_settle(c);
    uv_timer_start(&c->kick, consumer_timer_cb, 0, 0);
}

sp_consumer_batch *sp_consumer_batch_applied(sp_consumer *c) {
    sp_consumer_batch *b = consumer_applying(c);
    if (!b) {
        sp_error("kafka consumer: batch applied with no batch out");
        return NULL;
    }
    b->state = BATCH_WAITING;
    uv_timer_start(&c->kick, consumer_timer_cb, 0, 0);
    return b;
}

void sp_consumer_batch_done(sp_consumer *c) {
    sp_consumer_batch *b = consumer_applying(c);
    if (b) sp_consumer_batch_finish(b, 1, 0);
    else sp_error("kafka consumer: batch done with no batch out");
}

void sp_consumer_batch_retry(sp_consumer *c, unsigned delay_ms) {
    sp_consumer_batch *b = consumer_applying(c);
    if (b) sp_consumer_batch_finish(b, 0, delay_ms);
    else sp_error("kafka consumer: batch retried with no batch out");
}

void sp_consumer_set_metrics(sp_consumer *c, sp_metric *processed, sp_metric *retries) {
    c->m_processed = processed;
    c->m_retries = retries;
}

int sp_consumer_assigned(const sp_consumer *c) { return c->assigned; }
int sp_consumer_joined(const sp_consumer *c) { return c->joined; }
int sp_consumer_busy(const sp_consumer *c) { return c->count > 0; }
rd_kafka_t *sp_consumer_handle(sp_consumer *c) { return c->rk; }

/* Messages of topic (NULL: any) in the batches out and carried. The
 * position has moved past them, but until their batch is stored they are
 * not processed: a batch stuck retrying must show as lag. */
static int64_t consumer_batch_count(const sp_consumer *c, const char *topic) {
    int64_t n = 0;
    for (size_t k = 0; k < c->count; k++) {
        const sp_consumer_batch *b = consumer_at(c, k);
        for (size_t i = 0; i < b->n; i++)
            if (!topic || strcmp(rd_kafka_topic_name(b->msgs[i]->rkt), topic) == 0) n++;
    }
    if (c->carry && (!topic || strcmp(rd_kafka_topic_name(c->carry->rkt), topic) == 0)) n++;
    return n;
}

int64_t sp_consumer_lag(const sp_consumer *c, const char *topic) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t lag = 0;
    if (rd_kafka_assignment(c->rk, &parts) || !parts) return -1;
    if (rd_kafka_position(c->rk, parts)) {
        rd_kafka_topic_partition_list_destroy(parts);
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (topic && strcmp(tp->topic, topic) != 0) continue;
        if (rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi))
            continue;
        int64_t pos = tp->offset;
        if (pos < 0) { /* nothing consumed since assigned: fetching starts here */
            pos = consumer_committed_offset(c, tp->topic, tp->partition);
            if (pos == RD_KAFKA_OFFSET_END) {
                lag = -1; /* not known yet: statistics come within a second */
                break;
            }
            if (pos < 0) pos = lo; /* none committed: auto.offset.reset=earliest */
        }
        if (hi > pos) lag += hi - pos;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return lag < 0 ? -1 : lag + consumer_batch_count(c, topic);
}

void sp_consumer_stop(sp_consumer *c, void (*cb)(void *), void *opaque) {
    c->stopping = 1;
    if (c->replay_wait) {
        /* Batches waiting to be replayed are given up: their offsets were
         * not stored, so they are replayed on restart. */
        uv_timer_stop(&c->retry);
        c->replay_wait = 0;
        for (size_t i = 0; i < c->count; i++)
            if (consumer_at(c, i)->state == BATCH_REPLAY) {
                consumer_give_up(c, i);
                break;
            }
    }
    c->stop_cb = cb;
    c->stop_opaque = opaque;
    uv_timer_start(&c->kick, consumer_timer_cb, 0, 0);
}

static void consumer_handle_closed(uv_handle_t *h) {
    sp_consumer *c = h->data;
    if (--c->open_handles == 0) {
        consumer_ring_free(c);
        free(c->group);
        free(c->committed);
        free(c);
    }
}

/* Leaves the group and commits stored offsets, but never waits longer than
 * timeout_ms: with the broker gone, rd_kafka_consumer_close() would block for
 * ever, and a service must still stop. Offsets not committed then are
 * replayed by the next owner, which ids make harmless. */
static void consumer_close_bounded(sp_consumer *c, int timeout_ms) {
    rd_kafka_queue_t *cq = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, cq);
    int waited = 0;
    if (error) {
        sp_error("kafka consumer close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        /* Serves the revoke callback and the close itself. */
        while (!rd_kafka_consumer_closed(c->rk) && waited < timeout_ms) {
            rd_kafka_queue_poll_callback(cq, 100);
            waited += 100;
        }
        if (!rd_kafka_consumer_closed(c->rk))
            sp_warn("kafka consumer close: gave up after %d ms (broker unreachable?)",
                    timeout_ms);
    }
    rd_kafka_queue_destroy(cq);
}

void sp_consumer_close(sp_consumer *c, int timeout_ms) {
    consumer_give_up(c, 0);
    consumer_drop_carry(c, NULL);
    rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
    consumer_close_bounded(c, timeout_ms);
    rd_kafka_queue_destroy(c->q);
    rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    close(c->fds[0]);
    close(c->fds[1]);
    uv_close((uv_handle_t *)&c->poll, consumer_handle_closed);
    uv_close((uv_handle_t *)&c->backstop, consumer_handle_closed);
    uv_close((uv_handle_t *)&c->kick, consumer_handle_closed);
    uv_close((uv_handle_t *)&c->retry, consumer_handle_closed);
}

int sp_kafka_header(const rd_kafka_message_t *m, const char *name, char *buf,
                    size_t size) {
    rd_kafka_headers_t *hdrs;
    const void *val;
    size_t len;
    if (rd_kafka_message_headers(m, &hdrs)) return -1;
    if (rd_kafka_header_get_last(hdrs, name, &val, &len)) return -1;
    if (!val || len >= size) return -1;
    memcpy(buf, val, len);
    buf[len] = '\0';
    return 0;
}
