/* retry.c - the retry queue and its drain. See retry.h.
 *
 * Three records walk through callbacks: a failure (queue the next attempt,
 * or dead-letter), a finish (publish a final outcome, then take the job out
 * of the queue) and the drain's item (one claimed job: send it again, or
 * finish what a dead claimer left). The drain claims one job at a time, so at
 * shutdown at most one is in flight and no other is leased.
 *
 * There is one queue per partition (queue.h), and an instance drains only
 * the queues of the partitions it holds on the case-events topic
 * (notify_retry_assign): two instances never work one queue, and after a
 * rebalance the new holder takes the queue over, with whatever leases the
 * old one left. A round visits every held queue in turn, each until it has
 * nothing due; the holder of partition 0 also drains the single queue an
 * older notify kept on redis.host, so an upgrade delivers what it left.
 *
 * Errors while draining are never the batch's: a failure of Redis or the
 * broker is logged, and the job stays leased in the queue, to be taken again
 * when its lease runs out, from the step its record names. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "clock.h"
#include "log.h"
#include "outcome.h"
#include "queue.h"
#include "retry.h"
#include "store.h"

#define RETRY_POLL_MS 1000
#define RETRY_LEASE_EXTRA_MS 30000
#define RETRY_REASON_MAX 320

struct notify_retry {
    notify_state *st;
    uv_timer_t timer;
    int draining, stopped;
    int64_t wake_ms; /* the earliest due this process queued, or INT64_MAX */
    int cursor;      /* the round's queue: a partition, or nparts for the old one */
    unsigned char owned[SP_REDIS_SHARDS_MAX]; /* case-events partitions held */
};

sp_redis *notify_retry_redis(notify_state *st, int partition) {
    if (partition < 0) return st->s->redis; /* redis.host: the old global queue */
    return sp_service_redis(st->s, partition);
}

/* Partitions whose queues a round visits: those of the topics read. */
static int retry_nparts(const notify_retry *rq) {
    int n = rq->st->s->partitions;
    return n < 1 ? 1 : n > SP_REDIS_SHARDS_MAX ? SP_REDIS_SHARDS_MAX : n;
}

static void drain_tick(uv_timer_t *t);

static int64_t real_now(void) { return sp_clock_now_ms(NULL); }

static int64_t lease_until(const notify_retry *rq) {
    return real_now() + rq->st->conf->send_timeout_ms + RETRY_LEASE_EXTRA_MS;
}

/* min(max, base * 2^(attempt-1)), half fixed and half random. */
static int64_t backoff_ms(const notify_conf *conf, int attempt) {
    int64_t d = conf->retry_base_ms;
    uint32_t rnd = 0;
    for (int i = 1; i < attempt && d < conf->retry_max_ms; i++) d *= 2;
    if (d > conf->retry_max_ms) d = conf->retry_max_ms;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)real_now();
    return d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

/* Wakes the drain at due_ms if that is sooner than it planned. */
static void retry_wake_at(notify_retry *rq, int64_t due_ms) {
    int64_t in = due_ms - real_now();
    if (rq->stopped || due_ms >= rq->wake_ms) return;
    rq->wake_ms = due_ms;
    if (!rq->draining) /* else the drain's end arms it */
        uv_timer_start(&rq->timer, drain_tick, (uint64_t)(in > 0 ? in : 0), RETRY_POLL_MS);
}

/* The record's fields: state, attempt, and those given (NULL: not written). */
static size_t record_fields(const char **fv, const char *state, const notify_job *job,
                            char *attempt, size_t asize, const char *reason,
                            const char *outcome, const char *provider_id,
                            const char *job_json) {
    size_t n = 0;
    snprintf(attempt, asize, "%d", job->attempt);
    fv[n++] = "state", fv[n++] = state;
    fv[n++] = "attempt", fv[n++] = attempt;
    if (reason) fv[n++] = "reason", fv[n++] = reason;
    if (outcome) fv[n++] = "outcome", fv[n++] = outcome;
    if (provider_id) fv[n++] = "provider_id", fv[n++] = provider_id;
    if (job_json) fv[n++] = "job", fv[n++] = job_json;
    return n;
}

/* ---- finishing: the last outcome, then out of the queue ------------------- */

typedef struct finish {
    notify_retry *rq;
    const notify_job *job;
    const char *sent_value; /* the key's last value ("dead"), or NULL */
    notify_retry_cb cb;
    void *opaque;
} finish;

static void finish_removed(int err, void *opaque) {
    finish *fin = opaque;
    fin->cb(err, err ? "redis: cannot take the job out of the queue" : NULL,
            fin->opaque);
    free(fin);
}

static void finish_acked(rd_kafka_resp_err_t err, void *opaque) {
    finish *fin = opaque;
    notify_state *st = fin->rq->st;
    if (!err && notify_queue_remove(notify_retry_redis(st, fin->job->partition),
                                    fin->job->partition, fin->job->key, fin->sent_value,
                                    st->conf->sent_ttl_s, finish_removed, fin) == 0)
        return;
    fin->cb(-1, err ? rd_kafka_err2str(err) : "redis not connected", fin->opaque);
    free(fin);
}

static finish *finish_new(notify_retry *rq, const notify_job *job, notify_retry_cb cb,
                          void *opaque, char *errstr, size_t size) {
    finish *fin = calloc(1, sizeof(*fin));
    if (!fin) snprintf(errstr, size, "out of memory");
    else *fin = (finish){rq, job, NULL, cb, opaque};
    return fin;
}

/* notification.sent, then out of the queue. Returns 0 or -1 with errstr. */
static int finish_sent(notify_retry *rq, const notify_job *job, const char *provider_id,
                       notify_retry_cb cb, void *opaque, char *errstr, size_t size) {
    notify_state *st = rq->st;
    finish *fin = finish_new(rq, job, cb, opaque, errstr, size);
    if (!fin) return -1;
    if (notify_outcome_publish(st, job, notify_channel_label(&st->channel, job),
                               NOTIFY_OUTCOME_SENT, provider_id, 0, finish_acked, fin,
                               errstr, size)) {
        free(fin);
        return -1;
    }
    return 0;
}

/* The dead letter and notification.dead_lettered, then out of the queue. */
static int finish_dead(notify_retry *rq, const notify_job *job, notify_outcome o,
                       const char *reason, notify_retry_cb cb, void *opaque,
                       char *errstr, size_t size) {
    notify_state *st = rq->st;
    finish *fin = finish_new(rq, job, cb, opaque, errstr, size);
    if (!fin) return -1;
    fin->sent_value = "dead";
    sp_log(SP_LOG_WARN, job->case_id, "%s to %s dead-lettered after attempt %d: %s",
           job->template_name, job->role, job->attempt, reason ? reason : "");
    if (notify_outcome_deadletter(st, job, notify_channel_label(&st->channel, job), o,
                                  reason ? reason : "", finish_acked, fin, errstr,
                                  size)) {
        free(fin);
        return -1;
    }
    sp_metric_inc(st->m_dead);
    return 0;
}

/* ---- a failed attempt ------------------------------------------------------ */

typedef struct failure {
    notify_retry *rq;
    const notify_job *job;
    int queued;
    notify_outcome o;
    char reason[RETRY_REASON_MAX];
    int64_t next_ms;
    notify_retry_cb cb;
    void *opaque;
} failure;

static void failure_end(failure *f, int err, const char *errmsg) {
    f->cb(err, errmsg, f->opaque);
    free(f);
}

static void failure_finished(int err, const char *errmsg, void *opaque) {
    failure_end(opaque, err, errmsg);
}

static void failure_stored(int err, void *opaque) {
    failure *f = opaque;
    char errstr[256];
    if (err) {
        failure_end(f, -1, "redis: cannot queue the job");
    } else if (f->o != NOTIFY_OUTCOME_FAILED) { /* recorded as dead: now say so */
        if (finish_dead(f->rq, f->job, f->o, f->reason, failure_finished, f, errstr,
                        sizeof(errstr)))
            failure_end(f, -1, errstr);
    } else {
        retry_wake_at(f->rq, f->next_ms);
        failure_end(f, 0, NULL);
    }
}

/* Writes the job's record (state retry or dead) and queues it. */
static int failure_store(failure *f, int64_t score_ms, char *errstr, size_t size) {
    notify_state *st = f->rq->st;
    const char *fv[14];
    char attempt[16], *json = NULL;
    int dead = f->o != NOTIFY_OUTCOME_FAILED, rc;
    if (!f->queued && !(json = notify_job_to_json(f->job))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    size_t n = record_fields(fv, dead ? "dead" : "retry", f->job, attempt,
                             sizeof(attempt), f->reason,
                             dead ? notify_outcome_word(f->o) : NULL, NULL, json);
    rc = notify_queue_put(notify_retry_redis(st, f->job->partition), f->job->partition,
                          f->job->key, "queued", st->conf->sent_ttl_s, score_ms, fv, n,
                          failure_stored, f);
    free(json);
    if (rc) snprintf(errstr, size, "redis not connected");
    return rc;
}

/* notification.failed is out: the job waits for its next attempt. */
static void failed_published(rd_kafka_resp_err_t err, void *opaque) {
    failure *f = opaque;
    char errstr[256];
    if (err)
        failure_end(f, -1, rd_kafka_err2str(err));
    else if (failure_store(f, f->next_ms, errstr, sizeof(errstr)))
        failure_end(f, -1, errstr);
}

int notify_retry_failed(notify_retry *rq, const notify_job *job, int queued,
                        notify_send_outcome res, const char *reason, notify_retry_cb cb,
                        void *opaque, char *errstr, size_t size) {
    notify_state *st = rq->st;
    failure *f = calloc(1, sizeof(*f));
    int rc;
    if (!f) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    *f = (failure){.rq = rq, .job = job, .queued = queued, .cb = cb, .opaque = opaque};
    snprintf(f->reason, sizeof(f->reason), "%s", reason ? reason : "");
    if (res == NOTIFY_SEND_RETRY && job->attempt < st->conf->retry_attempts) {
        f->o = NOTIFY_OUTCOME_FAILED;
        f->next_ms = real_now() + backoff_ms(st->conf, job->attempt);
        sp_metric_inc(st->m_failed);
        sp_log(SP_LOG_WARN, job->case_id,
               "%s to %s: attempt %d failed (%s), next in %lld ms", job->template_name,
               job->role, job->attempt, f->reason, (long long)(f->next_ms - real_now()));
        rc = notify_outcome_publish(st, job, notify_channel_label(&st->channel, job),
                                    NOTIFY_OUTCOME_FAILED, f->reason, f->next_ms,
                                    failed_published, f, errstr, size);
    } else {
        f->o = res == NOTIFY_SEND_REFUSED ? NOTIFY_OUTCOME_REFUSED
                                          : NOTIFY_OUTCOME_EXHAUSTED;
        rc = failure_store(f, lease_until(rq), errstr, size);
    }
    if (rc) free(f);
    return rc;
}

/* ---- the drain: one claimed job ---------------------------------------------- */

typedef struct item {
    notify_retry *rq;
    int partition; /* the queue it was claimed from (-1: the old one) */
    int replicated; /* the sent mark's WAIT was asked (redis.wait_replicas) */
    notify_queued rec;
    notify_job job;
    char provider_id[160];
} item;

static void drain_next(notify_retry *rq);

static void item_end(item *it) {
    notify_retry *rq = it->rq;
    notify_job_free(&it->job);
    for (size_t i = 0; i < it->rec.nfields; i++) free(it->rec.fields[i]);
    free(it->rec.fields);
    free(it);
    drain_next(rq);
}

static void item_log(item *it, const char *what, const char *why) {
    sp_log(SP_LOG_WARN, it->job.case_id, "retry queue, job %.*s: %s: %s", NOTIFY_JOB_ID_HEX,
           it->rec.key, what, why ? why : "");
}

static void item_finished(int err, const char *errmsg, void *opaque) {
    item *it = opaque;
    if (err) item_log(it, "left for its lease to run out", errmsg);
    item_end(it);
}

static void item_replicated(sp_redis *r, int ok, void *opaque);

/* With redis.wait_replicas, the sent mark must be on the replicas before
 * notification.sent goes out: a failover that lost it would send again a
 * message already reported sent. */
static void item_marked_sent(int err, void *opaque) {
    item *it = opaque;
    notify_state *st = it->rq->st;
    int replicas = (int)st->s->common->redis_wait_replicas;
    char errstr[256];
    if (err) {
        item_finished(-1, "redis: cannot mark sent", it);
        return;
    }
    if (replicas > 0 && !it->replicated) {
        it->replicated = 1;
        if (sp_redis_wait(notify_retry_redis(st, it->job.partition), replicas,
                          (int)(st->s->common->redis_timeout_ms / 2), item_replicated, it))
            item_finished(-1, "redis not connected", it);
        return;
    }
    sp_metric_inc(it->rq->st->m_sent);
    sp_log(SP_LOG_INFO, it->job.case_id, "%s sent to %s on attempt %d",
           it->job.template_name, it->job.role, it->job.attempt);
    if (finish_sent(it->rq, &it->job, it->provider_id, item_finished, it, errstr,
                    sizeof(errstr)))
        item_finished(-1, errstr, it);
}

/* Sent: the key and the record say so before the outcome goes out, so a
 * crash from here on republishes instead of sending again. */
static void item_sent(notify_send_outcome res, const char *provider_id, const char *reason,
                      void *opaque) {
    item *it = opaque;
    notify_state *st = it->rq->st;
    char errstr[256], attempt[16], value[200];
    const char *fv[14];
    if (!notify_retry_redis(st, it->job.partition) || !st->s->producer) {
        /* shutdown gave up on us */
        item_end(it);
        return;
    }
    if (res != NOTIFY_SEND_SENT) {
        if (notify_retry_failed(it->rq, &it->job, 1, res, reason, item_finished, it, errstr,
                                sizeof(errstr)))
            item_finished(-1, errstr, it);
        return;
    }
    snprintf(it->provider_id, sizeof(it->provider_id), "%s", provider_id);
    size_t n = record_fields(fv, "sent", &it->job, attempt, sizeof(attempt), NULL, NULL,
                             provider_id, NULL);
    notify_store_sent_value(it->job.attempt, provider_id, value, sizeof(value));
    if (notify_queue_put(notify_retry_redis(st, it->job.partition), it->job.partition,
                         it->job.key, value, st->conf->sent_ttl_s, lease_until(it->rq), fv,
                         n, item_marked_sent, it))
        item_finished(-1, "redis not connected", it);
}

static void item_replicated(sp_redis *r, int ok, void *opaque) {
    (void)r;
    if (!ok)
        item_finished(-1, "redis: the sent mark is not on redis.wait_replicas replicas",
                      opaque);
    else
        item_marked_sent(0, opaque);
}

static notify_outcome dead_outcome(const char *word) {
    return word && strcmp(word, notify_outcome_word(NOTIFY_OUTCOME_REFUSED)) == 0
               ? NOTIFY_OUTCOME_REFUSED
               : NOTIFY_OUTCOME_EXHAUSTED;
}

/* What the record says is left to do. */
static void item_start(item *it) {
    notify_state *st = it->rq->st;
    const char *state = notify_queued_get(&it->rec, "state");
    const char *attempt = notify_queued_get(&it->rec, "attempt");
    const char *json = notify_queued_get(&it->rec, "job");
    char errstr[256];
    int rc = 0;
    if (!state || !attempt || !json ||
        notify_job_from_json(&it->job, json, strlen(json), errstr, sizeof(errstr))) {
        item_finished(-1, "the record is incomplete", it);
        return;
    }
    it->job.attempt = atoi(attempt);
    it->job.partition = it->partition;
    if (strcmp(state, "sent") == 0) {
        rc = finish_sent(it->rq, &it->job, notify_queued_get(&it->rec, "provider_id"),
                         item_finished, it, errstr, sizeof(errstr));
    } else if (strcmp(state, "dead") == 0) {
        notify_outcome o = dead_outcome(notify_queued_get(&it->rec, "outcome"));
        rc = finish_dead(it->rq, &it->job, o, notify_queued_get(&it->rec, "reason"),
                         item_finished, it, errstr, sizeof(errstr));
    } else {
        it->job.attempt++;
        if (notify_channel_send(&st->channel, &it->job, item_sent, it, errstr,
                                sizeof(errstr)))
            item_sent(NOTIFY_SEND_RETRY, NULL, errstr, it);
        return;
    }
    if (rc) item_finished(-1, errstr, it);
}

/* ---- the drain ------------------------------------------------------------- */

static void drain_end(notify_retry *rq) {
    int64_t in = rq->wake_ms == INT64_MAX ? RETRY_POLL_MS : rq->wake_ms - real_now();
    rq->draining = 0;
    if (rq->stopped) return;
    if (in < 0) in = 0;
    if (in > RETRY_POLL_MS) in = RETRY_POLL_MS;
    uv_timer_start(&rq->timer, drain_tick, (uint64_t)in, RETRY_POLL_MS);
}

/* The round's queue had nothing due (or could not be read): the next one. */
static void claimed(int err, notify_queued *recs, size_t n, void *opaque) {
    notify_retry *rq = opaque;
    item *it;
    if (err || n == 0 || rq->stopped || !(it = calloc(1, sizeof(*it)))) {
        if (err) sp_warn("notify: retry queue: cannot claim due jobs");
        notify_queued_free(recs, n);
        rq->cursor++;
        drain_next(rq);
        return;
    }
    it->rq = rq;
    it->partition = rq->cursor < retry_nparts(rq) ? rq->cursor : -1;
    it->rec = recs[0]; /* the fields are the item's now */
    recs[0].fields = NULL;
    recs[0].nfields = 0;
    notify_queued_free(recs, n);
    item_start(it);
}

/* The queue of the round's cursor, if this instance works it: a partition
 * it holds, or the old global queue for the holder of partition 0. */
static int drain_queue(const notify_retry *rq, int cursor) {
    if (cursor < retry_nparts(rq)) return rq->owned[cursor] ? cursor : -2;
    return rq->owned[0] ? -1 : -2;
}

/* Claims the next due job of the round's queue; past the last queue, the
 * round ends. A queue whose server is not connected is skipped: the next
 * round tries again. */
static void drain_next(notify_retry *rq) {
    int64_t now = real_now();
    while (!rq->stopped && rq->cursor <= retry_nparts(rq)) {
        int p = drain_queue(rq, rq->cursor);
        if (p != -2 && notify_queue_claim(notify_retry_redis(rq->st, p), p, now,
                                          lease_until(rq), 1, claimed, rq) == 0)
            return;
        rq->cursor++;
    }
    drain_end(rq);
}

static void drain_tick(uv_timer_t *t) {
    notify_retry *rq = t->data;
    if (rq->draining || rq->stopped) return;
    rq->draining = 1;
    rq->cursor = 0;
    if (rq->wake_ms <= real_now()) rq->wake_ms = INT64_MAX; /* this round covers it */
    drain_next(rq);
}

void notify_retry_assign(notify_retry *rq, int partition, int assigned) {
    if (partition >= 0 && partition < SP_REDIS_SHARDS_MAX)
        rq->owned[partition] = (unsigned char)(assigned != 0);
    if (assigned && !rq->draining && !rq->stopped) /* take over its queue now */
        uv_timer_start(&rq->timer, drain_tick, 0, RETRY_POLL_MS);
}

notify_retry *notify_retry_new(notify_state *st) {
    notify_retry *rq = calloc(1, sizeof(*rq));
    if (!rq) return NULL;
    rq->st = st;
    rq->wake_ms = INT64_MAX;
    uv_timer_init(st->s->loop, &rq->timer);
    rq->timer.data = rq;
    uv_timer_start(&rq->timer, drain_tick, RETRY_POLL_MS, RETRY_POLL_MS);
    return rq;
}

void notify_retry_stop(notify_retry *rq) {
    rq->stopped = 1;
    uv_timer_stop(&rq->timer);
}

int notify_retry_busy(const notify_retry *rq) { return rq->draining; }

static void retry_closed(uv_handle_t *h) { free(h->data); }

void notify_retry_close(notify_retry *rq) {
    if (rq) uv_close((uv_handle_t *)&rq->timer, retry_closed);
}
