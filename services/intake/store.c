/* store.c - intake's Redis keys. See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "log.h"
#include "store.h"

/* Every reservation also enters intake:pending, scored by Redis's clock in
 * ms, until it is marked done: repair.c republishes what a request left
 * there (its intake died, or the broker failed it and the client never
 * retried). KEYS[k] is intake:pending. */
#define PENDING_ADD_LUA(k)                                                      \
    "local t = redis.call('TIME')\n"                                            \
    "redis.call('ZADD', KEYS[" #k "], t[1] * 1000 + math.floor(t[2] / 1000), KEYS[1])\n"

static const char reserve_lua[] =
    "local idem = redis.call('HMGET', KEYS[1], 'case_id', 'state', 'event', 'fp',\n"
    "                        'etype', 'eid')\n"
    "if idem[1] then\n"
    "  if idem[4] ~= ARGV[3] then return {'key_reused', idem[1]} end\n"
    "  if idem[2] == 'done' then\n"
    "    local st = redis.call('HGET', 'intake:case:' .. idem[1], 'state') or ''\n"
    "    return {'done', idem[1], (idem[5] or '') .. '\\t' .. (idem[6] or '') .. '\\t' .. st}\n"
    "  end\n"
    "  return {'pending', idem[1], idem[3]}\n"
    "end\n"
    "local open = redis.call('GET', KEYS[2])\n"
    "if open then return {'child_open', open} end\n"
    "redis.call('HSET', KEYS[1], 'case_id', ARGV[1], 'state', 'pending',\n"
    "           'event', ARGV[2], 'fp', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    PENDING_ADD_LUA(4)
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[3], 'state', ARGV[9], 'child', ARGV[5],\n"
    "           'received_date', ARGV[6], 'date_of_birth', ARGV[7], 'kind', ARGV[8])\n"
    "if ARGV[10] ~= '' then redis.call('HSET', KEYS[3], 'profile', ARGV[10]) end\n"
    "if ARGV[11] ~= '' then redis.call('HSET', KEYS[3], 'school_urn', ARGV[11]) end\n"
    "return {'new', ARGV[1], ARGV[2]}\n";

/* KEYS: idem, case, child. ARGV: case id, event, fp, ttl, allowed, next,
 * release, the command's date (kept as state_date when the state moves). */
static const char command_lua[] =
    "local idem = redis.call('HMGET', KEYS[1], 'case_id', 'state', 'event', 'fp',\n"
    "                        'etype', 'eid')\n"
    "if idem[1] then\n"
    "  if idem[4] ~= ARGV[3] or idem[1] ~= ARGV[1] then return {'key_reused', idem[1]} end\n"
    "  if idem[2] == 'done' then\n"
    "    local st = redis.call('HGET', KEYS[2], 'state') or ''\n"
    "    return {'done', idem[1], (idem[5] or '') .. '\\t' .. (idem[6] or '') .. '\\t' .. st}\n"
    "  end\n"
    "  return {'pending', idem[1], idem[3]}\n"
    "end\n"
    "local st = redis.call('HGET', KEYS[2], 'state')\n"
    "if not st then return {'no_case', ARGV[1]} end\n"
    "if not string.find(ARGV[5], ',' .. st .. ',', 1, true) then\n"
    "  return {'conflict', ARGV[1], st}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'case_id', ARGV[1], 'state', 'pending',\n"
    "           'event', ARGV[2], 'fp', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    PENDING_ADD_LUA(4)
    "if ARGV[6] ~= '' then\n"
    "  redis.call('HSET', KEYS[2], 'state', ARGV[6])\n"
    "  if ARGV[8] ~= '' then redis.call('HSET', KEYS[2], 'state_date', ARGV[8]) end\n"
    "end\n"
    "if ARGV[7] == '1' and redis.call('GET', KEYS[3]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[3])\n"
    "end\n"
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
        {"key_reused", INTAKE_RESERVE_KEY_REUSED}, {"no_case", INTAKE_RESERVE_NO_CASE},
        {"conflict", INTAKE_RESERVE_CONFLICT}};
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
    const char *argv[] = {"EVAL", reserve_lua, "4", idem, child, casek, INTAKE_PENDING_KEY,
                          res->case_id, res->event, res->fingerprint, ttl,
                          res->child_key, res->received_date,
                          res->date_of_birth ? res->date_of_birth : "", res->kind,
                          res->state, res->profile ? res->profile : "",
                          res->school_urn ? res->school_urn : ""};
    if (sp_redis_command_argv(r, reserve_reply, call, 18, argv, NULL)) {
        free(call);
        return -1;
    }
    return 0;
}

int intake_store_reserve_command(sp_redis *r, const intake_command_reservation *res,
                                 intake_reserve_cb cb, void *opaque) {
    char idem[96], casek[64], child[96], ttl[24];
    reserve_call *call = malloc(sizeof(*call));
    if (!call) return -1;
    call->cb = cb;
    call->opaque = opaque;
    idem_redis_key(res->idem_key, idem, sizeof(idem));
    snprintf(casek, sizeof(casek), "intake:case:%s", res->case_id);
    snprintf(child, sizeof(child), "intake:child:%s", res->child_key ? res->child_key : "");
    snprintf(ttl, sizeof(ttl), "%lld", res->idem_ttl_s);
    const char *argv[] = {"EVAL", command_lua, "4", idem, casek, child, INTAKE_PENDING_KEY,
                          res->case_id,
                          res->event, res->fingerprint, ttl, res->allowed,
                          res->next_state ? res->next_state : "",
                          res->release_child ? "1" : "0", res->date ? res->date : ""};
    if (sp_redis_command_argv(r, reserve_reply, call, 15, argv, NULL)) {
        free(call);
        return -1;
    }
    return 0;
}

int intake_store_case_read(sp_redis *r, const char *case_id, sp_redis_cb cb, void *priv) {
    return sp_redis_command(r, cb, priv,
                            "HMGET intake:case:%s state child received_date date_of_birth kind profile "
                            "school_urn",
                            case_id);
}

/* The event text is dropped (it is on the topic); its type and id stay so a
 * repeat is answered exactly as the first time. */
static const char done_lua[] =
    "redis.call('HSET', KEYS[1], 'state', 'done', 'event', '', 'etype', ARGV[1],\n"
    "           'eid', ARGV[2])\n"
    "redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "return 1\n";

int intake_store_done_key(sp_redis *r, const char *idem_redis_key, const char *event_type,
                          const char *event_id, sp_redis_cb cb, void *opaque) {
    const char *argv[] = {"EVAL", done_lua, "2", idem_redis_key, INTAKE_PENDING_KEY,
                          event_type, event_id};
    return sp_redis_command_argv(r, cb, opaque, 7, argv, NULL);
}

int intake_store_done(sp_redis *r, const char *idem_key, const char *event_type,
                      const char *event_id, sp_redis_cb cb, void *opaque) {
    char idem[96];
    idem_redis_key(idem_key, idem, sizeof(idem));
    return intake_store_done_key(r, idem, event_type, event_id, cb, opaque);
}

/* Takes up to ARGV[2] reservations pending longer than ARGV[1] ms and
 * re-scores them to now: a lease, so that another instance's sweep leaves
 * them for a whole period. One that is done, or whose record expired, only
 * leaves the index. Returns {idem key, case id, event, ...}. */
static const char stale_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]),\n"
    "                       'LIMIT', 0, tonumber(ARGV[2]))\n"
    "local out = {}\n"
    "for _, k in ipairs(due) do\n"
    "  local h = redis.call('HMGET', k, 'state', 'event', 'case_id')\n"
    "  if h[1] == 'pending' and h[2] and h[2] ~= '' and h[3] then\n"
    "    redis.call('ZADD', KEYS[1], now, k)\n"
    "    out[#out + 1] = k; out[#out + 1] = h[3]; out[#out + 1] = h[2]\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], k)\n"
    "  end\n"
    "end\n"
    "return out\n";

int intake_store_stale(sp_redis *r, long long older_ms, int max, sp_redis_cb cb,
                       void *opaque) {
    char older[24], n[16];
    snprintf(older, sizeof(older), "%lld", older_ms);
    snprintf(n, sizeof(n), "%d", max);
    const char *argv[] = {"EVAL", stale_lua, "1", INTAKE_PENDING_KEY, older, n};
    return sp_redis_command_argv(r, cb, opaque, 6, argv, NULL);
}
