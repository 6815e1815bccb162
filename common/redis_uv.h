/* redis_uv.h - hiredis's async connections on a libuv loop.
 *
 * hiredis 0.14's own adapter (hiredis/adapters/libuv.h) calls
 * uv_poll_start() every time hiredis asks for a write event, which is once
 * per command; libuv's uv_poll_start() first stops the handle and drops the
 * descriptor from epoll (EPOLL_CTL_DEL), and the next loop turn adds it back.
 * Two epoll_ctl system calls a command was 6.5% of the rebuild's CPU
 * (docs/performance.md). This adapter restarts the poll only when the set
 * of events changes, which is once a loop turn at most. */
#ifndef SP_REDIS_UV_H
#define SP_REDIS_UV_H

#include <uv.h>
#include <hiredis/async.h>

/* Attaches ac to loop. The adapter's state is owned by ac and freed after
 * hiredis's cleanup (redisAsyncFree, or a disconnect), once libuv has closed
 * the poll handle. Returns REDIS_OK, or REDIS_ERR (ac already attached, out
 * of memory, or libuv refused the descriptor; ac is left unattached). */
int sp_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
