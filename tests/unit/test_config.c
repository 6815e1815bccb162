/* Unit tests for common/config.c: lookup order, types, bounds, unknown keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

typedef struct conf {
    char *host;
    long long port;
    int debug;
    int mode;
    char *name;
    sp_conf_kvs ids;
} conf;

static const char *const modes[] = {"real", "manual", NULL};
static const sp_conf_def common_rows[] = {
    {"redis.host", SP_CONF_STRING, offsetof(conf, host), "127.0.0.1", 0, 0, NULL, "h"},
    {"redis.port", SP_CONF_INT, offsetof(conf, port), "6379", 1, 65535, NULL, "p"},
    {"debug", SP_CONF_BOOL, offsetof(conf, debug), "no", 0, 0, NULL, "d"},
    {"clock.mode", SP_CONF_ENUM, offsetof(conf, mode), "real", 0, 0, modes, "m"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
static const sp_conf_def service_rows[] = {
    {"redis.port", SP_CONF_INT, offsetof(conf, port), "7000", 1, 65535, NULL, "p"},
    {"name", SP_CONF_STRING, offsetof(conf, name), NULL, 0, 0, NULL, "n"},
    {"template.", SP_CONF_MAP, offsetof(conf, ids), NULL, 0, 0, NULL, "t"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
static const sp_conf_def *const tables[] = {common_rows, service_rows, NULL};

static char *write_file(const char *text) {
    static char path[] = "/tmp/sp-test-config-XXXXXX";
    strcpy(path, "/tmp/sp-test-config-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(conf *c, const char *text, sp_conf_kvs *kafka, char *err, size_t size) {
    char *path = text ? write_file(text) : NULL;
    memset(c, 0, sizeof(*c));
    int rc = sp_config_load(c, tables, "timers", path, kafka, err, size);
    if (path) unlink(path);
    return rc;
}

static void clear_env(void) {
    unsetenv("SENDPATH_REDIS_PORT");
    unsetenv("SENDPATH_TIMERS_REDIS_PORT");
    unsetenv("SENDPATH_DEBUG");
}

static void test_defaults_and_service_override(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256];
    clear_env();
    assert_int_equal(load(&c, NULL, &k, err, sizeof(err)), 0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 7000); /* the service's row replaces the common one */
    assert_int_equal(c.debug, 0);
    assert_int_equal(c.mode, 0);
    assert_null(c.name);
    sp_config_free(&c, tables);
    sp_conf_kvs_free(&k);
}

static void test_lookup_order(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256];
    const char *file = "redis.port = 1000\ntimers.redis.port = 2000\nnotify.x = 1\n"
                       "clock.mode = manual\n# comment\n\nname = \"quoted name\"\n";
    clear_env();
    assert_int_equal(load(&c, file, &k, err, sizeof(err)), 0);
    assert_int_equal(c.port, 2000); /* <svc>.key beats key */
    assert_int_equal(c.mode, 1);
    assert_string_equal(c.name, "quoted name");
    sp_config_free(&c, tables);
    setenv("SENDPATH_REDIS_PORT", "3000", 1);
    assert_int_equal(load(&c, file, &k, err, sizeof(err)), 0);
    assert_int_equal(c.port, 3000); /* environment beats the file */
    sp_config_free(&c, tables);
    setenv("SENDPATH_TIMERS_REDIS_PORT", "4000", 1);
    assert_int_equal(load(&c, file, &k, err, sizeof(err)), 0);
    assert_int_equal(c.port, 4000);
    sp_config_free(&c, tables);
    clear_env();
    sp_conf_kvs_free(&k);
}

static void test_kafka_passthrough(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256];
    clear_env();
    assert_int_equal(load(&c, "kafka.linger.ms = 5\ntimers.kafka.linger.ms = 1\n"
                              "notify.kafka.linger.ms = 9\nkafka.acks = all\n",
                          &k, err, sizeof(err)), 0);
    assert_string_equal(sp_conf_kvs_get(&k, "linger.ms"), "1");
    assert_string_equal(sp_conf_kvs_get(&k, "acks"), "all");
    assert_int_equal(k.count, 2);
    sp_config_free(&c, tables);
    sp_conf_kvs_free(&k);
}

static void test_kafka_from_environment(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256];
    clear_env();
    setenv("SENDPATH_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092", 1);
    setenv("SENDPATH_TIMERS_KAFKA_LINGER_MS", "2", 1);
    setenv("SENDPATH_NOTIFY_KAFKA_LINGER_MS", "9", 1);
    assert_int_equal(load(&c, "kafka.linger.ms = 5\n", &k, err, sizeof(err)), 0);
    assert_string_equal(sp_conf_kvs_get(&k, "bootstrap.servers"), "kafka:9092");
    assert_string_equal(sp_conf_kvs_get(&k, "linger.ms"), "2");
    unsetenv("SENDPATH_KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("SENDPATH_TIMERS_KAFKA_LINGER_MS");
    unsetenv("SENDPATH_NOTIFY_KAFKA_LINGER_MS");
    sp_config_free(&c, tables);
    sp_conf_kvs_free(&k);
}

/* A map row takes every key under its name, from the file and the
 * environment, the service's own keys last. */
static void test_map_rows(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256];
    clear_env();
    setenv("SENDPATH_TIMERS_TEMPLATE_REQUEST_RECEIVED", "uuid-3", 1);
    assert_int_equal(load(&c, "timers.template.a = uuid-1\ntemplate.a = uuid-0\n"
                              "template.b = uuid-2\nnotify.template.c = x\n",
                          &k, err, sizeof(err)), 0);
    assert_int_equal(c.ids.count, 3);
    assert_string_equal(sp_conf_kvs_get(&c.ids, "a"), "uuid-1");
    assert_string_equal(sp_conf_kvs_get(&c.ids, "b"), "uuid-2");
    assert_string_equal(sp_conf_kvs_get(&c.ids, "request_received"), "uuid-3");
    assert_null(sp_conf_kvs_get(&c.ids, "c"));
    unsetenv("SENDPATH_TIMERS_TEMPLATE_REQUEST_RECEIVED");
    sp_config_free(&c, tables);
    assert_int_equal(c.ids.count, 0);
    sp_conf_kvs_free(&k);
}

static void test_errors_name_key_and_place(void **state) {
    static const struct {
        const char *file, *expect;
    } rows[] = {
        {"redis.prot = 1\n", "unknown config key 'redis.prot'"},
        {"redis.port = 0\n", "'redis.port'"},
        {"redis.port = 70000\n", "out of range 1..65535"},
        {"redis.port = 12ab\n", "not a whole number"},
        {"debug = maybe\n", "not yes or no"},
        {"clock.mode = fast\n", "not one of the allowed values"},
        {"just words\n", ":1: expected 'key = value'"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        conf c;
        sp_conf_kvs k = {0};
        char err[256] = "";
        clear_env();
        assert_int_equal(load(&c, rows[i].file, &k, err, sizeof(err)), -1);
        if (!strstr(err, rows[i].expect)) fail_msg("row %zu: '%s' lacks '%s'", i, err, rows[i].expect);
        sp_config_free(&c, tables);
        sp_conf_kvs_free(&k);
    }
}

/* A line longer than the 4 KiB buffer the reader once used was split in
 * two: the value cut short and its tail read as a line of its own. */
static void test_long_line_read_whole(void **state) {
    conf c;
    sp_conf_kvs k = {0};
    char err[256] = "", *file = malloc(10100);
    size_t n = (size_t)sprintf(file, "name = ");
    memset(file + n, 'v', 10000);
    strcpy(file + n + 10000, "\nredis.port = 7001\n");
    clear_env();
    assert_int_equal(load(&c, file, &k, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.name), 10000);
    assert_int_equal(c.port, 7001);
    sp_config_free(&c, tables);
    sp_conf_kvs_free(&k);
    free(file);
}

static void test_nul_byte_refused(void **state) {
    static const char text[] = "name = a\0b\nredis.port = 7001\n";
    char path[] = "/tmp/sp-test-config-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    conf c = {0};
    sp_conf_kvs k = {0};
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    clear_env();
    assert_int_equal(sp_config_load(&c, tables, "timers", path, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: holds a NUL byte"));
    unlink(path);
    sp_config_free(&c, tables);
    sp_conf_kvs_free(&k);
}

static void test_missing_file(void **state) {
    conf c = {0};
    sp_conf_kvs k = {0};
    char err[256];
    assert_int_equal(sp_config_load(&c, tables, "timers", "/nonexistent/x.conf", &k, err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.conf"));
    sp_config_free(&c, tables);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_service_override),
        cmocka_unit_test(test_lookup_order),
        cmocka_unit_test(test_kafka_passthrough),
        cmocka_unit_test(test_kafka_from_environment),
        cmocka_unit_test(test_map_rows),
        cmocka_unit_test(test_errors_name_key_and_place),
        cmocka_unit_test(test_long_line_read_whole),
        cmocka_unit_test(test_nul_byte_refused),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
