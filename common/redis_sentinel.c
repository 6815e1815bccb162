/* redis_sentinel.c - asks sentinels for a master's address. See the header.
 *
 * One query at a time: a resolve walks the sentinels from the one that
 * answered last, each with a fresh hiredis async connection. One timer does
 * two jobs: while a query is out it ticks every SENTINEL_TICK_MS to check
 * the query's deadline and its socket (hiredis 0.14's libuv adapter drops
 * poll errors, so a refused connect never reports back by itself); once the
 * query has ended (answered, refused, failed) it is restarted at 0 so the
 * next step runs from the loop, never from inside a hiredis callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/async.h>
#include "log.h"
#include "redis_sentinel.h"
#include "redis_uv.h"

#define SENTINEL_TICK_MS 50

struct sp_sentinel {
    uv_loop_t *loop;
    sp_sentinel_addr addrs[SP_SENTINEL_MAX];
    size_t n, next, tried; /* next: the sentinel to ask; tried: asked this round */
    char name[SP_SENTINEL_NAME_MAX];
    char *password;        /* AUTH before each query, or NULL */
    int timeout_ms;
    uint64_t deadline;     /* of the query out */
    redisAsyncContext *ac; /* the query out, or NULL */
    uv_timer_t timer;
    int resolving, closing;
    char host[256]; /* the answer of this round, host[0] == 0: none yet */
    int port;
    sp_sentinel_cb cb;
    void *opaque;
    void (*close_cb)(void *);
    void *close_opaque;
};

int sp_sentinel_parse(const char *list, sp_sentinel_addr *out, size_t max, char *errstr,
                      size_t size) {
    size_t n = 0;
    for (const char *p = list ? list : "", *end; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        int len = (int)(end - p);
        const char *colon = memrchr(p, ':', (size_t)len);
        char *stop;
        errno = 0;
        long port = colon ? strtol(colon + 1, &stop, 10) : 0;
        if (n == max || !colon || colon == p || colon + 1 == end || stop != end || errno ||
            port < 1 || port > 65535 || (size_t)(colon - p) >= sizeof(out->host)) {
            snprintf(errstr, size, "redis.sentinels: '%.*s': expected host:port%s",
                     len > 64 ? 64 : len, p, n == max ? " (too many sentinels)" : "");
            return -1;
        }
        snprintf(out[n].host, sizeof(out[n].host), "%.*s", (int)(colon - p), p);
        out[n++].port = (int)port;
    }
    if (n == 0) {
        snprintf(errstr, size, "redis.sentinels: empty");
        return -1;
    }
    return (int)n;
}

/* ---- one query --------------------------------------------------------------- */

static void sentinel_timer_cb(uv_timer_t *t);

/* The query is over (whatever its outcome): take the next step from the
 * loop. */
static void sentinel_query_ended(sp_sentinel *sn) {
    sn->ac = NULL;
    uv_timer_start(&sn->timer, sentinel_timer_cb, 0, 0);
}

static const sp_sentinel_addr *sentinel_current(const sp_sentinel *sn) {
    return &sn->addrs[sn->next];
}

/* A reply of two strings, host and port; anything else (nil: the name is
 * unknown to this sentinel; an error) leaves host empty. */
static void sentinel_reply_cb(redisAsyncContext *ac, void *reply, void *priv) {
    sp_sentinel *sn = ac->data;
    redisReply *r = reply;
    const sp_sentinel_addr *a = sentinel_current(sn);
    if (!r || ac != sn->ac) return; /* freed: the freeing path goes on */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < sizeof(sn->host) && atoi(r->element[1]->str) > 0) {
        snprintf(sn->host, sizeof(sn->host), "%s", r->element[0]->str);
        sn->port = atoi(r->element[1]->str);
    } else {
        sp_warn("redis sentinel %s:%d: no address for master '%s' (%s)", a->host, a->port,
                sn->name, r->type == REDIS_REPLY_ERROR ? r->str : "unknown name");
    }
    redisAsyncDisconnect(ac); /* after this callback: disconnect_cb ends the query */
}

/* Only an error is of interest; the password is never logged. */
static void sentinel_auth_cb(redisAsyncContext *ac, void *reply, void *priv) {
    sp_sentinel *sn = ac->data;
    redisReply *r = reply;
    const sp_sentinel_addr *a = sentinel_current(sn);
    (void)priv;
    if (!r || ac != sn->ac || r->type != REDIS_REPLY_ERROR) return;
    sp_warn("redis sentinel %s:%d: AUTH refused (%s): check redis.sentinel_password",
            a->host, a->port, r->str);
}

static void sentinel_connect_cb(const redisAsyncContext *ac, int status) {
    sp_sentinel *sn = ac->data;
    const sp_sentinel_addr *a = sentinel_current(sn);
    if (status == REDIS_OK || ac != sn->ac) return;
    sp_warn("redis sentinel %s:%d: %s", a->host, a->port, ac->errstr);
    sentinel_query_ended(sn); /* hiredis frees ac after this callback */
}

static void sentinel_disconnect_cb(const redisAsyncContext *ac, int status) {
    sp_sentinel *sn = ac->data;
    if (ac == sn->ac) sentinel_query_ended(sn);
}

/* Starts the query to the current sentinel; on failure to even start, the
 * step moves on at once. */
static void sentinel_query(sp_sentinel *sn) {
    const sp_sentinel_addr *a = sentinel_current(sn);
    redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
    if (!ac || ac->err || sp_redis_uv_attach(ac, sn->loop) != REDIS_OK) {
        sp_warn("redis sentinel %s:%d: %s", a->host, a->port,
                ac && ac->err ? ac->errstr : "cannot start a connection");
        if (ac) redisAsyncFree(ac);
        sentinel_query_ended(sn);
        return;
    }
    ac->data = sn;
    redisAsyncSetConnectCallback(ac, sentinel_connect_cb);
    redisAsyncSetDisconnectCallback(ac, sentinel_disconnect_cb);
    sn->ac = ac;
    /* Pipelined: a refused AUTH is logged, and the query's NOAUTH after it
     * ends the query like any other error, on to the next sentinel. */
    if ((sn->password &&
         redisAsyncCommand(ac, sentinel_auth_cb, NULL, "AUTH %s", sn->password) != REDIS_OK) ||
        redisAsyncCommand(ac, sentinel_reply_cb, NULL, "SENTINEL get-master-addr-by-name %s",
                          sn->name) != REDIS_OK) {
        sn->ac = NULL;
        redisAsyncFree(ac);
        sentinel_query_ended(sn);
        return;
    }
    sn->deadline = uv_now(sn->loop) + (uint64_t)sn->timeout_ms;
    uv_timer_start(&sn->timer, sentinel_timer_cb, SENTINEL_TICK_MS, SENTINEL_TICK_MS);
}

/* ---- the walk over the sentinels ----------------------------------------------- */

static void sentinel_finish(sp_sentinel *sn, const char *host, int port) {
    sp_sentinel_cb cb = sn->cb;
    uv_timer_stop(&sn->timer);
    sn->resolving = 0;
    sn->cb = NULL;
    cb(sn, host, port, sn->opaque);
}

/* After a query: the answer, or the next sentinel, or "nobody knows". */
static void sentinel_step(sp_sentinel *sn) {
    if (sn->host[0]) {
        char host[sizeof(sn->host)];
        snprintf(host, sizeof(host), "%s", sn->host); /* cb may resolve again */
        sentinel_finish(sn, host, sn->port);
        return;
    }
    sn->next = (sn->next + 1) % sn->n;
    if (++sn->tried == sn->n) {
        sentinel_finish(sn, NULL, 0);
        return;
    }
    sentinel_query(sn);
}

/* A failed socket of a query not yet connected, or 0. */
static int sentinel_sock_error(const redisAsyncContext *ac) {
    int err = 0;
    socklen_t len = sizeof(err);
    if ((ac->c.flags & REDIS_CONNECTED) || ac->c.fd < 0 ||
        getsockopt(ac->c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return 0;
    return err;
}

static void sentinel_timer_cb(uv_timer_t *t) {
    sp_sentinel *sn = t->data;
    if (sn->closing || !sn->resolving) return;
    if (sn->ac) { /* a tick of the query out */
        redisAsyncContext *ac = sn->ac;
        const sp_sentinel_addr *a = sentinel_current(sn);
        int err = sentinel_sock_error(ac);
        if (!err && uv_now(sn->loop) < sn->deadline) return;
        if (err)
            sp_warn("redis sentinel %s:%d: %s", a->host, a->port, strerror(err));
        else
            sp_warn("redis sentinel %s:%d: no answer in %d ms", a->host, a->port,
                    sn->timeout_ms);
        sn->ac = NULL; /* the callbacks that redisAsyncFree runs see it is gone */
        redisAsyncFree(ac);
    }
    sentinel_step(sn);
}

sp_sentinel *sp_sentinel_new(uv_loop_t *loop, const char *list, const char *name,
                             int timeout_ms, char *errstr, size_t size) {
    sp_sentinel *sn;
    int n;
    if (!name || !*name || strlen(name) >= SP_SENTINEL_NAME_MAX || strpbrk(name, " \r\n")) {
        snprintf(errstr, size, "redis sentinel master name '%s': expected 1-%d characters, "
                 "no spaces", name ? name : "", SP_SENTINEL_NAME_MAX - 1);
        return NULL;
    }
    if (!(sn = calloc(1, sizeof(*sn)))) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    if ((n = sp_sentinel_parse(list, sn->addrs, SP_SENTINEL_MAX, errstr, size)) < 0) {
        free(sn);
        return NULL;
    }
    sn->n = (size_t)n;
    sn->loop = loop;
    sn->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    snprintf(sn->name, sizeof(sn->name), "%s", name);
    uv_timer_init(loop, &sn->timer);
    sn->timer.data = sn;
    return sn;
}

int sp_sentinel_auth(sp_sentinel *sn, const char *password) {
    free(sn->password);
    sn->password = NULL;
    if (!password || !*password) return 0;
    return (sn->password = strdup(password)) ? 0 : -1;
}

const char *sp_sentinel_name(const sp_sentinel *sn) { return sn->name; }

int sp_sentinel_resolve(sp_sentinel *sn, sp_sentinel_cb cb, void *opaque) {
    if (sn->resolving || sn->closing) return -1;
    sn->resolving = 1;
    sn->cb = cb;
    sn->opaque = opaque;
    sn->tried = 0;
    sn->host[0] = '\0';
    sentinel_query(sn);
    return 0;
}

static void sentinel_closed(uv_handle_t *h) {
    sp_sentinel *sn = h->data;
    void (*cb)(void *) = sn->close_cb;
    void *opaque = sn->close_opaque;
    free(sn->password);
    free(sn);
    if (cb) cb(opaque);
}

void sp_sentinel_close(sp_sentinel *sn, void (*cb)(void *), void *opaque) {
    if (!sn) {
        if (cb) cb(opaque);
        return;
    }
    sn->closing = 1;
    sn->close_cb = cb;
    sn->close_opaque = opaque;
    if (sn->ac) {
        redisAsyncContext *ac = sn->ac;
        sn->ac = NULL;
        redisAsyncFree(ac);
    }
    uv_timer_stop(&sn->timer);
    uv_close((uv_handle_t *)&sn->timer, sentinel_closed);
}
