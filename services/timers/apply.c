/* apply.c - case events become clock changes.
 *
 * For each event, in order: stops (a rule met or cancelled by this event type,
 * or a case-wide cancel), then an exception, then starts, so an event that
 * both ends and restarts a clock (a review held) does both in the right order.
 * Every change is one Redis script; replies arrive in the order the commands
 * were sent, so the deadline events they produce are collected in event
 * order, published once every reply is in, and the batch is acknowledged once
 * every event is delivered. Starts, which are most of an imported caseload,
 * are gathered by shard and sent as one script per shard (arms_flush), just
 * before the next other change of that shard and at the end of the batch:
 * a case lives on one shard, so its changes still reach Redis, and its
 * events the topic, in event order. A crash anywhere replays the batch: arming is
 * HSETNX, stops find their earlier outcome, and ids make the repeats
 * harmless downstream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "events.h"
#include "layout.h"
#include "log.h"
#include "pipeline.h"
#include "store.h"
#include "timers.h"

/* What one Redis reply must do when it comes back. */
typedef struct apply_op {
    sp_pipeline *b;
    char slot[TIMERS_SLOT_MAX];
    char by[48]; /* the event type that stopped a clock */
    sp_date on;  /* its business date */
    int met;
    timers_record rec; /* for starts: the record armed, */
    char text[96];     /* as text, */
    int64_t fire_ms;   /* its first fire time */
    int indexed;       /* and whether the case's cancel index lists it */
} apply_op;

#define APPLY_ARMS_MAX 1000 /* starts in one arm script */

/* Starts of one shard not yet sent. */
typedef struct apply_shard_arms {
    apply_op **ops;
    size_t n, cap;
} apply_shard_arms;

struct apply_arms {
    sp_pipeline *b;
    apply_shard_arms shard[TIMERS_MAX_SHARDS];
};

static apply_op *op_new(sp_pipeline *b) {
    apply_op *op = calloc(1, sizeof(*op));
    if (!op) sp_pipeline_fail(b);
    else op->b = b, sp_pipeline_hold(b);
    return op;
}

/* A command that could not be sent: close it, and fail the batch. */
static void op_unsent(apply_op *op) {
    sp_pipeline *b = op->b;
    free(op);
    sp_pipeline_fail(b);
    sp_pipeline_release(b);
}

static int reply_failed(apply_op *op, redisReply *rep) {
    if (rep && rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("timers: redis: %s", rep ? rep->str : "no connection");
    sp_pipeline_fail(op->b);
    return 1;
}

/* ---- starts ---------------------------------------------------------------- */

/* One clock's pair from the arm script: {1, record} armed now, {0, the
 * record already there}, {2, nil} its case is closed. */
static void arm_result(apply_op *op, redisReply *code, redisReply *rec) {
    sp_pipeline *b = op->b;
    timers_record armed;
    if (code->type == REDIS_REPLY_INTEGER && code->integer == 2) {
        sp_log(SP_LOG_DEBUG, NULL, "timers: %s not started: its case is closed", op->slot);
    } else if (code->type == REDIS_REPLY_INTEGER && rec->type == REDIS_REPLY_STRING &&
               timers_record_decode(rec->str, rec->len, &armed) == 0) {
        timers_state *t = sp_pipeline_service(b)->priv;
        char case_id[64];
        /* The key: the slot up to its first ':' (no copies of the rest). */
        size_t len = strcspn(op->slot, ":");
        if (len >= sizeof(case_id)) len = sizeof(case_id) - 1;
        memcpy(case_id, op->slot, len);
        case_id[len] = '\0';
        if (code->integer == 1) sp_metric_inc(t->m_armed);
        /* Announced from the record in Redis: on a replay, or a second start
         * of a clock already running, that is the running instance, so the
         * event repeats its id and is dropped downstream. */
        sp_pipeline_emit(b, case_id,
                         timers_event_started(sp_pipeline_service(b), op->slot, &armed));
    } else {
        sp_error("timers: arm: unexpected reply for a clock");
        sp_pipeline_fail(b);
    }
}

/* The reply to one shard's arm script; priv is its ops (n, then the ops). */
typedef struct arm_call {
    sp_pipeline *b;
    size_t n;
    apply_op *ops[];
} arm_call;

static void armed_cb(sp_redis *r, redisReply *rep, void *priv) {
    arm_call *call = priv;
    sp_pipeline *b = call->b;
    int ok = !reply_failed(call->ops[0], rep);
    if (ok && (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 * call->n)) {
        sp_error("timers: arm: unexpected reply");
        sp_pipeline_fail(b);
        ok = 0;
    }
    for (size_t i = 0; i < call->n; i++) {
        if (ok) arm_result(call->ops[i], rep->element[2 * i], rep->element[2 * i + 1]);
        free(call->ops[i]);
    }
    free(call);
    sp_pipeline_release(b);
}

/* The shard's Redis, for a write: every change to a shard's clocks goes
 * through here, so the fire loop looks at the shard at its next tick
 * instead of waiting for the next clock it knew of (fire.c). */
static sp_redis *apply_redis(sp_pipeline *b, int shard) {
    timers_fire_touch(sp_pipeline_service(b), shard);
    return sp_service_redis(sp_pipeline_service(b), shard);
}

/* Sends n starts of one shard as one script; the script holds the pipeline
 * and owns the ops from here, sent or not. */
static void arms_send(sp_pipeline *b, int shard, apply_op *const *ops, size_t n) {
    arm_call *call = malloc(sizeof(*call) + n * sizeof(apply_op *));
    const char **text = malloc(2 * n * sizeof(char *));
    int64_t *fire_ms = malloc(n * sizeof(*fire_ms));
    int *indexed = malloc(n * sizeof(*indexed));
    int sent = 0;
    if (call && text && fire_ms && indexed) {
        call->b = b;
        call->n = n;
        for (size_t i = 0; i < n; i++) {
            apply_op *op = call->ops[i] = ops[i];
            text[i] = op->slot, text[n + i] = op->text;
            fire_ms[i] = op->fire_ms, indexed[i] = op->indexed;
        }
        sp_pipeline_hold(b);
        sent = timers_store_arm_many(apply_redis(b, shard), shard, n, text, text + n, fire_ms,
                                     indexed, armed_cb, call) == 0;
        if (!sent) sp_pipeline_release(b);
    }
    if (!sent) {
        sp_pipeline_fail(b);
        for (size_t i = 0; i < n; i++) free(ops[i]);
        free(call);
    }
    free(text);
    free(fire_ms);
    free(indexed);
}

/* Sends the shard's gathered starts. */
static void arms_flush(timers_state *t, int shard) {
    apply_shard_arms *sa;
    if (!t->arming || shard < 0 || shard >= TIMERS_MAX_SHARDS) return;
    sa = &t->arming->shard[shard];
    if (sa->n) arms_send(t->arming->b, shard, sa->ops, sa->n);
    sa->n = 0;
}

/* Gathers a start for its shard's next script (the op's hold on the
 * pipeline moves to the script). Returns -1 if out of memory. */
static int arms_add(timers_state *t, int shard, apply_op *op) {
    if (shard < 0 || shard >= TIMERS_MAX_SHARDS) { /* never fired here; armed all the same */
        sp_pipeline_release(op->b);
        arms_send(t->arming->b, shard, &op, 1);
        return 0;
    }
    apply_shard_arms *sa = &t->arming->shard[shard];
    if (sa->n == sa->cap) {
        size_t cap = sa->cap ? 2 * sa->cap : 64;
        apply_op **ops = realloc(sa->ops, cap * sizeof(*ops));
        if (!ops) return -1;
        sa->ops = ops, sa->cap = cap;
    }
    sa->ops[sa->n++] = op;
    sp_pipeline_release(op->b);
    /* A script runs alone in Redis: 1,000 clocks keep it to a few ms, so
     * the fire rounds and other clients of the same Redis are not held up
     * by a large batch (consumer.batch_max allows 100,000). */
    if (sa->n >= APPLY_ARMS_MAX) arms_flush(t, shard);
    return 0;
}

static sp_date data_date(const sp_event *ev, const char *field) {
    sp_date d;
    const char *s = sp_event_str(ev, field ? field : "date");
    return s && sp_date_parse(s, &d) == 0 ? d : SP_DATE_INVALID;
}

static void start_input(const sp_event *ev, const timers_rule *rule, timers_start_input *in) {
    cJSON *ty = cJSON_GetObjectItemCaseSensitive(ev->data, "transfer_year");
    const char *phase = sp_event_str(ev, "transfer_phase");
    in->base = data_date(ev, rule->base_field);
    in->due_field = rule->due_field ? data_date(ev, rule->due_field) : SP_DATE_INVALID;
    in->child_dob = data_date(ev, "child_date_of_birth");
    in->transfer_year = cJSON_IsNumber(ty) ? ty->valueint : 0;
    in->post16 = phase && strcmp(phase, "secondary_to_post16") == 0;
}

/* Arms one rule's clock from ev. Returns -1 with why if ev lacks a date the
 * rule needs; a rule that does not apply (no transfer year) is skipped. */
static int apply_start(sp_pipeline *b, const sp_event *ev, const timers_rule *rule,
                       int shard, char *why, size_t size) {
    timers_state *t = sp_pipeline_service(b)->priv;
    timers_start_input in;
    const char *qual = rule->qualifier_field ? sp_event_str(ev, rule->qualifier_field) : NULL;
    start_input(ev, rule, &in);
    if (rule->unit == TIMERS_UNIT_PHASE_TRANSFER && !in.transfer_year) return 0;
    if (rule->unit == TIMERS_UNIT_DATE_FIELD && in.due_field == SP_DATE_INVALID) return 0;
    sp_date due = timers_rule_due(rule, &in, &t->counting);
    if (due == SP_DATE_INVALID || (rule->qualifier_field && (!qual || strchr(qual, '|')))) {
        snprintf(why, size, "%s: data.%s%s%s needed for clock %s is missing or invalid",
                 ev->type, rule->base_field ? rule->base_field : "date",
                 rule->qualifier_field ? " or data." : "",
                 rule->qualifier_field ? rule->qualifier_field : "", rule->clock);
        return -1;
    }
    apply_op *op = op_new(b);
    if (!op) return 0;
    timers_slot_make(op->slot, sizeof(op->slot), ev->subject, rule->clock, qual);
    op->rec.start = in.base != SP_DATE_INVALID ? in.base : data_date(ev, NULL);
    op->rec.due = due;
    op->rec.flags = (rule->flags & TIMERS_RULE_INFORMATIONAL) ? TIMERS_FLAG_INFORMATIONAL : 0;
    op->rec.seq = timers_schedule_first(&t->schedule, &op->rec,
                                        sp_date_from_ms(sp_service_now(sp_pipeline_service(b))));
    timers_fire_point p;
    timers_schedule_point(&t->schedule, &op->rec, op->rec.seq, &p);
    op->fire_ms = p.at_ms;
    op->indexed = qual != NULL;
    if (timers_record_encode(&op->rec, op->text, sizeof(op->text)) < 0 ||
        arms_add(t, shard, op))
        op_unsent(op);
    return 0;
}

/* ---- stops and exceptions ------------------------------------------------------ */

static void stopped_cb(sp_redis *r, redisReply *rep, void *priv) {
    apply_op *op = priv;
    sp_pipeline *b = op->b;
    if (!reply_failed(op, rep) && rep->type == REDIS_REPLY_ARRAY) {
        timers_state *t = sp_pipeline_service(b)->priv;
        for (size_t i = 0; i + 2 < rep->elements; i += 3) {
            timers_record rec;
            redisReply *rr = rep->element[i + 2];
            if (timers_record_decode(rr->str, rr->len, &rec)) continue;
            if (!strcmp(rep->element[i + 1]->str, "stopped")) sp_metric_inc(t->m_stopped);
            char case_id[64], clock[64], qual[96], slot[TIMERS_SLOT_MAX];
            if (timers_layout_slot(rep->element[i]->str, slot, sizeof(slot)) < 0) continue;
            timers_slot_split(slot, case_id, sizeof(case_id), clock, sizeof(clock), qual,
                              sizeof(qual));
            sp_pipeline_emit(b, case_id, timers_event_stopped(sp_pipeline_service(b), slot,
                                                              &rec, op->met, op->on, op->by));
        }
    }
    free(op);
    sp_pipeline_release(b);
}

static void stop_slots(sp_pipeline *b, const sp_event *ev, int shard, int met, int strict,
                       int with_index, const char *const *slots, size_t n, sp_date on) {
    char day[16], outcome[24];
    int y, m, d;
    arms_flush(sp_pipeline_service(b)->priv, shard);
    apply_op *op = op_new(b);
    if (!op) return;
    sp_date_split(on, &y, &m, &d);
    snprintf(day, sizeof(day), "%04d%02d%02d", y, m, d);
    snprintf(outcome, sizeof(outcome), "%c|%s", met ? 'm' : 'c', day);
    snprintf(op->by, sizeof(op->by), "%s", ev->type);
    op->on = on;
    op->met = met;
    sp_redis *r = apply_redis(b, shard);
    if (timers_store_stop(r, shard, ev->subject, day, strict, outcome, with_index, slots, n,
                          sp_service_now(sp_pipeline_service(b)), stopped_cb, op))
        op_unsent(op);
}

/* Rules this event meets or cancels, one slot each. */
static void apply_rule_stops(sp_pipeline *b, const sp_event *ev, int shard, sp_date on) {
    timers_state *t = sp_pipeline_service(b)->priv;
    for (int i = 0; i < t->rules.count; i++) {
        const timers_rule *rule = &t->rules.rules[i];
        int met = timers_rule_met_on(rule, ev->type);
        if (!met && !timers_rule_cancel_on(rule, ev->type)) continue;
        const char *qual = rule->qualifier_field ? sp_event_str(ev, rule->qualifier_field) : NULL;
        if (rule->qualifier_field && !qual) continue;
        char slot[TIMERS_SLOT_MAX];
        const char *slots[] = {slot};
        timers_slot_make(slot, sizeof(slot), ev->subject, rule->clock, qual);
        stop_slots(b, ev, shard, met, timers_rule_starts_on(rule, ev->type), 0, slots, 1, on);
    }
}

/* Withdrawn or closed: every clock of the case ends. */
static void apply_case_cancel(sp_pipeline *b, const sp_event *ev, int shard, sp_date on) {
    timers_state *t = sp_pipeline_service(b)->priv;
    char slots[TIMERS_MAX_RULES][TIMERS_SLOT_MAX];
    const char *ptrs[TIMERS_MAX_RULES];
    size_t n = 0;
    for (int i = 0; i < t->rules.count; i++) {
        if (t->rules.rules[i].qualifier_field) continue; /* in the case's index */
        timers_slot_make(slots[n], sizeof(slots[n]), ev->subject, t->rules.rules[i].clock, NULL);
        ptrs[n] = slots[n];
        n++;
    }
    stop_slots(b, ev, shard, 0, 0, 1, ptrs, n, on);
}

static void excepted_cb(sp_redis *r, redisReply *rep, void *priv) {
    apply_op *op = priv;
    sp_pipeline *b = op->b;
    timers_record rec;
    if (!reply_failed(op, rep) && rep->type == REDIS_REPLY_STRING &&
        timers_record_decode(rep->str, rep->len, &rec) == 0) {
        char case_id[64], clock[64], qual[96];
        timers_slot_split(op->slot, case_id, sizeof(case_id), clock, sizeof(clock), qual,
                          sizeof(qual));
        sp_pipeline_emit(b, case_id,
                         timers_event_excepted(sp_pipeline_service(b), op->slot, &rec));
    }
    free(op);
    sp_pipeline_release(b);
}

static int apply_exception(sp_pipeline *b, const sp_event *ev, int shard, char *why,
                           size_t size) {
    const char *clock = sp_event_str(ev, "clock"), *reason = sp_event_str(ev, "reason");
    if (!clock || !reason || !*reason || strlen(reason) >= TIMERS_REASON_MAX ||
        strpbrk(reason, "|#")) {
        snprintf(why, size, "exception.recorded: data.clock and data.reason (a code of at "
                 "most %d characters) are required", TIMERS_REASON_MAX - 1);
        return -1;
    }
    arms_flush(sp_pipeline_service(b)->priv, shard);
    apply_op *op = op_new(b);
    if (!op) return 0;
    timers_slot_make(op->slot, sizeof(op->slot), ev->subject, clock,
                     sp_event_str(ev, "qualifier"));
    sp_redis *r = apply_redis(b, shard);
    if (timers_store_except(r, shard, op->slot, reason, excepted_cb, op))
        op_unsent(op);
    return 0;
}

/* ---- one event ------------------------------------------------------------------- */

static int event_matters(const timers_state *t, const char *type) {
    if (timers_is_case_cancel(type) || !strcmp(type, "exception.recorded")) return 1;
    for (int i = 0; i < t->rules.count; i++) {
        const timers_rule *r = &t->rules.rules[i];
        if (timers_rule_starts_on(r, type) || timers_rule_met_on(r, type) ||
            timers_rule_cancel_on(r, type))
            return 1;
    }
    return 0;
}

static int apply_event(sp_pipeline *b, const sp_event *ev, int shard, char *why, size_t size) {
    timers_state *t = sp_pipeline_service(b)->priv;
    sp_date on = data_date(ev, NULL);
    if (!event_matters(t, ev->type)) return 0;
    if (on == SP_DATE_INVALID) {
        snprintf(why, size, "%s: data.date (YYYY-MM-DD) is required", ev->type);
        return -1;
    }
    if (timers_is_case_cancel(ev->type)) apply_case_cancel(b, ev, shard, on);
    apply_rule_stops(b, ev, shard, on);
    if (!strcmp(ev->type, "exception.recorded") && apply_exception(b, ev, shard, why, size))
        return -1;
    for (int i = 0; i < t->rules.count; i++) {
        const timers_rule *rule = &t->rules.rules[i];
        if (timers_rule_starts_on(rule, ev->type) &&
            apply_start(b, ev, rule, shard, why, size))
            return -1;
    }
    return 0;
}

/* Sends every shard's gathered starts and frees the gathering. */
static void arms_end(timers_state *t) {
    for (int shard = 0; shard < TIMERS_MAX_SHARDS; shard++) {
        arms_flush(t, shard);
        free(t->arming->shard[shard].ops);
    }
    free(t->arming);
    t->arming = NULL;
}

void timers_apply_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    timers_state *t = s->priv;
    sp_pipeline *b = sp_pipeline_new(s, SP_TOPIC_DEADLINES);
    char why[256];
    if (!b) return;
    if (!(t->arming = calloc(1, sizeof(*t->arming)))) {
        sp_pipeline_fail(b);
        sp_pipeline_release(b);
        return;
    }
    t->arming->b = b;
    for (size_t i = 0; i < n && !sp_pipeline_failed(b); i++) {
        sp_event ev;
        sp_service_count_in(s);
        if (sp_event_parse(msgs[i]->payload, msgs[i]->len, &ev, why, sizeof(why)) == 0 &&
            apply_event(b, &ev, msgs[i]->partition, why, sizeof(why)) == 0) {
            sp_event_free(&ev);
            continue;
        }
        sp_event_free(&ev);
        sp_pipeline_deadletter(b, msgs[i], why);
    }
    arms_end(t);
    sp_pipeline_release(b);
}
