/* erase.c - case.erased at ops. See erase.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "batch.h"
#include "erase.h"

/* KEYS: ops:case, ops:timeline, ops:clocks, ops:seen of the case, then its
 * shard's ops:who, ops:dl, ops:sen2:decided, ops:sen2:issued,
 * ops:sen2:arlate ({s<p>}), ops:case of the anonymous id (on the case's
 * server too: the SEN2 read looks it up where it found the anonymous row). ARGV: the case id, the anonymous id. The case's clock
 * ids (the fields of ops:clocks, "<case>:<clock>...") find its rows in
 * ops:dl and ops:sen2:arlate without a scan. */
static const char erase_lua[] =
    "local c, anon = ARGV[1], ARGV[2]\n"
    "local kept = 0\n"
    "for i = 7, 8 do\n"
    "  local day = redis.call('ZSCORE', KEYS[i], c)\n"
    "  if day then\n"
    "    redis.call('ZREM', KEYS[i], c)\n"
    "    redis.call('ZADD', KEYS[i], day, anon)\n"
    "    kept = 1\n"
    "  end\n"
    "end\n"
    "local f = redis.call('HMGET', KEYS[1], 'received_date', 'exc:final_plan')\n"
    "if kept == 1 and f[1] then\n"
    "  redis.call('HSET', KEYS[10], 'received_date', f[1])\n"
    "  if f[2] then redis.call('HSET', KEYS[10], 'exc:final_plan', '1') end\n"
    "end\n"
    "for _, id in ipairs(redis.call('HKEYS', KEYS[3])) do\n"
    "  redis.call('HDEL', KEYS[6], id)\n"
    "  local day = redis.call('ZSCORE', KEYS[9], id)\n"
    "  if day then\n"
    "    redis.call('ZREM', KEYS[9], id)\n"
    "    redis.call('ZADD', KEYS[9], day, anon .. string.sub(id, #c + 1))\n"
    "  end\n"
    "end\n"
    "redis.call('HDEL', KEYS[5], c)\n"
    "return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])\n";

typedef struct ops_eraser {
    sp_service *s;
    sp_erase_cb cb;
    void *opaque;
} ops_eraser;

static void erase_done(sp_redis *r, redisReply *rep, void *priv) {
    ops_eraser *e = priv;
    e->cb(e->s, !rep || rep->type != REDIS_REPLY_INTEGER, e->opaque);
    free(e);
}

int ops_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
              void *opaque) {
    char k[5][96], anon_case[96], anon[32], hash[SP_ERASURE_HASH_HEX + 1];
    char sh[5][OPS_SHARD_KEY_MAX];
    sp_redis *r = sp_service_redis(s, partition);
    static const char *const per_case[] = {"ops:case:", "ops:timeline:", "ops:clocks:",
                                           "ops:seen:"};
    ops_eraser *e = calloc(1, sizeof(*e));
    if (!e || !r) {
        free(e);
        return -1;
    }
    *e = (ops_eraser){s, cb, opaque};
    for (int i = 0; i < 4; i++) snprintf(k[i], sizeof(k[i]), "%s%s", per_case[i], case_id);
    sp_erasure_hash(case_id, hash, sizeof(hash));
    snprintf(anon, sizeof(anon), "erased_%.20s", hash);
    snprintf(anon_case, sizeof(anon_case), "ops:case:%s", anon);
    for (int i = 0; i < 5; i++) ops_key_shard(sh[i], (ops_key)(OPS_K_DL + i), partition);
    const char *argv[] = {"EVAL", erase_lua, "10", k[0], k[1], k[2], k[3], sh[1], sh[0],
                          sh[2], sh[3], sh[4], anon_case, case_id, anon};
    if (sp_redis_command_argv(r, erase_done, e, 15, argv, NULL)) {
        free(e);
        return -1;
    }
    return 0;
}
