/* ops.h - the ops service's state, shared by its modules.
 *
 * One struct, hung on sp_service.priv, holds what ops reads at start-up (its
 * settings, the bank holidays, the team table) and the little it keeps while
 * running (the deadline gauges, the rebuild's progress). Each module owns the
 * part named for it; nothing here is a global. */
#ifndef OPS_H
#define OPS_H

#include "holidays.h"
#include "service.h"

typedef struct ops_teams ops_teams;
typedef struct ops_gauges ops_gauges;
typedef struct ops_rebuild ops_rebuild;

typedef struct ops_conf {
    sp_common_conf common;
    char *holidays_file;
    long long approaching_wd;
    char *teams;
    char *team_default;
    long long gauge_interval_ms;
    long long page_max;
    long long rebuild_wave_events;
} ops_conf;

typedef struct ops_state {
    sp_holidays *holidays;
    ops_teams *teams;
    ops_gauges *gauges;
    ops_rebuild *rebuild; /* non-NULL in --rebuild mode */
    int want_rebuild;     /* --rebuild was given */
    int shards;           /* partitions known to exist: ops_shards() */
} ops_state;

static inline ops_state *ops_of(sp_service *s) { return s->priv; }
static inline ops_conf *ops_conf_of(sp_service *s) { return s->conf; }

/* How many shards (partitions, ops:dl:{s<p>} ...) the reads must visit:
 * the topics' partition count, learned from the broker and the messages
 * when it exceeds common/topics.c's. */
int ops_shards(sp_service *s);

/* Today in Europe/London by the service's clock (manual in tests). */
sp_date ops_today(sp_service *s);

/* Answers 400 application/problem+json naming param and why; returns -1. */
int ops_bad_param(sp_http_req *req, const char *param, const char *reason);

#endif
