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
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

/* The one global: a signal handler has no other way to reach the pipe. */
static volatile sig_atomic_t broker_signal_fd = -1;

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

    if (pipe(b->signal_pipe) == -1 || broker_fd_set_flags(b->signal_pipe[0]) == -1 ||
        broker_fd_set_flags(b->signal_pipe[1]) == -1) {
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
            if (owner[i] == -1) broker_control_accept(b);
            else broker_control_read(b, &b->clients[owner[i]]);
        }
    }
}

static void broker_close(broker_ctx *b) {
    for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
        if (b->clients[i].fd != -1) broker_control_client_close(&b->clients[i]);
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
    if (b->opts.control_port && broker_control_listen(b) == -1) return -1;
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

    if ((rc = broker_opts_parse(&b.opts, argc, argv)) != -1) return rc;
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
