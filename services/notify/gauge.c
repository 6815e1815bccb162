/* gauge.c - notify's gauges, read from Redis on a timer. See gauge.h. */
#include <stdlib.h>
#include "gauge.h"
#include "log.h"

#define GAUGE_REFRESH_MS 5000

/* KEYS: notify:retry, notify:waiting, notify:clocks. Returns {retry queue
 * length, cases waiting, events waiting, clocks kept}. */
static const char gauge_lua[] =
    "local w = redis.call('HVALS', KEYS[2])\n"
    "local n = 0\n"
    "for i = 1, #w do n = n + tonumber(w[i]) end\n"
    "return {redis.call('ZCARD', KEYS[1]), #w, n, redis.call('HLEN', KEYS[3])}\n";

#define GAUGE_N 4

struct notify_gauge {
    notify_state *st;
    uv_timer_t timer;
    int reading; /* a reading is in flight: the reply owns g until it comes */
    int closing, closed;
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

static void gauge_reply(sp_redis *r, redisReply *rep, void *priv) {
    notify_gauge *g = priv;
    (void)r;
    g->reading = 0;
    if (g->closing) {
        if (g->closed) gauge_free(g);
        return;
    }
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != GAUGE_N) {
        gauge_set_all(g, -1);
        return;
    }
    for (int i = 0; i < GAUGE_N; i++)
        sp_metric_set(g->m[i], rep->element[i]->type == REDIS_REPLY_INTEGER
                                   ? (double)rep->element[i]->integer
                                   : -1);
}

static void gauge_tick(uv_timer_t *t) {
    notify_gauge *g = t->data;
    if (g->reading || !sp_redis_ready(g->st->s->redis)) return;
    g->reading = 1;
    if (sp_redis_command(g->st->s->redis, gauge_reply, g,
                         "EVAL %s 3 notify:retry "
                         "notify:waiting notify:clocks",
                         gauge_lua)) {
        g->reading = 0;
        gauge_set_all(g, -1);
    }
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
