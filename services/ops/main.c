/* main.c - sendpath-ops: the read model, its API and the dashboard.
 *
 * Consumes every topic that says something about a case and applies each
 * event to its own Redis projection (projection.h). A batch's offsets are
 * stored once every event of it is applied, so a crash replays, and the
 * projection's event-id check makes the replay change nothing. With
 * --rebuild it drops the projection, makes it again from offset zero and
 * exits (rebuild.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cases.h"
#include "dashboard.h"
#include "deadlines.h"
#include "batch.h"
#include "envelope.h"
#include "erase.h"
#include "gauges.h"
#include "log.h"
#include "ops.h"
#include "pipeline.h"
#include "projection.h"
#include "rebuild.h"
#include "rebuild_workers.h"
#include "stats.h"
#include "teams.h"

#define O(f) offsetof(ops_conf, f)
static const sp_conf_def ops_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8105", 0, 65535,
     NULL, "HTTP port of the ops API and dashboard"},
    {"holidays.file", SP_CONF_STRING, O(holidays_file), "config/bank-holidays.json", 0, 0,
     NULL, "Bank holidays in the GOV.UK bank-holidays.json format (working days left)"},
    {"approaching_working_days", SP_CONF_INT, O(approaching_wd), "10", 0, 60, NULL,
     "A deadline due within this many working days is listed as approaching"},
    {"teams", SP_CONF_STRING, O(teams), "", 0, 0, NULL,
     "Casework teams by school: Team=URN,URN;Team2=URN (a school in none is in "
     "ops.team_default)"},
    {"team_default", SP_CONF_STRING, O(team_default), "unassigned", 0, 0, NULL,
     "Team of a school no row of ops.teams names"},
    {"gauge_interval_ms", SP_CONF_INT, O(gauge_interval_ms), "15000", 100, 3600000, NULL,
     "How often the sendpath_deadlines gauges are recounted"},
    {"page_max", SP_CONF_INT, O(page_max), "500", 1, 10000, NULL,
     "Largest page (limit) GET /v1/deadlines gives"},
    {"rebuild_wave_events", SP_CONF_INT, O(rebuild_wave_events), "500000", 1, 1000000000, NULL,
     "--rebuild: events read, folded and written per wave (a range of partitions); the "
     "rebuild holds at most two waves in memory"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef O

sp_date ops_today(sp_service *s) { return sp_date_from_ms(sp_service_now(s)); }

int ops_bad_param(sp_http_req *req, const char *param, const char *reason) {
    cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
    char title[96];
    cJSON_AddStringToObject(e, "field", param);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddItemToArray(errs, e);
    snprintf(title, sizeof(title), "Invalid parameter: %s", param);
    sp_http_respond_problem(req, 400, title, NULL, errs);
    return -1;
}

/* ---- applying batches ------------------------------------------------------ */

/* A shard's script call in flight: its pipeline. Owned by the pipeline. */
typedef struct ops_applying {
    sp_pipeline *p;
} ops_applying;

static void applied_cb(sp_redis *r, redisReply *reply, void *priv) {
    ops_applying *a = priv;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        sp_error("ops: apply failed: %s", reply && reply->str ? reply->str : "no connection");
        sp_pipeline_fail(a->p);
    }
    sp_pipeline_release(a->p);
}

/* Adds m to its partition's batch (made on first use), or sends it to the
 * dead-letter topic if it is not an event. */
static void ops_add_one(sp_service *s, sp_pipeline *p, ops_batch **by_part,
                        rd_kafka_message_t *m) {
    sp_event ev;
    char errstr[256];
    int part = m->partition;
    sp_service_count_in(s);
    if (sp_event_parse(m->payload, m->len, &ev, errstr, sizeof(errstr))) {
        sp_pipeline_deadletter(p, m, errstr);
        return;
    }
    if (ops_projection_wants(&ev)) {
        if (!by_part[part] && !(by_part[part] = ops_batch_new(part))) sp_pipeline_fail(p);
        else ops_projection_add(by_part[part], &ev);
    }
    sp_event_free(&ev);
}

/* The shards to read: a partition is a shard, and the topics may have more
 * partitions than common/topics.c says (the broker's count is what the
 * producers used). The most of the broker's count at start (s->partitions,
 * common/service.c, which falls back to the table's) and every partition
 * seen since. */
int ops_shards(sp_service *s) {
    ops_state *st = ops_of(s);
    return st->shards > s->partitions ? st->shards : s->partitions;
}

/* Notes the batch's partitions (ops_shards); returns one more than the
 * highest, at least ops_shards(). */
static int ops_shards_seen(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    ops_state *st = ops_of(s);
    for (size_t i = 0; i < n; i++)
        if (msgs[i]->partition >= st->shards) st->shards = msgs[i]->partition + 1;
    return ops_shards(s);
}

/* The rebuild's progress counts every offset handed out, those the screen
 * drops included (an erased case's events: common/screen.h). */
static void ops_batch_seen(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    if (ops_of(s)->rebuild) ops_rebuild_batch(ops_of(s)->rebuild, msgs, n);
}

/* Sends one partition's events as one script call to the partition's
 * server; a failure fails the whole batch, whose retry is harmless (the
 * script drops what it applied already by event id). */
static void ops_send_part(sp_service *s, sp_pipeline *p, ops_applying *a, ops_batch *b,
                          int part) {
    sp_redis *r = sp_service_redis(s, part);
    a->p = p;
    sp_pipeline_hold(p);
    if (!r || ops_batch_send(b, r, applied_cb, a)) {
        sp_pipeline_fail(p);
        sp_pipeline_release(p);
    }
}

/* A batch is one script call per partition it holds (batch.h), each on
 * the partition's server; its offsets are stored once every server has
 * answered and any dead letters are acknowledged. */
static void ops_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    sp_pipeline *p = sp_pipeline_new(s, SP_TOPIC_DEADLETTER); /* ops publishes nothing */
    int parts = ops_shards_seen(s, msgs, n);
    ops_batch **by_part = calloc((size_t)parts, sizeof(*by_part));
    /* One per partition, owned (freed) by the pipeline. */
    ops_applying *a = calloc((size_t)parts, sizeof(*a));
    int failed = !p || !by_part || !a;
    if (!p) {
        free(a);
        goto out;
    }
    sp_pipeline_own(p, a);
    if (failed) {
        sp_pipeline_fail(p);
        goto out;
    }
    for (size_t i = 0; i < n; i++) ops_add_one(s, p, by_part, msgs[i]);
    for (int part = 0; part < parts; part++)
        failed |= by_part[part] && ops_batch_failed(by_part[part]);
    if (failed) {
        sp_pipeline_fail(p);
        goto out;
    }
    for (int part = 0; part < parts; part++) {
        if (!by_part[part] || !ops_batch_events(by_part[part])) continue;
        if (ops_of(s)->rebuild) ops_rebuild_fold(ops_of(s)->rebuild, by_part[part], part);
        else ops_send_part(s, p, &a[part], by_part[part], part);
    }
out:
    for (int part = 0; by_part && part < parts; part++) ops_batch_free(by_part[part]);
    free(by_part);
    if (p) sp_pipeline_release(p);
}

/* ---- life cycle -------------------------------------------------------------- */

static ops_state *ops_state_get(sp_service *s) {
    if (!s->priv) s->priv = calloc(1, sizeof(ops_state));
    return s->priv;
}

static int ops_parse_arg(sp_service *s, const char *arg) {
    ops_state *st = ops_state_get(s);
    if (!st || strcmp(arg, "--rebuild")) return 0;
    st->want_rebuild = 1;
    ops_rebuild_prepare();
    return 1;
}

/* The indexes of before they were per shard (ops:dl, ops:who,
 * ops:sen2:*) are never read; a deployment upgraded without a rebuild has
 * empty deadline lists until it runs one (docs/deploy.md), so say so. */
static void old_keys_cb(sp_redis *r, redisReply *reply, void *priv) {
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        sp_warn("ops: %lld index key(s) of the old one-server layout (ops:dl, ops:who, "
                "ops:sen2:*) found and ignored: run sendpath-ops --rebuild once (docs/deploy.md)",
                reply->integer);
}

/* redis.host, on every connect: the old layout's keys. */
static void ops_redis_state(sp_redis *r, int up, void *opaque) {
    sp_service *s = opaque;
    if (up && !ops_of(s)->rebuild)
        sp_redis_command(r, old_keys_cb, NULL, "EXISTS ops:dl ops:who ops:sen2:decided "
                         "ops:sen2:issued ops:sen2:arlate");
}

static int ops_init(sp_service *s, char *errstr, size_t size) {
    ops_state *st = ops_state_get(s);
    ops_conf *conf = s->conf;
    if (!st) return snprintf(errstr, size, "out of memory"), -1;
    if (!(st->holidays = sp_holidays_load(conf->holidays_file, errstr, size))) return -1;
    if (!(st->teams = ops_teams_parse(conf->teams, conf->team_default, errstr, size)))
        return -1;
    sp_redis_on_state(s->redis, ops_redis_state, s); /* redis.host: the old keys' check */
    if (st->want_rebuild) {
        if (!(st->rebuild = ops_rebuild_start(s, conf->rebuild_wave_events, errstr, size))) return -1;
    } else if (!(st->gauges = ops_gauges_start(s, (unsigned)conf->gauge_interval_ms))) {
        return snprintf(errstr, size, "out of memory"), -1;
    }
    ops_cases_register(s);
    ops_deadlines_register(s);
    ops_stats_register(s);
    ops_dashboard_register(s);
    sp_info("ops: %zu teams, %zu bank holidays%s", ops_teams_count(st->teams),
            st->holidays->count, st->rebuild ? "; rebuilding" : "");
    return 0;
}

static void ops_on_rebalance(sp_service *s, int assigned,
                             const rd_kafka_topic_partition_list_t *parts) {
    if (assigned && ops_of(s)->rebuild) ops_rebuild_assigned(ops_of(s)->rebuild, parts);
}

static void ops_on_clock(sp_service *s) {
    if (ops_of(s)->gauges) ops_gauges_refresh(ops_of(s)->gauges);
}

static void ops_stop(sp_service *s) {
    ops_state *st = ops_of(s);
    if (st->gauges) ops_gauges_stop(st->gauges);
    st->gauges = NULL;
    if (st->rebuild) ops_rebuild_free(st->rebuild);
    st->rebuild = NULL;
}

static void ops_fini(sp_service *s) {
    ops_state *st = ops_of(s);
    if (!st) return;
    sp_holidays_free(st->holidays);
    ops_teams_free(st->teams);
    free(st);
    s->priv = NULL;
}

static const int ops_topics[] = {SP_TOPIC_CASE_EVENTS, SP_TOPIC_DEADLINES,
                                 SP_TOPIC_EVIDENCE, SP_TOPIC_NOTIFICATIONS, -1};

static const sp_service_def ops_def = {
    .name = "ops",
    .conf_size = sizeof(ops_conf),
    .conf_table = ops_conf_table,
    .consume = ops_topics,
    .init = ops_init,
    .on_batch = ops_on_batch,
    .on_rebalance = ops_on_rebalance,
    .on_clock = ops_on_clock,
    .stop = ops_stop,
    .fini = ops_fini,
    .parse_arg = ops_parse_arg,
    .erase = ops_erase,
    .erase_in_order = 1, /* SEN2 counts the decisions before an erasure */
    .on_batch_seen = ops_batch_seen,
    .redis_by_partition = 1,
};

int main(int argc, char **argv) {
    char errstr[256];
    int workers = ops_rebuild_workers_arg(&argc, argv, errstr, sizeof(errstr));
    if (workers < 0) {
        fprintf(stderr, "sendpath-ops: %s\n", errstr);
        return 2;
    }
    if (workers > 1) return ops_rebuild_workers_run(&ops_def, argc, argv, workers);
    return sp_service_main(&ops_def, argc, argv);
}
