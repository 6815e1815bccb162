/* Unit tests for common/redis_shards.c: the redis.shards table. Connections
 * are exercised for real by tests/integration/test_redis_shards.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "redis_shards.h"

static void test_parse_ranges(void **state) {
    sp_redis_shard_range r[8];
    char err[256];
    int n = sp_redis_shards_parse("0-1@10.0.1.10:6379,2-3@redis-b.example:6380,4@[::1]:6381,"
                                  "5-5@10.0.1.10:6379",
                                  r, 8, err, sizeof(err));
    assert_int_equal(n, 4);
    assert_int_equal(r[0].first, 0);
    assert_int_equal(r[0].last, 1);
    assert_string_equal(r[0].host, "10.0.1.10");
    assert_int_equal(r[0].port, 6379);
    assert_string_equal(r[1].host, "redis-b.example");
    assert_int_equal(r[1].port, 6380);
    assert_int_equal(r[2].first, 4);
    assert_int_equal(r[2].last, 4);
    assert_string_equal(r[2].host, "[::1]"); /* the last ':' separates the port */
    assert_int_equal(r[3].first, 5);
    assert_int_equal(sp_redis_shards_check(r, 4, 6, err, sizeof(err)), 0);
}

static void test_parse_refuses(void **state) {
    static const struct {
        const char *spec, *expect;
    } rows[] = {
        {"", "empty"},
        {"0-1", "'0-1'"},
        {"0-1@host", "'0-1@host'"},
        {"0-1@:6379", "'0-1@:6379'"},
        {"0-1@host:0", "'0-1@host:0'"},
        {"0-1@host:65536", "'0-1@host:65536'"},
        {"0-1@host:63x79", "'0-1@host:63x79'"},
        {"2-1@host:6379", "'2-1@host:6379'"},
        {"-1@host:6379", "'-1@host:6379'"},
        {"0-256@host:6379", "'0-256@host:6379'"},
        {"a-b@host:6379", "'a-b@host:6379'"},
        {"0-1@h:1,,2-3@h:2", "''"},
        {"0-3@a:1,3-5@b:2", "partition 3 is in two ranges"},
        {"0-1@a:1,1@a:1", "partition 1 is in two ranges"},
        {"0-1@sentinel:", "'0-1@sentinel:'"},
        {"0-1@sentinel:a b", "'0-1@sentinel:a b'"},
        {"0-1@sentinel:a:1", "'0-1@sentinel:a:1'"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_redis_shard_range r[8];
        char err[256] = "";
        assert_int_equal(sp_redis_shards_parse(rows[i].spec, r, 8, err, sizeof(err)), -1);
        if (!strstr(err, rows[i].expect)) fail_msg("%s: %s", rows[i].spec, err);
        assert_non_null(strstr(err, "redis.shards"));
    }
}

static void test_check_coverage(void **state) {
    static const struct {
        const char *spec;
        int partitions;
        const char *expect; /* NULL: accepted */
    } rows[] = {
        {"0-5@a:1", 6, NULL},
        {"0-1@a:1,2-3@b:1,4-5@c:1", 6, NULL},
        {"4-5@c:1,0-3@a:1", 6, NULL}, /* any order */
        {"0-1@a:1,3-5@b:1", 6, "partition 2 has no server"},
        {"0-4@a:1", 6, "partition 5 has no server"},
        {"0-6@a:1", 6, "partition 6 does not exist"},
        {"0-23@a:1,24-47@b:1", 48, NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_redis_shard_range r[8];
        char err[256] = "";
        int n = sp_redis_shards_parse(rows[i].spec, r, 8, err, sizeof(err));
        assert_true(n > 0);
        int rc = sp_redis_shards_check(r, (size_t)n, rows[i].partitions, err, sizeof(err));
        if (!rows[i].expect) {
            if (rc) fail_msg("%s: %s", rows[i].spec, err);
        } else if (rc != -1 || !strstr(err, rows[i].expect)) {
            fail_msg("%s: expected '%s', got %d '%s'", rows[i].spec, rows[i].expect, rc, err);
        }
    }
}

/* One connection per distinct server, shared by its partitions; the lookup
 * answers the table and nothing outside it. Connecting needs no server: it
 * starts and retries in the background. */
static void test_open_shares_servers(void **state) {
    uv_loop_t loop;
    sp_redis_options base = {"127.0.0.1", 1, NULL, 100, NULL, NULL, NULL};
    char err[256];
    uv_loop_init(&loop);
    sp_redis_shards *sh = sp_redis_shards_open(&loop, "0-1@127.0.0.1:1,2-3@127.0.0.1:2,"
                                               "4-5@127.0.0.1:1", 6, &base, err, sizeof(err));
    assert_non_null(sh);
    assert_int_equal(sp_redis_shards_servers(sh), 2);
    assert_ptr_equal(sp_redis_shards_get(sh, 0), sp_redis_shards_get(sh, 5));
    assert_ptr_not_equal(sp_redis_shards_get(sh, 0), sp_redis_shards_get(sh, 2));
    assert_non_null(sp_redis_shards_get(sh, 3));
    assert_null(sp_redis_shards_get(sh, 6));
    assert_null(sp_redis_shards_get(sh, -1));
    assert_false(sp_redis_shards_ready(sh));
    sp_redis_shards_close(sh);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
    assert_null(sp_redis_shards_open(&loop, "0-1@a:1", 6, &base, err, sizeof(err)));
    assert_non_null(strstr(err, "partition 2 has no server"));
}

/* "sentinel:<name>" in place of an address names a Sentinel master; the
 * same name twice is one connection, and it needs redis.sentinels. */
static void test_sentinel_ranges(void **state) {
    sp_redis_shard_range r[8];
    char err[256];
    uv_loop_t loop;
    int n = sp_redis_shards_parse("0-2@sentinel:shard-a,3-5@10.0.1.11:6379", r, 8, err,
                                  sizeof(err));
    assert_int_equal(n, 2);
    assert_true(r[0].sentinel);
    assert_string_equal(r[0].host, "shard-a");
    assert_int_equal(r[0].port, 0);
    assert_false(r[1].sentinel);
    assert_string_equal(r[1].host, "10.0.1.11");

    uv_loop_init(&loop);
    sp_redis_options base = {"127.0.0.1", 1, NULL, 100, NULL, NULL, NULL};
    assert_null(sp_redis_shards_open(&loop, "0-2@sentinel:shard-a,3-5@127.0.0.1:1", 6, &base,
                                     err, sizeof(err)));
    assert_non_null(strstr(err, "needs redis.sentinels"));
    base.sentinels = "127.0.0.1:1,127.0.0.1:2";
    sp_redis_shards *sh = sp_redis_shards_open(
        &loop, "0-1@sentinel:shard-a,2-3@127.0.0.1:1,4-5@sentinel:shard-a", 6, &base, err,
        sizeof(err));
    assert_non_null(sh);
    assert_int_equal(sp_redis_shards_servers(sh), 2);
    assert_ptr_equal(sp_redis_shards_get(sh, 0), sp_redis_shards_get(sh, 4));
    /* Closed while the sentinels (none listening) are being asked. */
    uv_run(&loop, UV_RUN_NOWAIT);
    sp_redis_shards_close(sh);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ranges),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_check_coverage),
        cmocka_unit_test(test_open_shares_servers),
        cmocka_unit_test(test_sentinel_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
