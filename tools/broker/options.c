/* options.c - sendpath-broker's command line. See broker.h. */
#include <getopt.h>
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
int broker_parse_long(const char *s, long min, long max, long *out) {
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
        broker_parse_long(eq + 1, 1, BROKER_PARTITIONS_MAX, &partitions) == -1) {
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
        if (broker_parse_long(arg, 1, BROKER_BROKERS_MAX, &v) == -1) goto bad_number;
        o->brokers = (int)v;
        return 0;
    case OPT_PARTITIONS:
        if (broker_parse_long(arg, 1, BROKER_PARTITIONS_MAX, &v) == -1)
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
        if (broker_parse_long(arg, 0, 65535, &v) == -1) goto bad_number;
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
int broker_opts_parse(broker_opts *o, int argc, char **argv) {
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
