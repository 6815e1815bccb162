/* redis_uv.c - hiredis's async connections on a libuv loop. See redis_uv.h.
 *
 * The same contract as hiredis's adapter: read and write readiness are
 * handed to redisAsyncHandleRead/Write, and cleanup closes the handle,
 * freeing the state in the close callback. Unlike it, the poll is restarted
 * only when the events change, so a poll error must be handled (below). */
#include <stdlib.h>
#include "redis_uv.h"

typedef struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
    uv_poll_t handle;
    int events;            /* what the handle polls for now */
} redis_uv;

/* On a poll error (POLLERR: the peer reset, the socket failed) libuv has
 * already stopped the handle. Ignoring it, as hiredis 0.14's adapter does,
 * was safe there only because that adapter restarts the poll on the next
 * command; this one would think the handle still polls and the connection
 * would hang until the watchdog. So, as hiredis 1.x's adapter does, hiredis
 * is given the events it asked for: its read or write meets the socket's
 * error and it disconnects. The stopped handle is recorded, so a connection
 * that survives re-arms on its next request. */
static void redis_uv_poll(uv_poll_t *handle, int status, int events) {
    redis_uv *p = handle->data;
    if (status != 0) {
        events = p->events;
        p->events = 0;
    }
    if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

/* Polls for events, touching libuv (and epoll) only on a change. */
static void redis_uv_set(redis_uv *p, int events) {
    if (events == p->events) return;
    p->events = events;
    if (events) uv_poll_start(&p->handle, events, redis_uv_poll);
    else uv_poll_stop(&p->handle);
}

static void redis_uv_add_read(void *priv) {
    redis_uv *p = priv;
    redis_uv_set(p, p->events | UV_READABLE);
}

static void redis_uv_del_read(void *priv) {
    redis_uv *p = priv;
    redis_uv_set(p, p->events & ~UV_READABLE);
}

static void redis_uv_add_write(void *priv) {
    redis_uv *p = priv;
    redis_uv_set(p, p->events | UV_WRITABLE);
}

static void redis_uv_del_write(void *priv) {
    redis_uv *p = priv;
    redis_uv_set(p, p->events & ~UV_WRITABLE);
}

static void redis_uv_closed(uv_handle_t *handle) { free(handle->data); }

static void redis_uv_cleanup(void *priv) {
    redis_uv *p = priv;
    p->ac = NULL; /* hiredis is freeing it; a poll callback may still be due */
    uv_close((uv_handle_t *)&p->handle, redis_uv_closed);
}

int sp_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
    redis_uv *p;
    if (ac->ev.data) return REDIS_ERR;
    if (!(p = calloc(1, sizeof(*p)))) return REDIS_ERR;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->ac = ac;
    p->handle.data = p;
    ac->ev.addRead = redis_uv_add_read;
    ac->ev.delRead = redis_uv_del_read;
    ac->ev.addWrite = redis_uv_add_write;
    ac->ev.delWrite = redis_uv_del_write;
    ac->ev.cleanup = redis_uv_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
