/* Unit tests for common/redis.c's scripts, against a real redis-server
 * started here: an EVAL goes out as EVALSHA once the connection has loaded
 * the script, a buffer reused for another script runs the other script, a
 * restarted server (no scripts) gets them loaded again before they run, a
 * SCRIPT FLUSH fails no command (each goes again as EVAL), and a script
 * Redis cannot compile reports Redis's error without dropping the
 * connection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "redis.h"
#include "redis_server.h"

typedef struct {
    int called;
    int type;        /* the reply's, or -1 for none (the connection failed) */
    char str[256];   /* a string, status or error reply's text */
    long long integer;
} answer;

static void answer_cb(sp_redis *r, redisReply *reply, void *priv) {
    answer *a = priv;
    a->called = 1;
    a->type = reply ? reply->type : -1;
    if (reply && reply->str) snprintf(a->str, sizeof(a->str), "%s", reply->str);
    if (reply) a->integer = reply->integer;
}

static int setup(void **state) { return rs_setup(state, 2000); }

/* Sends EVAL script 0 args... through sp_redis_command_argv and waits. */
static answer eval(rs_fixture *f, const char *script, const char *arg, const size_t *lens) {
    answer a = {0};
    const char *argv[] = {"EVAL", script, "0", arg};
    assert_int_equal(sp_redis_command_argv(f->r, answer_cb, &a, 4, argv, lens), 0);
    assert_true(rs_run_until(&f->loop, &a.called, 5000));
    return a;
}

/* A field of INFO's section from a second, plain connection; -1 if absent. */
static long long info_field(rs_fixture *f, const char *section, const char *field) {
    redisContext *c = redisConnect("127.0.0.1", f->port);
    redisReply *rep = c && !c->err ? redisCommand(c, "INFO %s", section) : NULL;
    long long v = -1;
    const char *at;
    if (rep && rep->type == REDIS_REPLY_STRING && (at = strstr(rep->str, field)))
        v = strtoll(at + strlen(field), NULL, 10);
    if (rep) freeReplyObject(rep);
    if (c) redisFree(c);
    return v;
}

static void admin(rs_fixture *f, const char *cmd) {
    redisContext *c = redisConnect("127.0.0.1", f->port);
    redisReply *rep = c && !c->err ? redisCommand(c, cmd) : NULL;
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    redisFree(c);
}

static void test_eval_goes_as_evalsha(void **state) {
    rs_fixture *f = *state;
    static const char script[] = "return ARGV[1]";
    for (int i = 0; i < 5; i++) {
        answer a = eval(f, script, i % 2 ? "odd" : "even", NULL);
        assert_int_equal(a.type, REDIS_REPLY_STRING);
        assert_string_equal(a.str, i % 2 ? "odd" : "even");
    }
    /* With lengths given, as binary-safe callers send it. */
    size_t lens[] = {4, sizeof(script) - 1, 1, 3};
    answer a = eval(f, script, "len", lens);
    assert_string_equal(a.str, "len");
    assert_int_equal(info_field(f, "commandstats", "cmdstat_evalsha:calls="), 6);
    assert_int_equal(info_field(f, "commandstats", "cmdstat_eval:calls="), -1);
    assert_int_equal(info_field(f, "commandstats", "cmdstat_script|load:calls="), 1);
}

/* The table is keyed by the text, not the pointer: a caller's buffer
 * that later holds another script runs the other script. */
static void test_reused_buffer_runs_its_new_script(void **state) {
    rs_fixture *f = *state;
    char buf[32];
    snprintf(buf, sizeof(buf), "return 1");
    answer a = eval(f, buf, "x", NULL);
    assert_int_equal(a.type, REDIS_REPLY_INTEGER);
    assert_int_equal(a.integer, 1);
    snprintf(buf, sizeof(buf), "return 2");
    a = eval(f, buf, "x", NULL);
    assert_int_equal(a.type, REDIS_REPLY_INTEGER);
    assert_int_equal(a.integer, 2);
}

/* A new server has no scripts: the reconnect loads them again before the
 * first EVALSHA, so no command fails NOSCRIPT. */
static void test_restarted_server_gets_its_scripts_again(void **state) {
    rs_fixture *f = *state;
    answer a = eval(f, "return 'before'", "x", NULL);
    assert_string_equal(a.str, "before");
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = -1;
    for (int i = 0; i < 400 && sp_redis_ready(f->r); i++) { /* sees it gone */
        uv_run(&f->loop, UV_RUN_NOWAIT);
        rs_sleep_ms(5);
    }
    assert_false(sp_redis_ready(f->r));
    f->pid = rs_start(f->port);
    assert_true(rs_wait_ready(f));
    a = eval(f, "return 'before'", "x", NULL);
    assert_int_equal(a.type, REDIS_REPLY_STRING);
    assert_string_equal(a.str, "before");
}

/* SCRIPT FLUSH under a live connection: the command that meets NOSCRIPT
 * goes again as EVAL, so no caller sees it, and the script is back. */
static void test_flushed_scripts_fail_no_command(void **state) {
    rs_fixture *f = *state;
    answer a = eval(f, "return 'x'", "x", NULL);
    assert_string_equal(a.str, "x");
    admin(f, "SCRIPT FLUSH");
    for (int i = 0; i < 3; i++) {
        a = eval(f, "return 'x'", "x", NULL);
        assert_int_equal(a.type, REDIS_REPLY_STRING);
        assert_string_equal(a.str, "x");
    }
    /* Three answered as EVALSHA (one NOSCRIPT), one sent again as EVAL. */
    assert_int_equal(info_field(f, "commandstats", "cmdstat_eval:calls="), 1);
    assert_int_equal(info_field(f, "commandstats", "cmdstat_evalsha:calls="), 4);
}

/* Many commands of one script in flight when the scripts go: each comes
 * back NOSCRIPT and goes again, in order, and every caller gets its own
 * answer. */
static void test_flush_with_many_in_flight(void **state) {
    rs_fixture *f = *state;
    enum { N = 200 };
    static answer as[N];
    char args[N][16];
    int done = 0;
    answer a = eval(f, "return ARGV[1]", "warm", NULL);
    assert_string_equal(a.str, "warm");
    admin(f, "SCRIPT FLUSH");
    memset(as, 0, sizeof(as));
    for (int i = 0; i < N; i++) {
        snprintf(args[i], sizeof(args[i]), "n%d", i);
        const char *argv[] = {"EVAL", "return ARGV[1]", "0", args[i]};
        assert_int_equal(sp_redis_command_argv(f->r, answer_cb, &as[i], 4, argv, NULL), 0);
    }
    assert_true(rs_run_until(&f->loop, &as[N - 1].called, 5000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(as[i].type, REDIS_REPLY_STRING);
        assert_string_equal(as[i].str, args[i]);
        done += as[i].called;
    }
    assert_int_equal(done, N);
}

/* A script Redis cannot compile: every caller gets Redis's compile error
 * (the first through its EVALSHA's NOSCRIPT, its load refused), on the
 * same connection. */
static void test_uncompilable_script_reports_redis_error(void **state) {
    rs_fixture *f = *state;
    long long conns = info_field(f, "stats", "total_connections_received:");
    for (int i = 0; i < 3; i++) {
        answer a = eval(f, "return (", "x", NULL);
        assert_int_equal(a.type, REDIS_REPLY_ERROR);
        if (!strstr(a.str, "compiling")) fail_msg("call %d: not Redis's compile error: %s", i,
                                                  a.str);
    }
    answer a = eval(f, "return 'fine'", "x", NULL);
    assert_string_equal(a.str, "fine");
    /* No reconnect: only info_field's own connection came since. */
    assert_int_equal(info_field(f, "stats", "total_connections_received:"), conns + 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eval_goes_as_evalsha, setup, rs_teardown),
        cmocka_unit_test_setup_teardown(test_reused_buffer_runs_its_new_script, setup,
                                        rs_teardown),
        cmocka_unit_test_setup_teardown(test_restarted_server_gets_its_scripts_again, setup,
                                        rs_teardown),
        cmocka_unit_test_setup_teardown(test_flushed_scripts_fail_no_command, setup, rs_teardown),
        cmocka_unit_test_setup_teardown(test_flush_with_many_in_flight, setup, rs_teardown),
        cmocka_unit_test_setup_teardown(test_uncompilable_script_reports_redis_error, setup,
                                        rs_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
