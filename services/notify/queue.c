/* queue.c - the retry queue's Redis keys. See queue.h.
 *
 * Three Lua scripts, one per change. The claim script names the records'
 * keys itself (prefix + member) instead of receiving them in KEYS: a shard's
 * queue and its records share the hash tag {s<p>}, so they are on one server
 * in a cluster too. The sent key (store.h) is the case's, on the same server
 * (redis.shards puts a partition's keys on one server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "queue.h"

#define QUEUE_KEY "notify:retry"

char *notify_queue_name(int partition, char *buf, size_t size) {
    if (partition < 0)
        snprintf(buf, size, QUEUE_KEY);
    else
        snprintf(buf, size, QUEUE_KEY ":{s%d}", partition);
    return buf;
}

/* KEYS: sent key, queue, record. ARGV: sent value ('' leaves it), ttl, score,
 * member, field, value, ... */
static const char put_lua[] =
    "if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end\n"
    "if #ARGV > 4 then redis.call('HSET', KEYS[3], unpack(ARGV, 5)) end\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])\n"
    "return 1\n";

/* KEYS: sent key, queue, record. ARGV: sent value ('' leaves it), ttl, member. */
static const char remove_lua[] =
    "redis.call('ZREM', KEYS[2], ARGV[3])\n"
    "redis.call('DEL', KEYS[3])\n"
    "if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end\n"
    "return 1\n";

/* KEYS: queue. ARGV: now, lease until, limit, record key prefix. Returns
 * member, {field, value, ...}, member, ... */
static const char claim_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, "
    "tonumber(ARGV[3]))\n"
    "local out = {}\n"
    "for _, m in ipairs(due) do\n"
    "  local h = redis.call('HGETALL', ARGV[4] .. m)\n"
    "  if #h == 0 then redis.call('ZREM', KEYS[1], m)\n"
    "  else\n"
    "    redis.call('ZADD', KEYS[1], ARGV[2], m)\n"
    "    table.insert(out, m)\n"
    "    table.insert(out, h)\n"
    "  end\n"
    "end\n"
    "return out\n";

typedef struct queue_call {
    notify_queue_cb done;
    notify_queue_claimed_cb claimed;
    void *opaque;
} queue_call;

static int reply_failed(const redisReply *rep, const char *what) {
    if (!rep) return 1;
    if (rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("notify queue %s: %s", what, rep->str);
    return 1;
}

/* ---- writes ---------------------------------------------------------------- */

static void write_reply(sp_redis *r, redisReply *rep, void *priv) {
    queue_call *call = priv;
    call->done(reply_failed(rep, "write") ? -1 : 0, call->opaque);
    free(call);
}

/* EVALs script on (sent key, queue, record) with head[] then fields[]. */
static int queue_eval(sp_redis *r, int partition, const char *script, const char *key_hex,
                      const char *const *head, size_t nhead, const char *const *fields,
                      size_t n, notify_queue_cb cb, void *opaque) {
    char sent[128], rec[128], queue[32];
    size_t argc = 0;
    const char **argv = malloc((6 + nhead + n) * sizeof(*argv));
    queue_call *call = calloc(1, sizeof(*call));
    int rc = -1;
    if (!argv || !call) goto out;
    *call = (queue_call){cb, NULL, opaque};
    snprintf(sent, sizeof(sent), "notify:sent:%s", key_hex);
    notify_queue_name(partition, queue, sizeof(queue));
    snprintf(rec, sizeof(rec), "%s:%s", queue, key_hex);
    argv[argc++] = "EVAL", argv[argc++] = script, argv[argc++] = "3";
    argv[argc++] = sent, argv[argc++] = queue, argv[argc++] = rec;
    for (size_t i = 0; i < nhead; i++) argv[argc++] = head[i];
    for (size_t i = 0; i < n; i++) argv[argc++] = fields[i];
    rc = sp_redis_command_argv(r, write_reply, call, (int)argc, argv, NULL);
out:
    if (rc) free(call);
    free(argv);
    return rc;
}

int notify_queue_put(sp_redis *r, int partition, const char *key_hex, const char *sent_value,
                     long long ttl_s, long long score_ms, const char *const *fields,
                     size_t n, notify_queue_cb cb, void *opaque) {
    char ttl[24], score[24];
    snprintf(ttl, sizeof(ttl), "%lld", ttl_s);
    snprintf(score, sizeof(score), "%lld", score_ms);
    const char *head[] = {sent_value ? sent_value : "", ttl, score, key_hex};
    return queue_eval(r, partition, put_lua, key_hex, head, 4, fields, n, cb, opaque);
}

int notify_queue_remove(sp_redis *r, int partition, const char *key_hex, const char *sent_value,
                        long long ttl_s, notify_queue_cb cb, void *opaque) {
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", ttl_s);
    const char *head[] = {sent_value ? sent_value : "", ttl, key_hex};
    return queue_eval(r, partition, remove_lua, key_hex, head, 3, NULL, 0, cb, opaque);
}

/* ---- claims ---------------------------------------------------------------- */

const char *notify_queued_get(const notify_queued *q, const char *name) {
    for (size_t i = 0; i + 1 < q->nfields; i += 2)
        if (strcmp(q->fields[i], name) == 0) return q->fields[i + 1];
    return NULL;
}

void notify_queued_free(notify_queued *recs, size_t n) {
    if (!recs) return;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < recs[i].nfields; j++) free(recs[i].fields[j]);
        free(recs[i].fields);
    }
    free(recs);
}

/* A hash reply's strings into q. Returns 0 or -1. */
static int fields_copy(notify_queued *q, const redisReply *h) {
    if (!(q->fields = calloc(h->elements ? h->elements : 1, sizeof(char *)))) return -1;
    for (size_t i = 0; i < h->elements; i++) {
        const redisReply *e = h->element[i];
        if (e->type != REDIS_REPLY_STRING || !(q->fields[i] = strndup(e->str, e->len)))
            return -1;
        q->nfields = i + 1;
    }
    return 0;
}

/* member, {field, value...}, ... into records. Returns 0 or -1. */
static int claimed_copy(const redisReply *rep, notify_queued **out, size_t *n) {
    size_t count = rep->elements / 2;
    notify_queued *recs = calloc(count ? count : 1, sizeof(*recs));
    if (!recs) return -1;
    for (size_t i = 0; i < count; i++) {
        const redisReply *m = rep->element[2 * i], *h = rep->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || m->len != NOTIFY_SENT_KEY_HEX ||
            h->type != REDIS_REPLY_ARRAY || fields_copy(&recs[i], h)) {
            notify_queued_free(recs, i + 1);
            return -1;
        }
        memcpy(recs[i].key, m->str, NOTIFY_SENT_KEY_HEX);
    }
    *out = recs;
    *n = count;
    return 0;
}

static void claim_reply(sp_redis *r, redisReply *rep, void *priv) {
    queue_call *call = priv;
    notify_queued *recs = NULL;
    size_t n = 0;
    int err = reply_failed(rep, "claim") || rep->type != REDIS_REPLY_ARRAY ||
              claimed_copy(rep, &recs, &n);
    call->claimed(err ? -1 : 0, err ? NULL : recs, err ? 0 : n, call->opaque);
    free(call);
}

int notify_queue_claim(sp_redis *r, int partition, long long now_ms,
                       long long lease_until_ms, size_t limit, notify_queue_claimed_cb cb,
                       void *opaque) {
    char now[24], lease[24], lim[24], queue[32], prefix[40];
    queue_call *call = calloc(1, sizeof(*call));
    if (!call) return -1;
    *call = (queue_call){NULL, cb, opaque};
    snprintf(now, sizeof(now), "%lld", now_ms);
    snprintf(lease, sizeof(lease), "%lld", lease_until_ms);
    snprintf(lim, sizeof(lim), "%zu", limit);
    snprintf(prefix, sizeof(prefix), "%s:", notify_queue_name(partition, queue, sizeof(queue)));
    const char *argv[] = {"EVAL", claim_lua, "1", queue, now, lease, lim, prefix};
    if (sp_redis_command_argv(r, claim_reply, call, 8, argv, NULL)) {
        free(call);
        return -1;
    }
    return 0;
}
