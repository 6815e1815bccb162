/* test_http.c - the HTTP server, over real sockets on a real loop.
 *
 * Each test starts a server on 127.0.0.1 (port 0) on its own uv loop and
 * runs a small blocking HTTP client in a second thread. Assertions happen on
 * the test's own thread only (in handlers, which run on the loop, or after the
 * client thread is joined): cmocka is not thread-safe, so the client thread
 * only records what it saw. A test ends when the client is done and every
 * late answer has been sent; it then closes the server and asserts that the
 * loop closes cleanly, so a leaked handle fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cJSON.h>
#include <uv.h>
#include "http.h"

/* ------------------------------------------------------------------------
 * A blocking HTTP/1.1 client, run in the client thread
 * ---------------------------------------------------------------------- */

typedef struct reply {
    int status; /* 0: no answer (connection closed or failed) */
    char head[2048];
    char body[4096];
    size_t body_len;
} reply;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Returns a connected socket or -1 (errno set). Reads time out after 10 s
 * so a server that never answers fails the test instead of hanging it. */
static int client_connect(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), err;

    if (fd < 0) return -1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static int client_send(int fd, const char *data) {
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Reads one response: the head, then Content-Length bytes of body (or up to
 * EOF without one). Leaves out->status at 0 if no full head arrived. */
static void client_read(int fd, reply *out) {
    char buf[8192];
    size_t len = 0, head_len = 0, want = (size_t)-1;
    char *sep = NULL;

    memset(out, 0, sizeof(*out));
    for (;;) {
        if (sep && len - head_len >= want) break;
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!sep && (sep = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            head_len = (size_t)(sep - buf) + 4;
            if (cl && cl < sep) want = strtoul(cl + 17, NULL, 10);
        }
    }
    if (!sep) return;
    memcpy(out->head, buf, head_len < sizeof(out->head) ? head_len : sizeof(out->head) - 1);
    out->body_len = len - head_len < sizeof(out->body) - 1 ? len - head_len : sizeof(out->body) - 1;
    memcpy(out->body, buf + head_len, out->body_len);
    sscanf(buf, "HTTP/1.%*d %d", &out->status);
}

/* One request on its own connection. */
static void client_request(int port, const char *raw, reply *out) {
    int fd = client_connect(port);
    memset(out, 0, sizeof(*out));
    if (fd < 0) return;
    if (client_send(fd, raw) == 0) client_read(fd, out);
    close(fd);
}

/* ------------------------------------------------------------------------
 * The fixture: loop, server, client thread
 * ---------------------------------------------------------------------- */

typedef struct fixture fixture;
typedef void (*client_fn)(fixture *f);

struct fixture {
    uv_loop_t loop;
    sp_http *h;
    int port;
    uv_async_t client_done;
    pthread_t thread;
    client_fn client;
    int client_signalled; /* client thread only */
    int holds;            /* client + late answers still to come */
    int closing, closed;

    /* Late answers. */
    uv_timer_t later;
    sp_http_req *held;
    uint64_t held_at, answered_at;
    atomic_int late_answered; /* read by the client thread to pace itself */
    int answer_after_close;

    /* What the loop side saw. */
    atomic_int dispatched; /* read by the client thread to pace itself */
    size_t pending_in_handler, pending_at_answer, pending_at_end;

    /* What the client saw. */
    reply r[4];
    int connect_errno;
};

static void on_answer_later(uv_timer_t *t);

static void on_closed(void *opaque) {
    fixture *f = opaque;
    f->closed = 1;
    f->h = NULL;
    /* The server is gone; answering now must just free the request. */
    if (f->answer_after_close) uv_timer_start(&f->later, on_answer_later, 20, 0);
}

static void fixture_release(fixture *f) {
    if (--f->holds > 0 || f->closing) return;
    f->closing = 1;
    f->pending_at_end = sp_http_pending(f->h);
    sp_http_close(f->h, on_closed, f);
}

static void on_client_done(uv_async_t *a) {
    fixture *f = a->data;
    uv_close((uv_handle_t *)a, NULL);
    fixture_release(f);
}

/* Called by the client when it no longer needs the server. */
static void client_signal(fixture *f) {
    if (f->client_signalled) return;
    f->client_signalled = 1;
    uv_async_send(&f->client_done);
}

static void *client_main(void *arg) {
    fixture *f = arg;
    f->client(f);
    client_signal(f);
    return NULL;
}

/* Waits (client side) until the loop has dispatched n requests. */
static void client_wait_dispatched(fixture *f, int n) {
    for (int i = 0; i < 1000 && atomic_load(&f->dispatched) < n; i++) sleep_ms(5);
}

/* Waits (client side) until the loop has answered late n times. */
static void client_wait_answered(fixture *f, int n) {
    for (int i = 0; i < 1000 && atomic_load(&f->late_answered) < n; i++) sleep_ms(5);
}

static void fixture_start_opts(fixture *f, const sp_http_options *o);

static void fixture_start(fixture *f, size_t max_body) {
    sp_http_options opt = {.bind_addr = "127.0.0.1", .max_body = max_body};
    fixture_start_opts(f, &opt);
}

static void fixture_start_opts(fixture *f, const sp_http_options *o) {
    sp_http_options opt = *o;
    char err[256] = "";

    memset(f, 0, sizeof(*f));
    atomic_init(&f->dispatched, 0);
    atomic_init(&f->late_answered, 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->h = sp_http_new(&f->loop, &opt, err, sizeof(err));
    if (!f->h) fail_msg("sp_http_new: %s", err);
    f->port = sp_http_port(f->h);
    assert_true(f->port > 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->later), 0);
    f->later.data = f;
}

static void fixture_run(fixture *f, client_fn client) {
    f->holds++;
    assert_int_equal(uv_async_init(&f->loop, &f->client_done, on_client_done), 0);
    f->client_done.data = f;
    f->client = client;
    assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    assert_true(f->closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Closes the fixture's own timer once nothing more will be answered late. */
static void fixture_done_with_timer(fixture *f) {
    if (!uv_is_closing((uv_handle_t *)&f->later))
        uv_close((uv_handle_t *)&f->later, NULL);
}

/* ------------------------------------------------------------------------
 * Handlers
 * ---------------------------------------------------------------------- */

static void h_ping(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    cJSON *j = cJSON_CreateObject();

    atomic_fetch_add(&f->dispatched, 1);
    f->pending_in_handler = sp_http_pending(f->h);
    assert_string_equal(sp_http_req_method(r), "GET");
    assert_string_equal(sp_http_req_path(r), "/v1/ping");
    assert_string_equal(sp_http_req_client(r), "127.0.0.1");
    assert_null(sp_http_req_header(r, "x-absent"));
    assert_int_equal(sp_http_req_add_header(r, "X-Bad", "a\r\nSet-Cookie: x=1"), -1);
    assert_int_equal(sp_http_req_add_header(r, "X-Bad", "a\nb"), -1);
    assert_int_equal(sp_http_req_add_header(r, "Bad Name", "v"), -1);
    /* MHD cannot send an empty value: accepting it failed the whole answer. */
    assert_int_equal(sp_http_req_add_header(r, "X-Empty", ""), -1);
    assert_int_equal(sp_http_req_add_header(r, "X-Request-Id", "req-1"), 0);
    cJSON_AddBoolToObject(j, "ok", 1);
    if (sp_http_req_header(r, "x-trace"))
        cJSON_AddStringToObject(j, "trace", sp_http_req_header(r, "x-trace"));
    sp_http_respond_json(r, 200, j);
}

static void h_echo_now(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    size_t len;
    const char *body = sp_http_req_body(r, &len);
    atomic_fetch_add(&f->dispatched, 1);
    sp_http_respond(r, 200, "text/plain", body, len);
}

static void on_answer_later(uv_timer_t *t) {
    fixture *f = t->data;
    size_t len;
    const char *body;

    if (f->h) f->pending_at_answer = sp_http_pending(f->h);
    f->answered_at = uv_now(&f->loop);
    body = sp_http_req_body(f->held, &len);
    sp_http_respond(f->held, 202, "text/plain", body, len);
    f->held = NULL;
    atomic_fetch_add(&f->late_answered, 1);
    fixture_done_with_timer(f); /* one late answer per test */
    if (!f->answer_after_close) fixture_release(f);
}

/* Holds the request and echoes its body 50 ms later. */
static void h_echo_later(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    atomic_fetch_add(&f->dispatched, 1);
    f->pending_in_handler = sp_http_pending(f->h);
    f->held = r;
    f->held_at = uv_now(&f->loop);
    f->holds++;
    assert_int_equal(uv_timer_start(&f->later, on_answer_later, 50, 0), 0);
}

/* Holds the request until the server has closed. */
static void h_hold(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    atomic_fetch_add(&f->dispatched, 1);
    f->held = r;
}

static void h_captures(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    static const char *const args[] = {"since", "note", "flag", "absent"};
    cJSON *j = cJSON_CreateObject();

    atomic_fetch_add(&f->dispatched, 1);
    cJSON_AddStringToObject(j, "id", sp_http_req_param(r, "id"));
    cJSON_AddStringToObject(j, "seq", sp_http_req_param(r, "seq"));
    assert_null(sp_http_req_param(r, "i"));
    assert_null(sp_http_req_param(r, "other"));
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        const char *v = sp_http_req_query(r, args[i]);
        if (v) cJSON_AddStringToObject(j, args[i], v);
        else cJSON_AddNullToObject(j, args[i]);
    }
    sp_http_respond_json(r, 200, j);
}

static void h_quiesce(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    atomic_fetch_add(&f->dispatched, 1);
    sp_http_quiesce(f->h);
    sp_http_respond(r, 204, NULL, NULL, 0);
}

static void h_never(sp_http_req *r, void *opaque) {
    fail_msg("handler called for %s %s", sp_http_req_method(r), sp_http_req_path(r));
}

/* ------------------------------------------------------------------------
 * Assertion helpers
 * ---------------------------------------------------------------------- */

static void assert_head_has(const reply *r, const char *line) {
    if (!strstr(r->head, line)) fail_msg("no \"%s\" in:\n%s", line, r->head);
}

/* Checks a problem+json answer and returns its parsed body (cJSON_Delete). */
static cJSON *assert_problem(const reply *r, int status) {
    cJSON *j;
    assert_int_equal(r->status, status);
    assert_head_has(r, "Content-Type: application/problem+json\r\n");
    assert_head_has(r, "Cache-Control: no-store\r\n");
    j = cJSON_Parse(r->body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "about:blank");
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, status);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "title")));
    return j;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

static void client_ping(fixture *f) {
    client_request(f->port,
                   "GET /v1/ping HTTP/1.1\r\nHost: t\r\nX-Trace: t-42\r\n"
                   "Connection: close\r\n\r\n",
                   &f->r[0]);
}

static void test_sync_get_json(void **state) {
    fixture f;
    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/ping", h_ping, &f), 0);
    fixture_done_with_timer(&f);
    fixture_run(&f, client_ping);

    assert_int_equal(f.r[0].status, 200);
    assert_head_has(&f.r[0], "Content-Type: application/json\r\n");
    assert_head_has(&f.r[0], "Cache-Control: no-store\r\n");
    assert_head_has(&f.r[0], "X-Request-Id: req-1\r\n");
    assert_null(strstr(f.r[0].head, "Set-Cookie"));
    assert_string_equal(f.r[0].body, "{\"ok\":true,\"trace\":\"t-42\"}");
    assert_int_equal(f.pending_in_handler, 1);
    assert_int_equal(f.pending_at_end, 0);
}

static void client_echo(fixture *f) {
    client_request(f->port,
                   "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 15\r\nConnection: close\r\n\r\nhello, sendpath",
                   &f->r[0]);
}

static void test_async_post_echo(void **state) {
    fixture f;
    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/echo", h_echo_later, &f), 0);
    fixture_run(&f, client_echo);

    assert_int_equal(atomic_load(&f.late_answered), 1);
    assert_true(f.answered_at - f.held_at >= 50);
    assert_int_equal(f.r[0].status, 202);
    assert_head_has(&f.r[0], "Content-Type: text/plain\r\n");
    assert_null(strstr(f.r[0].head, "Cache-Control")); /* only on JSON */
    assert_int_equal(f.r[0].body_len, 15);
    assert_string_equal(f.r[0].body, "hello, sendpath");
    assert_int_equal(f.pending_in_handler, 1);
    assert_int_equal(f.pending_at_answer, 1);
    assert_int_equal(f.pending_at_end, 0);
}

static void client_unrouted(fixture *f) {
    client_request(f->port, "GET /v1/nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   &f->r[0]);
    client_request(f->port,
                   "DELETE /v1/cases/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   &f->r[1]);
    client_request(f->port, "GET /v1/cases HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   &f->r[2]);
}

static void test_not_found_and_method_not_allowed(void **state) {
    fixture f;
    cJSON *j;

    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/cases/:id", h_never, &f), 0);
    assert_int_equal(sp_http_route(f.h, "PUT", "/v1/cases/:id", h_never, &f), 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/cases/:id/events", h_never, &f), 0);
    fixture_done_with_timer(&f);
    /* The access log (fd 2) is caught in a file: with no rate limit, the
     * client used to be known only to routed requests ("client=-"). */
    FILE *caught = tmpfile();
    int saved = dup(2);
    assert_non_null(caught);
    assert_true(saved >= 0 && dup2(fileno(caught), 2) == 2);
    fixture_run(&f, client_unrouted);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char logbuf[8192];
    size_t logn = (rewind(caught), fread(logbuf, 1, sizeof(logbuf) - 1, caught));
    logbuf[logn] = '\0';
    fclose(caught);
    assert_non_null(strstr(logbuf, " 404 token=- client=127.0.0.1 "));
    assert_non_null(strstr(logbuf, " 405 token=- client=127.0.0.1 "));

    j = assert_problem(&f.r[0], 404);
    assert_string_equal(cJSON_GetObjectItem(j, "title")->valuestring, "Not Found");
    cJSON_Delete(j);

    j = assert_problem(&f.r[1], 405);
    assert_head_has(&f.r[1], "Allow: GET, PUT\r\n");
    assert_string_equal(cJSON_GetObjectItem(j, "title")->valuestring, "Method Not Allowed");
    cJSON_Delete(j);

    cJSON_Delete(assert_problem(&f.r[2], 404)); /* a capture needs a segment */
    assert_int_equal(atomic_load(&f.dispatched), 0);
    assert_int_equal(f.pending_at_end, 0);
}

static void client_too_large(fixture *f) {
    /* Declared too large: refused on the headers alone, body never sent. */
    client_request(f->port,
                   "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n",
                   &f->r[0]);
    /* Chunked, 21 bytes: noticed while reading, answered at the end. */
    client_request(f->port,
                   "POST /v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n"
                   "10\r\n0123456789abcdef\r\n5\r\nxyzzy\r\n0\r\n\r\n",
                   &f->r[1]);
    /* Exactly the limit is fine. */
    client_request(f->port,
                   "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n"
                   "Connection: close\r\n\r\n0123456789abcdef",
                   &f->r[2]);
}

static void test_body_too_large(void **state) {
    fixture f;
    fixture_start(&f, 16);
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/echo", h_echo_now, &f), 0);
    fixture_done_with_timer(&f);
    fixture_run(&f, client_too_large);

    cJSON_Delete(assert_problem(&f.r[0], 413));
    cJSON_Delete(assert_problem(&f.r[1], 413));
    assert_int_equal(f.r[2].status, 200);
    assert_string_equal(f.r[2].body, "0123456789abcdef");
    assert_int_equal(atomic_load(&f.dispatched), 1);
}

static void h_ok(sp_http_req *r, void *opaque) {
    fixture *f = opaque;
    atomic_fetch_add(&f->dispatched, 1);
    sp_http_respond(r, 200, "text/plain", "ok", 2);
}

static void client_flood(fixture *f) {
    const char *get = "GET /v1/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < 3; i++) client_request(f->port, get, &f->r[i]);
    client_request(f->port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   &f->r[3]);
}

/* One request a second, two at once: the third in a row is refused with
 * 429 and Retry-After, and never reaches its handler; /healthz still
 * answers. */
static void test_rate_limit(void **state) {
    sp_http_options opt = {.bind_addr = "127.0.0.1", .rate_limit = 1, .rate_burst = 2};
    fixture f;
    cJSON *j;

    fixture_start_opts(&f, &opt);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/ping", h_ping, &f), 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/healthz", h_ok, &f), 0);
    fixture_done_with_timer(&f);
    fixture_run(&f, client_flood);

    assert_int_equal(f.r[0].status, 200);
    assert_int_equal(f.r[1].status, 200);
    j = assert_problem(&f.r[2], 429);
    assert_head_has(&f.r[2], "Retry-After: 1\r\n");
    assert_string_equal(cJSON_GetObjectItem(j, "title")->valuestring, "Too Many Requests");
    cJSON_Delete(j);
    assert_int_equal(f.r[3].status, 200);
    assert_int_equal(atomic_load(&f.dispatched), 3);
}

static void client_captures(fixture *f) {
    client_request(f->port,
                   "GET /v1/cases/abc-123/events/7?since=2024-09-01&note=a%20b%26c&flag"
                   " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   &f->r[0]);
}

static void test_capture_and_query(void **state) {
    fixture f;
    cJSON *j, *want;

    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/cases/:id", h_never, &f), 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/cases/:id/events/:seq", h_captures, &f), 0);
    fixture_done_with_timer(&f);
    fixture_run(&f, client_captures);

    assert_int_equal(f.r[0].status, 200);
    j = cJSON_Parse(f.r[0].body);
    want = cJSON_Parse("{\"id\":\"abc-123\",\"seq\":\"7\",\"since\":\"2024-09-01\","
                       "\"note\":\"a b&c\",\"flag\":\"\",\"absent\":null}");
    assert_non_null(j);
    if (!cJSON_Compare(j, want, 1)) fail_msg("got %s", f.r[0].body);
    cJSON_Delete(j);
    cJSON_Delete(want);
}

/* Sends a request and goes away before the answer, 50 ms later: politely
 * (FIN, so MHD's write of the answer still succeeds) or abruptly (RST, so
 * MHD sees an error). */
static void client_leave(fixture *f, int abort_conn) {
    struct linger lg = {1, 0};
    int fd = client_connect(f->port);
    if (fd < 0) return;
    client_send(fd, "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nbye");
    client_wait_dispatched(f, 1);
    if (abort_conn) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    /* Keep the server up a while after the answer, so MHD finds out on its
     * own, not in the close. */
    client_wait_answered(f, 1);
    sleep_ms(100);
}

static void client_disconnect(fixture *f) { client_leave(f, 0); }

static void client_reset(fixture *f) { client_leave(f, 1); }

static void run_client_gone(client_fn client) {
    fixture f;
    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/echo", h_echo_later, &f), 0);
    fixture_run(&f, client);

    assert_int_equal(atomic_load(&f.dispatched), 1);
    assert_int_equal(atomic_load(&f.late_answered), 1);
    assert_int_equal(f.pending_at_answer, 1);
    assert_int_equal(f.pending_at_end, 0);
}

static void test_client_disconnects_before_answer(void **state) {
    run_client_gone(client_disconnect);
}

static void test_client_resets_before_answer(void **state) {
    run_client_gone(client_reset);
}

static void client_then_close(fixture *f) {
    int fd = client_connect(f->port);
    if (fd < 0) return;
    client_send(fd, "POST /v1/hold HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    client_wait_dispatched(f, 1);
    client_signal(f);          /* the test closes the server now */
    client_read(fd, &f->r[0]); /* the close answers 503 for us */
    close(fd);
}

static void test_answer_after_close(void **state) {
    fixture f;
    fixture_start(&f, 0);
    f.answer_after_close = 1; /* on_closed answers 20 ms after the close */
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/hold", h_hold, &f), 0);
    fixture_run(&f, client_then_close);

    assert_int_equal(atomic_load(&f.dispatched), 1);
    assert_int_equal(f.pending_at_end, 1); /* still unanswered at close */
    assert_int_equal(atomic_load(&f.late_answered), 1);
    cJSON_Delete(assert_problem(&f.r[0], 503)); /* the close answered it */
}

static void client_keepalive(fixture *f) {
    int fd = client_connect(f->port);
    if (fd < 0) return;
    client_send(fd, "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst");
    client_read(fd, &f->r[0]);
    client_send(fd, "GET /v1/ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    client_read(fd, &f->r[1]);
    close(fd);
}

static void test_keepalive_late_then_sync(void **state) {
    fixture f;
    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/echo", h_echo_later, &f), 0);
    assert_int_equal(sp_http_route(f.h, "GET", "/v1/ping", h_ping, &f), 0);
    fixture_run(&f, client_keepalive);

    assert_int_equal(f.r[0].status, 202);
    assert_string_equal(f.r[0].body, "first");
    assert_int_equal(f.r[1].status, 200);
    assert_string_equal(f.r[1].body, "{\"ok\":true}");
    assert_int_equal(f.pending_at_end, 0);
}

static void client_quiesce(fixture *f) {
    int fd;
    client_request(f->port, "POST /v1/quiesce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                            "Content-Length: 0\r\n\r\n", &f->r[0]);
    fd = client_connect(f->port);
    f->connect_errno = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
}

static void test_quiesce_refuses_new_connections(void **state) {
    fixture f;
    fixture_start(&f, 0);
    assert_int_equal(sp_http_route(f.h, "POST", "/v1/quiesce", h_quiesce, &f), 0);
    fixture_done_with_timer(&f);
    fixture_run(&f, client_quiesce);

    assert_int_equal(f.r[0].status, 204);
    assert_int_equal(f.connect_errno, ECONNREFUSED);
}

static void on_closed_flag(void *opaque) { *(int *)opaque = 1; }

static void test_new_errors_and_route_table(void **state) {
    uv_loop_t loop;
    sp_http_options bad = {.bind_addr = "not-an-address"};
    sp_http_options any = {.bind_addr = "127.0.0.1"};
    sp_http_options same = {.bind_addr = "127.0.0.1"};
    char err[256] = "";
    sp_http *h, *h2;
    int closed = 0, n = 0;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_null(sp_http_new(&loop, &bad, err, sizeof(err)));
    assert_non_null(strstr(err, "not-an-address"));

    h = sp_http_new(&loop, &any, err, sizeof(err));
    assert_non_null(h);
    same.port = sp_http_port(h);
    err[0] = '\0';
    h2 = sp_http_new(&loop, &same, err, sizeof(err)); /* port taken */
    assert_null(h2);
    assert_true(strlen(err) > 0);

    while (sp_http_route(h, "GET", "/x", h_never, NULL) == 0) n++;
    assert_true(n >= 16);
    assert_int_equal(sp_http_pending(h), 0);

    sp_http_close(h, on_closed_flag, &closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_get_json),
        cmocka_unit_test(test_async_post_echo),
        cmocka_unit_test(test_not_found_and_method_not_allowed),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_capture_and_query),
        cmocka_unit_test(test_client_disconnects_before_answer),
        cmocka_unit_test(test_client_resets_before_answer),
        cmocka_unit_test(test_answer_after_close),
        cmocka_unit_test(test_keepalive_late_then_sync),
        cmocka_unit_test(test_quiesce_refuses_new_connections),
        cmocka_unit_test(test_new_errors_and_route_table),
    };
    signal(SIGPIPE, SIG_IGN);
    alarm(120); /* a hung server must not hang CI */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
