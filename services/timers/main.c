/* main.c - sendpath-timers: the statutory clocks.
 *
 * Consumes case and evidence events and turns them into clocks (apply.c);
 * fires due clocks as deadline events (fire.c). Clock state lives only in
 * Redis, sharded by the Kafka partition of the case: this instance fires the
 * shards whose partitions it is assigned, and a rebalance moves them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erase.h"
#include "log.h"
#include "layout.h"
#include "timers.h"

#define T(f) offsetof(timers_conf, f)
static const sp_conf_def timers_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8103", 0, 65535,
     NULL, "HTTP port of the timers service"},
    {"counting.receipt_is_day_one", SP_CONF_BOOL, T(receipt_is_day_one), "no", 0, 0, NULL,
     "Count the day a request is received as day 1 (due one day earlier than "
     "receipt + N weeks)"},
    {"holidays.file", SP_CONF_STRING, T(holidays_file), "config/bank-holidays.json", 0, 0,
     NULL, "Bank holidays in the GOV.UK bank-holidays.json format"},
    {"approaching.working_days", SP_CONF_STRING, T(approaching), "10,5", 0, 0, NULL,
     "Working days before a due date to announce it approaching (up to 4, "
     "comma-separated; empty for none)"},
    {"overdue.repeat_days", SP_CONF_INT, T(overdue_repeat_days), "7", 1, 365, NULL,
     "Days between repeated overdue events while a clock stays open"},
    {"fire.hour", SP_CONF_INT, T(fire_hour), "7", 0, 23, NULL,
     "Hour of the day (London time) clock events fire"},
    {"fire.tick_ms", SP_CONF_INT, T(tick_ms), "10", 1, 60000, NULL,
     "How often owned shards are checked for due clocks"},
    {"fire.poll_ms", SP_CONF_INT, T(poll_ms), "1000", 0, 3600000, NULL,
     "Longest an owned shard goes without a look for due clocks while its next clock "
     "is known to be later; what this instance writes there, a new assignment and a "
     "failed round make it look at the next tick. A clock written by anything else "
     "(another instance mid-rebalance, a hand edit) waits up to this long "
     "(0: look at every tick)"},
    {"fire.batch", SP_CONF_INT, T(fire_batch), "1000", 1, 100000, NULL,
     "Most clocks fired per shard per round"},
    {"fire.lease_ms", SP_CONF_INT, T(lease_ms), "60000", 0, 3600000, NULL,
     "How long the clocks of a fire round are held while its events are out, so a "
     "shard's next round can start before the broker acknowledges them; a crash "
     "fires them again when it ends (0: one round a shard at a time, no lease)"},
    {"store.layout", SP_CONF_INT, T(store_layout), "2", 1, 2, NULL,
     "How new clocks are written to Redis: 2 (short slots, packed records) or 1 (as "
     "before, while upgrading from a timers that reads only 1); both are always read"},
    {"milestones", SP_CONF_STRING, T(milestones), "", 0, 0, NULL,
     "Local milestones: name=start.event+5w/stop.event[,stop.event];..."},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef T

static int parse_approaching(timers_schedule *sch, const char *spec, char *errstr,
                             size_t size) {
    char buf[128], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
    sch->n_approaching = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int n = atoi(t);
        if (n <= 0 || n > 60 || sch->n_approaching == 4 ||
            (sch->n_approaching && n >= sch->approaching[sch->n_approaching - 1])) {
            snprintf(errstr, size, "timers.approaching.working_days: '%s' must be up to 4 "
                     "descending whole numbers from 60 to 1", spec);
            return -1;
        }
        sch->approaching[sch->n_approaching++] = n;
    }
    return 0;
}

static void timers_metrics(sp_service *s, timers_state *t) {
    static const double bounds[] = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5};
    t->m_fired = sp_metrics_counter(s->metrics, "sendpath_timers_fired_total",
                                    "Clock fire points published", NULL);
    t->m_armed = sp_metrics_counter(s->metrics, "sendpath_timers_armed_total",
                                    "Clocks armed", NULL);
    t->m_stopped = sp_metrics_counter(s->metrics, "sendpath_timers_stopped_total",
                                      "Clocks met or cancelled", NULL);
    t->m_parked = sp_metrics_counter(s->metrics, "sendpath_timers_parked_total",
                                     "Due clocks parked: their record could not be read",
                                     NULL);
    t->m_lateness = sp_metrics_histogram(s->metrics, "sendpath_timers_lateness_seconds",
                                         "How late a fire point was published", NULL,
                                         bounds, sizeof(bounds) / sizeof(bounds[0]));
}

static int timers_init(sp_service *s, char *errstr, size_t size) {
    timers_conf *conf = s->conf;
    timers_state *t = calloc(1, sizeof(*t));
    if (!t) return -1;
    s->priv = t;
    timers_layout_set((int)conf->store_layout);
    timers_rules_init(&t->rules);
    if (timers_rules_add_milestones(&t->rules, conf->milestones, errstr, size)) return -1;
    if (!(t->holidays = sp_holidays_load(conf->holidays_file, errstr, size))) return -1;
    t->counting.receipt_is_day_one = conf->receipt_is_day_one;
    t->counting.holidays = t->holidays;
    if (parse_approaching(&t->schedule, conf->approaching, errstr, size)) return -1;
    t->schedule.overdue_repeat_days = (int)conf->overdue_repeat_days;
    t->schedule.fire_hour = (int)conf->fire_hour;
    t->schedule.holidays = t->holidays;
    timers_metrics(s, t);
    timers_fire_start(s);
    sp_info("timers: %d clock rules, %zu bank holidays", t->rules.count, t->holidays->count);
    return 0;
}

/* Shards follow the partitions of the case-events topic. */
static void timers_rebalance(sp_service *s, int assigned,
                             const rd_kafka_topic_partition_list_t *parts) {
    timers_state *t = s->priv;
    for (int i = 0; i < parts->cnt; i++) {
        int p = parts->elems[i].partition;
        if (strcmp(parts->elems[i].topic, sp_topic_table[SP_TOPIC_CASE_EVENTS].name) ||
            p < 0 || p >= TIMERS_MAX_SHARDS)
            continue;
        t->owned[p] = (unsigned char)assigned;
        t->polled_at[p] = 0; /* another instance may have written it meanwhile */
    }
    if (assigned) timers_fire_kick(s);
}

static void timers_on_clock(sp_service *s) { timers_fire_kick(s); }
static void timers_stop(sp_service *s) { timers_fire_stop(s); }

static void timers_fini(sp_service *s) {
    timers_state *t = s->priv;
    if (!t) return;
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_close((uv_handle_t *)&t->soon, NULL);
    uv_run(s->loop, UV_RUN_NOWAIT);
    sp_holidays_free(t->holidays);
    free(t);
}

static const int timers_topics[] = {SP_TOPIC_CASE_EVENTS, SP_TOPIC_EVIDENCE, -1};

static const sp_service_def timers_def = {
    .name = "timers",
    .conf_size = sizeof(timers_conf),
    .conf_table = timers_conf_table,
    .consume = timers_topics,
    .redis_by_partition = 1, /* shard = partition: tm:{s<p>} */
    .init = timers_init,
    .on_batch = timers_apply_batch,
    .on_rebalance = timers_rebalance,
    .on_clock = timers_on_clock,
    .stop = timers_stop,
    .fini = timers_fini,
    .erase = timers_erase,
};

int main(int argc, char **argv) { return sp_service_main(&timers_def, argc, argv); }
