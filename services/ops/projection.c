/* projection.c - applying events to ops's read model. See projection.h. */
#include <stdio.h>
#include <string.h>
#include "dates.h"
#include "projection.h"

/* KEYS: seen, timeline, case, clocks. ARGV: event id, timeline entry, then
 * the number of case field pairs, the pairs, then an optional clock name and
 * its JSON. */
static const char apply_lua[] =
    "if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "local n = tonumber(ARGV[3])\n"
    "if n > 0 then redis.call('HSET', KEYS[3], unpack(ARGV, 4, 3 + 2 * n)) end\n"
    "local c = 4 + 2 * n\n"
    "if ARGV[c] then redis.call('HSET', KEYS[4], ARGV[c], ARGV[c + 1]) end\n"
    "return 1\n";

#define MAX_ARGS 32

typedef struct apply_args {
    const char *argv[MAX_ARGS];
    int argc;
} apply_args;

static void arg(apply_args *a, const char *s) {
    if (a->argc < MAX_ARGS) a->argv[a->argc++] = s ? s : "";
}

static const char *str(const cJSON *o, const char *name) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* The date the event is about, for the timeline: the business date the
 * regulations count from, else the day it was recorded. */
static const char *business_date(const sp_event *ev, char *buf, size_t size) {
    static const char *fields[] = {"received_date", "date", "decision_date",
                                   "started_on", NULL};
    for (int i = 0; fields[i]; i++)
        if (sp_event_str(ev, fields[i])) return sp_event_str(ev, fields[i]);
    return sp_date_iso(sp_date_from_ms(ev->time_ms), buf, size);
}

static char *timeline_entry(const sp_event *ev) {
    char buf[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ev->id);
    cJSON_AddStringToObject(o, "type", ev->type);
    cJSON_AddStringToObject(o, "time", ev->time);
    cJSON_AddStringToObject(o, "business_date", business_date(ev, buf, sizeof(buf)));
    if (sp_event_str(ev, "clock")) cJSON_AddStringToObject(o, "clock", sp_event_str(ev, "clock"));
    if (sp_event_str(ev, "template"))
        cJSON_AddStringToObject(o, "template", sp_event_str(ev, "template"));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Case fields a request.received sets. name_buf holds the child's name. */
static int request_fields(apply_args *a, const sp_event *ev, char *name_buf, size_t size) {
    const cJSON *child = cJSON_GetObjectItemCaseSensitive(ev->data, "child");
    const cJSON *school = cJSON_GetObjectItemCaseSensitive(ev->data, "school");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(ev->data, "requester");
    snprintf(name_buf, size, "%s %s", str(child, "given_name") ? str(child, "given_name") : "",
             str(child, "family_name") ? str(child, "family_name") : "");
    arg(a, "status"), arg(a, "received");
    arg(a, "received_date"), arg(a, sp_event_str(ev, "received_date"));
    arg(a, "child_name"), arg(a, name_buf);
    arg(a, "school_urn"), arg(a, str(school, "urn"));
    arg(a, "school_name"), arg(a, str(school, "name"));
    arg(a, "requester_type"), arg(a, str(req, "type"));
    return 6;
}

/* The clock's state as ops shows it, from a deadline.* event. */
static char *clock_json(const sp_event *ev) {
    const char *kind = ev->type + strlen("deadline.");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "clock", sp_event_str(ev, "clock"));
    cJSON_AddStringToObject(o, "clock_id", sp_event_str(ev, "clock_id") ?
                            sp_event_str(ev, "clock_id") : "");
    if (sp_event_str(ev, "started_on"))
        cJSON_AddStringToObject(o, "started_on", sp_event_str(ev, "started_on"));
    if (sp_event_str(ev, "due_date"))
        cJSON_AddStringToObject(o, "due_date", sp_event_str(ev, "due_date"));
    cJSON_AddStringToObject(o, "state", !strcmp(kind, "started") ? "open" : kind);
    cJSON *ex = cJSON_GetObjectItemCaseSensitive(ev->data, "excepted");
    cJSON_AddBoolToObject(o, "excepted", cJSON_IsTrue(ex));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int ops_projection_apply(sp_redis *r, const sp_event *ev, sp_redis_cb cb, void *priv) {
    char k_seen[96], k_tl[96], k_case[96], k_clk[96], npairs[8], name[256];
    apply_args a = {{0}, 0};
    char *entry = timeline_entry(ev), *clock = NULL;
    int pairs = 0, rc;
    snprintf(k_seen, sizeof(k_seen), "ops:seen:%s", ev->subject);
    snprintf(k_tl, sizeof(k_tl), "ops:timeline:%s", ev->subject);
    snprintf(k_case, sizeof(k_case), "ops:case:%s", ev->subject);
    snprintf(k_clk, sizeof(k_clk), "ops:clocks:%s", ev->subject);
    arg(&a, "EVAL"), arg(&a, apply_lua), arg(&a, "4");
    arg(&a, k_seen), arg(&a, k_tl), arg(&a, k_case), arg(&a, k_clk);
    arg(&a, ev->id), arg(&a, entry);
    int npos = a.argc;
    arg(&a, "0");
    if (!strcmp(ev->type, "request.received"))
        pairs = request_fields(&a, ev, name, sizeof(name));
    snprintf(npairs, sizeof(npairs), "%d", pairs);
    a.argv[npos] = npairs;
    if (!strncmp(ev->type, "deadline.", 9) && sp_event_str(ev, "clock")) {
        clock = clock_json(ev);
        arg(&a, sp_event_str(ev, "clock")), arg(&a, clock);
    }
    rc = sp_redis_command_argv(r, cb, priv, a.argc, a.argv, NULL);
    cJSON_free(entry);
    cJSON_free(clock);
    return rc;
}
