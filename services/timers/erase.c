/* erase.c - case.erased at timers. See erase.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "erase.h"
#include "layout.h"

/* KEYS: the shard's bucket prefix (store.h), q, x, z. ARGV: the case id,
 * and the case part of its layout 2 slots (layout.h). Slots are
 * "<case>:<clock>...", in the bucket of the id's last two characters. */
static const char erase_lua[] =
    "local pre, pre2 = ARGV[1] .. ':', ARGV[2] .. ':'\n"
    "local bucket = KEYS[1] .. string.sub(ARGV[1], -2)\n"
    "local n = 0\n"
    "for _, slot in ipairs(redis.call('HKEYS', bucket)) do\n"
    "  if string.sub(slot, 1, #pre) == pre or string.sub(slot, 1, #pre2) == pre2 then\n"
    "    redis.call('HDEL', bucket, slot)\n"
    "    redis.call('ZREM', KEYS[2], slot)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "for _, slot in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
    "  redis.call('ZREM', KEYS[2], slot)\n"
    "end\n"
    "redis.call('DEL', KEYS[3], KEYS[4])\n"
    "return n\n";

typedef struct timers_eraser {
    sp_service *s;
    sp_redis *r;
    sp_erase_cb cb;
    void *opaque;
    int shard;
    char case_id[64];
} timers_eraser;

static void erase_swept(int err, void *opaque) {
    timers_eraser *e = opaque;
    e->cb(e->s, err, e->opaque);
    free(e);
}

static void erase_dropped(sp_redis *r, redisReply *rep, void *priv) {
    timers_eraser *e = priv;
    char pattern[64];
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        erase_swept(-1, e);
        return;
    }
    snprintf(pattern, sizeof(pattern), "tm:{s%d}:d:*", e->shard);
    /* The case part of a layout 2 slot is in layout 1's too. */
    if (sp_erasure_sweep_fields(e->r, pattern, timers_layout_case(e->case_id), erase_swept, e))
        erase_swept(-1, e);
}

int timers_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque) {
    char c[64], q[64], x[96], z[96];
    timers_eraser *e;
    sp_redis *r = sp_service_redis(s, partition);
    if (!r || !(e = calloc(1, sizeof(*e)))) return -1;
    *e = (timers_eraser){s, r, cb, opaque, partition, ""};
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id);
    snprintf(c, sizeof(c), "tm:{s%d}:c:", partition);
    snprintf(q, sizeof(q), "tm:{s%d}:q", partition);
    snprintf(x, sizeof(x), "tm:{s%d}:x:%s", partition, case_id);
    snprintf(z, sizeof(z), "tm:{s%d}:z:%s", partition, case_id);
    const char *argv[] = {"EVAL", erase_lua, "4", c, q, x, z, case_id,
                          timers_layout_case(case_id)};
    if (sp_redis_command_argv(r, erase_dropped, e, 9, argv, NULL)) {
        free(e);
        return -1;
    }
    return 0;
}
