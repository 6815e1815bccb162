/* store.c - intake's Redis keys. See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "log.h"
#include "store.h"

static const char reserve_lua[] =
    "local idem = redis.call('HMGET', KEYS[1], 'case_id', 'state', 'event', 'fp')\n"
    "if idem[1] then\n"
    "  if idem[4] ~= ARGV[3] then return {'key_reused', idem[1]} end\n"
    "  if idem[2] == 'done' then return {'done', idem[1]} end\n"
    "  return {'pending', idem[1], idem[3]}\n"
    "end\n"
    "local open = redis.call('GET', KEYS[2])\n"
    "if open then return {'child_open', open} end\n"
    "redis.call('HSET', KEYS[1], 'case_id', ARGV[1], 'state', 'pending',\n"
    "           'event', ARGV[2], 'fp', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[3], 'state', 'received', 'child', ARGV[5],\n"
    "           'received_date', ARGV[6])\n"
    "return {'new', ARGV[1], ARGV[2]}\n";

typedef struct reserve_call {
    intake_reserve_cb cb;
    void *opaque;
} reserve_call;

static void idem_redis_key(const char *idem, char *out, size_t size) {
    unsigned char md[32];
    unsigned int n = 0;
    size_t o = (size_t)snprintf(out, size, "intake:idem:");
    EVP_Digest(idem, strlen(idem), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n && o + 2 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%02x", md[i]);
}

static void reserve_reply(sp_redis *r, redisReply *rep, void *priv) {
    reserve_call *call = priv;
    static const struct { const char *word; intake_reserve_result res; } map[] = {
        {"new", INTAKE_RESERVE_NEW}, {"pending", INTAKE_RESERVE_PENDING},
        {"done", INTAKE_RESERVE_DONE}, {"child_open", INTAKE_RESERVE_CHILD_OPEN},
        {"key_reused", INTAKE_RESERVE_KEY_REUSED}};
    intake_reserve_result res = INTAKE_RESERVE_ERROR;
    const char *case_id = NULL, *event = NULL;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(rep->element[0]->str, map[i].word) == 0) res = map[i].res;
        case_id = rep->element[1]->str;
        if (rep->elements > 2 && rep->element[2]->type == REDIS_REPLY_STRING)
            event = rep->element[2]->str;
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sp_error("intake reserve: %s", rep->str);
    }
    call->cb(res, case_id, event, call->opaque);
    free(call);
}

int intake_store_reserve(sp_redis *r, const intake_reservation *res,
                         intake_reserve_cb cb, void *opaque) {
    char idem[96], child[96], casek[64], ttl[24];
    reserve_call *call = malloc(sizeof(*call));
    if (!call) return -1;
    call->cb = cb;
    call->opaque = opaque;
    idem_redis_key(res->idem_key, idem, sizeof(idem));
    snprintf(child, sizeof(child), "intake:child:%s", res->child_key);
    snprintf(casek, sizeof(casek), "intake:case:%s", res->case_id);
    snprintf(ttl, sizeof(ttl), "%lld", res->idem_ttl_s);
    const char *argv[] = {"EVAL", reserve_lua, "3", idem, child, casek,
                          res->case_id, res->event, res->fingerprint, ttl,
                          res->child_key, res->received_date};
    if (sp_redis_command_argv(r, reserve_reply, call, 12, argv, NULL)) {
        free(call);
        return -1;
    }
    return 0;
}

int intake_store_done(sp_redis *r, const char *idem_key, sp_redis_cb cb, void *opaque) {
    char idem[96];
    idem_redis_key(idem_key, idem, sizeof(idem));
    return sp_redis_command(r, cb, opaque, "HSET %s state done event %s", idem, "");
}
