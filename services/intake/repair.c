/* repair.c - the sweep that republishes unfinished requests. See repair.h. */
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "log.h"
#include "repair.h"
#include "store.h"
#include "submit.h"

/* Reservations taken per sweep: a backlog after an outage drains over a few
 * periods instead of flooding the producer in one. */
#define REPAIR_BATCH 100
/* Redis servers swept: redis.host and each redis.shards server. */
#define REPAIR_MAX_SERVERS 64

typedef struct repair {
    sp_service *s;
    uv_timer_t timer;
    int sweeping;     /* stale queries in flight, one per Redis server */
    size_t inflight;  /* republished events not yet acknowledged */
    int closed;       /* the timer is closed; free when nothing is in flight */
    sp_metric *m_republished;
} repair;

typedef struct republish {
    repair *rp;
    char *idem_key; /* intake:idem:<sha256> */
    char *case_id;
    char event_type[48];
    char event_id[160];
} republish;

static void repair_maybe_free(repair *rp) {
    if (rp->closed && !rp->sweeping && rp->inflight == 0) free(rp);
}

static void republish_free(republish *p) {
    repair *rp = p->rp;
    free(p->idem_key);
    free(p->case_id);
    free(p);
    rp->inflight--;
    repair_maybe_free(rp);
}

static void republish_marked(sp_redis *r, redisReply *rep, void *priv) {
    republish *p = priv;
    (void)r;
    /* Unmarked, it is swept again next period and published once more with
     * the same id: a repeat consumers drop. */
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        sp_log(SP_LOG_WARN, p->case_id, "intake repair: could not mark %s done",
               p->event_type);
    republish_free(p);
}

static void republish_delivered(rd_kafka_resp_err_t err, void *opaque) {
    republish *p = opaque;
    repair *rp = p->rp;
    if (err) { /* still pending: the next sweep after the lease tries again */
        sp_log(SP_LOG_WARN, p->case_id, "intake repair: %s not delivered: %s",
               p->event_type, rd_kafka_err2str(err));
        republish_free(p);
        return;
    }
    sp_log(SP_LOG_WARN, p->case_id, "intake repair: republished %s %s left pending by an "
           "unfinished request", p->event_type, p->event_id);
    sp_metric_inc(rp->m_republished);
    if (intake_store_done_key(sp_service_redis_of(rp->s, p->case_id), p->idem_key,
                              p->event_type, p->event_id, republish_marked, p))
        republish_marked(NULL, NULL, p);
}

/* Publishes one held event; the reservation stays pending until the broker
 * has it. */
static void republish_one(repair *rp, const char *idem_key, const char *case_id,
                          const char *event) {
    char errstr[256];
    sp_event ev;
    republish *p = calloc(1, sizeof(*p));
    if (!p || !(p->idem_key = strdup(idem_key)) || !(p->case_id = strdup(case_id))) {
        if (p) free(p->idem_key), free(p);
        sp_error("intake repair: out of memory");
        return;
    }
    p->rp = rp;
    rp->inflight++;
    if (sp_event_parse(event, strlen(event), &ev, errstr, sizeof(errstr)) == 0) {
        snprintf(p->event_type, sizeof(p->event_type), "%s", ev.type);
        snprintf(p->event_id, sizeof(p->event_id), "%s", ev.id);
        sp_event_free(&ev);
    } else { /* intake wrote it: never expected; publish it as held */
        sp_log(SP_LOG_ERROR, case_id, "intake repair: held event unreadable: %s", errstr);
        snprintf(p->event_type, sizeof(p->event_type), "?");
    }
    if (sp_service_publish(rp->s, SP_TOPIC_CASE_EVENTS, case_id, event, strlen(event),
                           republish_delivered, p, errstr, sizeof(errstr))) {
        sp_log(SP_LOG_ERROR, case_id, "intake repair: %s", errstr);
        republish_free(p);
    }
}

static void stale_got(sp_redis *r, redisReply *rep, void *priv) {
    repair *rp = priv;
    (void)r;
    rp->sweeping--;
    if (!rp->closed && rep && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 2 < rep->elements; i += 3) {
            redisReply **t = rep->element + i;
            if (t[0]->type == REDIS_REPLY_STRING && t[1]->type == REDIS_REPLY_STRING &&
                t[2]->type == REDIS_REPLY_STRING)
                republish_one(rp, t[0]->str, t[1]->str, t[2]->str);
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sp_error("intake repair: %s", rep->str);
    }
    repair_maybe_free(rp);
}

/* With redis.shards each server has its own intake:pending (a reservation
 * is indexed where its records are), so the sweep asks every server. */
static void repair_tick(uv_timer_t *t) {
    repair *rp = t->data;
    const intake_conf *c = rp->s->conf;
    sp_redis *servers[REPAIR_MAX_SERVERS];
    size_t n;
    /* A sweep still waiting, or still publishing the last one's events: the
     * leases keep those, so skip rather than pile up. */
    if (rp->sweeping || rp->inflight || rp->s->stopping) return;
    n = sp_service_redis_all(rp->s, servers, REPAIR_MAX_SERVERS);
    for (size_t i = 0; i < n; i++)
        if (intake_store_stale(servers[i], c->repair_after_s * 1000, REPAIR_BATCH, stale_got,
                               rp) == 0) /* redis.host: each server's own index */
            rp->sweeping++;
}

int intake_repair_start(sp_service *s, char *errstr, size_t size) {
    const intake_conf *c = s->conf;
    repair *rp = calloc(1, sizeof(*rp));
    if (!rp) {
        snprintf(errstr, size, "intake repair: out of memory");
        return -1;
    }
    rp->s = s;
    rp->m_republished = sp_metrics_counter(
        s->metrics, "sendpath_intake_republished_total",
        "Events of requests left pending (intake died or the broker failed them and "
        "the client never retried) that the repair sweep published",
        NULL);
    uv_timer_init(s->loop, &rp->timer);
    rp->timer.data = rp;
    uv_timer_start(&rp->timer, repair_tick, (uint64_t)c->repair_interval_ms,
                   (uint64_t)c->repair_interval_ms);
    s->priv = rp;
    return 0;
}

static void repair_timer_closed(uv_handle_t *h) {
    repair *rp = h->data;
    rp->closed = 1;
    repair_maybe_free(rp);
}

void intake_repair_stop(sp_service *s) {
    repair *rp = s->priv;
    if (!rp) return;
    s->priv = NULL;
    uv_timer_stop(&rp->timer);
    uv_close((uv_handle_t *)&rp->timer, repair_timer_closed);
}
