/* gauge.c - notify's gauges, read from Redis on a timer. See gauge.h.
 *
 * A reading asks every partition's server for its queue and waiting index
 * (one script each, pipelined per server), and redis.host for the digest's
 * clocks and the old global retry queue, and sums: the gauges are the
 * deployment's, whichever instance serves /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include "gauge.h"
#include "log.h"
#include "queue.h"
#include "retry.h"

#define GAUGE_REFRESH_MS 5000

/* KEYS: a partition's retry queue and waiting index. Returns {retry queue
 * length, cases waiting, events waiting}. */
static const char gauge_lua[] =
    "local w = redis.call('HVALS', KEYS[2])\n"
    "local n = 0\n"
    "for i = 1, #w do n = n + tonumber(w[i]) end\n"
    "return {redis.call('ZCARD', KEYS[1]), #w, n}\n";

/* KEYS: the retry queue and the clock index on redis.host. */
static const char host_lua[] =
    "return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}";

#define GAUGE_N 4

struct notify_gauge {
    notify_state *st;
    uv_timer_t timer;
    int reading; /* replies out: the last reply owns g until it comes */
    int closing, closed, failed;
    long long sum[GAUGE_N];
    sp_metric *m[GAUGE_N];
};

static void gauge_free(notify_gauge *g) { free(g); }

static void gauge_set_all(notify_gauge *g, double v) {
    for (int i = 0; i < GAUGE_N; i++) sp_metric_set(g->m[i], v);
}

static void gauge_closed(uv_handle_t *h) {
    notify_gauge *g = h->data;
    g->closed = 1;
    if (!g->reading) gauge_free(g); /* else the reply frees it */
}

/* The last reply of a reading sets the gauges. */
static void gauge_release(notify_gauge *g) {
    if (--g->reading > 0) return;
    if (g->closing) {
        if (g->closed) gauge_free(g);
        return;
    }
    for (int i = 0; i < GAUGE_N; i++)
        sp_metric_set(g->m[i], g->failed ? -1 : (double)g->sum[i]);
}

/* rep's integers added to sum[first..first + n). */
static void gauge_add(notify_gauge *g, const redisReply *rep, int first, size_t n) {
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
        g->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER) g->failed = 1;
        else g->sum[first + (int)i] += rep->element[i]->integer;
    }
}

static void shard_reply(sp_redis *r, redisReply *rep, void *priv) {
    (void)r;
    gauge_add(priv, rep, 0, 3);
    gauge_release(priv);
}

/* redis.host: {the old global queue's length, clocks kept}. */
static void host_reply(sp_redis *r, redisReply *rep, void *priv) {
    notify_gauge *g = priv;
    (void)r;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER) {
        g->failed = 1;
    } else {
        g->sum[0] += rep->element[0]->integer;
        g->sum[3] += rep->element[1]->integer;
    }
    gauge_release(g);
}

static void gauge_ask(notify_gauge *g, int rc) {
    if (rc) g->failed = 1;
    else g->reading++;
}

static void gauge_tick(uv_timer_t *t) {
    notify_gauge *g = t->data;
    sp_service *s = g->st->s;
    int nparts = s->partitions < 1 ? 1 : s->partitions;
    char queue[32], waiting[48];
    if (g->reading) return;
    g->reading = 1; /* held while asking */
    g->failed = 0;
    for (int i = 0; i < GAUGE_N; i++) g->sum[i] = 0;
    for (int p = 0; p < nparts && !g->failed; p++) {
        snprintf(waiting, sizeof(waiting), "notify:waiting:{s%d}", p);
        const char *argv[] = {"EVAL", gauge_lua, "2",
                              notify_queue_name(p, queue, sizeof(queue)), waiting};
        gauge_ask(g, sp_redis_command_argv(sp_service_redis(s, p), shard_reply, g, 5, argv,
                                           NULL));
    }
    if (!g->failed) {
        const char *argv[] = {"EVAL", host_lua, "2", "notify:retry", "notify:clocks"};
        gauge_ask(g, sp_redis_command_argv(notify_retry_redis(g->st, -1), host_reply, g, 5,
                                           argv, NULL));
    }
    gauge_release(g);
}

notify_gauge *notify_gauge_new(notify_state *st) {
    static const char *const names[GAUGE_N][2] = {
        {"sendpath_notify_retry_queue_depth",
         "Sends waiting in the retry queue for their next attempt (or being tried)"},
        {"sendpath_notify_waiting_cases",
         "Cases with events waiting for the case's contact or a fact"},
        {"sendpath_notify_waiting_events",
         "Events waiting for their case's contact or a fact from another event"},
        {"sendpath_notify_digest_clocks", "Open statutory clocks the daily digest keeps"},
    };
    notify_gauge *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->st = st;
    for (int i = 0; i < GAUGE_N; i++)
        if (!(g->m[i] =
                  sp_metrics_gauge(st->s->metrics, names[i][0], names[i][1], NULL))) {
            free(g);
            return NULL;
        }
    gauge_set_all(g, -1);
    if (uv_timer_init(st->s->loop, &g->timer)) {
        free(g);
        return NULL;
    }
    g->timer.data = g;
    uv_timer_start(&g->timer, gauge_tick, 200, GAUGE_REFRESH_MS);
    return g;
}

void notify_gauge_stop(notify_gauge *g) {
    if (g) uv_timer_stop(&g->timer);
}

void notify_gauge_close(notify_gauge *g) {
    if (!g) return;
    g->closing = 1;
    uv_close((uv_handle_t *)&g->timer, gauge_closed);
}
