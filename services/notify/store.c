/* store.c - notify's Redis keys. See store.h.
 *
 * Each call allocates a small record carrying the caller's callback through
 * the Redis reply; replies are borrowed, so anything the caller keeps is
 * copied before the record is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "store.h"

/* KEYS: case hash, pending list. ARGV: field, value, ... The hash is replaced
 * whole so a field dropped from a later projection does not linger. */
static const char save_lua[] =
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
    "return redis.call('LRANGE', KEYS[2], 0, -1)\n";

/* KEYS: case hash, pending list. ARGV: event text. */
static const char lookup_lua[] =
    "local c = redis.call('HGETALL', KEYS[1])\n"
    "if #c > 0 then return c end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[1])\n"
    "return 0\n";

typedef struct store_call {
    sp_redis *r;
    union {
        notify_store_saved_cb saved;
        notify_store_lookup_cb lookup;
        notify_store_sent_cb sent;
        notify_store_cb done;
    } cb;
    void *opaque;
    char key[96];
    long long ttl_s;
} store_call;

static store_call *call_new(sp_redis *r, void *opaque) {
    store_call *call = calloc(1, sizeof(*call));
    if (!call) return NULL;
    call->r = r;
    call->opaque = opaque;
    return call;
}

static void case_keys(const char *case_id, char *hash, char *list, size_t size) {
    snprintf(hash, size, "notify:case:%s", case_id);
    snprintf(list, size, "notify:pending:%s", case_id);
}

static int reply_error(const redisReply *rep, const char *what) {
    if (!rep) return 1;
    if (rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("notify store %s: %s", what, rep->str);
    return 1;
}

/* ---- contact projection ---------------------------------------------------- */

static char **items_copy(const redisReply *rep, size_t *n) {
    char **items = calloc(rep->elements ? rep->elements : 1, sizeof(*items));
    if (!items) return NULL;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (!(items[i] = malloc(e->len + 1))) {
            notify_store_items_free(items, i);
            return NULL;
        }
        memcpy(items[i], e->str, e->len);
        items[i][e->len] = '\0';
    }
    *n = rep->elements;
    return items;
}

static void save_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_saved_cb cb = call->cb.saved;
    char **items = NULL;
    size_t n = 0;
    if (!reply_error(rep, "save") && rep->type == REDIS_REPLY_ARRAY)
        items = items_copy(rep, &n);
    cb(items ? 0 : -1, items, n, call->opaque);
    free(call);
}

int notify_store_save_contact(sp_redis *r, const char *case_id, const notify_contact *c,
                              notify_store_saved_cb cb, void *opaque) {
    char hash[128], list[128];
    const char **argv = malloc((5 + 2 * notify_contact_nfields) * sizeof(*argv));
    int argc = 0, rc = -1;
    store_call *call = call_new(r, opaque);
    if (!call || !argv) goto out;
    call->cb.saved = cb;
    case_keys(case_id, hash, list, sizeof(hash));
    argv[argc++] = "EVAL", argv[argc++] = save_lua, argv[argc++] = "2";
    argv[argc++] = hash, argv[argc++] = list;
    for (size_t i = 0; i < notify_contact_nfields; i++) {
        if (!c->values[i]) continue;
        argv[argc++] = notify_contact_fields[i].field;
        argv[argc++] = c->values[i];
    }
    rc = sp_redis_command_argv(r, save_reply, call, argc, argv, NULL);
out:
    if (rc) free(call);
    free(argv);
    return rc;
}

void notify_store_items_free(char **items, size_t n) {
    if (!items) return;
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
}

static void lookup_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_lookup_cb cb = call->cb.lookup;
    notify_contact c = {0};
    notify_lookup_result res = NOTIFY_LOOKUP_ERROR;
    if (reply_error(rep, "lookup"))
        res = NOTIFY_LOOKUP_ERROR;
    else if (rep->type == REDIS_REPLY_INTEGER)
        res = NOTIFY_LOOKUP_STASHED;
    else if (notify_contact_from_reply(&c, rep) == 0)
        res = NOTIFY_LOOKUP_FOUND;
    if (res != NOTIFY_LOOKUP_FOUND) notify_contact_free(&c);
    cb(res, res == NOTIFY_LOOKUP_FOUND ? &c : NULL, call->opaque);
    free(call);
}

int notify_store_lookup_or_stash(sp_redis *r, const char *case_id, const char *event,
                                 size_t len, notify_store_lookup_cb cb, void *opaque) {
    char hash[128], list[128];
    store_call *call = call_new(r, opaque);
    if (!call) return -1;
    call->cb.lookup = cb;
    case_keys(case_id, hash, list, sizeof(hash));
    const char *argv[] = {"EVAL", lookup_lua, "2", hash, list, event};
    size_t lens[] = {4, strlen(lookup_lua), 1, strlen(hash), strlen(list), len};
    if (sp_redis_command_argv(r, lookup_reply, call, 6, argv, lens)) {
        free(call);
        return -1;
    }
    return 0;
}

/* ---- simple commands ------------------------------------------------------- */

static void status_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_cb cb = call->cb.done;
    cb(reply_error(rep, call->key) ? -1 : 0, call->opaque);
    free(call);
}

int notify_store_pending_trim(sp_redis *r, const char *case_id, size_t n,
                              notify_store_cb cb, void *opaque) {
    char hash[128], list[128];
    store_call *call = call_new(r, opaque);
    if (!call) return -1;
    call->cb.done = cb;
    snprintf(call->key, sizeof(call->key), "pending trim");
    case_keys(case_id, hash, list, sizeof(hash));
    if (sp_redis_command(r, status_reply, call, "LTRIM %s %llu -1", list,
                         (unsigned long long)n)) {
        free(call);
        return -1;
    }
    return 0;
}

int notify_store_sent_mark(sp_redis *r, const char *key_hex, long long ttl_s,
                           notify_store_cb cb, void *opaque) {
    store_call *call = call_new(r, opaque);
    if (!call) return -1;
    call->cb.done = cb;
    snprintf(call->key, sizeof(call->key), "sent mark");
    if (sp_redis_command(r, status_reply, call, "SET notify:sent:%s sent EX %lld",
                         key_hex, ttl_s)) {
        free(call);
        return -1;
    }
    return 0;
}

/* ---- the sent reservation -------------------------------------------------- */

static void reserve_get_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_sent_cb cb = call->cb.sent;
    notify_sent_state st = NOTIFY_SENT_ERROR;
    if (reply_error(rep, "sent get"))
        st = NOTIFY_SENT_ERROR;
    else if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "sent") == 0)
        st = NOTIFY_SENT_DONE;
    else if (rep->type == REDIS_REPLY_STRING)
        st = NOTIFY_SENT_SENDING;
    else if (rep->type == REDIS_REPLY_NIL) /* expired between SET and GET */
        st = NOTIFY_SENT_SENDING;
    cb(st, call->opaque);
    free(call);
}

static void reserve_set_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_sent_cb cb = call->cb.sent;
    if (reply_error(rep, "sent reserve")) {
        cb(NOTIFY_SENT_ERROR, call->opaque);
    } else if (rep->type == REDIS_REPLY_STATUS) {
        cb(NOTIFY_SENT_NEW, call->opaque);
    } else if (sp_redis_command(r, reserve_get_reply, call, "GET %s", call->key) == 0) {
        return; /* call now belongs to reserve_get_reply */
    } else {
        cb(NOTIFY_SENT_ERROR, call->opaque);
    }
    free(call);
}

int notify_store_sent_reserve(sp_redis *r, const char *key_hex, long long ttl_s,
                              notify_store_sent_cb cb, void *opaque) {
    store_call *call = call_new(r, opaque);
    if (!call) return -1;
    call->cb.sent = cb;
    snprintf(call->key, sizeof(call->key), "notify:sent:%s", key_hex);
    if (sp_redis_command(r, reserve_set_reply, call, "SET %s sending NX EX %lld",
                         call->key, ttl_s)) {
        free(call);
        return -1;
    }
    return 0;
}
