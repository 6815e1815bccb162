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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "redis.h"

#define TIMEOUT_MS 200 /* redis.timeout_ms: the watchdog ticks every 50 ms */

typedef struct {
    pid_t pid;
    int port;
    uv_loop_t loop;
    sp_redis *r;
} fixture;

typedef struct {
    int called;
    int ok; /* the reply was +PONG */
} ping;

static int free_port(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
        !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts)) {
    }
}

/* Runs the loop without blocking until *flag is set or ms have passed. */
static int run_until(uv_loop_t *loop, const int *flag, long ms) {
    for (long waited = 0; !*flag && waited < ms; waited += 5) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!*flag) sleep_ms(5);
    }
    return *flag;
}

static void ping_cb(sp_redis *r, redisReply *reply, void *priv) {
    ping *p = priv;
    p->called = 1;
    p->ok = reply && reply->type == REDIS_REPLY_STATUS && !strcmp(reply->str, "PONG");
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    char port[16];
    if (!f || (f->port = free_port()) < 0) return -1;
    snprintf(port, sizeof(port), "%d", f->port);
    if ((f->pid = fork()) == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    if (f->pid < 0 || uv_loop_init(&f->loop)) return -1;
    *state = f;
    sp_redis_options o = {.host = "127.0.0.1", .port = f->port, .timeout_ms = TIMEOUT_MS};
    /* redis-server takes a moment to listen: sp_redis reconnects until it does. */
    if (!(f->r = sp_redis_new(&f->loop, &o))) return -1;
    for (int i = 0; i < 1000 && !sp_redis_ready(f->r); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        sleep_ms(5);
    }
    return sp_redis_ready(f->r) ? 0 : -1;
}

static void closed_cb(void *opaque) { *(int *)opaque = 1; }

static int teardown(void **state) {
    fixture *f = *state;
    int closed = 0;
    if (!f) return 0;
    if (f->r) {
        sp_redis_close(f->r, closed_cb, &closed);
        run_until(&f->loop, &closed, 5000);
    }
    uv_loop_close(&f->loop);
    if (f->pid > 0) {
        kill(f->pid, SIGCONT);
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    free(f);
    return 0;
}

/* The loop held three times redis.timeout_ms after a PING is sent: the
 * PONG is waiting in the socket, and the command must get it, not a
 * dropped connection. */
static void test_held_loop_is_not_a_dead_redis(void **state) {
    fixture *f = *state;
    for (int round = 0; round < 3; round++) {
        ping p = {0};
        assert_int_equal(sp_redis_command(f->r, ping_cb, &p, "PING"), 0);
        sleep_ms(3 * TIMEOUT_MS); /* a long batch, a table growing */
        assert_true(run_until(&f->loop, &p.called, 2000));
        if (!p.ok) fail_msg("round %d: the held loop was taken for a Redis that does not answer",
                            round);
    }
}

/* A Redis that does not answer is dropped even when every tick comes late:
 * the loop stalls 150 ms (three ticks) between polls. */
static void test_stopped_redis_is_dropped_while_the_loop_stalls(void **state) {
    fixture *f = *state;
    ping p = {0};
    assert_int_equal(kill(f->pid, SIGSTOP), 0);
    assert_int_equal(sp_redis_command(f->r, ping_cb, &p, "PING"), 0);
    for (int i = 0; i < 40 && !p.called; i++) {
        sleep_ms(150);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(kill(f->pid, SIGCONT), 0);
    assert_true(p.called);
    assert_false(p.ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_loop_is_not_a_dead_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_redis_is_dropped_while_the_loop_stalls,
                                        setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
