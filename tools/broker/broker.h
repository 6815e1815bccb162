/* broker.h - what sendpath-broker's files share: its limits, its options
 * and its state (main.c owns the one broker_ctx), the option parser
 * (options.c) and the control port (control.c). See main.c for what the
 * program is and what the mock cluster under it can and cannot do. */
#ifndef SP_BROKER_H
#define SP_BROKER_H

#include <stddef.h>
#include <stdio.h>
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

/* options.c. Fills o from argv. Returns -1 to run, or the exit code: 0
 * after --help, BROKER_EXIT_USAGE after a message on stderr. */
int broker_opts_parse(broker_opts *o, int argc, char **argv);
/* s as a whole number in [min, max] into *out: 0, or -1. */
int broker_parse_long(const char *s, long min, long max, long *out);

/* control.c. The control port: listen (0, or -1 logged), take a client, read
 * and answer a client's lines, close a client. */
int broker_control_listen(broker_ctx *b);
void broker_control_accept(broker_ctx *b);
void broker_control_read(broker_ctx *b, control_client *c);
void broker_control_client_close(control_client *c);
/* Non-blocking and close-on-exec: 0, or -1 with errno. */
int broker_fd_set_flags(int fd);

#endif
