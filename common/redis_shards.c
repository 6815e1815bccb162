/* redis_shards.c - partitions to Redis servers. See redis_shards.h.
 *
 * The table is resolved once, at start-up, into an array indexed by
 * partition, so a lookup on the hot path is one load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis_shards.h"

struct sp_redis_shards {
    sp_redis *servers[SP_REDIS_SHARDS_MAX]; /* one per distinct host:port */
    size_t n_servers, open;
    int partitions;
    signed short by_partition[SP_REDIS_SHARDS_MAX]; /* index into servers, -1 none */
};

/* ---- parsing --------------------------------------------------------------- */

static int parse_int(const char *s, const char *end, long lo, long hi, long *out) {
    char *stop;
    if (s == end || *s < '0' || *s > '9') return -1;
    errno = 0;
    long v = strtol(s, &stop, 10);
    if (errno || stop != end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* "first[-last]@host:port" or "first[-last]@sentinel:name", item holding
 * exactly that text. */
static int parse_range(const char *item, sp_redis_shard_range *r) {
    const char *at = strchr(item, '@'), *dash, *colon;
    long first, last, port;
    if (!at) return -1;
    dash = memchr(item, '-', (size_t)(at - item));
    if (parse_int(item, dash ? dash : at, 0, SP_REDIS_SHARDS_MAX - 1, &first)) return -1;
    last = first;
    if (dash && parse_int(dash + 1, at, 0, SP_REDIS_SHARDS_MAX - 1, &last)) return -1;
    if (last < first) return -1;
    r->first = (int)first;
    r->last = (int)last;
    if (strncmp(at + 1, "sentinel:", 9) == 0) {
        const char *name = at + 10;
        if (!*name || strlen(name) >= SP_REDIS_HOST_MAX || strpbrk(name, " :@")) return -1;
        r->sentinel = 1;
        r->port = 0;
        snprintf(r->host, sizeof(r->host), "%s", name);
        return 0;
    }
    r->sentinel = 0;
    colon = strrchr(at + 1, ':');
    if (!colon || colon == at + 1 || (size_t)(colon - at - 1) >= SP_REDIS_HOST_MAX) return -1;
    if (parse_int(colon + 1, colon + 1 + strlen(colon + 1), 1, 65535, &port)) return -1;
    r->port = (int)port;
    snprintf(r->host, sizeof(r->host), "%.*s", (int)(colon - at - 1), at + 1);
    return 0;
}

int sp_redis_shards_parse(const char *spec, sp_redis_shard_range *out, size_t max,
                          char *errstr, size_t size) {
    unsigned char seen[SP_REDIS_SHARDS_MAX] = {0};
    char item[SP_REDIS_HOST_MAX + 32];
    size_t n = 0;
    for (const char *p = spec ? spec : "", *end; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        size_t len = (size_t)(end - p);
        if (len == 0 || len >= sizeof(item) || n == max) {
            snprintf(errstr, size, "redis.shards: '%.*s': expected first-last@host:port",
                     (int)(len > 64 ? 64 : len), p);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_range(item, &out[n])) {
            snprintf(errstr, size, "redis.shards: '%s': expected first-last@host:port (or "
                     "first-last@sentinel:<master>) with partitions 0-%d and a port 1-65535",
                     item, SP_REDIS_SHARDS_MAX - 1);
            return -1;
        }
        for (int q = out[n].first; q <= out[n].last; q++) {
            if (seen[q]++) {
                snprintf(errstr, size, "redis.shards: partition %d is in two ranges", q);
                return -1;
            }
        }
        n++;
    }
    if (n == 0) {
        snprintf(errstr, size, "redis.shards: empty");
        return -1;
    }
    return (int)n;
}

int sp_redis_shards_check(const sp_redis_shard_range *ranges, size_t n, int partitions,
                          char *errstr, size_t size) {
    unsigned char covered[SP_REDIS_SHARDS_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].last >= partitions) {
            snprintf(errstr, size, "redis.shards: partition %d does not exist (the topics "
                     "have %d: 0-%d)", ranges[i].last, partitions, partitions - 1);
            return -1;
        }
        for (int q = ranges[i].first; q <= ranges[i].last; q++) covered[q] = 1;
    }
    for (int q = 0; q < partitions; q++) {
        if (!covered[q]) {
            snprintf(errstr, size, "redis.shards: partition %d has no server (every "
                     "partition 0-%d needs one)", q, partitions - 1);
            return -1;
        }
    }
    return 0;
}

/* ---- connections ------------------------------------------------------------ */

/* The server index for host:port, opening it the first time it is named. */
static int server_for(sp_redis_shards *sh, const sp_redis_shard_range *all, size_t upto,
                      uv_loop_t *loop, const sp_redis_options *base) {
    const sp_redis_shard_range *r = &all[upto];
    for (size_t i = 0; i < upto; i++)
        if (all[i].port == r->port && all[i].sentinel == r->sentinel &&
            strcmp(all[i].host, r->host) == 0)
            return sh->by_partition[all[i].first];
    sp_redis_options o = *base;
    o.host = r->sentinel ? NULL : r->host;
    o.port = r->port;
    o.master = r->sentinel ? r->host : NULL;
    if (!(sh->servers[sh->n_servers] = sp_redis_new(loop, &o))) return -1;
    return (int)sh->n_servers++;
}

sp_redis_shards *sp_redis_shards_open(uv_loop_t *loop, const char *spec, int partitions,
                                      const sp_redis_options *base, char *errstr,
                                      size_t size) {
    sp_redis_shard_range *ranges = calloc(SP_REDIS_SHARDS_MAX, sizeof(*ranges));
    sp_redis_shards *sh = calloc(1, sizeof(*sh));
    int n;
    if (!ranges || !sh) {
        snprintf(errstr, size, "out of memory");
        goto fail;
    }
    if ((n = sp_redis_shards_parse(spec, ranges, SP_REDIS_SHARDS_MAX, errstr, size)) < 0 ||
        sp_redis_shards_check(ranges, (size_t)n, partitions, errstr, size))
        goto fail;
    for (int i = 0; i < n; i++) {
        if (ranges[i].sentinel && (!base->sentinels || !*base->sentinels)) {
            snprintf(errstr, size, "redis.shards: '%d-%d@sentinel:%s' needs redis.sentinels",
                     ranges[i].first, ranges[i].last, ranges[i].host);
            goto fail;
        }
    }
    sh->partitions = partitions;
    memset(sh->by_partition, 0xff, sizeof(sh->by_partition));
    for (int i = 0; i < n; i++) {
        int server = server_for(sh, ranges, (size_t)i, loop, base);
        if (server < 0) {
            snprintf(errstr, size, "out of memory");
            goto fail; /* exiting: start-up failures end the process */
        }
        for (int q = ranges[i].first; q <= ranges[i].last; q++)
            sh->by_partition[q] = (signed short)server;
    }
    free(ranges);
    return sh;
fail:
    free(ranges);
    free(sh);
    return NULL;
}

sp_redis *sp_redis_shards_get(const sp_redis_shards *sh, int partition) {
    if (partition < 0 || partition >= sh->partitions || sh->by_partition[partition] < 0)
        return NULL;
    return sh->servers[sh->by_partition[partition]];
}

int sp_redis_shards_ready(const sp_redis_shards *sh) {
    for (size_t i = 0; i < sh->n_servers; i++)
        if (!sp_redis_ready(sh->servers[i])) return 0;
    return 1;
}

size_t sp_redis_shards_pending(const sp_redis_shards *sh) {
    size_t n = 0;
    for (size_t i = 0; i < sh->n_servers; i++) n += sp_redis_pending(sh->servers[i]);
    return n;
}

size_t sp_redis_shards_servers(const sp_redis_shards *sh) { return sh->n_servers; }

sp_redis *sp_redis_shards_server(const sp_redis_shards *sh, size_t i) {
    return i < sh->n_servers ? sh->servers[i] : NULL;
}

void sp_redis_shards_set_metrics(sp_redis_shards *sh, sp_metric *latency) {
    for (size_t i = 0; i < sh->n_servers; i++) sp_redis_set_metrics(sh->servers[i], latency);
}

static void server_closed(void *opaque) {
    sp_redis_shards *sh = opaque;
    if (--sh->open == 0) free(sh);
}

void sp_redis_shards_close(sp_redis_shards *sh) {
    if (!sh) return;
    sh->open = sh->n_servers;
    if (sh->open == 0) {
        free(sh);
        return;
    }
    for (size_t i = 0, n = sh->n_servers; i < n; i++)
        sp_redis_close(sh->servers[i], server_closed, sh);
}
