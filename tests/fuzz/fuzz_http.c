/* fuzz_http.c - the HTTP server, fed raw bytes over a real socket.
 *
 * sp_http's request path (MHD's parser, then our routing, captures, header
 * and query copies, body limit, late answers through suspend and resume)
 * cannot be called without a connection, so the harness is a client: one
 * server on 127.0.0.1 for the whole run, on a loop this thread drives; each
 * input is written to a new connection as is, the write side is shut, and
 * the loop runs until the server has closed the connection and every
 * request it handed out has been answered. A hang is caught by libFuzzer's
 * -timeout, a leak or overflow by the sanitizers.
 *
 * Routes mirror what services do: answer at once, answer later from a
 * timer (as after a Redis reply), echo a header back (refused if it would
 * split the response), and read captures and query arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "http.h"
#include "log.h"

typedef struct late_answer {
    uv_timer_t timer;
    sp_http_req *req;
} late_answer;

typedef struct fuzz_client {
    uv_poll_t poll;
    int fd;
    int closed; /* the server closed the connection */
    size_t got;
    char head[16];
} fuzz_client;

static uv_loop_t loop;
static sp_http *server;
static size_t late_open; /* late answers whose timer has not closed */
static uv_timer_t idle;   /* the quiet period of client_wait() */

static void answer_now(sp_http_req *r, void *opaque) {
    size_t len;
    cJSON *o = cJSON_CreateObject();
    const char *id = sp_http_req_param(r, "id"), *x = sp_http_req_query(r, "x");
    const char *ct = sp_http_req_header(r, "Content-Type");
    (void)sp_http_req_body(r, &len);
    cJSON_AddStringToObject(o, "id", id ? id : "");
    cJSON_AddStringToObject(o, "x", x ? x : "");
    cJSON_AddStringToObject(o, "ct", ct ? ct : "");
    cJSON_AddNumberToObject(o, "len", (double)len);
    cJSON_AddStringToObject(o, "client", sp_http_req_client(r));
    sp_http_respond_json(r, 200, o);
}

static void late_closed(uv_handle_t *h) {
    free(h->data);
    late_open--;
}

static void late_fire(uv_timer_t *t) {
    late_answer *la = t->data;
    size_t len;
    const char *body = sp_http_req_body(la->req, &len);
    sp_http_respond(la->req, 202, "application/json", body, len);
    uv_close((uv_handle_t *)&la->timer, late_closed);
}

static void answer_later(sp_http_req *r, void *opaque) {
    late_answer *la = calloc(1, sizeof(*la));
    if (!la) abort();
    la->req = r;
    uv_timer_init(&loop, &la->timer);
    la->timer.data = la;
    late_open++;
    uv_timer_start(&la->timer, late_fire, 0, 0);
}

static void echo_header(sp_http_req *r, void *opaque) {
    const char *v = sp_http_req_header(r, "X-Echo");
    if (v && sp_http_req_add_header(r, "X-Echo", v) == 0 && strpbrk(v, "\r\n")) abort();
    sp_http_respond_problem(r, 400, "Invalid request", v, NULL);
}

static void server_start(void) {
    sp_http_options opt = {.bind_addr = "127.0.0.1", .max_body = 1024};
    char errstr[256];

    sp_log_set_level(SP_LOG_ERROR);
    if (uv_loop_init(&loop) != 0) abort();
    if (!(server = sp_http_new(&loop, &opt, errstr, sizeof(errstr)))) abort();
    uv_timer_init(&loop, &idle);
    sp_http_route(server, "GET", "/v1/things/:id", answer_now, NULL);
    sp_http_route(server, "POST", "/v1/things/:id", answer_now, NULL);
    sp_http_route(server, "POST", "/v1/things/:id/parts", answer_later, NULL);
    sp_http_route(server, "GET", "/late", answer_later, NULL);
    sp_http_route(server, "POST", "/echo", echo_header, NULL);
    sp_http_route(server, "GET", "/a/:b/c/:d/:e", answer_now, NULL);
}

static void client_readable(uv_poll_t *p, int status, int events) {
    fuzz_client *c = p->data;
    char buf[4096];
    ssize_t n;

    while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        if (c->got < sizeof(c->head))
            memcpy(c->head + c->got, buf,
                   (size_t)n < sizeof(c->head) - c->got ? (size_t)n : sizeof(c->head) - c->got);
        c->got += (size_t)n;
    }
    if (status < 0 || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        c->closed = 1;
        uv_poll_stop(p);
    }
}

/* Connects without blocking: libFuzzer's -timeout alarm interrupts a
 * blocking connect() (EINTR), which would read as a failure of the server. */
static int client_connect(void) {
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)sp_http_port(server))};
    struct pollfd pfd;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
    socklen_t len = sizeof(err);

    if (fd < 0) abort();
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) err = errno;
        pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
        while (!err && poll(&pfd, 1, 1000) <= 0) continue; /* EINTR too */
        if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err) {
        fprintf(stderr, "fuzz_http: connect: %s\n", strerror(err));
        abort();
    }
    return fd;
}

/* Writes all of data, running the loop whenever the socket is full. */
static void client_send(int fd, const uint8_t *data, size_t size) {
    while (size > 0) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            size -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_run(&loop, UV_RUN_NOWAIT);
        } else {
            return; /* the server closed on us mid-request: fine */
        }
    }
}

static void idle_fire(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until the server closed the connection, or has answered
 * everything and sent nothing for HTTP_IDLE_MS. MHD does not notice a
 * client's half-close (it reads the FIN with the request and clears its
 * read-ready flag), so "the server closed" cannot be the only end. */
#define HTTP_IDLE_MS 5
#define HTTP_STUCK_MS 3000
static void client_wait(fuzz_client *c) {
    int idle_over = 0;
    size_t seen = (size_t)-1;
    uint64_t start;

    uv_update_time(&loop);
    start = uv_now(&loop);
    idle.data = &idle_over;
    while (!c->closed) {
        if (c->got != seen) { /* progress: start the quiet period again */
            seen = c->got;
            idle_over = 0;
            uv_timer_start(&idle, idle_fire, HTTP_IDLE_MS, 0);
        }
        if (idle_over) {
            if (sp_http_pending(server) == 0 && late_open == 0) break;
            idle_over = 0;
            uv_timer_start(&idle, idle_fire, HTTP_IDLE_MS, 0);
        }
        uv_run(&loop, UV_RUN_ONCE);
        if (uv_now(&loop) - start > HTTP_STUCK_MS) {
            /* Say what is stuck before libFuzzer's timeout says only where. */
            fprintf(stderr, "fuzz_http: stuck: got %zu closed %d pending %zu late %zu\n",
                    c->got, c->closed, sp_http_pending(server), late_open);
            abort();
        }
    }
    uv_timer_stop(&idle);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct linger rst = {1, 0};
    fuzz_client c = {0};

    if (!server) server_start();
    c.fd = client_connect();
    client_send(c.fd, data, size);
    uv_poll_init(&loop, &c.poll, c.fd);
    c.poll.data = &c;
    uv_poll_start(&c.poll, UV_READABLE | UV_DISCONNECT, client_readable);
    client_wait(&c);
    uv_close((uv_handle_t *)&c.poll, NULL);
    /* A reset, which MHD does notice, so the server lets go of the
     * connection now rather than after its idle timeout. */
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
    close(c.fd);
    uv_run(&loop, UV_RUN_NOWAIT);
    /* Whatever the server sent is an HTTP response. */
    if (c.got > 0 && memcmp(c.head, "HTTP/1.", c.got < 7 ? c.got : 7) != 0) abort();
    return 0;
}
