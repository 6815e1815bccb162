/* store.c - notify's Redis keys about deliveries. See store.h.
 *
 * Each call allocates a small record carrying the caller's callback through
 * the Redis reply; replies are borrowed, so anything the caller keeps is
 * copied before the record is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "store.h"

typedef struct store_call {
    sp_redis *r;
    union {
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

static int reply_error(const redisReply *rep, const char *what) {
    if (!rep) return 1;
    if (rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("notify store %s: %s", what, rep->str);
    return 1;
}

/* ---- simple commands ------------------------------------------------------- */

static void status_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_cb cb = call->cb.done;
    cb(reply_error(rep, call->key) ? -1 : 0, call->opaque);
    free(call);
}

char *notify_store_sent_value(int attempt, const char *provider_id, char *buf,
                              size_t size) {
    snprintf(buf, size, "sent %d %s", attempt, provider_id);
    return buf;
}

int notify_store_sent_mark(sp_redis *r, const char *key_hex, int attempt,
                           const char *provider_id, long long ttl_s,
                           notify_store_cb cb, void *opaque) {
    store_call *call = call_new(r, opaque);
    char value[200];
    if (!call) return -1;
    call->cb.done = cb;
    snprintf(call->key, sizeof(call->key), "sent mark");
    notify_store_sent_value(attempt, provider_id, value, sizeof(value));
    if (sp_redis_command(r, status_reply, call, "SET notify:sent:%s %s EX %lld",
                         key_hex, value, ttl_s)) {
        free(call);
        return -1;
    }
    return 0;
}

/* ---- the sent reservation -------------------------------------------------- */

/* The states a taken key can be in, by its value's first word. */
static const struct {
    const char *word;
    notify_sent_state st;
} sent_words[] = {
    {"sent", NOTIFY_SENT_DONE},     {"queued", NOTIFY_SENT_QUEUED},
    {"dead", NOTIFY_SENT_QUEUED},   {"sending", NOTIFY_SENT_SENDING},
};

static void reserve_get_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_sent_cb cb = call->cb.sent;
    notify_sent_state st = NOTIFY_SENT_SENDING; /* nil: expired between SET and GET */
    char pid[160] = "";
    int attempt = 1;
    if (reply_error(rep, "sent get"))
        st = NOTIFY_SENT_ERROR;
    else if (rep->type == REDIS_REPLY_STRING)
        for (size_t i = 0; i < sizeof(sent_words) / sizeof(sent_words[0]); i++) {
            size_t n = strlen(sent_words[i].word);
            if (strncmp(rep->str, sent_words[i].word, n) ||
                (rep->str[n] && rep->str[n] != ' '))
                continue;
            st = sent_words[i].st;
            if (st == NOTIFY_SENT_DONE && rep->str[n] &&
                sscanf(rep->str + n, " %d %159s", &attempt, pid) < 1)
                attempt = 1;
            break;
        }
    cb(st, attempt, pid, call->opaque);
    free(call);
}

static void reserve_set_reply(sp_redis *r, redisReply *rep, void *priv) {
    store_call *call = priv;
    notify_store_sent_cb cb = call->cb.sent;
    if (reply_error(rep, "sent reserve")) {
        cb(NOTIFY_SENT_ERROR, 0, "", call->opaque);
    } else if (rep->type == REDIS_REPLY_STATUS) {
        cb(NOTIFY_SENT_NEW, 0, "", call->opaque);
    } else if (sp_redis_command(r, reserve_get_reply, call, "GET %s", call->key) == 0) {
        return; /* call now belongs to reserve_get_reply */
    } else {
        cb(NOTIFY_SENT_ERROR, 0, "", call->opaque);
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
