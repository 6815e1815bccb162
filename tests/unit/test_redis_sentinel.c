/* Unit tests for common/redis_sentinel.c: the sentinel list, and a resolve
 * against sentinels that are not there (it must end, once, with no
 * address). Real sentinels and a failover: tests/integration/
 * test_redis_sentinel.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "redis_sentinel.h"

static void test_parse_list(void **state) {
    sp_sentinel_addr a[4];
    char err[256];
    assert_int_equal(sp_sentinel_parse("10.0.2.1:26379,sentinel-b.example:26380,[::1]:5", a, 4,
                                       err, sizeof(err)), 3);
    assert_string_equal(a[0].host, "10.0.2.1");
    assert_int_equal(a[0].port, 26379);
    assert_string_equal(a[1].host, "sentinel-b.example");
    assert_int_equal(a[1].port, 26380);
    assert_string_equal(a[2].host, "[::1]");
    assert_int_equal(a[2].port, 5);
}

static void test_parse_refuses(void **state) {
    static const struct {
        const char *list, *expect;
    } rows[] = {
        {"", "empty"},
        {"host", "'host'"},
        {":26379", "':26379'"},
        {"host:", "'host:'"},
        {"host:0", "'host:0'"},
        {"host:65536", "'host:65536'"},
        {"host:26x", "'host:26x'"},
        {"a:1,,b:2", "''"},
        {"a:1,b:2,c:3,d:4,e:5", "too many"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_sentinel_addr a[4];
        char err[256] = "";
        assert_int_equal(sp_sentinel_parse(rows[i].list, a, 4, err, sizeof(err)), -1);
        if (!strstr(err, rows[i].expect) || !strstr(err, "redis.sentinels"))
            fail_msg("%s: %s", rows[i].list, err);
    }
}

static void test_new_refuses(void **state) {
    uv_loop_t loop;
    char err[256];
    uv_loop_init(&loop);
    assert_null(sp_sentinel_new(&loop, "127.0.0.1:1", "", 100, err, sizeof(err)));
    assert_null(sp_sentinel_new(&loop, "127.0.0.1:1", "two words", 100, err, sizeof(err)));
    assert_null(sp_sentinel_new(&loop, "nope", "m", 100, err, sizeof(err)));
    assert_non_null(strstr(err, "redis.sentinels"));
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct {
    int calls;
    char host[64];
} answer;

static void on_answer(sp_sentinel *sn, const char *host, int port, void *opaque) {
    answer *a = opaque;
    a->calls++;
    snprintf(a->host, sizeof(a->host), "%s", host ? host : "(none)");
}

/* Nobody listens on ports 1 and 2: every sentinel is tried, the callback
 * comes once with no address, never from inside resolve, and a second
 * resolve while one is out is refused. */
static void test_resolve_nobody(void **state) {
    uv_loop_t loop;
    char err[256];
    answer a = {0};
    uv_loop_init(&loop);
    sp_sentinel *sn = sp_sentinel_new(&loop, "127.0.0.1:1,127.0.0.1:2", "m", 200, err,
                                      sizeof(err));
    assert_non_null(sn);
    assert_string_equal(sp_sentinel_name(sn), "m");
    assert_int_equal(sp_sentinel_resolve(sn, on_answer, &a), 0);
    assert_int_equal(a.calls, 0);
    assert_int_equal(sp_sentinel_resolve(sn, on_answer, &a), -1);
    while (a.calls == 0 && uv_run(&loop, UV_RUN_ONCE)) {
    }
    assert_int_equal(a.calls, 1);
    assert_string_equal(a.host, "(none)");
    sp_sentinel_close(sn, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_closed(void *opaque) { ++*(int *)opaque; }

/* Closed with a query out: no callback, every handle closed. */
static void test_close_while_resolving(void **state) {
    uv_loop_t loop;
    char err[256];
    answer a = {0};
    int closed = 0;
    uv_loop_init(&loop);
    sp_sentinel *sn = sp_sentinel_new(&loop, "127.0.0.1:1", "m", 200, err, sizeof(err));
    assert_int_equal(sp_sentinel_resolve(sn, on_answer, &a), 0);
    sp_sentinel_close(sn, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(a.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_new_refuses),
        cmocka_unit_test(test_resolve_nobody),
        cmocka_unit_test(test_close_while_resolving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
