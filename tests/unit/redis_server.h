/* redis_server.h - a real redis-server for the unit tests of common/redis.c,
 * on a free port, and an sp_redis to it on a loop of the test's own.
 * Static functions, for the one test program that includes it. */
#ifndef SP_TEST_REDIS_SERVER_H
#define SP_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "redis.h"

typedef struct {
    pid_t pid; /* the redis-server; -1 while a test has it stopped */
    int port;
    uv_loop_t loop;
    sp_redis *r;
} rs_fixture;

static int rs_free_port(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
        !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void rs_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts)) {
    }
}

/* Runs the loop without blocking until *flag is set or ms have passed. */
static int rs_run_until(uv_loop_t *loop, const int *flag, long ms) {
    for (long waited = 0; !*flag && waited < ms; waited += 2) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!*flag) rs_sleep_ms(2);
    }
    return *flag;
}

static pid_t rs_start(int port) {
    char p[16];
    pid_t pid;
    snprintf(p, sizeof(p), "%d", port);
    if ((pid = fork()) == 0) {
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* redis-server takes a moment to listen: sp_redis reconnects until it does. */
static int rs_wait_ready(rs_fixture *f) {
    for (int i = 0; i < 1000 && !sp_redis_ready(f->r); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        rs_sleep_ms(5);
    }
    return sp_redis_ready(f->r);
}

/* A cmocka setup: a server and a ready connection with redis.timeout_ms. */
static int rs_setup(void **state, int timeout_ms) {
    rs_fixture *f = calloc(1, sizeof(*f));
    if (!f || (f->port = rs_free_port()) < 0) return -1;
    if ((f->pid = rs_start(f->port)) < 0 || uv_loop_init(&f->loop)) return -1;
    *state = f;
    sp_redis_options o = {.host = "127.0.0.1", .port = f->port, .timeout_ms = timeout_ms};
    if (!(f->r = sp_redis_new(&f->loop, &o))) return -1;
    return rs_wait_ready(f) ? 0 : -1;
}

static void rs_closed_cb(void *opaque) { *(int *)opaque = 1; }

static int rs_teardown(void **state) {
    rs_fixture *f = *state;
    int closed = 0;
    if (!f) return 0;
    if (f->r) {
        sp_redis_close(f->r, rs_closed_cb, &closed);
        rs_run_until(&f->loop, &closed, 5000);
    }
    uv_loop_close(&f->loop);
    if (f->pid > 0) {
        kill(f->pid, SIGCONT); /* a test may have stopped it */
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    free(f);
    return 0;
}

#endif
