/* test_kafka.c - the producer's own metrics, without a broker.
 *
 * The success path (a delivery observed in the latency histogram) needs a
 * broker and is covered by tests/integration/test_metrics.py. Here, what
 * needs none: a message the broker never acknowledges (nothing listens on
 * the bootstrap port) is counted as an error once its message.timeout.ms
 * passes, and its callback is called once with the error; a send the client
 * refuses up front (queue full) is counted, and its callback never called.
 * Each test runs its own loop and ends by asserting it closes cleanly.
 * And the partition a key goes to: CRC-32 (IEEE, as Python's zlib.crc32
 * computes it) modulo the count, and the partitioner settings allowed with
 * keys routed by partition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kafka.h"
#include "log.h"
#include "metrics.h"

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t guard;
    sp_metrics *m;
    sp_metric *latency, *errors;
    sp_producer *p;
    int calls;
    rd_kafka_resp_err_t err;
} fixture;

static void on_delivery(rd_kafka_resp_err_t err, void *opaque) {
    fixture *f = opaque;
    f->calls++;
    f->err = err;
    uv_timer_stop(&f->guard); /* done: let the loop end */
}

static void guard_cb(uv_timer_t *t) { fail_msg("no delivery report within 10 s"); }

/* A producer pointed at a port nothing listens on, with extra settings. */
static void fixture_open(fixture *f, const char *const *extra) {
    static const double bounds[] = {0.01, 0.1, 1};
    sp_conf_kvs kvs = {0};
    char errstr[256];

    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->m = sp_metrics_new();
    f->latency = sp_metrics_histogram(f->m, "t_produce_latency_seconds", "x", NULL,
                                      bounds, 3);
    f->errors = sp_metrics_counter(f->m, "t_produce_errors_total", "x", NULL);
    assert_int_equal(sp_conf_kvs_set(&kvs, "bootstrap.servers", "127.0.0.1:1"), 0);
    for (size_t i = 0; extra && extra[i]; i += 2)
        assert_int_equal(sp_conf_kvs_set(&kvs, extra[i], extra[i + 1]), 0);
    f->p = sp_producer_new(&f->loop, &kvs, errstr, sizeof(errstr));
    sp_conf_kvs_free(&kvs);
    assert_non_null(f->p);
    sp_producer_set_metrics(f->p, f->latency, f->errors);
    uv_timer_init(&f->loop, &f->guard);
}

static void fixture_close(fixture *f) {
    sp_producer_close(f->p, 0);
    uv_close((uv_handle_t *)&f->guard, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sp_metrics_free(f->m);
}

static void test_undelivered_is_an_error(void **state) {
    static const char *const extra[] = {"message.timeout.ms", "300", NULL};
    fixture f;
    char errstr[256];

    fixture_open(&f, extra);
    assert_int_equal(sp_producer_send(f.p, "t", "k", "v", 1, NULL, 0, on_delivery, &f,
                                      errstr, sizeof(errstr)), 0);
    assert_int_equal(sp_producer_inflight(f.p), 1);
    uv_timer_start(&f.guard, guard_cb, 10000, 0);
    while (f.calls == 0) uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
    assert_int_equal(sp_producer_inflight(f.p), 0);
    assert_true(sp_metric_value(f.errors) == 1);
    assert_true(sp_metric_value(f.latency) == 0); /* only deliveries observed */
    fixture_close(&f);
}

static void test_refused_send_is_an_error(void **state) {
    /* Idempotence off: librdkafka wants room for in-flight retries with it. */
    static const char *const extra[] = {"queue.buffering.max.messages", "1",
                                        "enable.idempotence", "false",
                                        "message.timeout.ms", "300", NULL};
    fixture f;
    char errstr[256];

    fixture_open(&f, extra);
    assert_int_equal(sp_producer_send(f.p, "t", "k", "v", 1, NULL, 0, on_delivery, &f,
                                      errstr, sizeof(errstr)), 0);
    assert_int_equal(sp_producer_send(f.p, "t", "k", "v", 1, NULL, 0, on_delivery, &f,
                                      errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "produce to t"));
    assert_true(sp_metric_value(f.errors) == 1);
    assert_int_equal(sp_producer_inflight(f.p), 1);
    /* The one queued times out: counted too, and only its callback runs. */
    uv_timer_start(&f.guard, guard_cb, 10000, 0);
    while (f.calls == 0) uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(f.calls, 1);
    assert_true(sp_metric_value(f.errors) == 2);
    fixture_close(&f);
}

/* Expected values from zlib.crc32(key) % count, computed independently. */
static void test_partition_of_is_crc32_mod_count(void **state) {
    (void)state;
    assert_int_equal(sp_kafka_partition_of("c_00000000000000000000000001", 6), 4);
    assert_int_equal(sp_kafka_partition_of("c_0000000000000000000000000Z", 6), 2);
    assert_int_equal(sp_kafka_partition_of("c_0000000000000000000000000Z", 8), 4);
    assert_int_equal(sp_kafka_partition_of("c_0000000000000000000000000Z", 12), 8);
    assert_int_equal(sp_kafka_partition_of("case-events", 6), 1);
    assert_int_equal(sp_kafka_partition_of("x", 6), 3);
    assert_int_equal(sp_kafka_partition_of("x", 0), 0); /* no topic: no partitions */
}

static void test_partitioner_check(void **state) {
    sp_conf_kvs kvs = {0};
    char err[200] = "";
    (void)state;
    assert_int_equal(sp_kafka_partitioner_check(&kvs, err, sizeof(err)), 0);
    assert_int_equal(sp_conf_kvs_set(&kvs, "partitioner", "consistent"), 0);
    assert_int_equal(sp_kafka_partitioner_check(&kvs, err, sizeof(err)), 0);
    assert_int_equal(sp_conf_kvs_set(&kvs, "partitioner", "murmur2_random"), 0);
    assert_int_equal(sp_kafka_partitioner_check(&kvs, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "kafka.partitioner = murmur2_random"));
    sp_conf_kvs_free(&kvs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_of_is_crc32_mod_count),
        cmocka_unit_test(test_partitioner_check),
        cmocka_unit_test(test_undelivered_is_an_error),
        cmocka_unit_test(test_refused_send_is_an_error),
    };
    sp_log_init("test_kafka", SP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
