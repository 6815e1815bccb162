/* loadgen.c - sendpath-loadgen: the load side of the benchmarks (bench/run).
 *
 * A plain blocking client (librdkafka and hiredis, no event loop): it is the
 * outside world driving the services, so it must never be the bottleneck and
 * must not borrow the services' own code paths. Three subcommands:
 *
 *   events    N case events (request.received, as an import publishes them)
 *             onto sendpath.case-events, then waits until timers has armed
 *             all N clocks in Redis; prints the arm rate.
 *   fire      seeds N clocks in timers' keys due over the next SPREAD ms,
 *             consumes sendpath.deadlines and waits until every clock has
 *             fired (its event seen on the topic) and advanced in Redis;
 *             prints fire rate and lateness.
 *   commands  N request commands on sendpath.commands at RATE a second
 *             (0: flat out); writes "<seq> <send ms>" lines for bench/run to
 *             match against the emails in the outbox.
 *   history   N events of case history for a read-model rebuild, from a
 *             template file of "<topic> <event with @CASE@>" lines (bench/run
 *             writes it from proto/examples), a case every line-count events;
 *             reports how many the broker still holds (retention).
 *
 * Statutory fire points all fall at fire.hour, so "100,000 clocks due within
 * one second" cannot be armed through case events at an arbitrary moment:
 * `fire` writes the clocks straight into timers' key layout (store.h) with
 * fire times of its choosing, then leaves firing wholly to the service. A
 * clock's due time is recomputed from its case id, so lateness needs no
 * side channel.
 *
 * Events are produced with lz4: the embedded broker keeps about 5 MiB per
 * partition, and `events` also holds the number not yet armed under a
 * window, so a slow consumer never loses messages to retention. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include "layout.h"
#include "record.h"

#define LG_ID_LEN 26 /* characters after "c_", as a real case id (a ULID) */

typedef struct lg_opts {
    const char *bootstrap;
    int redis_port;
    int upper_port;  /* shards from upper_from on the Redis at this port; 0: none */
    int upper_from;
    int shards;      /* partitions of case-events = timers shards */
    long n;
    long window;     /* events: most produced and not yet armed */
    long rate;       /* commands: per second, 0 = flat out */
    long lead_ms;    /* fire: first due this long after seeding starts */
    long spread_ms;  /* fire: dues spread evenly over this */
    const char *tag; /* run tag: keeps ids of one run apart */
    const char *date;
    const char *out;
    const char *history_linger; /* history: linger.ms of its batches */
} lg_opts;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_ms_f(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Crockford's base32, as in a ULID. */
static const char lg_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* "c_<tag><i in base32, zero-padded>", 28 characters like a real case id
 * (a ULID), with the last characters cycling as fast as a ULID's random
 * ones, which timers buckets records by. */
static void case_id(char *buf, size_t size, const char *tag, long i) {
    size_t tl = strlen(tag) & 15, len = 2 + LG_ID_LEN;
    if (size <= len) {
        buf[0] = '\0';
        return;
    }
    memcpy(buf, "c_", 2);
    memcpy(buf + 2, tag, tl);
    for (size_t k = len; k > 2 + tl; k--, i /= 32) buf[k - 1] = lg_b32[i % 32];
    buf[len] = '\0';
}

/* The index back from an id of this run, or -1. */
static long case_index(const char *id, size_t len, const char *tag) {
    size_t tl = strlen(tag);
    if (len != 2 + LG_ID_LEN || memcmp(id, "c_", 2) || memcmp(id + 2, tag, tl)) return -1;
    long v = 0;
    for (size_t i = 2 + tl; i < len; i++) {
        const char *d = memchr(lg_b32, id[i], 32);
        if (!d) return -1;
        v = v * 32 + (d - lg_b32);
    }
    return v;
}

/* ---- Kafka ---------------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    long *failed = opaque;
    if (m->err) (*failed)++;
}

/* linger_ms: how long a partition's batch may wait to fill (the services
 * use 5). */
static rd_kafka_t *producer_new(const lg_opts *o, const char *linger_ms, long *failed) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers", o->bootstrap, "linger.ms", linger_ms,
                        "compression.type", "lz4", "enable.idempotence", "true",
                        "queue.buffering.max.messages", "1000000", "batch.size", "1000000",
                        "batch.num.messages", "100000"};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2)
        if (rd_kafka_conf_set(c, kv[i], kv[i + 1], err, sizeof(err))) {
            fprintf(stderr, "loadgen: %s\n", err);
            rd_kafka_conf_destroy(c);
            return NULL;
        }
    rd_kafka_conf_set_opaque(c, failed);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk) fprintf(stderr, "loadgen: %s\n", err);
    return rk;
}

static int produce(rd_kafka_t *rk, const char *topic, const char *key, const char *val) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (e) fprintf(stderr, "loadgen: produce: %s\n", rd_kafka_err2str(e));
            return e ? -1 : 0;
        }
        rd_kafka_poll(rk, 10);
    }
}

/* ---- Redis ---------------------------------------------------------------- */

static redisContext *redis_open(int port) {
    redisContext *r = redisConnect("127.0.0.1", port);
    if (!r || r->err) {
        fprintf(stderr, "loadgen: redis :%d: %s\n", port, r ? r->errstr : "no memory");
        if (r) redisFree(r);
        return NULL;
    }
    return r;
}

/* timers' Redis: one server, or two with the shards from upper_from on the
 * second (redis.shards), as the service is configured. */
typedef struct lg_redis {
    redisContext *lower, *upper; /* upper NULL: every shard on lower */
    int upper_from;
} lg_redis;

static int lg_redis_open(lg_redis *rr, const lg_opts *o) {
    rr->lower = redis_open(o->redis_port);
    rr->upper = o->upper_port && rr->lower ? redis_open(o->upper_port) : NULL;
    rr->upper_from = o->upper_from;
    return rr->lower && (!o->upper_port || rr->upper) ? 0 : -1;
}

static void lg_redis_close(lg_redis *rr) {
    if (rr->lower) redisFree(rr->lower);
    if (rr->upper) redisFree(rr->upper);
}

static redisContext *shard_redis(const lg_redis *rr, int shard) {
    return rr->upper && shard >= rr->upper_from ? rr->upper : rr->lower;
}

/* Reads n replies from r, each not an error. -1 on the first bad one. */
static int replies_ok(redisContext *r, long n) {
    for (long k = 0; k < n; k++) {
        redisReply *rep = NULL;
        if (redisGetReply(r, (void **)&rep) != REDIS_OK || !rep || rep->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "loadgen: redis: %s\n", rep ? rep->str : r->errstr);
            if (rep) freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* Sum over shards of ZCOUNT tm:{s<p>}:q min max, pipelined. -1 on error. */
static long zcount_all(const lg_redis *rr, int shards, const char *min, const char *max) {
    long sum = 0;
    for (int p = 0; p < shards; p++)
        redisAppendCommand(shard_redis(rr, p), "ZCOUNT tm:{s%d}:q %s %s", p, min, max);
    for (int p = 0; p < shards; p++) {
        redisReply *rep = NULL;
        if (redisGetReply(shard_redis(rr, p), (void **)&rep) != REDIS_OK || !rep) return -1;
        if (rep->type == REDIS_REPLY_INTEGER) sum += rep->integer;
        freeReplyObject(rep);
    }
    return sum;
}

/* ---- events: the arm benchmark --------------------------------------------------- */

static void event_text(char *buf, size_t size, const char *id, const char *date, long i) {
    snprintf(buf, size,
             "{\"specversion\":\"1.0\",\"id\":\"%s/request.received\",\"source\":\"/sendpath/intake\","
             "\"type\":\"request.received\",\"time\":\"%sT09:00:00.000Z\",\"subject\":\"%s\","
             "\"datacontenttype\":\"application/json\",\"data\":{\"requester\":{\"type\":\"parent\","
             "\"name\":\"Parent %ld\",\"email\":\"parent%ld@example.org\"},\"child\":{\"given_name\":"
             "\"Child\",\"family_name\":\"N%ld\",\"date_of_birth\":\"2017-05-14\"},\"contact\":{"
             "\"name\":\"Parent %ld\",\"email\":\"parent%ld@example.org\",\"preferred_channel\":"
             "\"email\",\"language\":\"en\"},\"school\":{\"urn\":\"%06ld\",\"name\":\"School %ld\"},"
             "\"areas_of_need\":[\"cognition_and_learning\"],\"received_date\":\"%s\","
             "\"consent_to_share\":true,\"case_id\":\"%s\",\"date\":\"%s\"}}",
             id, date, id, i, i, i, i, i, 100000 + i % 900000, i % 20000, date, id, date);
}

/* Blocks until fewer than `ahead` produced events are still to be armed;
 * base clocks were in Redis before. Returns those armed since. */
static long wait_armed(const lg_redis *r, const lg_opts *o, long base, long produced, long ahead,
                       rd_kafka_t *rk) {
    long armed;
    while ((armed = zcount_all(r, o->shards, "-inf", "+inf") - base) >= 0 &&
           produced - armed >= ahead) {
        rd_kafka_poll(rk, 0);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return armed;
}

static int cmd_events(const lg_opts *o) {
    long failed = 0, armed = 0, i;
    char id[64], text[2048];
    lg_redis rr = {0}, *r = &rr;
    rd_kafka_t *rk = lg_redis_open(r, o) == 0 ? producer_new(o, "5", &failed) : NULL;
    long base = rk ? zcount_all(r, o->shards, "-inf", "+inf") : -1;
    if (base < 0) return 1;
    double t0 = now_ms_f();
    for (i = 0; i < o->n && armed >= 0; i++) {
        if (i % 1000 == 0 && i >= o->window) armed = wait_armed(r, o, base, i, o->window, rk);
        case_id(id, sizeof(id), o->tag, i);
        event_text(text, sizeof(text), id, o->date, i);
        if (produce(rk, "sendpath.case-events", id, text)) break;
        if (i % 1000 == 0) rd_kafka_poll(rk, 0);
    }
    double t_produced = now_ms_f();
    rd_kafka_flush(rk, 60000);
    armed = wait_armed(r, o, base, o->n, 1, rk);
    double t1 = now_ms_f();
    printf("{\"n\":%ld,\"armed\":%ld,\"failed\":%ld,\"produce_s\":%.3f,\"arm_s\":%.3f,"
           "\"arm_per_s\":%.0f}\n", o->n, armed, failed, (t_produced - t0) / 1e3,
           (t1 - t0) / 1e3, (double)o->n / ((t1 - t0) / 1e3));
    rd_kafka_destroy(rk);
    lg_redis_close(r);
    return armed == o->n && !failed ? 0 : 1;
}

/* ---- fire: the burst and steady benchmarks ------------------------------------------ */

static int64_t due_of(const lg_opts *o, int64_t at, long i) {
    return at + (int64_t)((double)i * (double)o->spread_ms / (double)o->n);
}

/* The clock's record (record.h): started today, due in 30 days, at its
 * first fire point; record and slot as timers stores them (layout.h). */
static int seed_clocks(const lg_redis *rr, const lg_opts *o, int64_t at) {
    char id[64], name[96], slot[96], rec[64];
    timers_record tr = {.start = (sp_date)(at / 86400000), .seq = 0, .flags = 0};
    long pending[2] = {0, 0}; /* commands sent and not read, lower and upper */
    tr.due = tr.start + 30;
    if (timers_record_encode(&tr, rec, sizeof(rec)) < 0) return -1;
    for (long i = 0; i < o->n; i++) {
        int shard = (int)(i % o->shards);
        case_id(id, sizeof(id), o->tag, i);
        snprintf(name, sizeof(name), "%s:decision_to_assess", id);
        if (timers_layout_store(name, slot, sizeof(slot)) < 0) return -1;
        redisContext *r = shard_redis(rr, shard);
        redisAppendCommand(r, "HSET tm:{s%d}:c:%s %s %s", shard, id + strlen(id) - 2, slot, rec);
        redisAppendCommand(r, "ZADD tm:{s%d}:q %" PRId64 " %s", shard, due_of(o, at, i), slot);
        pending[r == rr->upper] += 2;
        if (i % 2000 == 1999 || i == o->n - 1) {
            if (replies_ok(rr->lower, pending[0]) ||
                (pending[1] && replies_ok(rr->upper, pending[1])))
                return -1;
            pending[0] = pending[1] = 0;
        }
    }
    return 0;
}

/* A consumer assigned at the current end of every partition of topic: the
 * high watermarks are read first, so nothing published after this returns
 * is missed (OFFSET_END would be resolved later, by the fetcher). */
static rd_kafka_t *consumer_at_end(const lg_opts *o, const char *topic, int partitions) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers", o->bootstrap, "group.id", "sendpath-loadgen",
                        "enable.auto.commit", "false", "fetch.wait.max.ms", "5",
                        "fetch.error.backoff.ms", "5"};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2)
        rd_kafka_conf_set(c, kv[i], kv[i + 1], err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "loadgen: %s\n", err);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e) {
            fprintf(stderr, "loadgen: %s [%d]: %s\n", topic, p, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_destroy(rk);
            return NULL;
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct fire_seen {
    double *late; /* by case index; -1e18 = not seen */
    /* Where each lateness went: the event's create time (set by timers's
     * producer when it published) minus the due time, and the time seen
     * minus the create time (linger, the broker, this consumer's fetch). */
    double *published, *hop;
    long seen;
    double first_ms, last_ms;
} fire_seen;

static void fire_take(const lg_opts *o, fire_seen *fs, const rd_kafka_message_t *m, int64_t at) {
    if (m->err || !m->key) return;
    long i = case_index(m->key, m->key_len, o->tag);
    if (i < 0 || i >= o->n || fs->late[i] > -1e17) return;
    /* deadline.started events of other runs share the topic; only fires. */
    if (!memmem(m->payload, m->len, "\"deadline.approaching\"", 22)) return;
    double t = now_ms_f();
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    fs->late[i] = t - (double)due_of(o, at, i);
    if (tt == RD_KAFKA_TIMESTAMP_CREATE_TIME) {
        fs->published[fs->seen] = (double)ts - (double)due_of(o, at, i);
        fs->hop[fs->seen] = t - (double)ts;
    } else {
        fs->published[fs->seen] = fs->hop[fs->seen] = 0;
    }
    if (!fs->seen++) fs->first_ms = t;
    fs->last_ms = t;
}

/* p50 / p99 / max of the first k of a, as ",\"<name>_ms_p50\":..." */
static void print_quantiles(const char *name, double *a, long k) {
    qsort(a, (size_t)k, sizeof(double), cmp_double);
    printf(",\"%s_ms_p50\":%.1f,\"%s_ms_p99\":%.1f,\"%s_ms_max\":%.1f", name,
           k ? a[(long)(0.5 * (double)k)] : -1, name, k ? a[(long)(0.99 * (double)(k - 1))] : -1,
           name, k ? a[k - 1] : -1);
}

static void fire_report(const lg_opts *o, fire_seen *fs, double advanced_ms, int64_t at) {
    qsort(fs->late, (size_t)o->n, sizeof(double), cmp_double);
    long lo = o->n - fs->seen; /* unseen sort first */
    double *l = fs->late + lo;
    long k = fs->seen;
    double span = (advanced_ms - (double)at) / 1e3;
    printf("{\"n\":%ld,\"fired\":%ld,\"fire_per_s\":%.0f,\"fire_span_s\":%.3f,"
           "\"late_ms_p50\":%.1f,\"late_ms_p99\":%.1f,\"late_ms_max\":%.1f,"
           "\"advanced_late_ms\":%.1f,\"at_ms\":%" PRId64,
           o->n, k, (double)o->n / (span > 1e-3 ? span : 1e-3),
           span, k ? l[(long)(0.5 * (double)k)] : -1, k ? l[(long)(0.99 * (double)(k - 1))] : -1,
           k ? l[k - 1] : -1, advanced_ms - (double)due_of(o, at, o->n - 1), at);
    print_quantiles("published_late", fs->published, k);
    print_quantiles("hop", fs->hop, k);
    printf("}\n");
}

static int cmd_fire(const lg_opts *o) {
    char max[32];
    fire_seen fs = {calloc((size_t)o->n, sizeof(double)), calloc((size_t)o->n, sizeof(double)),
                    calloc((size_t)o->n, sizeof(double)), 0, 0, 0};
    lg_redis rr = {0}, *r = &rr;
    rd_kafka_t *rk = lg_redis_open(r, o) == 0 && fs.late && fs.published && fs.hop
                         ? consumer_at_end(o, "sendpath.deadlines", o->shards)
                         : NULL;
    if (!rk) return 1;
    for (long i = 0; i < o->n; i++) fs.late[i] = -1e18;
    int64_t at = now_ms() + o->lead_ms;
    if (seed_clocks(r, o, at)) return 1;
    int64_t seeded = now_ms();
    if (seeded > at) fprintf(stderr, "loadgen: seeding took longer than the lead\n");
    /* Advanced: no clock left before a day after the last due. A clock in
     * a round out is leased (fire.lease_ms, minutes at most) and has not
     * advanced yet; an advanced one waits for its next point, weeks away. */
    snprintf(max, sizeof(max), "%" PRId64, due_of(o, at, o->n - 1) + INT64_C(86400000));
    double advanced = 0, deadline = now_ms_f() + o->lead_ms + o->spread_ms + 120000;
    while (now_ms_f() < deadline && (fs.seen < o->n || !advanced)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1);
        if (m) {
            fire_take(o, &fs, m, at);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!advanced && now_ms_f() >= (double)due_of(o, at, o->n - 1) &&
            zcount_all(r, o->shards, "-inf", max) == 0)
            advanced = now_ms_f();
    }
    fire_report(o, &fs, advanced ? advanced : now_ms_f(), at);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    lg_redis_close(r);
    free(fs.late);
    free(fs.published);
    free(fs.hop);
    return fs.seen == o->n && advanced ? 0 : 1;
}

/* ---- commands: the pipeline benchmark --------------------------------------------- */

static void command_text(char *buf, size_t size, const lg_opts *o, long i) {
    snprintf(buf, size,
             "{\"command\":\"request\",\"idempotency_key\":\"bench-%s-%ld\",\"requester\":{"
             "\"type\":\"parent\",\"name\":\"Parent %ld\",\"email\":\"parent%ld@example.org\"},"
             "\"child\":{\"given_name\":\"Bench\",\"family_name\":\"Q%s%ldQ\",\"date_of_birth\":"
             "\"2017-05-14\"},\"contact\":{\"name\":\"Parent Q%s%ldQ\",\"email\":"
             "\"parent%ld@example.org\",\"preferred_channel\":\"email\",\"language\":\"en\"},"
             "\"school\":{\"urn\":\"123456\",\"name\":\"Hillside Primary School\"},"
             "\"areas_of_need\":[\"cognition_and_learning\"],\"received_date\":\"%s\","
             "\"consent_to_share\":true}",
             o->tag, i, i, i, o->tag, i, o->tag, i, i, o->date);
}

/* Sleeps until `due` (now_ms_f's clock). A sleep, not a spin: at 1,000
 * commands a second a spin held one of the machine's cores for the whole
 * latency run, a core taken from the services being measured. A command
 * sent a little late is timed from when it was sent. */
static void pace_until(double due) {
    double wait = due - now_ms_f();
    if (wait <= 0) return;
    long long ns = (long long)(wait * 1e6);
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static int cmd_commands(const lg_opts *o) {
    long failed = 0;
    char key[64], text[2048];
    double *sent = calloc((size_t)o->n, sizeof(double));
    FILE *out = sent ? fopen(o->out, "w") : NULL;
    rd_kafka_t *rk = out ? producer_new(o, "5", &failed) : NULL;
    if (!rk) return 1;
    double t0 = now_ms_f();
    for (long i = 0; i < o->n; i++) {
        if (o->rate > 0) pace_until(t0 + (double)i * 1e3 / (double)o->rate);
        snprintf(key, sizeof(key), "bench-%s-%ld", o->tag, i);
        command_text(text, sizeof(text), o, i);
        sent[i] = now_ms_f();
        if (produce(rk, "sendpath.commands", key, text)) return 1;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    for (long i = 0; i < o->n; i++) fprintf(out, "%ld %.3f\n", i, sent[i]);
    fclose(out);
    printf("{\"n\":%ld,\"failed\":%ld,\"produce_s\":%.3f}\n", o->n, failed,
           (now_ms_f() - t0) / 1e3);
    rd_kafka_destroy(rk);
    free(sent);
    return failed ? 1 : 0;
}

/* ---- history: the rebuild benchmark ---------------------------------------------- */

typedef struct lg_template {
    char topic[64];
    char *text; /* with @CASE@ where the case id goes */
} lg_template;

static int templates_read(const char *path, lg_template *t, int max) {
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    if (!f) {
        fprintf(stderr, "loadgen: cannot open %s\n", path);
        return -1;
    }
    while (n < max && getline(&line, &cap, f) > 0) {
        char *sp = strchr(line, ' ');
        if (!sp || sp - line >= (long)sizeof(t[n].topic)) continue;
        snprintf(t[n].topic, sizeof(t[n].topic), "%.*s", (int)(sp - line), line);
        t[n].text = strdup(sp + 1);
        t[n].text[strcspn(t[n].text, "\n")] = '\0';
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

/* text with every @CASE@ replaced by id, into buf. */
static void fill(char *buf, size_t size, const char *text, const char *id) {
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < size;) {
        if (!strncmp(p, "@CASE@", 6)) {
            o += (size_t)snprintf(buf + o, size - o, "%s", id);
            p += 6;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o < size ? o : size - 1] = '\0';
}

/* Sum over the topics' partitions of what the broker still holds. */
static long retained(rd_kafka_t *rk, const lg_template *t, int nt, int partitions) {
    long sum = 0;
    for (int k = 0; k < nt; k++) {
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= !strcmp(t[j].topic, t[k].topic);
        for (int p = 0; p < partitions && !dup; p++) {
            int64_t lo, hi;
            if (!rd_kafka_query_watermark_offsets(rk, t[k].topic, p, &lo, &hi, 10000))
                sum += (long)(hi - lo);
        }
    }
    return sum;
}

static int cmd_history(const lg_opts *o) {
    lg_template t[16];
    long failed = 0;
    char id[64], *text = malloc(65536);
    int nt = text ? templates_read(o->out, t, 16) : -1;
    /* Batches of up to 1 MB (linger 1 s), not the services' 5 ms ones: the
     * embedded broker answers a fetch with one batch a partition and finds
     * it by walking the partition's batches from the first (librdkafka
     * 2.0.2's mock cluster), where Kafka returns up to
     * max.partition.fetch.bytes of batches from an indexed log. Small
     * batches would measure that walk, not the rebuild (docs/performance.md). */
    rd_kafka_t *rk = nt > 0 ? producer_new(o, o->history_linger, &failed) : NULL;
    if (!rk) return 1;
    double t0 = now_ms_f();
    for (long i = 0; i < o->n; i++) {
        const lg_template *tp = &t[i % nt];
        case_id(id, sizeof(id), o->tag, i / nt);
        fill(text, 65536, tp->text, id);
        if (produce(rk, tp->topic, id, text)) return 1;
        if (i % 1000 == 0) rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 300000);
    long kept = retained(rk, t, nt, o->shards);
    printf("{\"n\":%ld,\"retained\":%ld,\"failed\":%ld,\"produce_s\":%.3f}\n", o->n, kept,
           failed, (now_ms_f() - t0) / 1e3);
    rd_kafka_destroy(rk);
    for (int k = 0; k < nt; k++) free(t[k].text);
    free(text);
    return failed ? 1 : 0;
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: sendpath-loadgen events|fire|commands|history --bootstrap B [options]\n"
            "  --redis-port P  timers' Redis (events, fire)\n"
            "  --upper-port P  with --upper-from S: shards S and after are on the\n"
            "                  Redis at port P (timers' redis.shards)\n"
            "  --shards S      partitions of the case-events topic (default 6)\n"
            "  --n N           events, clocks or commands (default 1000)\n"
            "  --window W      events: most not yet armed (default 100000)\n"
            "  --rate R        commands a second, 0 = flat out (default 0)\n"
            "  --lead MS       fire: first due after seeding starts (default 2000)\n"
            "  --spread MS     fire: dues spread over (default 1000)\n"
            "  --tag T         run tag in ids, 1-8 letters of base32: no I L O U\n"
            "                  (default BENCH)\n"
            "  --date D        business date YYYY-MM-DD (default today)\n"
            "  --out FILE      commands: send times written here;\n"
            "                  history: the template file read\n"
            "  --linger MS     history: linger.ms of its batches (default 1000;\n"
            "                  the services' 5 gives the broker small batches)\n");
}

static int parse(lg_opts *o, int argc, char **argv) {
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--bootstrap")) o->bootstrap = v;
        else if (!strcmp(k, "--redis-port")) o->redis_port = atoi(v);
        else if (!strcmp(k, "--upper-port")) o->upper_port = atoi(v);
        else if (!strcmp(k, "--upper-from")) o->upper_from = atoi(v);
        else if (!strcmp(k, "--shards")) o->shards = atoi(v);
        else if (!strcmp(k, "--n")) o->n = atol(v);
        else if (!strcmp(k, "--window")) o->window = atol(v);
        else if (!strcmp(k, "--rate")) o->rate = atol(v);
        else if (!strcmp(k, "--lead")) o->lead_ms = atol(v);
        else if (!strcmp(k, "--spread")) o->spread_ms = atol(v);
        else if (!strcmp(k, "--tag")) o->tag = v;
        else if (!strcmp(k, "--date")) o->date = v;
        else if (!strcmp(k, "--out")) o->out = v;
        else if (!strcmp(k, "--linger")) o->history_linger = v;
        else return -1;
    }
    if (argc % 2 || !o->bootstrap || o->n < 1 || o->shards < 1 || o->window < 1 ||
        strlen(o->tag) < 1 || strlen(o->tag) > 8 || strspn(o->tag, "ABCDEFGHJKMNPQRSTVWXYZ") !=
        strlen(o->tag) || o->spread_ms < 0 || o->lead_ms < 0 ||
        (o->upper_port && (o->upper_from < 1 || o->upper_from >= o->shards)))
        return -1;
    return 0;
}

int main(int argc, char **argv) {
    static char today[16];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    lg_opts o = {NULL, 6379, 0, 0, 6, 1000, 100000, 0, 2000, 1000, "BENCH", today, NULL, "1000"};
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || parse(&o, argc, argv)) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "events") && o.redis_port) return cmd_events(&o);
    if (!strcmp(argv[1], "fire") && o.redis_port) return cmd_fire(&o);
    if (!strcmp(argv[1], "commands") && o.out) return cmd_commands(&o);
    if (!strcmp(argv[1], "history") && o.out) return cmd_history(&o);
    usage();
    return 2;
}
