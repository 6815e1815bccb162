/* batch.c - a consumer batch, its cases side by side. See batch.h.
 *
 * The batch's messages are sorted by key (the case id) into groups, each in
 * batch order; up to notify.batch.cases lanes each take a group and walk its
 * messages one at a time, then take the next group nobody has. So a case's
 * events are handled in order, one at a time, while different cases wait on
 * Redis, the disk and the broker together: their Redis calls share the
 * connection (pipelined by hiredis), their files share one fsync round
 * (outbox.c) and their outcome events one produce batch.
 *
 * Per event: first what it tells (the contact, if it opens a case; the facts
 * of fact.c), saved in one step that also reads the events waiting for the
 * case; then its own messages, if any route wants it: the case's contact and
 * the facts they need are looked up, or, if something required is missing,
 * the event joins the waiting list; then each waiting event is tried again,
 * and those tried are taken off the list (one that still waits has put
 * itself back at the end).
 *
 * A lane is one record walking through callbacks. Steps that finish at
 * once (a message no route wants) would otherwise recurse once per message,
 * so lane_loop() is a trampoline: a message finished while the loop is on
 * the stack only sets a flag, and the loop takes the next one.
 *
 * A refused message is dead-lettered and the walk goes on where it was; the
 * step to resume is kept in refused_next. Events stashed earlier were already
 * acknowledged on their topic, so a stashed event that is refused now is
 * dead-lettered from its text (with the same headers) instead.
 *
 * A gather row (route.h) sends one message for a run of events with the same
 * case, type and data.date: it is skipped while a later event of the run is
 * in sight (further on in this batch, or in the waiting list being tried),
 * so the last of them sends it, with the facts all of them told. (The later
 * events of the run are in the same lane: they have the same key.) Evidence
 * publishes a decision's advice.requested events together, so they arrive
 * in one batch; a run split between two batches sends a second message
 * listing everyone (docs/notifications.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "cases.h"
#include "deliver.h"
#include "digest.h"
#include "fact.h"
#include "ids.h"
#include "log.h"
#include "route.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define EVENT_ID_MAX 200

typedef struct batch_lane batch_lane;
typedef void (*batch_step)(batch_lane *b);

/* One case's messages at a time, in order: the walk of one message through
 * its callbacks. A lane has one Redis call, file write or send out at most. */
struct batch_lane {
    notify_batch *batch;
    notify_state *st;
    size_t i;        /* the message at hand: index into batch->msgs */
    size_t pos, end; /* the rest of its case's messages: batch->order[pos..end) */
    int active, in_loop, advanced;
    /* the event being routed: msgs[i], or a waiting one (ev_text) */
    sp_event ev;
    const char *ev_text;
    notify_contact contact; /* the case as this event sees it */
    size_t route;           /* next routing row to try */
    int run_goes_on;        /* a later event of this one's run is in sight */
    batch_step refused_next;
    char case_id[SP_CASE_ID_LEN + 1];
    int partition; /* msgs[i]'s, the case's: its server holds the case's keys */
    /* after a projection: the events that were waiting for this case */
    char **stash;
    size_t nstash, stash_i;
};

struct notify_batch {
    notify_state *st;
    rd_kafka_message_t **msgs;
    size_t n;
    size_t *order;   /* message indices grouped by key (case), in offset order */
    size_t taken;    /* order[0..taken) have been handed to lanes */
    size_t running;  /* lanes at work, outcome events not yet acknowledged,
                        and one while the batch starts the lanes */
    int failed, retrying;
    int replicated; /* the replicas have the batch's writes (wait_replicas) */
    char why[160];   /* the first failure, for the log */
    unsigned backoff_ms;
    batch_lane *lanes;
    size_t nlanes;
};

static void routes_next(batch_lane *b);
static void stash_next(batch_lane *b);
static int event_check(const sp_event *ev, char *err, size_t size);
static void message_start(batch_lane *b);

/* The server of the case at hand (redis.shards), or NULL outside the table. */
static sp_redis *lane_redis(const batch_lane *b) {
    return sp_service_redis(b->st->s, b->partition);
}

/* ---- the batch ------------------------------------------------------------- */

static void event_reset(batch_lane *b) {
    sp_event_free(&b->ev);
    notify_contact_free(&b->contact);
    notify_cases_items_free(b->stash, b->nstash);
    b->stash = NULL;
    b->nstash = b->stash_i = b->route = 0;
    b->run_goes_on = 0;
    b->ev_text = NULL;
}

static void batch_end(notify_batch *nb);

static void batch_replicated(sp_service *s, int ok, void *opaque) {
    notify_batch *nb = opaque;
    (void)s;
    nb->replicated = 1;
    if (!ok) {
        nb->failed = 1;
        snprintf(nb->why, sizeof(nb->why), "redis: the batch's writes are not on "
                                           "redis.wait_replicas replicas");
    }
    batch_end(nb);
}

/* Every lane has stopped: store the offsets, or hand the batch back. With
 * redis.wait_replicas, the batch's writes (its sent marks above all) must
 * first be on that many replicas, as common/pipeline.c waits for the other
 * services: a failover must not lose a mark whose event's offset is stored,
 * which would send the message again. */
static void batch_end(notify_batch *nb) {
    sp_service *s = nb->st->s;
    free(nb->order);
    nb->order = NULL;
    if (!nb->failed && !nb->replicated && s->common->redis_wait_replicas > 0) {
        if (sp_service_redis_wait(s, batch_replicated, nb)) batch_replicated(s, 0, nb);
        return;
    }
    if (!nb->failed) {
        nb->retrying = 0;
        nb->backoff_ms = 0;
        sp_consumer_batch_done(s->consumer);
        return;
    }
    nb->backoff_ms = nb->backoff_ms ? nb->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (nb->backoff_ms > BACKOFF_MAX_MS) nb->backoff_ms = BACKOFF_MAX_MS;
    sp_warn("notify: batch of %zu retried in %u ms: %s", nb->n, nb->backoff_ms, nb->why);
    nb->retrying = 1;
    sp_consumer_batch_retry(s->consumer, nb->backoff_ms);
}

static void batch_release(notify_batch *nb) {
    if (--nb->running == 0) batch_end(nb);
}

static void lane_stop(batch_lane *b) {
    if (!b->active) return;
    event_reset(b);
    b->active = 0;
    batch_release(b->batch);
}

/* The whole batch will be retried; this lane stops now, the others at
 * their next message (what they have in flight finishes first). */
static void batch_retry(batch_lane *b, const char *why) {
    notify_batch *nb = b->batch;
    sp_service_count_error(b->st->s);
    if (!nb->failed) snprintf(nb->why, sizeof(nb->why), "%s", why);
    nb->failed = 1;
    lane_stop(b);
}

static int same_key(const rd_kafka_message_t *a, const rd_kafka_message_t *b) {
    return a->key_len == b->key_len && (!a->key_len || !memcmp(a->key, b->key, a->key_len));
}

/* Points b at its next message: the rest of its case, else the next case
 * nobody has taken. Returns 0 when there is none (or the batch failed). */
static int lane_take(batch_lane *b) {
    notify_batch *nb = b->batch;
    if (nb->failed) return 0;
    if (b->pos == b->end) {
        if (nb->taken == nb->n) return 0;
        b->pos = nb->taken;
        b->end = b->pos + 1;
        while (b->end < nb->n &&
               same_key(nb->msgs[nb->order[b->end]], nb->msgs[nb->order[b->pos]]))
            b->end++;
        nb->taken = b->end;
    }
    b->i = nb->order[b->pos++];
    return 1;
}

/* Steps that finish at once would recurse once per message: a message
 * finished while the loop is on the stack only sets a flag. */
static void lane_loop(batch_lane *b) {
    b->in_loop = 1;
    while (b->active) {
        if (!lane_take(b)) {
            lane_stop(b);
            break;
        }
        b->advanced = 0;
        message_start(b);
        if (!b->advanced) break; /* in flight (or stopped): a callback goes on */
    }
    b->in_loop = 0;
}

static void message_done(batch_lane *b) {
    event_reset(b);
    if (b->in_loop)
        b->advanced = 1;
    else
        lane_loop(b);
}

/* ---- refusing -------------------------------------------------------------- */

static void deadletter_cb(rd_kafka_resp_err_t err, void *opaque) {
    batch_lane *b = opaque;
    if (err) {
        batch_retry(b, rd_kafka_err2str(err));
        return;
    }
    b->refused_next(b);
}

/* A stashed event has no Kafka message any more: send its text. */
static int deadletter_text(batch_lane *b, const char *reason) {
    char errstr[256];
    return sp_service_deadletter_text(b->st->s, b->case_id, b->ev_text,
                                      strlen(b->ev_text), "notify:pending", reason,
                                      NULL, 0, deadletter_cb, b, errstr, sizeof(errstr));
}

/* The case id to log, only if it has the shape of one: a refused event's
 * subject could hold anything, personal data included. */
static const char *log_case(const batch_lane *b) {
    return b->ev.subject && sp_case_id_valid(b->ev.subject) ? b->ev.subject : NULL;
}

static void refuse(batch_lane *b, const char *reason, batch_step next) {
    rd_kafka_message_t *m = b->batch->msgs[b->i];
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

/* 1 if row applies to the event at hand: on, matching, and not a gather row
 * whose run goes on. */
static int row_applies(const batch_lane *b, size_t row) {
    const notify_route *r = &notify_routes[row];
    return b->st->route_on[row] && notify_route_matches(r, &b->ev) &&
           !(r->gather && b->run_goes_on);
}

static int event_routed(const batch_lane *b) {
    for (size_t i = 0; i < notify_routes_count; i++)
        if (row_applies(b, i)) return 1;
    return 0;
}

/* 1 if text is an event of the same run as b->ev: case, type and date. */
static int same_run(const batch_lane *b, const char *text, size_t len) {
    sp_event ev = {0};
    char err[64];
    const char *date = sp_event_str(&b->ev, "date"), *d;
    int same = 0;
    if (sp_event_parse(text, len, &ev, err, sizeof(err)) == 0)
        same = !strcmp(ev.subject, b->ev.subject) && !strcmp(ev.type, b->ev.type) &&
               (d = sp_event_str(&ev, "date")) && date && !strcmp(d, date);
    sp_event_free(&ev);
    return same;
}

/* Whether a later event of b->ev's run is in sight: further on in the
 * batch, or in the waiting list being tried. Only asked for events a gather
 * row wants. */
static int run_goes_on(const batch_lane *b) {
    size_t sublen = strlen(b->ev.subject);
    int gathered = 0;
    for (size_t i = 0; i < notify_routes_count && !gathered; i++)
        gathered = notify_routes[i].gather && notify_route_matches(&notify_routes[i], &b->ev);
    if (!gathered) return 0;
    if (b->ev_text) {
        for (size_t i = b->stash_i; i < b->nstash; i++)
            if (same_run(b, b->stash[i], strlen(b->stash[i]))) return 1;
        return 0;
    }
    for (size_t k = b->pos; k < b->end; k++) { /* the rest of its key's messages */
        const rd_kafka_message_t *m = b->batch->msgs[b->batch->order[k]];
        if (m->err || m->key_len != sublen || memcmp(m->key, b->ev.subject, sublen))
            continue; /* another case: the key is the case id */
        if (same_run(b, m->payload, m->len)) return 1;
    }
    return 0;
}

/* The event's text as it arrived: the Kafka message, or the waiting copy. */
static const char *event_text(const batch_lane *b, size_t *len) {
    const rd_kafka_message_t *m = b->batch->msgs[b->i];
    *len = b->ev_text ? strlen(b->ev_text) : m->len;
    return b->ev_text ? b->ev_text : m->payload;
}

static void event_finished(batch_lane *b) {
    if (b->stash)
        stash_next(b);
    else
        message_done(b);
}

/* The outcome event of a delivery that went on without waiting for it: the
 * batch's offsets wait for it instead. */
static void delivered_ack(int err, void *opaque) {
    notify_batch *nb = ((batch_lane *)opaque)->batch;
    if (err && !nb->failed) {
        snprintf(nb->why, sizeof(nb->why), "an outcome event was not delivered");
        nb->failed = 1;
    }
    batch_release(nb);
}

static void delivered_cb(notify_deliver_result res, const char *reason, void *opaque) {
    batch_lane *b = opaque;
    switch (res) {
    case NOTIFY_DELIVER_DONE: routes_next(b); return;
    case NOTIFY_DELIVER_REFUSED: refuse(b, reason, routes_next); return;
    case NOTIFY_DELIVER_RETRY: batch_retry(b, reason); return;
    }
}

static void routes_next(batch_lane *b) {
    while (b->route < notify_routes_count && !row_applies(b, b->route)) b->route++;
    if (b->route == notify_routes_count) {
        event_finished(b);
        return;
    }
    size_t row = b->route++, len;
    const char *text = event_text(b, &len);
    b->batch->running++; /* released by delivered_ack */
    notify_deliver(b->st, row, b->partition, &b->ev, text, len, &b->contact, delivered_cb,
                   delivered_ack, b);
}

/* The CONFIG fields of the contact (contact.c), from the settings: the
 * caseworkers' mailbox is the case's team's, by its school (team.h). */
static int contact_settings(batch_lane *b) {
    const notify_team *t = notify_teams_for_school(
        &b->st->teams, notify_contact_get(&b->contact, "school_urn"));
    return notify_contact_set(&b->contact, "caseworker_email", t ? t->mailbox : NULL);
}

static void lookup_cb(notify_cases_result res, notify_contact *c, const char *waits_for,
                      void *opaque) {
    batch_lane *b = opaque;
    switch (res) {
    case NOTIFY_CASES_ERROR:
        batch_retry(b, "redis: cannot look up the case");
        return;
    case NOTIFY_CASES_WAITING:
        sp_metric_inc(b->st->m_stashed);
        sp_log(SP_LOG_INFO, b->case_id, "%s waits for %s", b->ev.type, waits_for);
        event_finished(b);
        return;
    case NOTIFY_CASES_FOUND:
        b->contact = *c; /* the values are ours now */
        if (contact_settings(b)) {
            batch_retry(b, "out of memory");
            return;
        }
        b->route = 0;
        routes_next(b);
        return;
    }
}

/* Checks the event against every row that applies, gathers the facts they
 * read, and looks them up with the contact (or the event waits). */
static void event_lookup(batch_lane *b) {
    notify_fact_needs needs = {0};
    char err[256];
    size_t len;
    for (size_t i = 0; i < notify_routes_count; i++)
        if (row_applies(b, i) &&
            (notify_route_check_event(&notify_routes[i], &b->ev, err, sizeof(err)) ||
             notify_route_needs(&notify_routes[i], &b->ev, &needs, err, sizeof(err)))) {
            refuse(b, err, event_finished);
            return;
        }
    const char *text = event_text(b, &len);
    if (notify_cases_lookup(lane_redis(b), b->partition, b->case_id, text, len, &needs,
                            lookup_cb, b))
        batch_retry(b, "redis not connected");
}

/* ---- what an event tells: the contact and the facts ------------------------- */

static void unstashed_cb(int err, void *opaque) {
    batch_lane *b = opaque;
    if (err) {
        batch_retry(b, "redis: cannot take the waiting events off the list");
        return;
    }
    message_done(b);
}

/* The next waiting event; when none is left, take those tried off the list. */
static void stash_next(batch_lane *b) {
    char err[256];
    if (b->stash_i == b->nstash) {
        if (b->nstash == 0)
            message_done(b);
        else if (notify_cases_unstash(lane_redis(b), b->partition, b->case_id, b->stash,
                                      b->nstash, unstashed_cb, b))
            batch_retry(b, "redis not connected");
        return;
    }
    sp_event_free(&b->ev);
    notify_contact_free(&b->contact);
    b->ev_text = b->stash[b->stash_i++];
    b->route = 0;
    if (sp_event_parse(b->ev_text, strlen(b->ev_text), &b->ev, err, sizeof(err)) ||
        event_check(&b->ev, err, sizeof(err))) {
        refuse(b, err, stash_next);
        return;
    }
    /* Routed by the table of today: one that no route wants any more is
     * simply taken off the list. */
    b->run_goes_on = run_goes_on(b);
    if (event_routed(b))
        event_lookup(b);
    else
        stash_next(b);
}

static void projected_cb(int err, char **items, size_t n, void *opaque) {
    batch_lane *b = opaque;
    if (err) {
        batch_retry(b, "redis: cannot save what the event tells");
        return;
    }
    b->stash = items;
    b->nstash = n;
    if (n) sp_log(SP_LOG_INFO, b->case_id, "%zu event(s) were waiting for this case", n);
    if (event_routed(b)) /* the event's own messages, then the waiting ones */
        event_lookup(b);
    else
        stash_next(b);
}

static void project(batch_lane *b, int opens, const notify_fact_write *w, size_t nw) {
    char err[256];
    notify_contact c = {0};
    if (opens && notify_contact_from_request(&c, b->ev.data, err, sizeof(err))) {
        notify_contact_free(&c);
        refuse(b, err, message_done);
        return;
    }
    int rc = notify_cases_project(lane_redis(b), b->partition, b->case_id,
                                  opens ? &c : NULL, w, nw, projected_cb, b);
    notify_contact_free(&c); /* the script holds its own copy of the values */
    if (rc) batch_retry(b, "redis not connected");
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

static void message_route(batch_lane *b);

/* The digest's kept clocks are written first (digest.h). */
static void tracked_cb(int err, void *opaque) {
    batch_lane *b = opaque;
    if (err) {
        batch_retry(b, "redis: cannot keep the clock for the digest");
        return;
    }
    message_route(b);
}

static void message_start(batch_lane *b) {
    rd_kafka_message_t *m = b->batch->msgs[b->i];
    char err[256];
    if (!b->batch->retrying) sp_service_count_in(b->st->s);
    if (sp_event_parse(m->payload, m->len, &b->ev, err, sizeof(err)) ||
        event_check(&b->ev, err, sizeof(err))) {
        refuse(b, err, message_done);
        return;
    }
    snprintf(b->case_id, sizeof(b->case_id), "%s", b->ev.subject);
    b->partition = m->partition;
    if (notify_digest_tracks(b->st->digest, &b->ev)) {
        if (notify_digest_track(b->st->digest, &b->ev, tracked_cb, b))
            batch_retry(b, "redis not connected");
        return;
    }
    message_route(b);
}

/* What the event tells, then its own messages. */
static void message_route(batch_lane *b) {
    notify_fact_write w[NOTIFY_FACT_WRITES_MAX];
    b->run_goes_on = run_goes_on(b);
    int opens = notify_contact_opens(b->ev.type);
    size_t nw = notify_facts_from_event(&b->ev, w, NOTIFY_FACT_WRITES_MAX);
    if (opens || nw)
        project(b, opens, w, nw);
    else if (event_routed(b))
        event_lookup(b);
    else
        message_done(b);
}

notify_batch *notify_batch_new(notify_state *st, size_t lanes) {
    notify_batch *nb = calloc(1, sizeof(*nb));
    if (!nb || !(nb->lanes = calloc(lanes ? lanes : 1, sizeof(*nb->lanes)))) {
        free(nb);
        return NULL;
    }
    nb->st = st;
    nb->nlanes = lanes ? lanes : 1;
    for (size_t k = 0; k < nb->nlanes; k++) {
        nb->lanes[k].batch = nb;
        nb->lanes[k].st = st;
    }
    return nb;
}

typedef struct batch_ref {
    const rd_kafka_message_t *m;
    size_t i;
} batch_ref;

static int ref_cmp(const void *x, const void *y) {
    const batch_ref *a = x, *b = y;
    size_t n = a->m->key_len < b->m->key_len ? a->m->key_len : b->m->key_len;
    int c = n ? memcmp(a->m->key, b->m->key, n) : 0;
    if (c) return c;
    if (a->m->key_len != b->m->key_len) return a->m->key_len < b->m->key_len ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i; /* a case's messages in batch order */
}

/* nb->order: the messages grouped by key, each group in batch order.
 * Returns 0 or -1 (no memory). */
static int batch_order(notify_batch *nb) {
    batch_ref *refs = malloc(nb->n * sizeof(*refs));
    if (!refs || !(nb->order = malloc(nb->n * sizeof(*nb->order)))) {
        free(refs);
        return -1;
    }
    for (size_t i = 0; i < nb->n; i++) refs[i] = (batch_ref){nb->msgs[i], i};
    qsort(refs, nb->n, sizeof(*refs), ref_cmp);
    for (size_t i = 0; i < nb->n; i++) nb->order[i] = refs[i].i;
    free(refs);
    return 0;
}

void notify_batch_run(notify_batch *nb, rd_kafka_message_t **msgs, size_t n) {
    nb->msgs = msgs;
    nb->n = n;
    nb->taken = 0;
    nb->failed = 0;
    nb->replicated = 0;
    nb->running = 1; /* the loop below */
    if (n && batch_order(nb)) {
        nb->failed = 1;
        snprintf(nb->why, sizeof(nb->why), "out of memory");
    }
    for (size_t k = 0; k < nb->nlanes && nb->taken < n && !nb->failed; k++) {
        batch_lane *b = &nb->lanes[k];
        b->pos = b->end = 0;
        b->active = 1;
        nb->running++;
        lane_loop(b);
    }
    batch_release(nb);
}

void notify_batch_free(notify_batch *nb) {
    if (!nb) return;
    for (size_t k = 0; k < nb->nlanes; k++) event_reset(&nb->lanes[k]);
    free(nb->lanes);
    free(nb->order);
    free(nb);
}
