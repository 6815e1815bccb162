/* rebuild.c - sendpath-ops --rebuild. See rebuild.h.
 *
 * Progress is judged between batches: the consumer hands out one batch at a
 * time, so when it is not busy every batch handed so far is applied (a
 * failed batch is retried and keeps it busy). A timer checks that, and the
 * highest offset handed per partition, against the marks. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "log.h"
#include "erase.h"
#include "fold.h"
#include "rebuild.h"

typedef enum { DROP_NONE, DROP_RUNNING, DROP_DONE } drop_state;

/* This process's share of a rebuild fanned out over workers
 * (rebuild_workers.h); one share of one when not. */
static struct {
    int k, n;
    int barrier; /* worker 0: write end; the others: read end; -1 none */
} rebuild_self = {0, 1, -1};

void ops_rebuild_set_worker(int k, int n, int barrier_fd) {
    rebuild_self.k = k, rebuild_self.n = n, rebuild_self.barrier = barrier_fd;
}

typedef struct rebuild_server {
    ops_rebuild *rb;
    sp_redis *r;
    drop_state state;
    char cursor[32];
} rebuild_server;

typedef struct rebuild_part {
    char topic[64];
    int32_t partition;
    int64_t low, high;  /* the marks at the start */
    int64_t next;       /* one past the highest offset handed to the projection */
} rebuild_part;

/* A range of partition numbers, read and written as one (rebuild.h). */
typedef struct rebuild_wave {
    int32_t first, last;       /* partitions first..last, of every topic */
    unsigned long long events; /* between the marks */
    ops_fold *fold;            /* NULL until its first batch, and once written */
} rebuild_wave;

struct ops_rebuild {
    sp_service *s;
    rebuild_part *parts; /* of this worker's partitions, lo..hi-1 */
    size_t nparts;
    int32_t lo, hi;
    rebuild_part *last; /* rebuild_part_of's last answer */
    rebuild_server servers[1 + SP_REDIS_SHARDS_MAX];
    size_t nservers;
    rebuild_wave *waves;
    size_t nwaves;
    size_t reading;  /* the wave being read; the waves after it are paused */
    size_t written;  /* waves written out (and freed) */
    int writing;     /* waves[written] is being written */
    uv_timer_t timer;
    uint64_t started_ms, first_ms; /* first_ms: the first batch (after the group join) */
    uint64_t write_ms, write_busy_ms; /* when the wave being written began; writing in all */
    size_t keys;                      /* written or being written */
    unsigned long long applied, repeats, messages, dropped, late;
};

void ops_rebuild_prepare(void) {
    char group[96];
    snprintf(group, sizeof(group), "sendpath-ops-rebuild-%ld-%lld", (long)getpid(),
             (long long)sp_clock_now_ms(NULL));
    setenv("SENDPATH_OPS_CONSUMER_GROUP", group, 1);
    setenv("SENDPATH_OPS_HTTP_PORT", "0", 1);
}

static void rebuild_abort(ops_rebuild *rb, const char *why);

/* ---- 1. drop ops:* on every server ----------------------------------------- */

/* Each server (redis.host and every redis.shards server: the old
 * one-server indexes are on redis.host) is swept with SCAN MATCH ops:* and
 * UNLINK, one page at a time over the service's own connection, from the
 * timer until it has succeeded once; a lost connection starts it over. */
static void drop_scan(rebuild_server *sv);

static void drop_failed(rebuild_server *sv, const char *why) {
    sp_warn("rebuild: dropping ops:* on a server failed (%s); trying again", why);
    sv->state = DROP_NONE;
}

static void drop_unlinked_cb(sp_redis *r, redisReply *rep, void *priv) {
    rebuild_server *sv = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) return drop_failed(sv, "UNLINK");
    sv->rb->dropped += (unsigned long long)rep->integer;
    if (!strcmp(sv->cursor, "0")) sv->state = DROP_DONE;
    else drop_scan(sv);
}

/* UNLINKs one SCAN page, all but the marks of erased cases: the topics still
 * hold their events, and the rebuild must not bring them back (erase.h). */
static void drop_page_cb(sp_redis *r, redisReply *rep, void *priv) {
    rebuild_server *sv = priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        return drop_failed(sv, "SCAN");
    const redisReply *keys = rep->element[1];
    const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
    size_t n = 1;
    snprintf(sv->cursor, sizeof(sv->cursor), "%s", rep->element[0]->str);
    if (!argv) return drop_failed(sv, "out of memory");
    argv[0] = "UNLINK";
    for (size_t i = 0; i < keys->elements; i++)
        if (strcmp(keys->element[i]->str, OPS_ERASED_KEY) != 0) argv[n++] = keys->element[i]->str;
    if (n > 1 && sp_redis_command_argv(r, drop_unlinked_cb, sv, (int)n, argv, NULL))
        drop_failed(sv, "not connected");
    else if (n == 1 && !strcmp(sv->cursor, "0"))
        sv->state = DROP_DONE;
    else if (n == 1)
        drop_scan(sv);
    free(argv);
}

static void drop_scan(rebuild_server *sv) {
    if (sp_redis_command(sv->r, drop_page_cb, sv, "SCAN %s MATCH ops:* COUNT 1000", sv->cursor))
        drop_failed(sv, "not connected");
}

/* Worker 0 has swept: one byte for each other worker, then EOF. */
static void barrier_open(void) {
    for (int i = 1; i < rebuild_self.n; i++)
        if (write(rebuild_self.barrier, "1", 1) != 1)
            sp_warn("rebuild: telling worker %d the drop is done: %s", i, strerror(errno));
    close(rebuild_self.barrier);
    rebuild_self.barrier = -1;
}

/* A worker other than 0 writes nothing before worker 0 has dropped ops:*
 * (its keys would be dropped with the old ones). 1 once its byte came. */
static int barrier_passed(ops_rebuild *rb) {
    char c;
    if (rebuild_self.barrier < 0) return 1;
    ssize_t n = read(rebuild_self.barrier, &c, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n != 1) rebuild_abort(rb, "worker 0 stopped before it had dropped ops:*");
    close(rebuild_self.barrier);
    rebuild_self.barrier = -1;
    return 1;
}

/* Starts the sweep of every server not swept or sweeping; 1 when all are
 * swept. In a fanned-out rebuild only worker 0 sweeps; the others wait
 * for it. */
static int rebuild_drop(ops_rebuild *rb) {
    int done = 1;
    if (rebuild_self.k > 0) return barrier_passed(rb);
    for (size_t i = 0; i < rb->nservers; i++) {
        rebuild_server *sv = &rb->servers[i];
        if (sv->state == DROP_NONE && sp_redis_ready(sv->r)) {
            sv->state = DROP_RUNNING;
            snprintf(sv->cursor, sizeof(sv->cursor), "0");
            drop_scan(sv);
        }
        done &= sv->state == DROP_DONE;
    }
    if (done && rebuild_self.barrier >= 0) barrier_open();
    return done;
}

/* ---- 2. the marks ------------------------------------------------------- */

static int rebuild_topic_ours(const ops_rebuild *rb, const char *topic) {
    for (const int *id = rb->s->def->consume; *id >= 0; id++)
        if (!strcmp(topic, sp_service_topic(rb->s, *id))) return 1;
    return 0;
}

/* This worker's partitions: share k of n of the partition numbers, in one
 * contiguous range, so its waves are ranges as in one process. */
static void rebuild_share(ops_rebuild *rb, const struct rd_kafka_metadata *md) {
    int32_t count = 0;
    for (int t = 0; t < md->topic_cnt; t++)
        for (int p = 0; rebuild_topic_ours(rb, md->topics[t].topic) &&
                        p < md->topics[t].partition_cnt; p++)
            if (md->topics[t].partitions[p].id >= count) count = md->topics[t].partitions[p].id + 1;
    rb->lo = (int32_t)((long long)count * rebuild_self.k / rebuild_self.n);
    rb->hi = (int32_t)((long long)count * (rebuild_self.k + 1) / rebuild_self.n);
}

static int rebuild_marks(ops_rebuild *rb, char *errstr, size_t size) {
    rd_kafka_t *rk = sp_consumer_handle(rb->s->consumer);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (err) {
        snprintf(errstr, size, "rebuild: metadata: %s", rd_kafka_err2str(err));
        return -1;
    }
    rebuild_share(rb, md);
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        int ours = rebuild_topic_ours(rb, mt->topic);
        for (int p = 0; ours && p < mt->partition_cnt; p++) {
            if (mt->partitions[p].id < rb->lo || mt->partitions[p].id >= rb->hi) continue;
            rebuild_part *rp = realloc(rb->parts, (rb->nparts + 1) * sizeof(*rp));
            if (!rp) break;
            rb->parts = rp;
            rp = &rb->parts[rb->nparts++];
            snprintf(rp->topic, sizeof(rp->topic), "%s", mt->topic);
            rp->partition = mt->partitions[p].id;
            err = rd_kafka_query_watermark_offsets(rk, rp->topic, rp->partition, &rp->low,
                                                   &rp->high, 10000);
            if (err) {
                snprintf(errstr, size, "rebuild: marks of %s/%d: %s", rp->topic,
                         (int)rp->partition, rd_kafka_err2str(err));
                rd_kafka_metadata_destroy(md);
                return -1;
            }
            rp->next = rp->low;
            rb->messages += (unsigned long long)(rp->high - rp->low);
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* ---- the waves ----------------------------------------------------------- */

/* Cuts partitions 0..max into ranges of at least wave_events events each
 * (the last may hold fewer), counting every topic's messages of a
 * partition number together: a case's events are in the same partition of
 * every topic. */
static int rebuild_cut(ops_rebuild *rb, long long wave_events) {
    int32_t max = -1;
    for (size_t i = 0; i < rb->nparts; i++)
        if (rb->parts[i].partition > max) max = rb->parts[i].partition;
    if (max < 0) return 0;
    unsigned long long *count = calloc((size_t)max + 1, sizeof(*count));
    if (!count || !(rb->waves = calloc((size_t)max + 1, sizeof(*rb->waves)))) {
        free(count);
        return -1;
    }
    for (size_t i = 0; i < rb->nparts; i++)
        count[rb->parts[i].partition] += (unsigned long long)(rb->parts[i].high - rb->parts[i].low);
    rebuild_wave *w = &rb->waves[0];
    rb->nwaves = 1;
    w->first = rb->lo;
    for (int32_t p = rb->lo; p <= max; p++) {
        if (w->events >= (unsigned long long)wave_events) {
            w = &rb->waves[rb->nwaves++];
            w->first = p;
        }
        w->last = p;
        w->events += count[p];
    }
    free(count);
    return 0;
}

/* The wave of partition p, or NULL for one the marks did not know (made
 * since: its events are past the marks). */
static rebuild_wave *rebuild_wave_of(ops_rebuild *rb, int32_t p) {
    for (size_t w = 0; w < rb->nwaves; w++)
        if (p >= rb->waves[w].first && p <= rb->waves[w].last) return &rb->waves[w];
    return NULL;
}

/* Pauses (pause 1) or resumes every partition of every topic in wave w's
 * range. */
static void rebuild_pause(ops_rebuild *rb, const rebuild_wave *w, int pause) {
    rd_kafka_t *rk = sp_consumer_handle(rb->s->consumer);
    /* librdkafka's allocations abort rather than fail */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)rb->nparts);
    for (size_t i = 0; i < rb->nparts; i++) {
        int32_t p = rb->parts[i].partition;
        if (p >= w->first && p <= w->last) rd_kafka_topic_partition_list_add(l, rb->parts[i].topic, p);
    }
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk, l)
                                    : rd_kafka_resume_partitions(rk, l);
    /* Not fatal: a wave read out of turn is still folded into its own
     * wave, only sooner. */
    if (err) sp_warn("rebuild: %s partitions: %s", pause ? "pausing" : "resuming",
                     rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* The rebuild's group has one member: it is assigned every partition,
 * other workers' too (rebuild_workers.h), and every one is paused but the
 * wave being read. */
void ops_rebuild_assigned(ops_rebuild *rb, const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_t *rk = sp_consumer_handle(rb->s->consumer);
    const rebuild_wave *reading = rb->reading < rb->nwaves ? &rb->waves[rb->reading] : NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (!reading || p < reading->first || p > reading->last)
            rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, p);
    }
    rd_kafka_resp_err_t err = rd_kafka_pause_partitions(rk, l);
    if (err) sp_warn("rebuild: pausing partitions: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- progress and the end ------------------------------------------------- */

static int rebuild_caught_up(const ops_rebuild *rb, const rebuild_wave *w) {
    for (size_t i = 0; i < rb->nparts; i++) {
        const rebuild_part *rp = &rb->parts[i];
        if (rp->partition >= w->first && rp->partition <= w->last && rp->next < rp->high)
            return 0;
    }
    return 1;
}

static void rebuild_report(ops_rebuild *rb) {
    uint64_t now = uv_now(rb->s->loop), ms = now - rb->started_ms;
    uint64_t apply_ms = rb->first_ms ? now - rb->first_ms : 0;
    double rate = apply_ms ? (double)(rb->applied + rb->repeats) * 1000.0 / (double)apply_ms : 0;
    struct rusage ru;
    long rss_kb = getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
    printf("{\"rebuild\":\"done\",\"partitions\":%zu,\"waves\":%zu,\"messages\":%llu,"
           "\"applied\":%llu,\"repeats\":%llu,\"past_marks\":%llu,\"keys\":%zu,\"ms\":%llu,"
           "\"apply_ms\":%llu,\"write_ms\":%llu,\"max_rss_kb\":%ld,\"events_per_s\":%.0f}\n",
           rb->nparts, rb->nwaves, rb->messages, rb->applied, rb->repeats, rb->late, rb->keys,
           (unsigned long long)ms, (unsigned long long)apply_ms,
           (unsigned long long)rb->write_busy_ms, rss_kb, rate);
    fflush(stdout);
    sp_info("rebuild: done: %llu events applied, %llu repeats dropped, %zu keys written in "
            "%zu wave(s), in %llu ms", rb->applied, rb->repeats, rb->keys, rb->nwaves,
            (unsigned long long)ms);
}

/* A rebuild that cannot finish leaves a partial model: say so and exit
 * non-zero, so nobody starts ops on it (run it again). */
static void rebuild_abort(ops_rebuild *rb, const char *why) {
    sp_error("rebuild: failed: %s; the read model is incomplete: run --rebuild again", why);
    (void)rb;
    exit(1);
}

static void rebuild_finish(ops_rebuild *rb) {
    uv_timer_stop(&rb->timer);
    rebuild_report(rb);
    uv_kill(getpid(), SIGTERM); /* the runtime's graceful stop: commit, close, exit 0 */
}

/* A wave is written: free it; the timer starts the next one's writing. */
static void rebuild_written(int ok, void *opaque) {
    ops_rebuild *rb = opaque;
    rebuild_wave *w = &rb->waves[rb->written];
    if (!ok) rebuild_abort(rb, "writing the model to Redis");
    ops_fold_free(w->fold);
    w->fold = NULL;
    rb->written++;
    rb->writing = 0;
    rb->write_busy_ms += uv_now(rb->s->loop) - rb->write_ms;
    if (rb->written == rb->nwaves) rebuild_finish(rb);
}

/* Writes wave w (rb->written), 1,024 commands in flight: with 64 Redis and
 * ops took turns (write phase 1.75 s for 200,000 keys against 1.1 s;
 * docs/performance.md). */
static void rebuild_write(ops_rebuild *rb, rebuild_wave *w) {
    if (!w->fold && !(w->fold = ops_fold_new())) rebuild_abort(rb, "out of memory");
    rb->writing = 1;
    rb->write_ms = uv_now(rb->s->loop);
    rb->keys += ops_fold_keys(w->fold);
    sp_info("rebuild: wave %zu of %zu (partitions %d-%d, %llu events) folded into %zu keys; "
            "writing", rb->written + 1, rb->nwaves, (int)w->first, (int)w->last, w->events,
            ops_fold_keys(w->fold));
    if (ops_fold_write(w->fold, rb->s, 1024, rebuild_written, rb))
        rebuild_abort(rb, "a Redis server is not connected");
}

/* The wave being read is read up to its marks, every batch handed out is
 * applied (the consumer is idle: the other waves are paused) and every
 * server is swept: once the wave before it is written, pause it, resume
 * the next and write it. At most two waves are in memory: one being
 * written, one being read. */
static void rebuild_check(uv_timer_t *t) {
    ops_rebuild *rb = t->data;
    int swept = rebuild_drop(rb);
    if (!swept || rb->writing) return;
    if (rb->nwaves == 0) return rebuild_finish(rb);
    if (rb->reading >= rb->nwaves) return; /* all read; the last is being written */
    rebuild_wave *w = &rb->waves[rb->reading];
    if (sp_consumer_busy(rb->s->consumer) || !rebuild_caught_up(rb, w)) return;
    if (rb->written == 0 && rebuild_self.k == 0)
        sp_info("rebuild: %llu old ops:* keys dropped", rb->dropped);
    rb->reading++;
    rebuild_pause(rb, w, 1); /* what comes now is past the marks: the live service's */
    if (rb->reading < rb->nwaves) rebuild_pause(rb, &rb->waves[rb->reading], 0);
    rebuild_write(rb, w);
}

ops_rebuild *ops_rebuild_start(sp_service *s, long long wave_events, char *errstr,
                               size_t size) {
    ops_rebuild *rb = calloc(1, sizeof(*rb));
    sp_redis *all[1 + SP_REDIS_SHARDS_MAX];
    if (!rb) {
        snprintf(errstr, size, "rebuild: out of memory");
        return NULL;
    }
    rb->s = s;
    rb->nservers = sp_service_redis_all(s, all, sizeof(all) / sizeof(*all));
    for (size_t i = 0; i < rb->nservers; i++)
        rb->servers[i] = (rebuild_server){rb, all[i], DROP_NONE, "0"};
    if (rebuild_marks(rb, errstr, size) ||
        (rebuild_cut(rb, wave_events) && snprintf(errstr, size, "rebuild: out of memory"))) {
        free(rb->waves);
        free(rb->parts);
        free(rb);
        return NULL;
    }
    if (rebuild_self.n > 1)
        sp_info("rebuild: worker %d of %d: partitions %d-%d", rebuild_self.k + 1, rebuild_self.n,
                (int)rb->lo, (int)rb->hi - 1);
    sp_info("rebuild: %llu messages on %zu partitions to apply, in %zu wave(s) of about "
            "%lld events; ops:* to drop on %zu server(s)%s", rb->messages, rb->nparts,
            rb->nwaves, wave_events, rb->nservers,
            rebuild_self.k > 0 ? " (by worker 1)" : "");
    rb->started_ms = uv_now(s->loop);
    uv_timer_init(s->loop, &rb->timer);
    rb->timer.data = rb;
    uv_timer_start(&rb->timer, rebuild_check, 50, 50);
    return rb;
}

/* A batch of a wave already written is past the marks (its wave was read
 * up to them before it was written): left to the live service, which
 * reads from its own offsets, as are the events of a partition made
 * since the marks. */
void ops_rebuild_fold(ops_rebuild *rb, const ops_batch *b, int part) {
    size_t applied = 0, repeats = 0;
    rebuild_wave *w = rebuild_wave_of(rb, part);
    if (!w || w < &rb->waves[rb->reading]) {
        rb->late += ops_batch_events(b);
        return;
    }
    if (!w->fold && !(w->fold = ops_fold_new())) rebuild_abort(rb, "out of memory");
    if (ops_fold_apply(w->fold, b, part, &applied, &repeats))
        rebuild_abort(rb, "out of memory folding the events (or a write the fold cannot do)");
    rb->applied += applied;
    rb->repeats += repeats;
}

/* The part of m's topic and partition, or NULL. A fetch hands out a
 * partition's messages in a run, so the last one found is tried first;
 * otherwise a scan comparing the partition before the topic. */
static rebuild_part *rebuild_part_of(ops_rebuild *rb, const rd_kafka_message_t *m,
                                     const char *topic) {
    rebuild_part *rp = rb->last;
    if (rp && rp->partition == m->partition && !strcmp(rp->topic, topic)) return rp;
    for (size_t p = 0; p < rb->nparts; p++) {
        rp = &rb->parts[p];
        if (rp->partition == m->partition && !strcmp(rp->topic, topic)) return rb->last = rp;
    }
    return NULL;
}

void ops_rebuild_batch(ops_rebuild *rb, rd_kafka_message_t **msgs, size_t n) {
    if (!rb->first_ms) rb->first_ms = uv_now(rb->s->loop);
    for (size_t i = 0; i < n; i++) {
        rebuild_part *rp = rebuild_part_of(rb, msgs[i], rd_kafka_topic_name(msgs[i]->rkt));
        if (rp && msgs[i]->offset + 1 > rp->next) rp->next = msgs[i]->offset + 1;
    }
}

static void rebuild_closed(uv_handle_t *h) {
    ops_rebuild *rb = h->data;
    for (size_t w = 0; w < rb->nwaves; w++) ops_fold_free(rb->waves[w].fold);
    free(rb->waves);
    free(rb->parts);
    free(rb);
}

void ops_rebuild_free(ops_rebuild *rb) {
    uv_timer_stop(&rb->timer);
    uv_close((uv_handle_t *)&rb->timer, rebuild_closed);
}
