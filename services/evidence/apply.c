/* apply.c - case events become advice requests, and returns.
 *
 * Three events matter: request.received (whom to write to: the parent
 * contact, the school's SENCO), decision.assess (ask every selected adviser,
 * reg 6) and advice.returned (an adviser's advice came back, sent to intake
 * as the advice_received command). Each is one Redis command, sent in the
 * batch's order; replies come back in that order, so the events they produce
 * are collected in order, published once every reply is in, and the batch is
 * acknowledged once every event is delivered (timers' apply.c has the same
 * shape).
 *
 * A crash or a retry replays the batch. Requesting is HSETNX, so a replayed
 * decision asks no one twice; it re-announces each request with the id and
 * date it had the first time, and for advice that already came back it
 * re-announces the return right after, so a consumer that sees the request
 * again (timers would arm the clock anew) sees it met again too. A return is
 * recorded by returns.c exactly as one POSTed over HTTP, keyed by the event's
 * id: its reservation stays pending (the committed offset is its "done"), so
 * a replay republishes the same advice.received with the same id, which
 * consumers drop. A message that is not an envelope, a decision without its
 * date, or a return that cannot be applied (the adviser was not asked, the
 * advice is already recorded with another date or reference) goes to the
 * dead-letter topic with the reason, publishes nothing, and consumption goes
 * on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dates.h"
#include "envelope.h"
#include "events.h"
#include "evidence.h"
#include "ids.h"
#include "log.h"
#include "pipeline.h"
#include "returns.h"
#include "store.h"

typedef struct out_event {
    char *text; /* cJSON allocator */
    char key[SP_CASE_ID_LEN + 1];
} out_event;

/* The batch's state its operations point to; freed with the pipeline. */
typedef struct apply_batch {
    sp_pipeline *p;
    sp_service *s;
    rd_kafka_message_t *msg; /* the message being applied */
} apply_batch;

/* What one Redis reply must do when it comes back. */
typedef struct apply_op {
    apply_batch *b;
    const rd_kafka_message_t *msg; /* where it came from, to dead-letter a refusal */
    char case_id[SP_CASE_ID_LEN + 1];
    char received_date[11]; /* from the decision; "" when it had none */
} apply_op;

static void refuse(apply_batch *b, const rd_kafka_message_t *m, const char *why);

static apply_op *op_new(apply_batch *b, const char *case_id) {
    apply_op *op = calloc(1, sizeof(*op));
    if (!op) {
        sp_pipeline_fail(b->p);
        return NULL;
    }
    op->b = b;
    op->msg = b->msg;
    snprintf(op->case_id, sizeof(op->case_id), "%s", case_id);
    sp_pipeline_hold(b->p);
    return op;
}

/* A command that could not be sent: count it done, and fail the batch. */
static void op_unsent(apply_op *op) {
    apply_batch *b = op->b;
    free(op);
    sp_pipeline_fail(b->p);
    sp_pipeline_release(b->p);
}

static int reply_failed(apply_op *op, redisReply *rep) {
    if (rep && rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("evidence: redis: %s", rep ? rep->str : "no connection");
    sp_pipeline_fail(op->b->p);
    return 1;
}

/* ---- request.received: whom to write to -------------------------------------- */

static void projected_cb(sp_redis *r, redisReply *rep, void *priv) {
    apply_op *op = priv;
    apply_batch *b = op->b;
    reply_failed(op, rep);
    free(op);
    sp_pipeline_release(b->p);
}

static const char *child_str(const sp_event *ev, const char *object, const char *field) {
    cJSON *o = cJSON_GetObjectItemCaseSensitive(ev->data, object);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, field));
}

static int apply_received(apply_batch *b, const sp_event *ev, char *why, size_t size) {
    const char *received = sp_event_str(ev, "received_date");
    sp_date d;
    if (!received || sp_date_parse(received, &d)) {
        snprintf(why, size, "request.received: data.received_date (YYYY-MM-DD) is required");
        return -1;
    }
    evidence_projection p = {received, child_str(ev, "contact", "email"),
                             child_str(ev, "school", "senco_email"),
                             child_str(ev, "school", "urn")};
    apply_op *op = op_new(b, ev->subject);
    if (op && evidence_store_project(sp_service_redis_of(b->s, ev->subject), ev->subject, &p,
                                     projected_cb, op))
        op_unsent(op);
    return 0;
}

/* ---- decision.assess: ask every selected adviser ------------------------------ */

static const char *reply_str(const redisReply *rep, size_t i) {
    if (i >= rep->elements || rep->element[i]->type != REDIS_REPLY_STRING) return "";
    return rep->element[i]->str;
}

/* One adviser's part of the reply: its request, and its return if it came. */
static void announce(apply_op *op, const evidence_adviser *ad, const evidence_contact *c,
                     const char *received_date, const char *state, const char *returned) {
    apply_batch *b = op->b;
    evidence_advice_state st;
    evidence_recipient to;
    if (evidence_store_state_parse(state, &st)) {
        /* Only our own writes make these values; a retry cannot mend one. */
        sp_log(SP_LOG_ERROR, op->case_id, "evidence: unreadable state of adviser %s: "
               "not announced", ad->name);
        return;
    }
    evidence_adviser_recipient(ad, c, &to);
    sp_pipeline_emit(b->p, op->case_id, evidence_event_requested(b->s, op->case_id, ad->name, st.requested_on,
                                        received_date, &to));
    if (st.received && *returned) sp_pipeline_emit(b->p, op->case_id, evidence_event_copy(returned));
}

static void requested_cb(sp_redis *r, redisReply *rep, void *priv) {
    apply_op *op = priv;
    apply_batch *b = op->b;
    const evidence_state *es = b->s->priv;
    const evidence_advisers *a = &es->advisers;
    if (!reply_failed(op, rep) && rep->type == REDIS_REPLY_ARRAY &&
        rep->elements == 3 + 2 * (size_t)a->nselected) {
        evidence_contact c = {reply_str(rep, 0), reply_str(rep, 1)};
        const char *received = op->received_date[0] ? op->received_date : reply_str(rep, 2);
        for (int i = 0; i < a->nselected; i++)
            announce(op, &a->all[a->selected[i]], &c, received,
                     reply_str(rep, 3 + 2 * (size_t)i), reply_str(rep, 4 + 2 * (size_t)i));
        sp_log(SP_LOG_INFO, op->case_id, "advice requested from %d advisers", a->nselected);
    } else if (rep && rep->type != REDIS_REPLY_ERROR) {
        sp_log(SP_LOG_ERROR, op->case_id, "evidence: unexpected reply to a request");
        sp_pipeline_fail(b->p);
    }
    free(op);
    sp_pipeline_release(b->p);
}

static int valid_date(const char *s) {
    sp_date d;
    return s && sp_date_parse(s, &d) == 0;
}

static int apply_decision(apply_batch *b, const sp_event *ev, char *why, size_t size) {
    const evidence_state *es = b->s->priv;
    const char *names[EVIDENCE_MAX_ADVISERS];
    const char *date = sp_event_str(ev, "date"), *rrd = sp_event_str(ev, "request_received_date");
    if (!valid_date(date)) {
        snprintf(why, size, "decision.assess: data.date (YYYY-MM-DD) is required");
        return -1;
    }
    if (rrd && !valid_date(rrd)) {
        snprintf(why, size, "decision.assess: data.request_received_date is not YYYY-MM-DD");
        return -1;
    }
    for (int i = 0; i < es->advisers.nselected; i++)
        names[i] = es->advisers.all[es->advisers.selected[i]].name;
    apply_op *op = op_new(b, ev->subject);
    if (!op) return 0;
    snprintf(op->received_date, sizeof(op->received_date), "%s", rrd ? rrd : "");
    if (evidence_store_request(sp_service_redis_of(b->s, ev->subject), ev->subject, date,
                               names, es->advisers.nselected, requested_cb, op))
        op_unsent(op);
    return 0;
}

/* ---- advice.returned: record the return -------------------------------------------- */

static void returned_cb(sp_service *s, evidence_return *ret, void *opaque) {
    apply_op *op = opaque;
    apply_batch *b = op->b;
    char why[320], reason[256];
    switch (ret->res) {
    case EVIDENCE_RESERVE_NEW:
    case EVIDENCE_RESERVE_PENDING:
        sp_pipeline_emit(b->p, op->case_id, ret->event);
        if (ret->complete) sp_pipeline_emit(b->p, op->case_id, ret->complete);
        ret->event = ret->complete = NULL; /* the batch's now */
        sp_log(SP_LOG_INFO, op->case_id, "advice received from adviser %s", ret->adviser);
        break;
    case EVIDENCE_RESERVE_DONE: /* published and marked done over HTTP */
        break;
    case EVIDENCE_RESERVE_ERROR:
        sp_pipeline_fail(b->p);
        break;
    default:
        if (ret->repeat) {
            sp_log(SP_LOG_INFO, op->case_id, "advice from adviser %s is already recorded "
                   "with this date and reference", ret->adviser);
            break;
        }
        evidence_return_describe(ret, reason, sizeof(reason));
        snprintf(why, sizeof(why), "advice.returned: %s", reason);
        refuse(b, op->msg, why);
    }
    evidence_return_free(ret);
    free(op);
    sp_pipeline_release(b->p);
}

/* "advice.returned: data.date: must be ...; data.author: ..." */
static void describe_errors(const cJSON *errors, char *why, size_t size) {
    const char *sep = " ";
    size_t o = (size_t)snprintf(why, size, "advice.returned:");
    const cJSON *e;
    cJSON_ArrayForEach(e, errors) {
        if (o >= size) break;
        o += (size_t)snprintf(why + o, size - o, "%sdata.%s: %s", sep,
                              cJSON_GetStringValue(cJSON_GetObjectItem(e, "field")),
                              cJSON_GetStringValue(cJSON_GetObjectItem(e, "reason")));
        sep = "; ";
    }
}

/* The same checks as a return over HTTP, with the event's id as the
 * idempotency key. "Today" is the day intake accepted it, so a replay months
 * later, or a clock a little behind intake's, does not refuse what was good. */
static int apply_returned(apply_batch *b, const sp_event *ev, char *why, size_t size) {
    evidence_return_input in = {.case_id = ev->subject, .idem_key = ev->id};
    sp_valid v;
    cJSON *errors;
    if (strlen(ev->id) > EVIDENCE_RETURN_KEY_MAX) {
        snprintf(why, size, "advice.returned: the id is longer than %d characters",
                 EVIDENCE_RETURN_KEY_MAX);
        return -1;
    }
    sp_valid_init(&v);
    evidence_return_check(&v, sp_event_str(ev, "adviser"), ev->data,
                          sp_date_from_ms(ev->time_ms), &in);
    if ((errors = sp_valid_take(&v)) != NULL) {
        describe_errors(errors, why, size);
        cJSON_Delete(errors);
        return -1;
    }
    apply_op *op = op_new(b, ev->subject);
    if (op && evidence_return_record(b->s, &in, returned_cb, op)) op_unsent(op);
    return 0;
}

/* ---- one event ------------------------------------------------------------------ */

typedef int (*apply_fn)(apply_batch *b, const sp_event *ev, char *why, size_t size);

static const struct {
    const char *type;
    apply_fn apply;
} apply_table[] = {
    {"request.received", apply_received},
    {"decision.assess", apply_decision},
    {"advice.returned", apply_returned},
};

static int apply_event(apply_batch *b, const sp_event *ev, char *why, size_t size) {
    for (size_t i = 0; i < sizeof(apply_table) / sizeof(apply_table[0]); i++) {
        if (strcmp(apply_table[i].type, ev->type)) continue;
        const char *data_case = sp_event_str(ev, "case_id");
        if (!sp_case_id_valid(ev->subject) || (data_case && strcmp(data_case, ev->subject))) {
            snprintf(why, size, "%s: subject must be the case id (and match data.case_id)",
                     ev->type);
            return -1;
        }
        return apply_table[i].apply(b, ev, why, size);
    }
    return 0; /* not ours to act on */
}

static void refuse(apply_batch *b, const rd_kafka_message_t *m, const char *why) {
    sp_pipeline_deadletter(b->p, m, why);
}

void evidence_apply_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    apply_batch *b = calloc(1, sizeof(*b));
    char why[256];
    if (!b || !(b->p = sp_pipeline_new(s, SP_TOPIC_EVIDENCE))) {
        if (b) free(b); /* sp_pipeline_new already asked for a retry */
        else sp_consumer_batch_retry(s->consumer, 500);
        return;
    }
    sp_pipeline_own(b->p, b);
    b->s = s;
    for (size_t i = 0; i < n && !sp_pipeline_failed(b->p); i++) {
        sp_event ev;
        sp_service_count_in(s);
        b->msg = msgs[i];
        if (sp_event_parse(msgs[i]->payload, msgs[i]->len, &ev, why, sizeof(why)) == 0 &&
            apply_event(b, &ev, why, sizeof(why)) == 0) {
            sp_event_free(&ev);
            continue;
        }
        sp_event_free(&ev);
        refuse(b, msgs[i], why);
    }
    sp_pipeline_release(b->p);
}
