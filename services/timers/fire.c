/* fire.c - due clocks become deadline events.
 *
 * A tick (every tick_ms, and at once when the manual clock moves) starts a
 * round on each owned shard: fetch up to fire_batch clocks due now, publish
 * one event per clock for the fire point it has reached, and when every
 * event is acknowledged by the broker, advance the clocks with one
 * compare-and-set script. A crash between publish and advance re-fires the
 * same points with the same ids (at-least-once); a clock stopped while its
 * round was out is not resurrected, because its record no longer matches.
 * A shard with more due than one round takes goes again at once.
 *
 * The fetch leases the clocks it returns for fire.lease_ms (store.h), so a
 * shard starts its next round as soon as the last one has published, not
 * when the broker has acknowledged it and Redis advanced it: a clock falling
 * due meanwhile does not wait for that round trip. Up to FIRE_ROUNDS rounds
 * a shard are out at once; a broker that stops acknowledging stops new
 * rounds there. A crash leaves its leased clocks due when the lease ends; a
 * round whose events failed gives its clocks back at once. A round out
 * longer than the lease may fire its clocks again (same ids). With the
 * manual clock (tests move time by days) or lease 0 a shard has one round
 * out at a time and nothing is leased, as before the lease.
 *
 * Each round also learns when the shard's next clock falls due; if that is
 * before the next tick, a one-shot timer wakes the service then, so a clock
 * waits for its time and not for the tick. Until then the tick passes the
 * shard by: nothing there can be due sooner unless something wrote to it,
 * and this instance's own writes (timers_fire_touch), a new assignment, a
 * failed round and an advance each make the next tick look again. Anything
 * else (another instance mid-rebalance, a hand edit) is found by a look at
 * least every fire.poll_ms. An idle shard used to cost a script every tick. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events.h"
#include "layout.h"
#include "log.h"
#include "store.h"
#include "timers.h"

#define FIRE_ROUNDS 4 /* most rounds out a shard, leased: 8 slowed bursts (docs/performance.md) */

typedef struct fire_item {
    char slot[TIMERS_SLOT_MAX]; /* as stored (layout.h) */
    char old_rec[96], new_rec[96];
    int64_t next_ms;
} fire_item;

typedef struct fire_round {
    sp_service *s;
    int shard;
    fire_item *items;
    size_t n;
    size_t outstanding;
    int64_t at;    /* when fetched: a failed round's clocks are due again then */
    int leased;    /* its clocks were leased (store.h) */
    int releasing; /* its advance gives the leases back */
    int failed;
} fire_round;

/* Rounds may overlap on a shard only under a lease, and only in real time:
 * a manual clock jumps past any lease. */
static int fire_leasing(const sp_service *s) {
    const timers_conf *conf = s->conf;
    return !s->clock.manual && conf->lease_ms > 0;
}

static void round_end(fire_round *fr) {
    timers_state *t = fr->s->priv;
    t->inflight[fr->shard]--;
    /* Advanced clocks have new fire times, maybe before the known next;
     * a failed round backs off to the next tick. */
    if (fr->n > 0 || fr->failed) t->polled_at[fr->shard] = 0;
    if (fr->failed) t->more[fr->shard] = 0;
    free(fr->items);
    free(fr);
}

static void soon_cb(uv_timer_t *h) { timers_fire_kick(h->data); }

/* Wakes the service at `at` if the tick would come later. */
static void fire_wake_at(sp_service *s, int64_t at) {
    timers_state *t = s->priv;
    timers_conf *conf = s->conf;
    int64_t now = sp_service_now(s);
    if (s->clock.manual || s->stopping || at == INT64_MAX || at - now >= conf->tick_ms) return;
    if (uv_is_active((uv_handle_t *)&t->soon) && t->soon_at <= at) return;
    t->soon_at = at;
    uv_timer_start(&t->soon, soon_cb, at > now ? (uint64_t)(at - now) : 0, 0);
}

/* A round is over: go again at once if the shard has more due, else wake
 * when its next clock is. */
static void round_next(fire_round *fr) {
    timers_state *t = fr->s->priv;
    sp_service *s = fr->s;
    int shard = fr->shard, failed = fr->failed;
    round_end(fr);
    if (failed) return;
    if (t->more[shard] || t->next_due[shard] <= sp_service_now(s)) timers_fire_kick(s);
    else fire_wake_at(s, t->next_due[shard]);
}

static void advanced_cb(sp_redis *r, redisReply *rep, void *priv) {
    fire_round *fr = priv;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        sp_error("timers: %s failed: %s", fr->releasing ? "lease release" : "advance",
                 rep ? rep->str : "no connection");
        fr->failed = 1;
    }
    round_next(fr);
}

/* Advances the round's clocks; or, releasing, puts each back as it was,
 * due at the round's fetch time, so a failed round is retried at the next
 * tick and not when its lease ends. */
static void round_advance(fire_round *fr) {
    const char **slots = malloc(fr->n * sizeof(char *) * 3);
    int64_t *scores = malloc(fr->n * sizeof(int64_t));
    if (!slots || !scores) goto fail;
    for (size_t i = 0; i < fr->n; i++) {
        slots[i] = fr->items[i].slot;
        slots[fr->n + i] = fr->items[i].old_rec;
        slots[2 * fr->n + i] = fr->releasing ? fr->items[i].old_rec : fr->items[i].new_rec;
        scores[i] = fr->releasing ? fr->at : fr->items[i].next_ms;
    }
    sp_redis *r = sp_service_redis(fr->s, fr->shard);
    if (timers_store_advance(r, fr->shard, fr->n, slots, slots + fr->n, slots + 2 * fr->n,
                             scores, advanced_cb, fr))
        goto fail;
    free(slots);
    free(scores);
    return;
fail:
    free(slots);
    free(scores);
    fr->failed = 1;
    round_end(fr);
}

static void delivered_cb(rd_kafka_resp_err_t err, void *opaque) {
    fire_round *fr = opaque;
    if (err) {
        sp_error("timers: deadline event not delivered: %s", rd_kafka_err2str(err));
        fr->failed = 1;
    }
    if (--fr->outstanding > 0) return;
    if (fr->n == 0 || (fr->failed && !fr->leased)) round_next(fr);
    else {
        fr->releasing = fr->failed;
        round_advance(fr);
    }
}

/* Builds and publishes the event of one due clock; fills its advance. */
static int fire_one(fire_round *fr, fire_item *it, const timers_record *rec, int64_t now) {
    timers_state *t = fr->s->priv;
    timers_fire_point p, next;
    timers_record after = *rec;
    char errstr[256], case_id[64], clock[64], qual[96], slot[TIMERS_SLOT_MAX];
    if (timers_layout_slot(it->slot, slot, sizeof(slot)) < 0) return -1;
    timers_schedule_point(&t->schedule, rec, rec->seq, &p);
    after.seq = rec->seq + 1;
    timers_schedule_point(&t->schedule, &after, after.seq, &next);
    timers_record_encode(&after, it->new_rec, sizeof(it->new_rec));
    it->next_ms = next.at_ms;
    /* An informational clock ends at its date: park it far in the future
     * until a stop or case cancel removes it. */
    if ((rec->flags & TIMERS_FLAG_INFORMATIONAL) && p.kind == TIMERS_FIRE_DUE)
        it->next_ms = TIMERS_STORE_PARKED_MS;
    char *text = timers_event_fire(fr->s, slot, rec, rec->seq, &p);
    if (!text) return -1;
    timers_slot_split(slot, case_id, sizeof(case_id), clock, sizeof(clock), qual,
                      sizeof(qual));
    int rc = sp_service_publish(fr->s, SP_TOPIC_DEADLINES, case_id, text, strlen(text),
                                delivered_cb, fr, errstr, sizeof(errstr));
    cJSON_free(text);
    if (rc) {
        sp_error("timers: %s", errstr);
        return -1;
    }
    sp_metric_inc(t->m_fired);
    if (!fr->s->clock.manual) sp_metric_observe(t->m_lateness, (double)(now - p.at_ms) / 1000.0);
    return 0;
}

/* A due clock this release can fire: its slot fits and its record decodes
 * (into rec). The due script drops a slot without a record. */
static int fire_readable(const redisReply *slot, const redisReply *rec_r, timers_record *rec) {
    return slot->type == REDIS_REPLY_STRING && slot->len < TIMERS_SLOT_MAX &&
           rec_r->type == REDIS_REPLY_STRING &&
           timers_record_decode(rec_r->str, rec_r->len, rec) == 0;
}

static void parked_cb(sp_redis *r, redisReply *rep, void *priv) {
    sp_service *s = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        sp_error("timers: park: %s", rep && rep->str ? rep->str : "no connection");
        return;
    }
    sp_metric_add(((timers_state *)s->priv)->m_parked, (double)rep->integer);
}

/* Clocks whose record cannot be read (another release's layout after a
 * downgrade, a hand edit) cannot fire; left in q they would come back every
 * round (every lease without one) and take places in it. They are parked
 * (store.h), kept for someone to fix, and each is logged. bad: the indexes
 * in rep of the n such clocks the round found. */
static void fire_park_unreadable(sp_service *s, int shard, const redisReply *rep,
                                 const size_t *bad, size_t n) {
    const char **pairs = malloc(2 * n * sizeof(*pairs));
    size_t *lens = malloc(2 * n * sizeof(*lens));
    if (!pairs || !lens) {
        sp_error("timers: park: out of memory: the unreadable clocks come back when due again");
    } else {
        for (size_t k = 0; k < n; k++) {
            const redisReply *slot = rep->element[2 * bad[k]];
            const redisReply *rec_r = rep->element[2 * bad[k] + 1];
            sp_error("timers: clock %.*s of shard %d has a record this release cannot read "
                     "(%zu bytes): parked, not fired", (int)(slot->len < 200 ? slot->len : 200),
                     slot->str, shard, rec_r->len);
            pairs[2 * k] = slot->str, lens[2 * k] = slot->len;
            pairs[2 * k + 1] = rec_r->str, lens[2 * k + 1] = rec_r->len;
        }
        if (timers_store_park(sp_service_redis(s, shard), shard, n, pairs, lens, parked_cb, s))
            sp_error("timers: park: not sent (no connection): they come back when due again");
    }
    free(pairs);
    free(lens);
}

static void due_cb(sp_redis *r, redisReply *rep, void *priv) {
    fire_round *fr = priv;
    timers_state *t = fr->s->priv;
    timers_conf *conf = fr->s->conf;
    sp_service *s = fr->s;
    int shard = fr->shard;
    int64_t now = sp_service_now(s);
    t->fetching[shard] = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep) sp_error("timers: due clocks: %s", rep->str);
        fr->failed = 1;
        round_end(fr);
        return;
    }
    size_t count = rep->elements / 2;
    redisReply *next = rep->elements % 2 == 1 ? rep->element[rep->elements - 1] : NULL;
    t->more[fr->shard] = count >= (size_t)conf->fire_batch;
    t->next_due[fr->shard] = next && next->type == REDIS_REPLY_STRING
                                 ? (int64_t)strtoll(next->str, NULL, 10) : INT64_MAX;
    fr->items = calloc(count ? count : 1, sizeof(*fr->items));
    fr->outstanding = 1;
    size_t *bad = NULL, nbad = 0; /* unreadable clocks, parked below */
    for (size_t i = 0; i < count && fr->items; i++) {
        redisReply *slot = rep->element[2 * i], *rec_r = rep->element[2 * i + 1];
        timers_record rec;
        fire_item *it = &fr->items[fr->n];
        if (!fire_readable(slot, rec_r, &rec)) {
            if (slot->type == REDIS_REPLY_STRING && rec_r->type == REDIS_REPLY_STRING &&
                (bad || (bad = malloc(count * sizeof(*bad)))))
                bad[nbad++] = i;
            continue;
        }
        snprintf(it->slot, sizeof(it->slot), "%s", slot->str);
        snprintf(it->old_rec, sizeof(it->old_rec), "%s", rec_r->str);
        /* After a failure the rest are kept unpublished, for the release. */
        if (!fr->failed) {
            fr->outstanding++;
            if (fire_one(fr, it, &rec, now)) {
                fr->outstanding--;
                fr->failed = 1;
            }
        }
        fr->n++;
    }
    if (nbad) fire_park_unreadable(s, shard, rep, bad, nbad);
    free(bad);
    delivered_cb(RD_KAFKA_RESP_ERR_NO_ERROR, fr); /* releases the guard; fr may be gone */
    if (!fire_leasing(s) || s->stopping) return;
    /* Published: the next round need not wait for the acknowledgements. */
    if (t->more[shard]) timers_fire_kick(s);
    else fire_wake_at(s, t->next_due[shard]);
}

static void fire_round_start(sp_service *s, int shard) {
    timers_state *t = s->priv;
    timers_conf *conf = s->conf;
    fire_round *fr = calloc(1, sizeof(*fr));
    if (!fr) return;
    fr->s = s;
    fr->shard = shard;
    fr->at = sp_service_now(s);
    fr->leased = fire_leasing(s);
    t->polled_at[shard] = fr->at;
    t->inflight[shard]++;
    t->fetching[shard] = 1;
    if (timers_store_due(sp_service_redis(s, shard), shard, fr->at, (int)conf->fire_batch,
                         fr->leased ? fr->at + conf->lease_ms : 0, due_cb, fr)) {
        t->inflight[shard]--;
        t->fetching[shard] = 0;
        t->polled_at[shard] = 0; /* not looked at after all */
        free(fr);
    }
}

/* Nothing on the shard can be due before its known next clock, and it was
 * looked at within fire.poll_ms. Never with the manual clock, which jumps. */
static int fire_idle(const sp_service *s, int shard, int64_t now) {
    const timers_state *t = s->priv;
    const timers_conf *conf = s->conf;
    return !s->clock.manual && conf->poll_ms > 0 && !t->more[shard] && t->polled_at[shard] &&
           t->next_due[shard] > now && now - t->polled_at[shard] < conf->poll_ms;
}

void timers_fire_touch(sp_service *s, int shard) {
    timers_state *t = s->priv;
    if (shard >= 0 && shard < TIMERS_MAX_SHARDS) t->polled_at[shard] = 0;
}

void timers_fire_kick(sp_service *s) {
    timers_state *t = s->priv;
    int rounds = fire_leasing(s) ? FIRE_ROUNDS : 1;
    int64_t now = sp_service_now(s);
    if (s->stopping) return;
    /* A shard whose Redis server is down waits; the others fire. */
    for (int shard = 0; shard < TIMERS_MAX_SHARDS; shard++) {
        if (!t->owned[shard] || t->fetching[shard] || t->inflight[shard] >= rounds ||
            fire_idle(s, shard, now))
            continue;
        sp_redis *r = sp_service_redis(s, shard);
        if (r && sp_redis_ready(r)) fire_round_start(s, shard);
    }
}

static void tick_cb(uv_timer_t *h) { timers_fire_kick(h->data); }

void timers_fire_start(sp_service *s) {
    timers_state *t = s->priv;
    timers_conf *conf = s->conf;
    uv_timer_init(s->loop, &t->tick);
    t->tick.data = s;
    uv_timer_init(s->loop, &t->soon);
    t->soon.data = s;
    uv_timer_start(&t->tick, tick_cb, (uint64_t)conf->tick_ms, (uint64_t)conf->tick_ms);
}

void timers_fire_stop(sp_service *s) {
    timers_state *t = s->priv;
    uv_timer_stop(&t->tick);
    uv_timer_stop(&t->soon);
}
