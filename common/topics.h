/* topics.h - every Kafka topic sendpath uses, in one table.
 *
 * The table is the single place a topic's name, key and default partition
 * count live; the broker creates topics from it, services subscribe through it,
 * and docs/architecture.md and proto/asyncapi.yaml describe the same rows.
 * Every topic is keyed by case id, so one case's events stay in order on one
 * partition (and, for timers, in one shard). */
#ifndef SP_TOPICS_H
#define SP_TOPICS_H

typedef enum {
    SP_TOPIC_COMMANDS = 0,      /* commands from case systems -> intake */
    SP_TOPIC_CASE_EVENTS,       /* intake -> everyone: the case's history */
    SP_TOPIC_DEADLINES,         /* timers -> notify, ops */
    SP_TOPIC_EVIDENCE,          /* evidence -> timers, notify, ops */
    SP_TOPIC_NOTIFICATIONS,     /* notify -> ops: outcome of every send */
    SP_TOPIC_DEADLETTER,        /* any service: rejected messages + reason */
    SP_TOPIC__COUNT
} sp_topic_id;

typedef struct sp_topic_def {
    const char *name;
    int partitions; /* what sendpath-broker creates (its --partitions and --topic
                     * change it); on Kafka the chart's topics.partitions */
    const char *producer;
    const char *description;
} sp_topic_def;

extern const sp_topic_def sp_topic_table[SP_TOPIC__COUNT];

/* Returns the id of the topic with this name, or -1. */
int sp_topic_lookup(const char *name);

#endif
