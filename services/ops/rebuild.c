/* rebuild.c - sendpath-ops --rebuild. See rebuild.h.
 *
 * Progress is judged between batches: the consumer hands out one batch at a
 * time, so when it is not busy every batch handed so far is applied (a
 * failed batch is retried and keeps it busy). A timer checks that, and the
 * highest offset handed per partition, against the marks. */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "erase.h"
#include "fold.h"
#include "rebuild.h"

typedef enum { DROP_NONE, DROP_RUNNING, DROP_DONE } drop_state;

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

struct ops_rebuild {
    sp_service *s;
    rebuild_part *parts;
    size_t nparts;
    rebuild_part *last; /* rebuild_part_of's last answer */
    rebuild_server servers[1 + SP_REDIS_SHARDS_MAX];
    size_t nservers;
    ops_fold *fold;
    uv_timer_t timer;
    uint64_t started_ms, first_ms; /* first_ms: the first batch (after the group join) */
    uint64_t write_ms;             /* when the writing out began */
    unsigned long long applied, repeats, messages, dropped;
    int writing, done;
};

void ops_rebuild_prepare(void) {
    char group[96];
    snprintf(group, sizeof(group), "sendpath-ops-rebuild-%ld-%lld", (long)getpid(),
             (long long)sp_clock_now_ms(NULL));
    setenv("SENDPATH_OPS_CONSUMER_GROUP", group, 1);
    setenv("SENDPATH_OPS_HTTP_PORT", "0", 1);
}

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

/* Starts the sweep of every server not swept or sweeping; 1 when all are
 * swept. */
static int rebuild_drop(ops_rebuild *rb) {
    int done = 1;
    for (size_t i = 0; i < rb->nservers; i++) {
        rebuild_server *sv = &rb->servers[i];
        if (sv->state == DROP_NONE && sp_redis_ready(sv->r)) {
            sv->state = DROP_RUNNING;
            snprintf(sv->cursor, sizeof(sv->cursor), "0");
            drop_scan(sv);
        }
        done &= sv->state == DROP_DONE;
    }
    return done;
}

/* ---- 2. the marks ------------------------------------------------------- */

static int rebuild_marks(ops_rebuild *rb, char *errstr, size_t size) {
    rd_kafka_t *rk = sp_consumer_handle(rb->s->consumer);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (err) {
        snprintf(errstr, size, "rebuild: metadata: %s", rd_kafka_err2str(err));
        return -1;
    }
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        int ours = 0;
        for (const int *id = rb->s->def->consume; *id >= 0; id++)
            ours |= !strcmp(mt->topic, sp_service_topic(rb->s, *id));
        for (int p = 0; ours && p < mt->partition_cnt; p++) {
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

/* ---- 3, 4. progress and the end ---------------------------------------- */

static int rebuild_caught_up(const ops_rebuild *rb) {
    for (size_t i = 0; i < rb->nparts; i++)
        if (rb->parts[i].next < rb->parts[i].high) return 0;
    return 1;
}

static void rebuild_report(ops_rebuild *rb) {
    uint64_t now = uv_now(rb->s->loop), ms = now - rb->started_ms;
    uint64_t apply_ms = rb->first_ms ? now - rb->first_ms : 0;
    double rate = apply_ms ? (double)(rb->applied + rb->repeats) * 1000.0 / (double)apply_ms : 0;
    printf("{\"rebuild\":\"done\",\"partitions\":%zu,\"messages\":%llu,\"applied\":%llu,"
           "\"repeats\":%llu,\"keys\":%zu,\"ms\":%llu,\"apply_ms\":%llu,\"write_ms\":%llu,"
           "\"events_per_s\":%.0f}\n",
           rb->nparts, rb->messages, rb->applied, rb->repeats, ops_fold_keys(rb->fold),
           (unsigned long long)ms, (unsigned long long)apply_ms,
           (unsigned long long)(now - rb->write_ms), rate);
    fflush(stdout);
    sp_info("rebuild: done: %llu events applied, %llu repeats dropped, %zu keys written, "
            "in %llu ms", rb->applied, rb->repeats, ops_fold_keys(rb->fold),
            (unsigned long long)ms);
}

/* A rebuild that cannot finish leaves a partial model: say so and exit
 * non-zero, so nobody starts ops on it (run it again). */
static void rebuild_abort(ops_rebuild *rb, const char *why) {
    sp_error("rebuild: failed: %s; the read model is incomplete: run --rebuild again", why);
    (void)rb;
    exit(1);
}

static void rebuild_written(int ok, void *opaque) {
    ops_rebuild *rb = opaque;
    if (!ok) rebuild_abort(rb, "writing the model to Redis");
    rb->done = 1;
    rebuild_report(rb);
    uv_kill(getpid(), SIGTERM); /* the runtime's graceful stop: commit, close, exit 0 */
}

/* Every event up to the marks folded and every server swept: write the
 * model out, 1,024 commands in flight: with 64 Redis and ops took turns
 * (write phase 1.75 s for 200,000 keys against 1.1 s; docs/performance.md). */
static void rebuild_check(uv_timer_t *t) {
    ops_rebuild *rb = t->data;
    int swept = rebuild_drop(rb);
    if (rb->writing || sp_consumer_busy(rb->s->consumer) || !rebuild_caught_up(rb) || !swept)
        return;
    rb->writing = 1;
    rb->write_ms = uv_now(rb->s->loop);
    uv_timer_stop(t);
    sp_info("rebuild: %llu events folded into %zu keys; %llu old ops:* keys dropped; writing",
            rb->applied, ops_fold_keys(rb->fold), rb->dropped);
    if (ops_fold_write(rb->fold, rb->s, 1024, rebuild_written, rb))
        rebuild_abort(rb, "a Redis server is not connected");
}

ops_rebuild *ops_rebuild_start(sp_service *s, char *errstr, size_t size) {
    ops_rebuild *rb = calloc(1, sizeof(*rb));
    sp_redis *all[1 + SP_REDIS_SHARDS_MAX];
    if (!rb || !(rb->fold = ops_fold_new())) {
        free(rb);
        snprintf(errstr, size, "rebuild: out of memory");
        return NULL;
    }
    rb->s = s;
    rb->nservers = sp_service_redis_all(s, all, sizeof(all) / sizeof(*all));
    for (size_t i = 0; i < rb->nservers; i++)
        rb->servers[i] = (rebuild_server){rb, all[i], DROP_NONE, "0"};
    if (rebuild_marks(rb, errstr, size)) {
        ops_fold_free(rb->fold);
        free(rb->parts);
        free(rb);
        return NULL;
    }
    sp_info("rebuild: %llu messages on %zu partitions to apply; ops:* to drop on %zu "
            "server(s)", rb->messages, rb->nparts, rb->nservers);
    rb->started_ms = uv_now(s->loop);
    uv_timer_init(s->loop, &rb->timer);
    rb->timer.data = rb;
    uv_timer_start(&rb->timer, rebuild_check, 50, 50);
    return rb;
}

void ops_rebuild_fold(ops_rebuild *rb, const ops_batch *b, int part) {
    size_t applied = 0, repeats = 0;
    if (ops_fold_apply(rb->fold, b, part, &applied, &repeats))
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
    ops_fold_free(rb->fold);
    free(rb->parts);
    free(rb);
}

void ops_rebuild_free(ops_rebuild *rb) {
    uv_timer_stop(&rb->timer);
    uv_close((uv_handle_t *)&rb->timer, rebuild_closed);
}
