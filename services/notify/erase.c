/* erase.c - case.erased at notify. See erase.h.
 *
 * The case's keys and its partition's retry queue are on the partition's
 * server (redis.shards); the same script then runs on redis.host for what
 * an older notify kept there (the case's keys before redis.shards was set,
 * the old global queue and waiting index), and the digest's clocks of the
 * case, which are on redis.host, are swept last. Each step is idempotent:
 * a retried batch runs them all again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "erase.h"
#include "queue.h"

/* KEYS: notify:case, notify:facts, notify:pending of the case, the waiting
 * index, the retry queue. ARGV: the case id, its pending key's name, the
 * queue's record key prefix. The retry queue is short (sends a provider put
 * off), so it is read whole. */
static const char erase_lua[] =
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
    "redis.call('HDEL', KEYS[4], ARGV[2])\n"
    "local n = 0\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do\n"
    "  local rk = ARGV[3] .. k\n"
    "  local job = redis.call('HGET', rk, 'job')\n"
    "  if job and string.find(job, ARGV[1], 1, true) then\n"
    "    redis.call('DEL', rk)\n"
    "    redis.call('ZREM', KEYS[5], k)\n"
    "    if redis.call('EXISTS', 'notify:sent:' .. k) == 1 then\n"
    "      redis.call('SET', 'notify:sent:' .. k, 'dead', 'KEEPTTL')\n"
    "    end\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

typedef struct notify_eraser {
    sp_service *s;
    sp_erase_cb cb;
    void *opaque;
    int partition;
    int step; /* 0: on the case's server, 1: on redis.host, 2: the clocks */
    char case_id[64];
} notify_eraser;

static void erase_swept(int err, void *opaque) {
    notify_eraser *e = opaque;
    e->cb(e->s, err, e->opaque);
    free(e);
}

/* The script on the case's server (partition >= 0) or on redis.host for
 * the keys an older notify kept there (partition -1). */
static int erase_run(notify_eraser *e, int partition);

static void erase_dropped(sp_redis *r, redisReply *rep, void *priv) {
    notify_eraser *e = priv;
    (void)r;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        erase_swept(-1, e);
        return;
    }
    if (e->step++ == 0) {
        if (erase_run(e, -1)) erase_swept(-1, e);
        return;
    }
    if (sp_erasure_sweep_fields(e->s->redis /* redis.host: notify:clocks */,
                                "notify:clocks", e->case_id, erase_swept, e))
        erase_swept(-1, e);
}

static int erase_run(notify_eraser *e, int partition) {
    char ck[96], fk[96], pk[96], wk[48], queue[32], prefix[40];
    const char *id = e->case_id;
    sp_redis *r = partition < 0 ? e->s->redis /* redis.host: older notify's keys */
                                : sp_service_redis(e->s, partition);
    snprintf(ck, sizeof(ck), "notify:case:%s", id);
    snprintf(fk, sizeof(fk), "notify:facts:%s", id);
    snprintf(pk, sizeof(pk), "notify:pending:%s", id);
    if (partition < 0)
        snprintf(wk, sizeof(wk), "notify:waiting");
    else
        snprintf(wk, sizeof(wk), "notify:waiting:{s%d}", partition);
    snprintf(prefix, sizeof(prefix), "%s:", notify_queue_name(partition, queue, sizeof(queue)));
    const char *argv[] = {"EVAL", erase_lua, "5", ck, fk, pk, wk, queue, id, pk, prefix};
    return sp_redis_command_argv(r, erase_dropped, e, 11, argv, NULL);
}

int notify_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque) {
    notify_eraser *e = calloc(1, sizeof(*e));
    if (!e) return -1;
    *e = (notify_eraser){s, cb, opaque, partition, 0, ""};
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id);
    if (erase_run(e, partition < 0 ? 0 : partition)) {
        free(e);
        return -1;
    }
    return 0;
}
