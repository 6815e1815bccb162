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

typedef struct {
    pid_t pid;
    int port;
    uv_loop_t loop;
    sp_redis *r;
} fixture;

typedef struct {
    int called;
    int type;        /* the reply's, or -1 for none (the connection failed) */
    char str[256];   /* a string, status or error reply's text */
    long long integer;
} answer;

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

static int run_until(uv_loop_t *loop, const int *flag, long ms) {
    for (long waited = 0; !*flag && waited < ms; waited += 2) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!*flag) sleep_ms(2);
    }
    return *flag;
}

static void answer_cb(sp_redis *r, redisReply *reply, void *priv) {
    answer *a = priv;
    a->called = 1;
    a->type = reply ? reply->type : -1;
    if (reply && reply->str) snprintf(a->str, sizeof(a->str), "%s", reply->str);
    if (reply) a->integer = reply->integer;
}

static pid_t redis_start(int port) {
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

static int wait_ready(fixture *f) {
    for (int i = 0; i < 1000 && !sp_redis_ready(f->r); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        sleep_ms(5);
    }
    return sp_redis_ready(f->r);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    if (!f || (f->port = free_port()) < 0) return -1;
    if ((f->pid = redis_start(f->port)) < 0 || uv_loop_init(&f->loop)) return -1;
    *state = f;
    sp_redis_options o = {.host = "127.0.0.1", .port = f->port, .timeout_ms = 2000};
    if (!(f->r = sp_redis_new(&f->loop, &o))) return -1;
    return wait_ready(f) ? 0 : -1;
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
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    free(f);
    return 0;
}

/* Sends EVAL script 0 args... through sp_redis_command_argv and waits. */
static answer eval(fixture *f, const char *script, const char *arg, const size_t *lens) {
    answer a = {0};
    const char *argv[] = {"EVAL", script, "0", arg};
    assert_int_equal(sp_redis_command_argv(f->r, answer_cb, &a, 4, argv, lens), 0);
    assert_true(run_until(&f->loop, &a.called, 5000));
    return a;
}

/* A field of INFO's section from a second, plain connection; -1 if absent. */
static long long info_field(fixture *f, const char *section, const char *field) {
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

static void admin(fixture *f, const char *cmd) {
    redisContext *c = redisConnect("127.0.0.1", f->port);
    redisReply *rep = c && !c->err ? redisCommand(c, cmd) : NULL;
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    redisFree(c);
}

static void test_eval_goes_as_evalsha(void **state) {
    fixture *f = *state;
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
    fixture *f = *state;
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
    fixture *f = *state;
    answer a = eval(f, "return 'before'", "x", NULL);
    assert_string_equal(a.str, "before");
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = -1;
    for (int i = 0; i < 400 && sp_redis_ready(f->r); i++) { /* sees it gone */
        uv_run(&f->loop, UV_RUN_NOWAIT);
        sleep_ms(5);
    }
    assert_false(sp_redis_ready(f->r));
    f->pid = redis_start(f->port);
    assert_true(wait_ready(f));
    a = eval(f, "return 'before'", "x", NULL);
    assert_int_equal(a.type, REDIS_REPLY_STRING);
    assert_string_equal(a.str, "before");
}

/* SCRIPT FLUSH under a live connection: the command that meets NOSCRIPT
 * goes again as EVAL, so no caller sees it, and the script is back. */
static void test_flushed_scripts_fail_no_command(void **state) {
    fixture *f = *state;
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
    fixture *f = *state;
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
    assert_true(run_until(&f->loop, &as[N - 1].called, 5000));
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
    fixture *f = *state;
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
        cmocka_unit_test_setup_teardown(test_eval_goes_as_evalsha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_buffer_runs_its_new_script, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restarted_server_gets_its_scripts_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flushed_scripts_fail_no_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_with_many_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncompilable_script_reports_redis_error, setup,
                                        teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
