/* test_ratelimit.c - token buckets per client, on a clock the test moves. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include "ratelimit.h"

/* Two a second, four at once. */
static void test_burst_then_refill(void **state) {
    (void)state;
    sp_ratelimit *rl = sp_ratelimit_new(2, 4, 16);
    assert_non_null(rl);
    for (int i = 0; i < 4; i++) assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 1000), 0);
    /* Empty: the next token is 500 ms away, then 250 ms later half as far. */
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 1000), 500);
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 1250), 250);
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 1500), 0);
    /* A long pause refills to the burst, no further. */
    for (int i = 0; i < 4; i++) assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 60000), 0);
    assert_true(sp_ratelimit_take(rl, "10.0.0.1", 60000) > 0);
    sp_ratelimit_free(rl);
}

static void test_clients_are_separate(void **state) {
    (void)state;
    sp_ratelimit *rl = sp_ratelimit_new(1, 1, 16);
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 0), 0);
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.1", 0), 1000);
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.2", 0), 0);
    assert_int_equal(sp_ratelimit_take(rl, "::1", 0), 0);
    /* A prefix of another client is another client. */
    assert_int_equal(sp_ratelimit_take(rl, "10.0.0.", 0), 0);
    sp_ratelimit_free(rl);
}

/* A clock that steps back (uv_now does not, a caller's might) refills
 * nothing and never underflows into a huge refill. */
static void test_clock_going_back(void **state) {
    (void)state;
    sp_ratelimit *rl = sp_ratelimit_new(1, 1, 16);
    assert_int_equal(sp_ratelimit_take(rl, "c", 5000), 0);
    assert_int_equal(sp_ratelimit_take(rl, "c", 1000), 1000);
    assert_int_equal(sp_ratelimit_take(rl, "c", 6000), 0);
    sp_ratelimit_free(rl);
}

/* More clients than slots: the table never grows, an evicted client comes
 * back with a full bucket, and a client in use is not refused wrongly. */
static void test_more_clients_than_slots(void **state) {
    (void)state;
    char ip[32];
    sp_ratelimit *rl = sp_ratelimit_new(1, 1, 8);
    for (int i = 0; i < 1000; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
        assert_int_equal(sp_ratelimit_take(rl, ip, (uint64_t)i), 0);
    }
    assert_int_equal(sp_ratelimit_take(rl, "10.1.3.231", 999), 1000); /* still held */
    sp_ratelimit_free(rl);
}

static void test_bad_settings(void **state) {
    (void)state;
    assert_null(sp_ratelimit_new(0, 1, 16));
    assert_null(sp_ratelimit_new(1, 0, 16));
    sp_ratelimit_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_clients_are_separate),
        cmocka_unit_test(test_clock_going_back),
        cmocka_unit_test(test_more_clients_than_slots),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
