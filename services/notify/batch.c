/* batch.c - a consumer batch, one message at a time. See batch.h.
 *
 * The batch is one record walking through callbacks. Steps that finish at
 * once (a message no route wants) would otherwise recurse once per message,
 * so batch_loop() is a trampoline: a message finished while the loop is on
 * the stack only sets a flag, and the loop takes the next one.
 *
 * A refused message is dead-lettered and the walk goes on where it was; the
 * step to resume is kept in refused_next. Events stashed earlier were already
 * acknowledged on their topic, so a stashed event that is refused now is
 * dead-lettered from its text (with the same headers) instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "deliver.h"
#include "ids.h"
#include "log.h"
#include "route.h"
#include "store.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define EVENT_ID_MAX 200

typedef void (*batch_step)(notify_batch *b);

struct notify_batch {
    notify_state *st;
    rd_kafka_message_t **msgs;
    size_t n, i;
    int active, in_loop, advanced, retrying;
    unsigned backoff_ms;
    /* the event being routed: msgs[i], or a stashed one (ev_text) */
    sp_event ev;
    const char *ev_text;
    notify_contact contact;
    size_t route; /* next routing row to try */
    batch_step refused_next;
    /* request.received: the events that waited for this case's contact */
    char case_id[SP_CASE_ID_LEN + 1];
    char **stash;
    size_t nstash, stash_i;
};

static void routes_next(notify_batch *b);
static void stash_next(notify_batch *b);

/* ---- the batch ------------------------------------------------------------- */

static void event_reset(notify_batch *b) {
    sp_event_free(&b->ev);
    notify_contact_free(&b->contact);
    notify_store_items_free(b->stash, b->nstash);
    b->stash = NULL;
    b->nstash = b->stash_i = b->route = 0;
    b->ev_text = NULL;
}

static void batch_finish(notify_batch *b) {
    b->active = b->retrying = 0;
    b->backoff_ms = 0;
    sp_consumer_batch_done(b->st->s->consumer);
}

static void batch_retry(notify_batch *b, const char *why) {
    sp_service *s = b->st->s;
    b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (b->backoff_ms > BACKOFF_MAX_MS) b->backoff_ms = BACKOFF_MAX_MS;
    sp_service_count_error(s);
    sp_warn("notify: batch of %zu retried in %u ms: %s", b->n, b->backoff_ms, why);
    event_reset(b);
    b->active = 0;
    b->retrying = 1;
    sp_consumer_batch_retry(s->consumer, b->backoff_ms);
}

static void message_start(notify_batch *b);

static void batch_loop(notify_batch *b) {
    b->in_loop = 1;
    while (b->active && b->i < b->n) {
        b->advanced = 0;
        message_start(b);
        if (!b->advanced) break; /* in flight (or retried): a callback goes on */
    }
    b->in_loop = 0;
    if (b->active && b->i == b->n) batch_finish(b);
}

static void message_done(notify_batch *b) {
    event_reset(b);
    b->i++;
    if (b->in_loop)
        b->advanced = 1;
    else
        batch_loop(b);
}

/* ---- refusing -------------------------------------------------------------- */

static void deadletter_cb(rd_kafka_resp_err_t err, void *opaque) {
    notify_batch *b = opaque;
    if (err) {
        batch_retry(b, rd_kafka_err2str(err));
        return;
    }
    b->refused_next(b);
}

/* A stashed event has no Kafka message any more: send its text. */
static int deadletter_text(notify_batch *b, const char *reason) {
    sp_service *s = b->st->s;
    char errstr[256];
    sp_header h[] = {{"x-reason", reason},
                     {"x-source-topic", "notify:pending"},
                     {"x-service", s->def->name}};
    sp_metric_inc(s->m_deadletters);
    return sp_producer_send(s->producer, sp_service_topic(s, SP_TOPIC_DEADLETTER),
                            b->case_id, b->ev_text, strlen(b->ev_text), h, 3,
                            deadletter_cb, b, errstr, sizeof(errstr));
}

/* The case id to log, only if it has the shape of one: a refused event's
 * subject could hold anything, personal data included. */
static const char *log_case(const notify_batch *b) {
    return b->ev.subject && sp_case_id_valid(b->ev.subject) ? b->ev.subject : NULL;
}

static void refuse(notify_batch *b, const char *reason, batch_step next) {
    rd_kafka_message_t *m = b->msgs[b->i];
    int rc;
    sp_log(SP_LOG_WARN, log_case(b), "refused %s [%d] @%lld%s: %s",
           rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset,
           b->ev_text ? " (a waiting event)" : "", reason);
    sp_service_count_error(b->st->s);
    b->refused_next = next;
    if (b->ev_text)
        rc = deadletter_text(b, reason);
    else
        rc = sp_service_deadletter(b->st->s, m, reason, deadletter_cb, b);
    if (rc) batch_retry(b, "cannot queue a dead letter");
}

/* ---- routing one event ----------------------------------------------------- */

static void event_finished(notify_batch *b) {
    if (b->stash)
        stash_next(b);
    else
        message_done(b);
}

static void delivered_cb(notify_deliver_result res, const char *reason, void *opaque) {
    notify_batch *b = opaque;
    switch (res) {
    case NOTIFY_DELIVER_DONE: routes_next(b); return;
    case NOTIFY_DELIVER_REFUSED: refuse(b, reason, routes_next); return;
    case NOTIFY_DELIVER_RETRY: batch_retry(b, reason); return;
    }
}

static void routes_next(notify_batch *b) {
    char err[256];
    while (b->route < notify_routes_count &&
           !notify_route_matches(&notify_routes[b->route], &b->ev))
        b->route++;
    if (b->route == notify_routes_count) {
        event_finished(b);
        return;
    }
    size_t row = b->route++;
    /* A waiting event was checked against the table of its day; check again. */
    if (b->ev_text && notify_route_check_event(&notify_routes[row], &b->ev, err,
                                               sizeof(err))) {
        refuse(b, err, routes_next);
        return;
    }
    notify_deliver(b->st, row, &b->ev, &b->contact, delivered_cb, b);
}

/* ---- request.received: the contact projection ------------------------------ */

static void trimmed_cb(int err, void *opaque) {
    notify_batch *b = opaque;
    if (err) {
        batch_retry(b, "redis: cannot trim the waiting events");
        return;
    }
    message_done(b);
}

/* The next waiting event; when none is left, drop those handled. */
static void stash_next(notify_batch *b) {
    char err[256];
    if (b->stash_i == b->nstash) {
        if (b->nstash == 0)
            message_done(b);
        else if (notify_store_pending_trim(b->st->s->redis, b->case_id, b->nstash,
                                           trimmed_cb, b))
            batch_retry(b, "redis not connected");
        return;
    }
    sp_event_free(&b->ev);
    b->ev_text = b->stash[b->stash_i++];
    b->route = 0;
    if (sp_event_parse(b->ev_text, strlen(b->ev_text), &b->ev, err, sizeof(err))) {
        refuse(b, err, stash_next);
        return;
    }
    routes_next(b);
}

static void saved_cb(int err, char **items, size_t n, void *opaque) {
    notify_batch *b = opaque;
    if (err) {
        batch_retry(b, "redis: cannot save the contact");
        return;
    }
    b->stash = items;
    b->nstash = n;
    if (n) sp_log(SP_LOG_INFO, b->case_id, "%zu event(s) were waiting for this case", n);
    b->route = 0;
    routes_next(b); /* routes of request.received itself, then the stash */
}

static void project(notify_batch *b) {
    char err[256];
    if (notify_contact_from_request(&b->contact, b->ev.data, err, sizeof(err))) {
        refuse(b, err, message_done);
        return;
    }
    snprintf(b->case_id, sizeof(b->case_id), "%s", b->ev.subject);
    if (notify_store_save_contact(b->st->s->redis, b->case_id, &b->contact, saved_cb, b))
        batch_retry(b, "redis not connected");
}

/* ---- any other routed event: send, or wait for the contact ----------------- */

static void lookup_cb(notify_lookup_result res, notify_contact *c, void *opaque) {
    notify_batch *b = opaque;
    switch (res) {
    case NOTIFY_LOOKUP_ERROR:
        batch_retry(b, "redis: cannot look up the contact");
        return;
    case NOTIFY_LOOKUP_STASHED:
        sp_metric_inc(b->st->m_stashed);
        sp_log(SP_LOG_INFO, b->ev.subject, "%s waits for the case's request.received",
               b->ev.type);
        message_done(b);
        return;
    case NOTIFY_LOOKUP_FOUND:
        b->contact = *c; /* the values are ours now */
        b->route = 0;
        routes_next(b);
        return;
    }
}

static void lookup(notify_batch *b) {
    rd_kafka_message_t *m = b->msgs[b->i];
    char err[256];
    for (size_t i = 0; i < notify_routes_count; i++)
        if (notify_route_matches(&notify_routes[i], &b->ev) &&
            notify_route_check_event(&notify_routes[i], &b->ev, err, sizeof(err))) {
            refuse(b, err, message_done);
            return;
        }
    if (notify_store_lookup_or_stash(b->st->s->redis, b->ev.subject, m->payload, m->len,
                                     lookup_cb, b))
        batch_retry(b, "redis not connected");
}

/* ---- one message ----------------------------------------------------------- */

/* What every event notify reads must have. */
static int event_check(const sp_event *ev, char *err, size_t size) {
    const char *case_id = sp_event_str(ev, "case_id");
    if (!case_id || !sp_case_id_valid(case_id)) {
        snprintf(err, size, "data.case_id is missing or not a case id");
        return -1;
    }
    if (strcmp(case_id, ev->subject) != 0) {
        snprintf(err, size, "subject and data.case_id differ");
        return -1;
    }
    if (strlen(ev->id) > EVENT_ID_MAX) {
        snprintf(err, size, "id is longer than %d bytes", EVENT_ID_MAX);
        return -1;
    }
    return 0;
}

static void message_start(notify_batch *b) {
    rd_kafka_message_t *m = b->msgs[b->i];
    char err[256];
    if (!b->retrying) sp_service_count_in(b->st->s);
    if (sp_event_parse(m->payload, m->len, &b->ev, err, sizeof(err)) ||
        event_check(&b->ev, err, sizeof(err))) {
        refuse(b, err, message_done);
        return;
    }
    if (strcmp(b->ev.type, "request.received") == 0)
        project(b);
    else if (notify_routes_any(&b->ev))
        lookup(b);
    else
        message_done(b);
}

notify_batch *notify_batch_new(notify_state *st) {
    notify_batch *b = calloc(1, sizeof(*b));
    if (b) b->st = st;
    return b;
}

void notify_batch_run(notify_batch *b, rd_kafka_message_t **msgs, size_t n) {
    event_reset(b);
    b->msgs = msgs;
    b->n = n;
    b->i = 0;
    b->active = 1;
    batch_loop(b);
}

void notify_batch_free(notify_batch *b) {
    if (!b) return;
    event_reset(b);
    free(b);
}
