/* gauges.c - refreshing sendpath_deadlines. See gauges.h. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "deadlines.h"
#include "gauges.h"
#include "log.h"

#define GAUGES_MAX_CLOCKS 64 /* the rule table's bound (timers/rules.h) */

typedef struct gauge_clock {
    char name[48];
    sp_metric *g[OPS_DL__COUNT];
} gauge_clock;

struct ops_gauges {
    sp_service *s;
    uv_timer_t timer;
    gauge_clock clocks[GAUGES_MAX_CLOCKS];
    int nclocks, reading, again, stopped, closed;
};

static gauge_clock *gauge_clock_get(ops_gauges *g, const char *name) {
    char labels[160];
    for (int i = 0; i < g->nclocks; i++)
        if (!strcmp(g->clocks[i].name, name)) return &g->clocks[i];
    if (g->nclocks == GAUGES_MAX_CLOCKS) return NULL;
    for (const char *p = name; *p; p++) /* label values need no escaping */
        if (*p == '"' || *p == '\\' || *p == '\n') return NULL;
    gauge_clock *c = &g->clocks[g->nclocks++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    for (int k = 0; k < OPS_DL__COUNT; k++) {
        snprintf(labels, sizeof(labels), "clock=\"%s\",state=\"%s\"", name, ops_dl_state_names[k]);
        c->g[k] = sp_metrics_gauge(g->s->metrics, "sendpath_deadlines",
                                   "Open statutory deadlines by clock and state", labels);
    }
    return c;
}

static void gauges_loaded(sp_service *s, ops_deadline *rows, size_t n, void *priv) {
    ops_gauges *g = priv;
    double counts[GAUGES_MAX_CLOCKS][OPS_DL__COUNT] = {{0}};
    g->reading = 0;
    if (g->stopped) {
        if (g->closed) free(g); /* else gauges_closed frees it */
        return;
    }
    if (!rows) { /* keep the last values; the next tick tries again */
        sp_warn("ops: deadline gauges not refreshed (Redis unavailable)");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        gauge_clock *c = gauge_clock_get(g, rows[i].clock);
        if (c) counts[c - g->clocks][rows[i].state]++;
    }
    for (int i = 0; i < g->nclocks; i++)
        for (int k = 0; k < OPS_DL__COUNT; k++) sp_metric_set(g->clocks[i].g[k], counts[i][k]);
    if (g->again) {
        g->again = 0;
        ops_gauges_refresh(g);
    }
}

void ops_gauges_refresh(ops_gauges *g) {
    if (g->stopped) return;
    if (g->reading) {
        g->again = 1;
        return;
    }
    if (ops_deadlines_load(g->s, 0, gauges_loaded, g) == 0) g->reading = 1;
}

static void gauges_tick(uv_timer_t *t) { ops_gauges_refresh(t->data); }

ops_gauges *ops_gauges_start(sp_service *s, unsigned interval_ms) {
    ops_gauges *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->s = s;
    uv_timer_init(s->loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, gauges_tick, 200, interval_ms);
    return g;
}

static void gauges_closed(uv_handle_t *h) {
    ops_gauges *g = h->data;
    g->closed = 1;
    if (!g->reading) free(g); /* else gauges_loaded frees it */
}

void ops_gauges_stop(ops_gauges *g) {
    g->stopped = 1;
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, gauges_closed);
}
