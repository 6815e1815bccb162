/* timers.h - the timers service's state, shared by its modules.
 *
 *   rules.c   the clock table         record.c  records and fire schedules
 *   store.c   Redis keys and scripts  events.c  deadline events
 *   apply.c   case events -> clocks   fire.c    due clocks -> events
 *   main.c    config and wiring */
#ifndef TIMERS_H
#define TIMERS_H

#include "holidays.h"
#include "record.h"
#include "rules.h"
#include "service.h"

#define TIMERS_MAX_SHARDS 256

typedef struct timers_conf {
    sp_common_conf common;
    int receipt_is_day_one;
    char *holidays_file;
    char *approaching;
    long long overdue_repeat_days;
    long long fire_hour;
    long long tick_ms;
    long long poll_ms;
    long long fire_batch;
    long long lease_ms;
    long long store_layout;
    char *milestones;
} timers_conf;

typedef struct timers_state {
    timers_ruleset rules;
    timers_counting counting;
    timers_schedule schedule;
    sp_holidays *holidays;
    unsigned char owned[TIMERS_MAX_SHARDS];    /* partitions assigned to us */
    unsigned char inflight[TIMERS_MAX_SHARDS]; /* fire rounds out (fire.c) */
    unsigned char fetching[TIMERS_MAX_SHARDS]; /* a round's due script is out */
    unsigned char more[TIMERS_MAX_SHARDS];     /* the last round hit the limit */
    int64_t next_due[TIMERS_MAX_SHARDS];       /* the shard's next fire time after
                                                  its last round (INT64_MAX: none) */
    int64_t polled_at[TIMERS_MAX_SHARDS];      /* when its last round fetched; 0: look
                                                  at the next tick (fire.c) */
    struct apply_arms *arming; /* apply.c: starts gathered from the batch being
                                  applied, by shard; NULL between batches */
    uv_timer_t tick;
    uv_timer_t soon;  /* the next fire time, when it comes before the tick */
    int64_t soon_at;
    sp_metric *m_fired, *m_armed, *m_stopped, *m_lateness, *m_parked;
} timers_state;

/* apply.c: a batch of case or evidence events. */
void timers_apply_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n);

/* fire.c */
void timers_fire_start(sp_service *s);
void timers_fire_stop(sp_service *s);
/* Runs a fire round now (the manual clock moved, a shard was assigned). */
void timers_fire_kick(sp_service *s);
/* This instance is writing clocks to shard: look for due ones at the next
 * tick, not only when its known next clock falls due. */
void timers_fire_touch(sp_service *s, int shard);

#endif
