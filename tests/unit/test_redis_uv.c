/* Unit tests for common/redis_uv.c, hiredis on a libuv loop, against a
 * server played here on a plain socket so the test decides what the peer
 * does: replies arrive on a poll that is started once, and a connection the
 * peer resets (an RST, which libuv reports as a poll error and answers by
 * stopping the handle) fails its commands at once instead of hanging. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/async.h>
#include "redis_uv.h"

typedef struct {
    uv_loop_t loop;
    int listener, peer; /* the played server: listening, and its accepted end */
    redisAsyncContext *ac;
    int disconnected, disconnect_status;
} uv_fixture;

typedef struct {
    int called;
    int pong; /* the reply was +PONG */
} ping;

static void ping_cb(redisAsyncContext *ac, void *reply, void *priv) {
    redisReply *rep = reply;
    ping *p = priv;
    (void)ac;
    p->called = 1;
    p->pong = rep && rep->type == REDIS_REPLY_STATUS && !strcmp(rep->str, "PONG");
}

static void disconnect_cb(const redisAsyncContext *ac, int status) {
    uv_fixture *f = ac->data;
    f->disconnected = 1;
    f->disconnect_status = status;
}

/* Runs the loop without blocking until *flag is set or ms have passed. */
static int run_until(uv_loop_t *loop, const int *flag, long ms) {
    struct timespec two = {0, 2000000L};
    for (long waited = 0; !*flag && waited < ms; waited += 2) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!*flag) nanosleep(&two, NULL);
    }
    return *flag;
}

static int setup(void **state) {
    static uv_fixture f;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    memset(&f, 0, sizeof(f));
    f.peer = -1;
    if (uv_loop_init(&f.loop)) return -1;
    f.listener = socket(AF_INET, SOCK_STREAM, 0);
    if (f.listener < 0 || bind(f.listener, (struct sockaddr *)&a, sizeof(a)) ||
        listen(f.listener, 1) || getsockname(f.listener, (struct sockaddr *)&a, &len))
        return -1;
    f.ac = redisAsyncConnect("127.0.0.1", ntohs(a.sin_port));
    if (!f.ac || f.ac->err || sp_redis_uv_attach(f.ac, &f.loop) != REDIS_OK) return -1;
    f.ac->data = &f;
    redisAsyncSetDisconnectCallback(f.ac, disconnect_cb);
    if ((f.peer = accept(f.listener, NULL, NULL)) < 0) return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    uv_fixture *f = *state;
    if (!f->disconnected) redisAsyncFree(f->ac);
    if (f->peer >= 0) close(f->peer);
    close(f->listener);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the poll handle's close */
    return uv_loop_close(&f->loop) == 0 ? 0 : -1;
}

/* Reads one PING as hiredis sends it (*1\r\n$4\r\nPING\r\n, 14 bytes). */
static void peer_read_ping(uv_fixture *f) {
    char buf[14];
    size_t got = 0;
    while (got < sizeof(buf)) {
        uv_run(&f->loop, UV_RUN_NOWAIT); /* lets the client write */
        ssize_t n = recv(f->peer, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
        if (n > 0) got += (size_t)n;
        else if (n == 0) fail_msg("the client closed the connection");
    }
    assert_memory_equal(buf, "*1\r\n$4\r\nPING\r\n", sizeof(buf));
}

/* Command after command, each reply reaches its callback: the poll stays
 * started across commands, and reading and writing still alternate. */
static void test_replies_reach_their_commands(void **state) {
    uv_fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        ping p = {0};
        assert_int_equal(redisAsyncCommand(f->ac, ping_cb, &p, "PING"), REDIS_OK);
        peer_read_ping(f);
        assert_int_equal(send(f->peer, "+PONG\r\n", 7, 0), 7);
        assert_true(run_until(&f->loop, &p.called, 2000));
        assert_true(p.pong);
    }
    assert_false(f->disconnected);
}

/* The peer resets the connection while a command waits for its reply: the
 * command fails and the connection is dropped at once. An adapter that
 * ignored the poll error would leave libuv's handle stopped and hiredis
 * waiting for ever (until common/redis.c's watchdog, seconds later). */
static void test_reset_fails_the_waiting_command(void **state) {
    uv_fixture *f = *state;
    ping p = {0};
    struct linger rst = {1, 0};
    assert_int_equal(redisAsyncCommand(f->ac, ping_cb, &p, "PING"), REDIS_OK);
    peer_read_ping(f);
    assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)), 0);
    close(f->peer);
    f->peer = -1;
    if (!run_until(&f->loop, &f->disconnected, 2000))
        fail_msg("a reset connection was not noticed within 2 s");
    assert_true(p.called);
    assert_false(p.pong);
    assert_int_equal(f->disconnect_status, REDIS_ERR);
}

/* The peer closes cleanly (FIN): hiredis reads the end and disconnects. */
static void test_close_fails_the_waiting_command(void **state) {
    uv_fixture *f = *state;
    ping p = {0};
    assert_int_equal(redisAsyncCommand(f->ac, ping_cb, &p, "PING"), REDIS_OK);
    peer_read_ping(f);
    close(f->peer);
    f->peer = -1;
    assert_true(run_until(&f->loop, &f->disconnected, 2000));
    assert_true(p.called);
    assert_false(p.pong);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies_reach_their_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_fails_the_waiting_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_fails_the_waiting_command, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
