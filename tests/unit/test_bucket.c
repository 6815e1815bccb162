/* Unit tests for services/notify/bucket.c: GOV.UK Notify's 3,000 a minute. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "bucket.h"

/* Send whenever a token is there for ten minutes: no 60 s window, at any
 * millisecond, holds more than the rate, and the rate is nearly reached. */
static void test_no_minute_exceeds_the_rate(void **state) {
    static const long long rates[] = {3000, 600, 60};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        enum { MS = 600000 };
        static uint16_t sent[MS];
        notify_bucket b;
        unsigned window = 0, most = 0, total = 0;
        notify_bucket_init(&b, rates[r], 0);
        for (uint64_t t = 0; t < MS; t++) {
            sent[t] = 0;
            while (notify_bucket_take(&b, t) == 0) sent[t]++;
            window += sent[t];
            total += sent[t];
            if (t >= 60000) window -= sent[t - 60000];
            if (window > most) most = window;
        }
        if (most > rates[r]) fail_msg("rate %lld: %u in one minute", rates[r], most);
        assert_true(total >= (unsigned)(rates[r] * 10 * 95 / 100));
    }
}

static void test_wait_is_until_the_next_token(void **state) {
    notify_bucket b;
    notify_bucket_init(&b, 3000, 1000);
    for (int i = 0; i < 50; i++) assert_int_equal(notify_bucket_take(&b, 1000), 0);
    uint64_t wait = notify_bucket_take(&b, 1000);
    assert_true(wait >= 1 && wait <= 30);
    assert_int_equal(notify_bucket_take(&b, 1000 + wait), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_minute_exceeds_the_rate),
        cmocka_unit_test(test_wait_is_until_the_next_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
