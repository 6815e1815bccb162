/* control.c - sendpath-broker's control port, for chaos tests: one command
 * a line, one reply line. See main.c's comment for what it may do. */
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored anyway */
#endif

typedef int (*control_fn)(broker_ctx *b, int argc, char **argv, char *err,
                          size_t err_size);

static int control_broker_id(const broker_ctx *b, const char *s, int32_t *id,
                             char *err, size_t err_size) {
    long v;

    if (broker_parse_long(s, 1, b->opts.brokers, &v) == -1) {
        snprintf(err, err_size, "broker id must be 1-%d", b->opts.brokers);
        return -1;
    }
    *id = (int32_t)v;
    return 0;
}

static int control_mock_result(rd_kafka_resp_err_t e, char *err,
                               size_t err_size) {
    if (!e) return 0;
    snprintf(err, err_size, "%s", rd_kafka_err2name(e));
    return -1;
}

/* "down ID" and "up ID": the table's name for this is argv[0]. */
static int control_down_up(broker_ctx *b, int argc, char **argv, char *err,
                           size_t err_size) {
    int32_t id;

    if (control_broker_id(b, argv[1], &id, err, err_size) == -1) return -1;
    return control_mock_result(strcmp(argv[0], "up") == 0
                                   ? rd_kafka_mock_broker_set_up(b->mcluster, id)
                                   : rd_kafka_mock_broker_set_down(b->mcluster, id),
                               err, err_size);
}

static int control_rtt(broker_ctx *b, int argc, char **argv, char *err,
                       size_t err_size) {
    int32_t id;
    long ms;

    if (control_broker_id(b, argv[1], &id, err, err_size) == -1) return -1;
    if (broker_parse_long(argv[2], 0, CONTROL_RTT_MAX_MS, &ms) == -1) {
        snprintf(err, err_size, "rtt must be 0-%d ms", CONTROL_RTT_MAX_MS);
        return -1;
    }
    return control_mock_result(
        rd_kafka_mock_broker_set_rtt(b->mcluster, id, (int)ms), err, err_size);
}

/* An error code by number or by librdkafka name ("NOT_LEADER_FOR_PARTITION",
 * "_TRANSPORT"). Only codes a broker can send are accepted, plus _TRANSPORT,
 * which makes the mock drop the connection. */
static int control_errcode(const char *s, rd_kafka_resp_err_t *out) {
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;
    int by_number = broker_parse_long(s, INT_MIN, INT_MAX, &v) == 0;

    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (!descs[i].name) continue;
        if (by_number ? descs[i].code != (int)v
                      : strcasecmp(descs[i].name, s) != 0)
            continue;
        if (descs[i].code < 0 && descs[i].code != RD_KAFKA_RESP_ERR__TRANSPORT)
            return -1;
        *out = descs[i].code;
        return 0;
    }
    return -1;
}

static int control_errors(broker_ctx *b, int argc, char **argv, char *err,
                          size_t err_size) {
    rd_kafka_resp_err_t codes[CONTROL_ARGS_MAX];
    long apikey;

    if (broker_parse_long(argv[1], 0, CONTROL_APIKEY_MAX, &apikey) == -1) {
        snprintf(err, err_size, "apikey must be 0-%d", CONTROL_APIKEY_MAX);
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        if (control_errcode(argv[i], &codes[i - 2]) == -1) {
            snprintf(err, err_size,
                     "unknown error code %.64s (want a broker error code, "
                     "by number or name, or _TRANSPORT)", argv[i]);
            return -1;
        }
    }
    rd_kafka_mock_push_request_errors_array(b->mcluster, (int16_t)apikey,
                                            (size_t)(argc - 2), codes);
    return 0;
}

/* Undoes every fault the port can inject: error stacks, latency, downed
 * brokers. */
static int control_clear(broker_ctx *b, int argc, char **argv, char *err,
                         size_t err_size) {
    for (int k = 0; k <= CONTROL_APIKEY_MAX; k++)
        rd_kafka_mock_clear_request_errors(b->mcluster, (int16_t)k);
    for (int32_t id = 1; id <= b->opts.brokers; id++) {
        rd_kafka_resp_err_t e;
        e = rd_kafka_mock_broker_set_rtt(b->mcluster, id, 0);
        if (!e) e = rd_kafka_mock_broker_set_up(b->mcluster, id);
        if (control_mock_result(e, err, err_size) == -1) return -1;
    }
    return 0;
}

static int control_ping(broker_ctx *b, int argc, char **argv, char *err,
                        size_t err_size) {
    return 0;
}

/* Faults are logged at info so a test's log shows what was injected when;
 * pings and refused lines only at debug, so a noisy client cannot flood it. */
static const struct control_cmd {
    const char *name;
    int min_args, max_args; /* not counting the name */
    control_fn fn;
    sp_log_level log_level;
    const char *usage;
} control_cmds[] = {
    {"down", 1, 1, control_down_up, SP_LOG_INFO, "down BROKER_ID"},
    {"up", 1, 1, control_down_up, SP_LOG_INFO, "up BROKER_ID"},
    {"rtt", 2, 2, control_rtt, SP_LOG_INFO, "rtt BROKER_ID MS"},
    {"errors", 2, CONTROL_ARGS_MAX - 2, control_errors, SP_LOG_INFO,
     "errors APIKEY ERRCODE [ERRCODE...]"},
    {"clear", 0, 0, control_clear, SP_LOG_INFO, "clear"},
    {"ping", 0, 0, control_ping, SP_LOG_DEBUG, "ping"},
};

#define CONTROL_CMD_COUNT (sizeof(control_cmds) / sizeof(control_cmds[0]))

/* Runs one command line (NUL-terminated, modified in place), fills reply
 * with "ok" or "err <reason>" and *level with the level to log it at.
 * Returns 0 when the line was blank. */
static int control_exec(broker_ctx *b, char *line, char *reply,
                        size_t reply_size, sp_log_level *level) {
    char *argv[CONTROL_ARGS_MAX + 1], *save = NULL, err[256];
    int argc = 0;

    *level = SP_LOG_DEBUG; /* until a known command runs */
    for (char *tok = strtok_r(line, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (argc == CONTROL_ARGS_MAX) {
            snprintf(reply, reply_size, "err too many arguments");
            return 1;
        }
        argv[argc++] = tok;
    }
    if (argc == 0) return 0;

    for (size_t i = 0; i < CONTROL_CMD_COUNT; i++) {
        const struct control_cmd *c = &control_cmds[i];
        if (strcmp(c->name, argv[0]) != 0) continue;
        if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
            snprintf(reply, reply_size, "err usage: %s", c->usage);
        } else if (c->fn(b, argc, argv, err, sizeof(err)) == -1) {
            snprintf(reply, reply_size, "err %s", err);
            *level = c->log_level;
        } else {
            snprintf(reply, reply_size, "ok");
            *level = c->log_level;
        }
        return 1;
    }
    snprintf(reply, reply_size,
             "err unknown command (down, up, rtt, errors, clear, ping)");
    return 1;
}

int broker_fd_set_flags(int fd) {
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
        return -1;
    return 0;
}

int broker_control_listen(broker_ctx *b) {
    struct sockaddr_in sin = {0};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd == -1) {
        sp_error("control: socket: %s", strerror(errno));
        return -1;
    }
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)b->opts.control_port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
        listen(fd, 8) == -1 || broker_fd_set_flags(fd) == -1) {
        sp_error("control: cannot listen on 127.0.0.1:%d: %s",
                 b->opts.control_port, strerror(errno));
        close(fd);
        return -1;
    }
    b->listen_fd = fd;
    return 0;
}

void broker_control_client_close(control_client *c) {
    close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->discarding = 0;
}

/* Replies are a few bytes; a client that does not read them (send would
 * block) is dropped rather than allowed to stall the broker. */
static int control_reply(control_client *c, const char *reply) {
    char line[320];
    int n = snprintf(line, sizeof(line), "%s\n", reply);

    if (n >= (int)sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        broker_control_client_close(c);
        return -1;
    }
    return 0;
}

void broker_control_accept(broker_ctx *b) {
    control_client *slot = NULL;
    int fd = accept(b->listen_fd, NULL, NULL);

    if (fd == -1) return; /* EAGAIN, ECONNABORTED...: nothing to do */
    for (int i = 0; i < CONTROL_CLIENTS_MAX && !slot; i++)
        if (b->clients[i].fd == -1) slot = &b->clients[i];
    if (!slot || broker_fd_set_flags(fd) == -1) {
        static const char full[] = "err too many control clients\n";
        if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL) < 0) { /* gone */ }
        close(fd);
        return;
    }
    slot->fd = fd;
    slot->len = 0;
    slot->discarding = 0;
}

/* Handles one line of len bytes, its newline replaced by a NUL. Returns -1
 * if c was closed. */
static int control_line(broker_ctx *b, control_client *c, char *line,
                        size_t len) {
    char reply[300], logged[CONTROL_LINE_MAX];
    sp_log_level level = SP_LOG_DEBUG;

    if (c->discarding) {
        c->discarding = 0;
        return control_reply(c, "err line too long");
    }
    if (len > 0 && line[len - 1] == '\r') line[--len] = '\0'; /* telnet */
    /* Printable ASCII only: the line goes into the log as it is. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 || ch > 0x7e) && ch != '\t')
            return control_reply(c, "err command must be printable ASCII");
    }
    snprintf(logged, sizeof(logged), "%s", line); /* exec splits line */
    if (!control_exec(b, line, reply, sizeof(reply), &level)) return 0;
    sp_log(level, NULL, "control: %s -> %s", logged, reply);
    return control_reply(c, reply);
}

void broker_control_read(broker_ctx *b, control_client *c) {
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    char *start, *nl;

    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r <= 0) {
        /* EOF: a last line without its newline still counts. */
        if (r == 0 && c->len > 0) {
            c->buf[c->len] = '\0';
            if (control_line(b, c, c->buf, c->len) == -1) return;
        }
        broker_control_client_close(c);
        return;
    }
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    start = c->buf;
    while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
        *nl = '\0';
        if (control_line(b, c, start, (size_t)(nl - start)) == -1) return;
        start = nl + 1;
    }
    c->len -= (size_t)(start - c->buf);
    memmove(c->buf, start, c->len);
    if (c->len == sizeof(c->buf) - 1) { /* full, no newline: overflow */
        c->discarding = 1;
        c->len = 0;
    }
}
