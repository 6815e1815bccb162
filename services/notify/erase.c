/* erase.c - case.erased at notify. See erase.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "erase.h"

/* KEYS: notify:case, notify:facts, notify:pending of the case,
 * notify:waiting, notify:retry. ARGV: the case id, its pending key's name.
 * The retry queue is short (sends a provider put off), so it is read
 * whole. */
static const char erase_lua[] =
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
    "redis.call('HDEL', KEYS[4], ARGV[2])\n"
    "local n = 0\n"
    "for _, k in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do\n"
    "  local rk = 'notify:retry:' .. k\n"
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
    char case_id[64];
} notify_eraser;

static void erase_swept(int err, void *opaque) {
    notify_eraser *e = opaque;
    e->cb(e->s, err, e->opaque);
    free(e);
}

static void erase_dropped(sp_redis *r, redisReply *rep, void *priv) {
    notify_eraser *e = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        erase_swept(-1, e);
        return;
    }
    if (sp_erasure_sweep_fields(e->s->redis, "notify:clocks", e->case_id, erase_swept, e))
        erase_swept(-1, e);
}

int notify_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque) {
    char ck[96], fk[96], pk[96];
    notify_eraser *e = calloc(1, sizeof(*e));
    (void)partition; /* notify keeps every key on redis.host */
    if (!e) return -1;
    *e = (notify_eraser){s, cb, opaque, ""};
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id);
    snprintf(ck, sizeof(ck), "notify:case:%s", case_id);
    snprintf(fk, sizeof(fk), "notify:facts:%s", case_id);
    snprintf(pk, sizeof(pk), "notify:pending:%s", case_id);
    const char *argv[] = {"EVAL", erase_lua, "5", ck, fk, pk, "notify:waiting",
                          "notify:retry", case_id, pk};
    if (sp_redis_command_argv(s->redis, erase_dropped, e, 10, argv, NULL)) {
        free(e);
        return -1;
    }
    return 0;
}
