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
#include "rebuild.h"

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
    uv_timer_t timer;
    uint64_t started_ms, first_ms; /* first_ms: the first batch (after the group join) */
    unsigned long long applied, repeats, messages;
    int done;
};

void ops_rebuild_prepare(void) {
    char group[96];
    snprintf(group, sizeof(group), "sendpath-ops-rebuild-%ld-%lld", (long)getpid(),
             (long long)sp_clock_now_ms(NULL));
    setenv("SENDPATH_OPS_CONSUMER_GROUP", group, 1);
    setenv("SENDPATH_OPS_HTTP_PORT", "0", 1);
}

/* ---- 1. drop ops:* ------------------------------------------------------- */

/* UNLINKs one SCAN page, all but the marks of erased cases: the topics still
 * hold their events, and the rebuild must not bring them back (erase.h).
 * Returns 0 or -1 with errstr. */
static int rebuild_unlink(redisContext *rc, const redisReply *keys,
                          unsigned long long *dropped, char *errstr, size_t size) {
    const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
    size_t n = 1;
    redisReply *del;
    if (!argv) {
        snprintf(errstr, size, "rebuild: out of memory");
        return -1;
    }
    argv[0] = "UNLINK";
    for (size_t i = 0; i < keys->elements; i++)
        if (strcmp(keys->element[i]->str, OPS_ERASED_KEY) != 0)
            argv[n++] = keys->element[i]->str;
    if (n == 1) {
        free(argv);
        return 0;
    }
    del = redisCommandArgv(rc, (int)n, argv, NULL);
    free(argv);
    if (!del || del->type != REDIS_REPLY_INTEGER) {
        snprintf(errstr, size, "rebuild: UNLINK failed");
        freeReplyObject(del);
        return -1;
    }
    *dropped += (unsigned long long)del->integer;
    freeReplyObject(del);
    return 0;
}

static int rebuild_drop(sp_service *s, unsigned long long *dropped, char *errstr, size_t size) {
    sp_common_conf *c = s->common;
    struct timeval tv = {(long)(c->redis_timeout_ms / 1000), (long)(c->redis_timeout_ms % 1000) * 1000};
    redisContext *rc = redisConnectWithTimeout(c->redis_host, (int)c->redis_port, tv);
    redisReply *rep = NULL;
    char cursor[32] = "0";
    int rv = -1;
    if (!rc || rc->err) {
        snprintf(errstr, size, "rebuild: redis %s:%lld: %s", c->redis_host, c->redis_port,
                 rc ? rc->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(rc, tv);
    if (c->redis_password && *c->redis_password) {
        rep = redisCommand(rc, "AUTH %s", c->redis_password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, size, "rebuild: redis AUTH refused");
            goto out;
        }
        freeReplyObject(rep);
    }
    do {
        rep = redisCommand(rc, "SCAN %s MATCH ops:* COUNT 1000", cursor);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            snprintf(errstr, size, "rebuild: SCAN failed: %s", rep && rep->str ? rep->str : rc->errstr);
            goto out;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *keys = rep->element[1];
        if (keys->elements && rebuild_unlink(rc, keys, dropped, errstr, size)) goto out;
        freeReplyObject(rep);
        rep = NULL;
    } while (strcmp(cursor, "0") != 0);
    rv = 0;
out:
    if (rep) freeReplyObject(rep);
    if (rc) redisFree(rc);
    return rv;
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

static void rebuild_check(uv_timer_t *t) {
    ops_rebuild *rb = t->data;
    if (rb->done || sp_consumer_busy(rb->s->consumer) || !rebuild_caught_up(rb)) return;
    rb->done = 1;
    uint64_t now = uv_now(rb->s->loop), ms = now - rb->started_ms;
    uint64_t apply_ms = rb->first_ms ? now - rb->first_ms : 0;
    double rate = apply_ms ? (double)(rb->applied + rb->repeats) * 1000.0 / (double)apply_ms : 0;
    printf("{\"rebuild\":\"done\",\"partitions\":%zu,\"messages\":%llu,\"applied\":%llu,"
           "\"repeats\":%llu,\"ms\":%llu,\"apply_ms\":%llu,\"events_per_s\":%.0f}\n",
           rb->nparts, rb->messages, rb->applied, rb->repeats, (unsigned long long)ms,
           (unsigned long long)apply_ms, rate);
    fflush(stdout);
    sp_info("rebuild: done: %llu events applied, %llu repeats dropped, in %llu ms",
            rb->applied, rb->repeats, (unsigned long long)ms);
    uv_timer_stop(t);
    uv_kill(getpid(), SIGTERM); /* the runtime's graceful stop: commit, close, exit 0 */
}

ops_rebuild *ops_rebuild_start(sp_service *s, char *errstr, size_t size) {
    ops_rebuild *rb = calloc(1, sizeof(*rb));
    unsigned long long dropped = 0;
    if (!rb) {
        snprintf(errstr, size, "rebuild: out of memory");
        return NULL;
    }
    rb->s = s;
    if (rebuild_drop(s, &dropped, errstr, size) || rebuild_marks(rb, errstr, size)) {
        free(rb->parts);
        free(rb);
        return NULL;
    }
    sp_info("rebuild: dropped %llu ops:* keys; %llu messages on %zu partitions to apply",
            dropped, rb->messages, rb->nparts);
    rb->started_ms = uv_now(s->loop);
    uv_timer_init(s->loop, &rb->timer);
    rb->timer.data = rb;
    uv_timer_start(&rb->timer, rebuild_check, 50, 50);
    return rb;
}

void ops_rebuild_batch(ops_rebuild *rb, rd_kafka_message_t **msgs, size_t n) {
    if (!rb->first_ms) rb->first_ms = uv_now(rb->s->loop);
    for (size_t i = 0; i < n; i++) {
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        for (size_t p = 0; p < rb->nparts; p++) {
            rebuild_part *rp = &rb->parts[p];
            if (rp->partition == msgs[i]->partition && !strcmp(rp->topic, topic) &&
                msgs[i]->offset + 1 > rp->next)
                rp->next = msgs[i]->offset + 1;
        }
    }
}

void ops_rebuild_count(ops_rebuild *rb, size_t applied, size_t repeats) {
    rb->applied += applied;
    rb->repeats += repeats;
}

static void rebuild_closed(uv_handle_t *h) {
    ops_rebuild *rb = h->data;
    free(rb->parts);
    free(rb);
}

void ops_rebuild_free(ops_rebuild *rb) {
    uv_timer_stop(&rb->timer);
    uv_close((uv_handle_t *)&rb->timer, rebuild_closed);
}
