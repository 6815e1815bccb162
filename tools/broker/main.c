/* main.c - sendpath-broker: an embedded Kafka-protocol broker for local runs
 * and tests, built on librdkafka's mock cluster.
 *
 * sendpath-broker keeps every message in memory and loses it on exit: it is
 * for local runs and tests only, never for production.
 *
 * Why it exists: no Kafka broker is packaged for the machines we build on, and
 * librdkafka ships a mock cluster that speaks enough of the protocol (Produce,
 * Fetch, offsets, idempotent producer, balanced consumer groups) for kcat and
 * our services to run against it unchanged. This program owns one such
 * cluster and nothing else: it creates the topics of the table in
 * common/topics.c, publishes the bootstrap list, and waits for a signal.
 *
 * What the mock does and we cannot change (librdkafka 2.0.2):
 *   - brokers listen on 127.0.0.1 on random ports, so the bootstrap list is
 *     printed on stdout and, with --bootstrap-file, written to a file by
 *     rename(2): the file appearing means the broker is ready. A stale file is
 *     removed at start-up and the file is removed again on a clean exit;
 *   - unknown topics are auto-created with 4 partitions, so a typo in a topic
 *     name yields a working but wrong topic: create ours up front;
 *   - each partition keeps about 5 MiB or 100,000 batches and silently drops
 *     the oldest;
 *   - a consumer group's first join waits about 3 s, later joins and leaves
 *     wait session.timeout.ms minus 1 s;
 *   - no admin API (CreateTopics), no SASL, no TLS.
 *
 * The control port (--control-port) is for chaos tests: one command per line,
 * one reply line per command, "ok" or "err <reason>". It is served by poll(2)
 * in the main thread together with the signal self-pipe, so the program has no
 * threads of its own and no locks; librdkafka's mock API is safe to call from
 * here (it hands each command to the mock cluster's thread and waits for the
 * reply). Input from the port is untrusted: every argument is range-checked
 * before it reaches librdkafka (the mock API trusts its caller), and a client
 * that misbehaves is dropped, never waited on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "log.h"
#include "topics.h"

#define BROKER_EXIT_OK 0
#define BROKER_EXIT_FAIL 1
#define BROKER_EXIT_USAGE 2

#define BROKER_BROKERS_DEFAULT 3
#define BROKER_BROKERS_MAX 64
#define BROKER_PARTITIONS_MAX 1024
#define BROKER_REPLICATION_MAX 3
#define BROKER_EXTRA_TOPICS_MAX 64
#define BROKER_TOPICS_MAX (SP_TOPIC__COUNT + BROKER_EXTRA_TOPICS_MAX)
#define BROKER_TOPIC_NAME_MAX 249 /* Kafka's own limit */

#define CONTROL_CLIENTS_MAX 16
#define CONTROL_LINE_MAX 1024
#define CONTROL_ARGS_MAX 66 /* "errors", the api key and 64 codes */
#define CONTROL_APIKEY_MAX 127
#define CONTROL_RTT_MAX_MS 3600000

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored anyway */
#endif

typedef struct broker_topic {
    char name[BROKER_TOPIC_NAME_MAX + 1];
    int partitions;
} broker_topic;

typedef struct broker_opts {
    int brokers;
    int partitions; /* 0: each table topic keeps its default */
    broker_topic overrides[BROKER_EXTRA_TOPICS_MAX]; /* --topic, in order */
    int override_cnt;
    const char *bootstrap_file; /* NULL: stdout only */
    int control_port;           /* 0: no control port */
    const char *debug;          /* librdkafka debug contexts, or NULL */
    sp_log_level log_level;
} broker_opts;

typedef struct control_client {
    int fd; /* -1: free slot */
    size_t len;
    int discarding; /* the current line overflowed: skip to its newline */
    char buf[CONTROL_LINE_MAX];
} control_client;

typedef struct broker_ctx {
    broker_opts opts;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    int signal_pipe[2];
    int listen_fd;
    int wrote_bootstrap_file;
    control_client clients[CONTROL_CLIENTS_MAX];
} broker_ctx;

/* The one global: a signal handler has no other way to reach the pipe. */
static volatile sig_atomic_t broker_signal_fd = -1;

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

static void broker_usage(FILE *f) {
    fprintf(f,
        "Usage: sendpath-broker [OPTIONS]\n"
        "\n"
        "An in-memory Kafka-protocol broker (librdkafka mock cluster) for\n"
        "local runs and tests only: it keeps every message in memory and\n"
        "loses it on exit. Creates every sendpath topic, prints\n"
        "\"bootstrap=HOST:PORT,...\" on stdout and runs until SIGTERM or\n"
        "SIGINT.\n"
        "\n"
        "Options:\n"
        "  --brokers N             brokers in the cluster, 1-%d (default %d);\n"
        "                          replication factor is min(3, N)\n"
        "  --partitions N          partitions for every sendpath topic, 1-%d\n"
        "                          (default: each topic's own, see topics.c)\n"
        "  --topic NAME=N          partitions for one topic; adds the topic\n"
        "                          if it is not a sendpath one (repeatable)\n"
        "  --bootstrap-file PATH   also write the bootstrap list to PATH,\n"
        "                          atomically; its appearance means ready\n"
        "  --control-port P        line-based control on 127.0.0.1:P for\n"
        "                          chaos tests (default 0: off). Commands:\n"
        "                            down BROKER_ID | up BROKER_ID\n"
        "                            rtt BROKER_ID MS\n"
        "                            errors APIKEY ERRCODE [ERRCODE...]\n"
        "                            clear | ping\n"
        "                          Each gets one reply: ok | err <reason>\n"
        "  --debug CONTEXTS        librdkafka debug contexts, e.g. mock,cgrp\n"
        "                          (implies --log-level debug)\n"
        "  --log-level LEVEL       debug, info, warn or error (default info)\n"
        "  -h, --help              print this help and exit\n",
        BROKER_BROKERS_MAX, BROKER_BROKERS_DEFAULT, BROKER_PARTITIONS_MAX);
}

/* Parses all of s as a decimal integer in [min, max]. Returns 0 or -1. */
static int parse_long(const char *s, long min, long max, long *out) {
    char *end;
    long v;

    if (!s || !*s) return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* Kafka's rule: 1-249 characters from [a-zA-Z0-9._-]. */
static int topic_name_valid(const char *name, size_t len) {
    if (len == 0 || len > BROKER_TOPIC_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Parses "NAME=PARTITIONS" into the next override slot. */
static int opts_add_topic(broker_opts *o, const char *arg, char *errstr,
                          size_t errstr_size) {
    const char *eq = strrchr(arg, '=');
    long partitions;
    broker_topic *t;

    if (!eq || !topic_name_valid(arg, (size_t)(eq - arg)) ||
        parse_long(eq + 1, 1, BROKER_PARTITIONS_MAX, &partitions) == -1) {
        snprintf(errstr, errstr_size,
                 "--topic wants NAME=PARTITIONS with NAME of 1-%d characters "
                 "from [a-zA-Z0-9._-] and PARTITIONS 1-%d, not \"%s\"",
                 BROKER_TOPIC_NAME_MAX, BROKER_PARTITIONS_MAX, arg);
        return -1;
    }
    if (o->override_cnt == BROKER_EXTRA_TOPICS_MAX) {
        snprintf(errstr, errstr_size, "at most %d --topic options",
                 BROKER_EXTRA_TOPICS_MAX);
        return -1;
    }
    t = &o->overrides[o->override_cnt++];
    memcpy(t->name, arg, (size_t)(eq - arg));
    t->name[eq - arg] = '\0';
    t->partitions = (int)partitions;
    return 0;
}

enum {
    OPT_BROKERS = 256,
    OPT_PARTITIONS,
    OPT_TOPIC,
    OPT_BOOTSTRAP_FILE,
    OPT_CONTROL_PORT,
    OPT_DEBUG,
    OPT_LOG_LEVEL
};

static const struct option broker_long_opts[] = {
    {"brokers", required_argument, NULL, OPT_BROKERS},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
    {"control-port", required_argument, NULL, OPT_CONTROL_PORT},
    {"debug", required_argument, NULL, OPT_DEBUG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *opts_name(int opt) {
    for (const struct option *o = broker_long_opts; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

/* Applies one parsed option. Returns 0, or -1 with errstr. */
static int opts_apply(broker_opts *o, int opt, const char *arg, char *errstr,
                      size_t errstr_size) {
    long v;

    switch (opt) {
    case OPT_BROKERS:
        if (parse_long(arg, 1, BROKER_BROKERS_MAX, &v) == -1) goto bad_number;
        o->brokers = (int)v;
        return 0;
    case OPT_PARTITIONS:
        if (parse_long(arg, 1, BROKER_PARTITIONS_MAX, &v) == -1)
            goto bad_number;
        o->partitions = (int)v;
        return 0;
    case OPT_TOPIC:
        return opts_add_topic(o, arg, errstr, errstr_size);
    case OPT_BOOTSTRAP_FILE:
        if (!*arg) goto bad_value;
        o->bootstrap_file = arg;
        return 0;
    case OPT_CONTROL_PORT:
        if (parse_long(arg, 0, 65535, &v) == -1) goto bad_number;
        o->control_port = (int)v;
        return 0;
    case OPT_DEBUG:
        o->debug = arg;
        o->log_level = SP_LOG_DEBUG;
        return 0;
    case OPT_LOG_LEVEL:
        if (sp_log_level_parse(arg, &o->log_level) == -1) goto bad_value;
        return 0;
    }
    snprintf(errstr, errstr_size, "unknown option");
    return -1;

bad_number:
    snprintf(errstr, errstr_size, "bad number \"%s\" for --%s (see --help "
             "for the range)", arg, opts_name(opt));
    return -1;
bad_value:
    snprintf(errstr, errstr_size, "bad value \"%s\" for --%s", arg,
             opts_name(opt));
    return -1;
}

/* Returns -1 to go on, or the exit code (0 after --help, 2 on bad usage). */
static int opts_parse(broker_opts *o, int argc, char **argv) {
    char errstr[512];
    int opt;

    memset(o, 0, sizeof(*o));
    o->brokers = BROKER_BROKERS_DEFAULT;
    o->log_level = SP_LOG_INFO;

    opterr = 0; /* we print our own messages */
    while ((opt = getopt_long(argc, argv, ":h", broker_long_opts, NULL)) !=
           -1) {
        if (opt == 'h') {
            broker_usage(stdout);
            return BROKER_EXIT_OK;
        }
        if (opt == '?' && optopt) {
            fprintf(stderr, "sendpath-broker: unknown option '-%c'\n", optopt);
            goto usage;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "sendpath-broker: %s option '%s'\n",
                    opt == '?' ? "unknown" : "missing argument for",
                    argv[optind - 1]);
            goto usage;
        }
        if (opts_apply(o, opt, optarg, errstr, sizeof(errstr)) == -1) {
            fprintf(stderr, "sendpath-broker: %s\n", errstr);
            goto usage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sendpath-broker: unexpected argument '%s'\n",
                argv[optind]);
        goto usage;
    }
    return -1;

usage:
    fprintf(stderr, "Try 'sendpath-broker --help'.\n");
    return BROKER_EXIT_USAGE;
}

/* ------------------------------------------------------------------------
 * Cluster and topics
 * ------------------------------------------------------------------------ */

/* Routes librdkafka's own logs (syslog levels) into our JSON lines. Called
 * from librdkafka's threads; sp_log_write makes one write(2) per line. */
static void broker_rdkafka_log(const rd_kafka_t *rk, int level,
                               const char *fac, const char *buf) {
    sp_log_level l = level <= 3   ? SP_LOG_ERROR
                     : level == 4 ? SP_LOG_WARN
                     : level <= 6 ? SP_LOG_INFO
                                  : SP_LOG_DEBUG;

    /* Expected: the handle only hosts the cluster and has nowhere to go. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
        l = SP_LOG_DEBUG;
    sp_log(l, NULL, "rdkafka %s: %s", fac, buf);
}

static int broker_cluster_open(broker_ctx *b) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set_log_cb(conf, broker_rdkafka_log);
    if (b->opts.debug &&
        rd_kafka_conf_set(conf, "debug", b->opts.debug, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        sp_error("bad --debug: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* The handle only hosts the mock cluster; it never connects anywhere. On
     * success rd_kafka_new owns conf. */
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!b->rk) {
        sp_error("rd_kafka_new failed: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    b->mcluster = rd_kafka_mock_cluster_new(b->rk, b->opts.brokers);
    if (!b->mcluster) {
        sp_error("rd_kafka_mock_cluster_new(%d brokers) failed",
                 b->opts.brokers);
        return -1;
    }
    return 0;
}

/* The topics to create: the table, then --topic overrides (last one wins). */
static int broker_topics_plan(const broker_opts *o, broker_topic *out) {
    int n = 0;

    for (int i = 0; i < SP_TOPIC__COUNT; i++, n++) {
        snprintf(out[n].name, sizeof(out[n].name), "%s",
                 sp_topic_table[i].name);
        out[n].partitions =
            o->partitions ? o->partitions : sp_topic_table[i].partitions;
    }
    for (int i = 0; i < o->override_cnt; i++) {
        int j = 0;
        while (j < n && strcmp(out[j].name, o->overrides[i].name) != 0) j++;
        if (j == n) out[n++] = o->overrides[i];
        else out[j].partitions = o->overrides[i].partitions;
    }
    return n;
}

static int broker_topics_create(broker_ctx *b) {
    static broker_topic plan[BROKER_TOPICS_MAX];
    int rf = b->opts.brokers < BROKER_REPLICATION_MAX ? b->opts.brokers
                                                      : BROKER_REPLICATION_MAX;
    int n = broker_topics_plan(&b->opts, plan);

    for (int i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            b->mcluster, plan[i].name, plan[i].partitions, rf);
        if (err) {
            sp_error("creating topic %s failed: %s", plan[i].name,
                     rd_kafka_err2str(err));
            return -1;
        }
        sp_info("topic %s: %d partitions, replication factor %d",
                plan[i].name, plan[i].partitions, rf);
    }
    return 0;
}

/* Writes list to path.tmp and renames it over path, so a reader sees either
 * no file or the whole list. */
static int bootstrap_file_write(const char *path, const char *list) {
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        sp_error("bootstrap file path too long: %s", path);
        return -1;
    }
    if (!(f = fopen(tmp, "w"))) {
        sp_error("cannot open %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (fprintf(f, "%s\n", list) < 0 || fclose(f) != 0) {
        sp_error("cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) == -1) {
        sp_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Control port
 * ------------------------------------------------------------------------ */

typedef int (*control_fn)(broker_ctx *b, int argc, char **argv, char *err,
                          size_t err_size);

static int control_broker_id(const broker_ctx *b, const char *s, int32_t *id,
                             char *err, size_t err_size) {
    long v;

    if (parse_long(s, 1, b->opts.brokers, &v) == -1) {
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

static int control_down(broker_ctx *b, int argc, char **argv, char *err,
                        size_t err_size) {
    int32_t id;

    if (control_broker_id(b, argv[1], &id, err, err_size) == -1) return -1;
    return control_mock_result(rd_kafka_mock_broker_set_down(b->mcluster, id),
                               err, err_size);
}

static int control_up(broker_ctx *b, int argc, char **argv, char *err,
                      size_t err_size) {
    int32_t id;

    if (control_broker_id(b, argv[1], &id, err, err_size) == -1) return -1;
    return control_mock_result(rd_kafka_mock_broker_set_up(b->mcluster, id),
                               err, err_size);
}

static int control_rtt(broker_ctx *b, int argc, char **argv, char *err,
                       size_t err_size) {
    int32_t id;
    long ms;

    if (control_broker_id(b, argv[1], &id, err, err_size) == -1) return -1;
    if (parse_long(argv[2], 0, CONTROL_RTT_MAX_MS, &ms) == -1) {
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
    int by_number = parse_long(s, INT_MIN, INT_MAX, &v) == 0;

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

    if (parse_long(argv[1], 0, CONTROL_APIKEY_MAX, &apikey) == -1) {
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
    {"down", 1, 1, control_down, SP_LOG_INFO, "down BROKER_ID"},
    {"up", 1, 1, control_up, SP_LOG_INFO, "up BROKER_ID"},
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

static int fd_set_flags(int fd) {
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
        return -1;
    return 0;
}

static int control_listen(broker_ctx *b) {
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
        listen(fd, 8) == -1 || fd_set_flags(fd) == -1) {
        sp_error("control: cannot listen on 127.0.0.1:%d: %s",
                 b->opts.control_port, strerror(errno));
        close(fd);
        return -1;
    }
    b->listen_fd = fd;
    return 0;
}

static void control_client_close(control_client *c) {
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
        control_client_close(c);
        return -1;
    }
    return 0;
}

static void control_accept(broker_ctx *b) {
    control_client *slot = NULL;
    int fd = accept(b->listen_fd, NULL, NULL);

    if (fd == -1) return; /* EAGAIN, ECONNABORTED...: nothing to do */
    for (int i = 0; i < CONTROL_CLIENTS_MAX && !slot; i++)
        if (b->clients[i].fd == -1) slot = &b->clients[i];
    if (!slot || fd_set_flags(fd) == -1) {
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

static void control_read(broker_ctx *b, control_client *c) {
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
        control_client_close(c);
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

/* ------------------------------------------------------------------------
 * Signals and the main loop
 * ------------------------------------------------------------------------ */

static void broker_on_signal(int signo) {
    int saved = errno;
    unsigned char c = (unsigned char)signo;

    if (broker_signal_fd != -1 && write(broker_signal_fd, &c, 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static int broker_signals_block(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    return pthread_sigmask(SIG_BLOCK, set, NULL) == 0 ? 0 : -1;
}

/* Called with SIGINT and SIGTERM blocked, after librdkafka's threads exist:
 * they inherited the mask, so the handler only ever runs on this thread. */
static int broker_signals_open(broker_ctx *b, const sigset_t *set) {
    struct sigaction sa = {0};

    if (pipe(b->signal_pipe) == -1 || fd_set_flags(b->signal_pipe[0]) == -1 ||
        fd_set_flags(b->signal_pipe[1]) == -1) {
        sp_error("signal pipe: %s", strerror(errno));
        return -1;
    }
    broker_signal_fd = b->signal_pipe[1];
    sa.sa_handler = broker_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1 ||
        pthread_sigmask(SIG_UNBLOCK, set, NULL) != 0) {
        sp_error("installing signal handlers: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Waits for a signal, serving the control port meanwhile. Returns the signal
 * number, or -1 if poll itself failed. */
static int broker_run(broker_ctx *b) {
    struct pollfd pfds[2 + CONTROL_CLIENTS_MAX];
    int owner[2 + CONTROL_CLIENTS_MAX]; /* client index per pfd, -1 if none */

    for (;;) {
        nfds_t n = 0;
        pfds[n] = (struct pollfd){.fd = b->signal_pipe[0], .events = POLLIN};
        owner[n++] = -1;
        if (b->listen_fd != -1) {
            pfds[n] = (struct pollfd){.fd = b->listen_fd, .events = POLLIN};
            owner[n++] = -1;
        }
        for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
            if (b->clients[i].fd == -1) continue;
            pfds[n] = (struct pollfd){.fd = b->clients[i].fd, .events = POLLIN};
            owner[n++] = i;
        }

        if (poll(pfds, n, -1) == -1) {
            if (errno == EINTR) continue;
            sp_error("poll: %s", strerror(errno));
            return -1;
        }
        if (pfds[0].revents) {
            unsigned char signo = 0;
            if (read(b->signal_pipe[0], &signo, 1) == 1) return signo;
        }
        for (nfds_t i = 1; i < n; i++) {
            if (!pfds[i].revents) continue;
            if (owner[i] == -1) control_accept(b);
            else control_read(b, &b->clients[owner[i]]);
        }
    }
}

static void broker_close(broker_ctx *b) {
    for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
        if (b->clients[i].fd != -1) control_client_close(&b->clients[i]);
    if (b->listen_fd != -1) close(b->listen_fd);
    if (b->wrote_bootstrap_file && unlink(b->opts.bootstrap_file) == -1)
        sp_warn("cannot remove %s: %s", b->opts.bootstrap_file,
                strerror(errno));
    /* The cluster first: it runs on a thread of the handle. */
    if (b->mcluster) rd_kafka_mock_cluster_destroy(b->mcluster);
    if (b->rk) rd_kafka_destroy(b->rk);
    broker_signal_fd = -1;
    for (int i = 0; i < 2; i++)
        if (b->signal_pipe[i] != -1) close(b->signal_pipe[i]);
}

/* Everything up to "ready": cluster, topics, control port, announcements. */
static int broker_open(broker_ctx *b, sigset_t *set) {
    const char *list;

    /* A file left by a broker that crashed must not read as "ready". */
    if (b->opts.bootstrap_file && unlink(b->opts.bootstrap_file) == -1 &&
        errno != ENOENT) {
        sp_error("cannot remove stale %s: %s", b->opts.bootstrap_file,
                 strerror(errno));
        return -1;
    }
    if (b->opts.control_port && control_listen(b) == -1) return -1;
    if (broker_signals_block(set) == -1 || broker_cluster_open(b) == -1 ||
        broker_topics_create(b) == -1 || broker_signals_open(b, set) == -1)
        return -1;

    list = rd_kafka_mock_cluster_bootstraps(b->mcluster);
    printf("bootstrap=%s\n", list);
    if (b->opts.control_port)
        printf("control=127.0.0.1:%d\n", b->opts.control_port);
    if (fflush(stdout) != 0)
        sp_warn("cannot write to stdout: %s", strerror(errno));
    if (b->opts.bootstrap_file) {
        if (bootstrap_file_write(b->opts.bootstrap_file, list) == -1) return -1;
        b->wrote_bootstrap_file = 1;
    }
    sp_info("ready: %d brokers at %s%s%s", b->opts.brokers, list,
            b->opts.bootstrap_file ? ", written to " : "",
            b->opts.bootstrap_file ? b->opts.bootstrap_file : "");
    return 0;
}

int main(int argc, char **argv) {
    static broker_ctx b; /* large (client buffers): keep it off the stack */
    sigset_t set;
    int rc, signo;

    if ((rc = opts_parse(&b.opts, argc, argv)) != -1) return rc;
    sp_log_init("broker", b.opts.log_level);
    signal(SIGPIPE, SIG_IGN);
    b.signal_pipe[0] = b.signal_pipe[1] = -1;
    b.listen_fd = -1;
    for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) b.clients[i].fd = -1;

    if (broker_open(&b, &set) == -1) {
        broker_close(&b);
        return BROKER_EXIT_FAIL;
    }
    signo = broker_run(&b);
    /* A second signal kills outright, in case shutting down hangs. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (signo > 0) sp_info("%s received: shutting down", strsignal(signo));
    broker_close(&b);
    sp_info("stopped");
    return signo > 0 ? BROKER_EXIT_OK : BROKER_EXIT_FAIL;
}
