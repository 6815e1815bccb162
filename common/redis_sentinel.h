/* redis_sentinel.h - where a Sentinel-monitored Redis master is now.
 *
 * hiredis 0.14 has no Sentinel client; this is the small part sendpath
 * needs. Given the sentinels (redis.sentinels = host:port,...) and a master
 * name, sp_sentinel_resolve() asks them in turn
 *
 *     SENTINEL get-master-addr-by-name <name>
 *
 * each over a short-lived async connection on the service's loop, bounded
 * by a deadline (hiredis 0.14's async API has none), and reports the first
 * address a sentinel gives. The sentinel that answered last is asked first
 * next time. It never blocks the loop.
 *
 * sp_redis (redis.h) calls it before every connect, when its options name a
 * master, and then confirms with ROLE that the server it reached is the
 * master: a sentinel may still name a master that has just died or been
 * demoted. There is no subscription to +switch-master: a connection to a
 * master that dies drops, one to a master that is demoted is killed by the
 * sentinels (they send CLIENT KILL when they reconfigure it) or answers
 * -READONLY, and each of these makes sp_redis ask again. */
#ifndef SP_REDIS_SENTINEL_H
#define SP_REDIS_SENTINEL_H

#include <stddef.h>
#include <uv.h>

#define SP_SENTINEL_MAX 16 /* sentinels in one list */
#define SP_SENTINEL_NAME_MAX 128

typedef struct sp_sentinel_addr {
    char host[256];
    int port;
} sp_sentinel_addr;

/* Parses "host:port,host:port,..." into out (at most max). Returns the
 * number of addresses, or -1 with errstr naming the faulty item. */
int sp_sentinel_parse(const char *list, sp_sentinel_addr *out, size_t max, char *errstr,
                      size_t size);

typedef struct sp_sentinel sp_sentinel;

/* host is the master's address, borrowed (valid during the call), or NULL
 * when no sentinel answered with one (all down, or none knows the name). */
typedef void (*sp_sentinel_cb)(sp_sentinel *sn, const char *host, int port, void *opaque);

/* A resolver for master `name` over the sentinels in `list`; each sentinel
 * gets timeout_ms to answer. Returns NULL with errstr on a bad list or name,
 * or no memory. */
sp_sentinel *sp_sentinel_new(uv_loop_t *loop, const char *list, const char *name,
                             int timeout_ms, char *errstr, size_t size);
/* Sends AUTH password (copied) to each sentinel before its query, for
 * sentinels with requirepass; NULL or "" for none. Returns 0, or -1 on no
 * memory. */
int sp_sentinel_auth(sp_sentinel *sn, const char *password);
/* The master name (borrowed). */
const char *sp_sentinel_name(const sp_sentinel *sn);
/* Asks the sentinels; cb is called exactly once, later, on the loop (never
 * from inside this call). Returns -1 if a resolve is already under way (cb
 * will not be called for this one). */
int sp_sentinel_resolve(sp_sentinel *sn, sp_sentinel_cb cb, void *opaque);
/* Drops a resolve under way (its cb is not called), closes the handles and
 * frees sn; cb(opaque) once everything is freed. */
void sp_sentinel_close(sp_sentinel *sn, void (*cb)(void *opaque), void *opaque);

#endif
