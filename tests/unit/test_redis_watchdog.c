/* Unit tests for common/redis.c's watchdog, against a real redis-server
 * started here: a loop held longer than redis.timeout_ms must not be taken
 * for a Redis that does not answer (the reply is in the socket, unread,
 * because libuv runs timers before it polls), and a Redis that really does
 * not answer (SIGSTOP) is still dropped while the loop keeps stalling. */
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

#define TIMEOUT_MS 200 /* redis.timeout_ms: the watchdog ticks every 50 ms */

typedef struct {
    int called;
    int ok; /* the reply was +PONG */
} ping;

static void ping_cb(sp_redis *r, redisReply *reply, void *priv) {
    ping *p = priv;
    p->called = 1;
    p->ok = reply && reply->type == REDIS_REPLY_STATUS && !strcmp(reply->str, "PONG");
}

static int setup(void **state) { return rs_setup(state, TIMEOUT_MS); }

/* The loop held three times redis.timeout_ms after a PING is sent: the
 * PONG is waiting in the socket, and the command must get it, not a
 * dropped connection. */
static void test_held_loop_is_not_a_dead_redis(void **state) {
    rs_fixture *f = *state;
    for (int round = 0; round < 3; round++) {
        ping p = {0};
        assert_int_equal(sp_redis_command(f->r, ping_cb, &p, "PING"), 0);
        rs_sleep_ms(3 * TIMEOUT_MS); /* a long batch, a table growing */
        assert_true(rs_run_until(&f->loop, &p.called, 2000));
        if (!p.ok) fail_msg("round %d: the held loop was taken for a Redis that does not answer",
                            round);
    }
}

/* A Redis that does not answer is dropped even when every tick comes late:
 * the loop stalls 150 ms (three ticks) between polls. */
static void test_stopped_redis_is_dropped_while_the_loop_stalls(void **state) {
    rs_fixture *f = *state;
    ping p = {0};
    assert_int_equal(kill(f->pid, SIGSTOP), 0);
    assert_int_equal(sp_redis_command(f->r, ping_cb, &p, "PING"), 0);
    for (int i = 0; i < 40 && !p.called; i++) {
        rs_sleep_ms(150);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(kill(f->pid, SIGCONT), 0);
    assert_true(p.called);
    assert_false(p.ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_loop_is_not_a_dead_redis, setup, rs_teardown),
        cmocka_unit_test_setup_teardown(test_stopped_redis_is_dropped_while_the_loop_stalls,
                                        setup, rs_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
