/* redis.h - an async Redis connection on the service's libuv loop.
 *
 * A thin layer over hiredis's async API and its libuv adapter that adds what
 * hiredis 0.14 lacks: reconnection with backoff, AUTH on every (re)connect,
 * and a command timeout. Replies come back in order, so the oldest command in
 * flight is the one to watch: if it has waited longer than timeout_ms the
 * connection is dropped, every pending callback gets NULL, and we reconnect.
 * A hung Redis thus surfaces as errors the caller retries, never as a silent
 * stall.
 *
 * With a Sentinel master name (options.master, with options.sentinels) the
 * host and port are not configured but asked of the sentinels before every
 * connect (redis_sentinel.h), and a connection is ready only once ROLE says
 * the server is the master. A -READONLY reply (the server was demoted under
 * us) drops the connection, so the next connect asks the sentinels again;
 * the command that got it fails as any other, and the caller retries.
 *
 * An EVAL given to sp_redis_command_argv is sent as EVALSHA (the script
 * loaded on the connection first, in the same pipeline): same replies, a
 * fraction of the bytes. After a SCRIPT FLUSH on the server, a command
 * that meets NOSCRIPT is sent again as EVAL and its caller gets that reply;
 * it then runs after the commands sent after it (scripts keep their order
 * among themselves).
 *
 * Callbacks follow hiredis's contract: called exactly once per accepted
 * command, with the reply (borrowed, valid only during the callback) or NULL
 * on error. A command refused up front (not connected, or r NULL) returns -1
 * and its callback is never called. */
#ifndef SP_REDIS_H
#define SP_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "metrics.h"

typedef struct sp_redis sp_redis;
typedef void (*sp_redis_cb)(sp_redis *r, redisReply *reply, void *priv);

typedef struct sp_redis_options {
    const char *host;
    int port;
    const char *password; /* NULL or "" for none */
    int timeout_ms;       /* 0 = 2000 */
    /* Sentinel: master, a name the sentinels monitor, or NULL/"" to connect
     * to host:port; sentinels, "host:port,..." (required with master). */
    const char *sentinels;
    const char *master;
    /* AUTH sent to each sentinel before it is asked (requirepass in
     * sentinel.conf); NULL or "" for none. */
    const char *sentinel_password;
} sp_redis_options;

/* Starts connecting; returns at once. Returns NULL only on allocation failure
 * or a bad sentinel list or master name (check those first with
 * sp_sentinel_parse to report them). */
sp_redis *sp_redis_new(uv_loop_t *loop, const sp_redis_options *opt);
/* 1 when connected (and authenticated). */
int sp_redis_ready(const sp_redis *r);
/* Commands sent and not yet answered. */
size_t sp_redis_pending(const sp_redis *r);

int sp_redis_command(sp_redis *r, sp_redis_cb cb, void *priv, const char *fmt, ...);
int sp_redis_command_argv(sp_redis *r, sp_redis_cb cb, void *priv, int argc,
                          const char **argv, const size_t *argvlen);
/* Sends an already formatted command (redisFormatCommand output). */
int sp_redis_command_raw(sp_redis *r, sp_redis_cb cb, void *priv,
                         const char *cmd, size_t len);

/* Confirms that `replicas` replicas hold every command this connection sent
 * before the call that no earlier sp_redis_wait confirmed (WAIT replicas
 * timeout_ms). cb is called once, later: ok = 1 if they do (at once when
 * nothing is unconfirmed), 0 if fewer replicas acknowledged in time, the
 * connection dropped, or commands sent over an earlier connection were never
 * confirmed (after a failover they may be lost: the caller redoes its work,
 * and the next wait confirms the redo). Returns -1 (cb not called) when not
 * connected. */
typedef void (*sp_redis_wait_cb)(sp_redis *r, int ok, void *priv);
int sp_redis_wait(sp_redis *r, int replicas, int timeout_ms, sp_redis_wait_cb cb,
                  void *priv);

/* Called on every connect (1) and disconnect (0). */
void sp_redis_on_state(sp_redis *r, void (*cb)(sp_redis *r, int up, void *opaque),
                       void *opaque);
/* latency (a histogram, may be NULL) observes, for every reply, the seconds
 * from sending the command to its reply's callback: Redis's own time plus
 * the network and this loop's queueing, i.e. what the service waits. A
 * command that fails (NULL reply) is not observed. Borrowed: must outlive r. */
void sp_redis_set_metrics(sp_redis *r, sp_metric *latency);

/* Lets pending replies arrive, disconnects, closes the handles; cb is called
 * once everything is freed. */
void sp_redis_close(sp_redis *r, void (*cb)(void *opaque), void *opaque);

#endif
