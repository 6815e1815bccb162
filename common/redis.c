/* redis.c - hiredis async on libuv with reconnect and timeouts. See redis.h.
 *
 * Every accepted command gets a small request record on an in-order list
 * (oldest first). Replies pop the head; the watchdog timer only ever needs to
 * look at the head. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#include "log.h"
#include "redis.h"

#define SP_REDIS_BACKOFF_MIN_MS 100
#define SP_REDIS_BACKOFF_MAX_MS 5000

typedef struct redis_req {
    sp_redis *r;
    sp_redis_cb cb;
    void *priv;
    uint64_t sent_ms; /* uv_now(): the watchdog's coarse clock */
    uint64_t sent_ns; /* uv_hrtime(): for the latency histogram */
    struct redis_req *next, *prev;
} redis_req;

struct sp_redis {
    uv_loop_t *loop;
    char *host, *password;
    int port, timeout_ms;
    redisAsyncContext *ac;
    int ready, closing, open_handles;
    unsigned backoff_ms;
    uint64_t connect_deadline; /* a connect not done by then is dropped */
    uv_timer_t reconnect, watchdog;
    redis_req *head, *tail;
    size_t pending;
    sp_metric *m_latency; /* borrowed; may be NULL */
    void (*state_cb)(sp_redis *, int, void *);
    void *state_opaque;
    void (*close_cb)(void *);
    void *close_opaque;
};

static void redis_connect(sp_redis *r);

static void redis_state(sp_redis *r, int up) {
    r->ready = up;
    if (r->state_cb) r->state_cb(r, up, r->state_opaque);
}


static void redis_reconnect_cb(uv_timer_t *t) { redis_connect(t->data); }

static void redis_handles_closed(uv_handle_t *h) {
    sp_redis *r = h->data;
    if (--r->open_handles > 0) return;
    void (*cb)(void *) = r->close_cb;
    void *opaque = r->close_opaque;
    free(r->host);
    free(r->password);
    free(r);
    if (cb) cb(opaque);
}

static void redis_finish_close(sp_redis *r) {
    uv_close((uv_handle_t *)&r->reconnect, redis_handles_closed);
    uv_close((uv_handle_t *)&r->watchdog, redis_handles_closed);
}

static void redis_connect_cb(const redisAsyncContext *ac, int status) {
    sp_redis *r = ac->data;
    if (status != REDIS_OK) {
        sp_warn("redis %s:%d: connect failed: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees it after this callback */
        if (r->closing) {
            redis_finish_close(r);
            return;
        }
        uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
        r->backoff_ms = r->backoff_ms * 2 > SP_REDIS_BACKOFF_MAX_MS
                            ? SP_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
        return;
    }
    sp_info("redis %s:%d: connected", r->host, r->port);
    r->backoff_ms = SP_REDIS_BACKOFF_MIN_MS;
    /* With a password, ready waits for AUTH's answer (redis_auth_cb). */
    if (!r->password || !r->password[0]) redis_state(r, 1);
}

/* A refused password would leave a connection on which every command fails
 * NOAUTH while /readyz says ready: drop it instead, and retry slowly (the
 * server's password may be being rotated). NULL: the connection went first. */
static void redis_auth_cb(redisAsyncContext *ac, void *reply, void *priv) {
    sp_redis *r = ac->data;
    redisReply *rep = reply;
    if (!rep || r->closing) return;
    if (rep->type != REDIS_REPLY_ERROR) {
        redis_state(r, 1);
        return;
    }
    sp_error("redis %s:%d: AUTH refused (%s): check redis.password", r->host, r->port,
             rep->str);
    r->backoff_ms = SP_REDIS_BACKOFF_MAX_MS;
    redisAsyncDisconnect(ac);
}

static void redis_disconnect_cb(const redisAsyncContext *ac, int status) {
    sp_redis *r = ac->data;
    r->ac = NULL;
    if (r->ready) redis_state(r, 0);
    if (r->closing) {
        redis_finish_close(r);
        return;
    }
    sp_warn("redis %s:%d: disconnected%s%s", r->host, r->port,
            status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
    uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
}

static void redis_connect(sp_redis *r) {
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        sp_warn("redis %s:%d: %s", r->host, r->port, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        sp_error("redis: cannot attach to the event loop");
        redisAsyncFree(ac);
        uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
        return;
    }
    redisAsyncSetConnectCallback(ac, redis_connect_cb);
    redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb);
    r->ac = ac;
    /* hiredis 0.14's libuv adapter ignores poll errors, so a connect to a
     * closed port may never report back: the watchdog enforces a deadline. */
    r->connect_deadline = uv_now(r->loop) + (uint64_t)r->timeout_ms;
    /* Queued before the connection completes: hiredis sends it first. */
    if (r->password && r->password[0])
        redisAsyncCommand(ac, redis_auth_cb, NULL, "AUTH %s", r->password);
}

/* Drops a connect that has not completed in time, and a connection whose
 * oldest command has waited too long. redisAsyncFree (not Disconnect, which
 * would wait for the replies that are not coming) fails every pending
 * callback at once; the disconnect callback then schedules a reconnect. */
static void redis_watchdog_cb(uv_timer_t *t) {
    sp_redis *r = t->data;
    redisAsyncContext *ac = r->ac;
    if (!ac || r->closing) return;
    if (!r->ready && uv_now(r->loop) > r->connect_deadline) {
        sp_warn("redis %s:%d: connect timed out after %d ms", r->host, r->port,
                r->timeout_ms);
        r->ac = NULL;
        redisAsyncFree(ac); /* never connected: no disconnect callback */
        uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
        return;
    }
    if (r->head && uv_now(r->loop) - r->head->sent_ms > (uint64_t)r->timeout_ms) {
        sp_error("redis %s:%d: no reply in %d ms, reconnecting", r->host, r->port,
                 r->timeout_ms);
        redisAsyncFree(ac);
    }
}

sp_redis *sp_redis_new(uv_loop_t *loop, const sp_redis_options *opt) {
    sp_redis *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->loop = loop;
    r->host = strdup(opt->host ? opt->host : "127.0.0.1");
    r->password = opt->password ? strdup(opt->password) : NULL;
    r->port = opt->port;
    r->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 2000;
    r->backoff_ms = SP_REDIS_BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->reconnect);
    uv_timer_init(loop, &r->watchdog);
    r->reconnect.data = r->watchdog.data = r;
    r->open_handles = 2;
    unsigned every = r->timeout_ms / 4 > 10 ? (unsigned)r->timeout_ms / 4 : 10;
    uv_timer_start(&r->watchdog, redis_watchdog_cb, every, every);
    redis_connect(r);
    return r;
}

int sp_redis_ready(const sp_redis *r) { return r->ready; }
size_t sp_redis_pending(const sp_redis *r) { return r->pending; }

static void req_unlink(sp_redis *r, redis_req *q) {
    if (q->prev) q->prev->next = q->next; else r->head = q->next;
    if (q->next) q->next->prev = q->prev; else r->tail = q->prev;
    r->pending--;
}

static void redis_reply_cb(redisAsyncContext *ac, void *reply, void *privdata) {
    redis_req *q = privdata;
    sp_redis *r = q->r;
    req_unlink(r, q);
    if (reply) sp_metric_observe(r->m_latency, (double)(uv_hrtime() - q->sent_ns) / 1e9);
    if (q->cb) q->cb(r, reply, q->priv);
    free(q);
}

static redis_req *req_new(sp_redis *r, sp_redis_cb cb, void *priv) {
    redis_req *q;
    /* No connection at all is refused like a closed one: a partition outside
     * redis.shards has none (sp_service_redis). */
    if (!r || !r->ready || !r->ac || !(q = malloc(sizeof(*q)))) return NULL;
    q->r = r;
    q->cb = cb;
    q->priv = priv;
    q->sent_ms = uv_now(r->loop);
    q->sent_ns = uv_hrtime();
    q->next = NULL;
    q->prev = r->tail;
    if (r->tail) r->tail->next = q; else r->head = q;
    r->tail = q;
    r->pending++;
    return q;
}

static int req_sent(sp_redis *r, redis_req *q, int status) {
    if (status == REDIS_OK) return 0;
    req_unlink(r, q);
    free(q);
    return -1;
}

int sp_redis_command(sp_redis *r, sp_redis_cb cb, void *priv, const char *fmt, ...) {
    redis_req *q = req_new(r, cb, priv);
    va_list ap;
    int status;
    if (!q) return -1;
    va_start(ap, fmt);
    status = redisvAsyncCommand(r->ac, redis_reply_cb, q, fmt, ap);
    va_end(ap);
    return req_sent(r, q, status);
}

int sp_redis_command_argv(sp_redis *r, sp_redis_cb cb, void *priv, int argc,
                          const char **argv, const size_t *argvlen) {
    redis_req *q = req_new(r, cb, priv);
    if (!q) return -1;
    return req_sent(r, q, redisAsyncCommandArgv(r->ac, redis_reply_cb, q, argc,
                                                argv, argvlen));
}

int sp_redis_command_raw(sp_redis *r, sp_redis_cb cb, void *priv,
                         const char *cmd, size_t len) {
    redis_req *q = req_new(r, cb, priv);
    if (!q) return -1;
    return req_sent(r, q, redisAsyncFormattedCommand(r->ac, redis_reply_cb, q, cmd, len));
}

void sp_redis_on_state(sp_redis *r, void (*cb)(sp_redis *, int, void *),
                       void *opaque) {
    r->state_cb = cb;
    r->state_opaque = opaque;
}

void sp_redis_set_metrics(sp_redis *r, sp_metric *latency) { r->m_latency = latency; }

void sp_redis_close(sp_redis *r, void (*cb)(void *), void *opaque) {
    r->closing = 1;
    r->close_cb = cb;
    r->close_opaque = opaque;
    uv_timer_stop(&r->reconnect);
    uv_timer_stop(&r->watchdog);
    if (r->ac && r->ready) {
        redisAsyncDisconnect(r->ac); /* disconnect_cb finishes the close */
        return;
    }
    if (r->ac) {
        /* A connect still pending would never call back: hiredis calls
         * neither the connect nor the disconnect callback for a context
         * freed before it connected, and the close would never finish. */
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
    }
    redis_finish_close(r);
}
