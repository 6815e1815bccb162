/* test_kafka_consumer.c - the consumer's batches in flight, against
 * librdkafka's mock cluster in this process.
 *
 * 60 messages on two partitions, batches of at most 10, up to 3 batches out.
 * The test plays a service that says every batch is applied at once and
 * holds it; when three are held (or nothing more comes), it finishes them
 * newest first, so acknowledgements come back out of order. What must hold:
 *   - the next batch is handed out while earlier ones wait (3 held at once);
 *   - offsets are stored in order: finishing a newer batch stores nothing,
 *     finishing the oldest stores it and every finished one behind it (the
 *     processed counter moves only then);
 *   - each partition's messages are applied in offset order;
 *   - a failed batch is replayed with every later batch, in order (the
 *     failure test), and each message is counted processed once;
 *   - a cut (sp_consumer_options.cut) ends a batch before a message, which
 *     opens the next one, and nothing is lost or reordered.
 * Each test runs its own loop and ends by asserting it closes cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kafka.h"
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */
#include "log.h"
#include "metrics.h"

#define N_MSGS 60
#define N_PARTS 2
#define DEPTH 3
#define MAX_APPLIED 1000

typedef struct held {
    sp_consumer_batch *b;
    size_t n;
    int64_t first_offset;
    int32_t first_partition;
} held;

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t tick, guard;
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mc;
    sp_metrics *m;
    sp_metric *processed, *retries;
    sp_consumer *c;
    held held[DEPTH];
    int nheld, max_held, idle_ticks;
    int fail_once; /* the failure test: fail the middle of the first three */
    int cuts;      /* the cut test: batches ended by the cut */
    held failed, after_failed; /* what must come again, in this order */
    int replays_seen;          /* 0, 1 once failed came again, 2 once after_failed did */
    int64_t next[N_PARTS];     /* the next offset each partition must apply */
    int rewinds;               /* times a partition went back (replays) */
    size_t applied;
    double retried; /* the retries counter at the end */
    int done;
} fixture;

static void stopped(void *opaque) {
    fixture *f = opaque;
    sp_consumer_close(f->c, 5000);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
}

/* The order each partition is applied in: forward only, except when a
 * replay starts again at a failed batch. */
static void note_applied(fixture *f, rd_kafka_message_t **msgs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t p = msgs[i]->partition;
        assert_true(p >= 0 && p < N_PARTS);
        if (msgs[i]->offset != f->next[p]) {
            assert_true(msgs[i]->offset < f->next[p]); /* never a gap */
            f->rewinds++;
        }
        f->next[p] = msgs[i]->offset + 1;
    }
    f->applied += n;
}

/* A replay hands the failed batch out first, then the one after it. */
static void note_replay(fixture *f, rd_kafka_message_t **msgs, size_t n) {
    const held *want = f->replays_seen == 0 ? &f->failed : &f->after_failed;
    if (!f->failed.n || f->replays_seen >= 2) return;
    if (msgs[0]->offset != want->first_offset || msgs[0]->partition != want->first_partition)
        return;
    assert_int_equal(n, want->n);
    f->replays_seen++;
}

/* The cut test's rule: a message "m<k>" with k a multiple of 7 must open
 * its batch. */
static int cut_marked(const rd_kafka_message_t *m) {
    return m->len > 1 && atoi((const char *)m->payload + 1) % 7 == 0;
}

static int cut_cb(rd_kafka_message_t *const *batch, size_t n, const rd_kafka_message_t *m,
                  void *opaque) {
    fixture *f = opaque;
    assert_true(n > 0);
    if (!cut_marked(m)) return 0;
    f->cuts++;
    return 1;
}

static void on_batch(sp_consumer *c, rd_kafka_message_t **msgs, size_t n, void *opaque) {
    fixture *f = opaque;
    assert_true(n > 0 && n <= 10);
    if (f->cuts >= 0) /* the cut test: a marked message never inside a batch */
        for (size_t i = 1; i < n; i++) assert_false(cut_marked(msgs[i]));
    assert_true(f->nheld < DEPTH);
    note_replay(f, msgs, n);
    note_applied(f, msgs, n);
    held *h = &f->held[f->nheld++];
    h->n = n;
    h->first_offset = msgs[0]->offset;
    h->first_partition = msgs[0]->partition;
    h->b = sp_consumer_batch_applied(c);
    assert_non_null(h->b);
    if (f->nheld > f->max_held) f->max_held = f->nheld;
    f->idle_ticks = 0;
}

/* Finishes every held batch, newest first. */
static void finish_held(fixture *f) {
    double before = sp_metric_value(f->processed);
    size_t total = 0;
    int fail_at = f->fail_once && f->nheld == DEPTH ? 1 : -1;
    for (int i = f->nheld - 1; i >= 0; i--) {
        int ok = i != fail_at;
        total += f->held[i].n;
        if (!ok) {
            f->failed = f->held[1];
            f->after_failed = f->held[2];
            f->fail_once = 0;
        }
        sp_consumer_batch_finish(f->held[i].b, ok, 10);
        if (i > 0) /* an older one is still out: nothing may be stored */
            assert_true(sp_metric_value(f->processed) == before);
    }
    if (fail_at < 0) assert_true(sp_metric_value(f->processed) == before + (double)total);
    else assert_true(sp_metric_value(f->processed) == before + (double)f->held[0].n);
    f->nheld = 0;
}

static void tick_cb(uv_timer_t *t) {
    fixture *f = t->data;
    if (f->done) return;
    if (f->nheld == DEPTH || (f->nheld > 0 && ++f->idle_ticks > 10)) finish_held(f);
    if (sp_metric_value(f->processed) >= N_MSGS && f->nheld == 0) {
        f->done = 1;
        sp_consumer_stop(f->c, stopped, f);
    }
}

static void guard_cb(uv_timer_t *t) { fail_msg("not every message processed within 30 s"); }

static void produce_messages(const char *bootstraps) {
    char errstr[256], val[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr,
                                       sizeof(errstr)), RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(p);
    for (int i = 0; i < N_MSGS; i++) {
        snprintf(val, sizeof(val), "m%d", i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("t"),
                                           RD_KAFKA_V_PARTITION(i % N_PARTS),
                                           RD_KAFKA_V_VALUE(val, strlen(val)),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END), 0);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

static void run(fixture *f, int fail_once, int cut) {
    static const char *const topics[] = {"t", NULL};
    char errstr[256];
    sp_conf_kvs kvs = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    memset(f, 0, sizeof(*f));
    f->fail_once = fail_once;
    f->cuts = cut ? 0 : -1;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    /* The mock cluster's own handle connects nowhere: say nothing about it. */
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(f->mock_rk);
    f->mc = rd_kafka_mock_cluster_new(f->mock_rk, 1);
    assert_non_null(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t", N_PARTS, 1), 0);
    produce_messages(rd_kafka_mock_cluster_bootstraps(f->mc));

    f->m = sp_metrics_new();
    f->processed = sp_metrics_counter(f->m, "t_processed_total", "x", NULL);
    f->retries = sp_metrics_counter(f->m, "t_retries_total", "x", NULL);
    assert_int_equal(sp_conf_kvs_set(&kvs, "bootstrap.servers",
                                     rd_kafka_mock_cluster_bootstraps(f->mc)), 0);
    assert_int_equal(sp_conf_kvs_set(&kvs, "session.timeout.ms", "6000"), 0);
    sp_consumer_options opt = {.group_id = "g", .topics = topics, .batch_max = 10,
                               .inflight_max = DEPTH, .on_batch = on_batch, .opaque = f,
                               .cut = cut ? cut_cb : NULL};
    f->c = sp_consumer_new(&f->loop, &kvs, &opt, errstr, sizeof(errstr));
    sp_conf_kvs_free(&kvs);
    assert_non_null(f->c);
    sp_consumer_set_metrics(f->c, f->processed, f->retries);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_init(&f->loop, &f->guard);
    f->tick.data = f->guard.data = f;
    uv_timer_start(&f->tick, tick_cb, 20, 20);
    uv_timer_start(&f->guard, guard_cb, 30000, 0);

    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_true(sp_metric_value(f->processed) == N_MSGS);
    for (int p = 0; p < N_PARTS; p++) assert_int_equal(f->next[p], N_MSGS / N_PARTS);
    f->retried = sp_metric_value(f->retries);
    sp_metrics_free(f->m);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mock_rk);
}

static void test_batches_overlap_and_store_in_order(void **state) {
    fixture f;
    run(&f, 0, 0);
    assert_int_equal(f.max_held, DEPTH);
    assert_int_equal(f.applied, N_MSGS);
    assert_int_equal(f.rewinds, 0);
    assert_true(f.retried == 0);
}

static void test_failed_batch_replays_with_later_ones(void **state) {
    fixture f;
    run(&f, 1, 0);
    assert_int_equal(f.replays_seen, 2);
    assert_true(f.rewinds > 0);
    assert_int_equal(f.applied, N_MSGS + f.failed.n + f.after_failed.n);
    assert_true(f.retried == 1);
}

/* A cut ends the batch before the message, which opens the next one: every
 * message still applied once and in order, with a failure and its replay
 * too (a replayed batch is the same batch, cut where it was). */
static void test_cut_opens_the_next_batch(void **state) {
    fixture f;
    run(&f, 0, 1);
    assert_true(f.cuts > 0);
    assert_int_equal(f.applied, N_MSGS);
    assert_int_equal(f.rewinds, 0);
    run(&f, 1, 1);
    assert_true(f.cuts > 0);
    assert_int_equal(f.replays_seen, 2);
    assert_int_equal(f.applied, N_MSGS + f.failed.n + f.after_failed.n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_overlap_and_store_in_order),
        cmocka_unit_test(test_failed_batch_replays_with_later_ones),
        cmocka_unit_test(test_cut_opens_the_next_batch),
    };
    sp_log_init("test", SP_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
