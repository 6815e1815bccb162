/* cases.c - GET /v1/cases/{id}. See cases.h.
 *
 * Three reads pipelined on one connection (case hash, timeline, clocks);
 * replies arrive in order and each is copied into the answer as it comes,
 * since a hiredis reply is valid only inside its callback. The timeline is
 * kept in arrival order, which differs between a live run and a rebuild
 * (topics interleave differently), so it is sorted here by business date,
 * then time, then event id: the same events always read the same. A school's
 * token sees only cases naming its school, checked once all replies are in
 * and before the 404, so a school learns nothing of other schools' ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "cases.h"
#include "deadlines.h"
#include "ids.h"
#include "log.h"
#include "teams.h"

typedef struct case_read {
    sp_service *s;
    sp_http_req *http;
    cJSON *out, *advice, *exceptions;
    int pending, failed, found;
    char school_urn[16];
} case_read;

static void case_read_step(case_read *cr) {
    if (--cr->pending > 0) return;
    if (cr->failed) {
        cJSON_Delete(cr->out);
        sp_http_respond_problem(cr->http, 503, "Unavailable", "The read model is "
                                "unavailable; retry", NULL);
    } else if (!sp_auth_req_school_ok(cr->http, cr->school_urn)) {
        cJSON_Delete(cr->out);
        sp_auth_respond_school_forbidden(cr->http, "case_id");
    } else if (!cr->found) {
        cJSON_Delete(cr->out);
        sp_http_respond_problem(cr->http, 404, "No such case", NULL, NULL);
    } else {
        sp_http_respond_json(cr->http, 200, cr->out);
    }
    free(cr);
}

/* adv:<adviser> = requested on, advr:<adviser> = received on. */
static void case_advice(case_read *cr, const char *field, const char *value) {
    int returned = !strncmp(field, "advr:", 5);
    const char *who = field + (returned ? 5 : 4);
    cJSON *a = NULL, *it;
    cJSON_ArrayForEach(it, cr->advice)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "adviser")), who)) a = it;
    if (!a) {
        a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "adviser", who);
        cJSON_AddItemToArray(cr->advice, a);
    }
    cJSON_AddStringToObject(a, returned ? "received_on" : "requested_on", value);
}

static void case_missing_advice(case_read *cr) {
    cJSON *missing = cJSON_AddArrayToObject(cr->out, "missing_advice"), *it;
    cJSON_ArrayForEach(it, cr->advice)
        if (cJSON_GetObjectItem(it, "requested_on") && !cJSON_GetObjectItem(it, "received_on"))
            cJSON_AddItemToArray(missing, cJSON_CreateString(
                cJSON_GetStringValue(cJSON_GetObjectItem(it, "adviser"))));
}

static void case_fields_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    const char *urn = NULL;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        cr->failed = 1;
        case_read_step(cr);
        return;
    }
    cr->found |= rep->elements > 0;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const char *k = rep->element[i]->str, *v = rep->element[i + 1]->str;
        if (!strncmp(k, "adv:", 4) || !strncmp(k, "advr:", 5)) case_advice(cr, k, v);
        else if (!strncmp(k, "exc:", 4)) cJSON_AddStringToObject(cr->exceptions, k + 4, v);
        else cJSON_AddStringToObject(cr->out, k, v);
        if (!strcmp(k, "school_urn")) urn = v;
    }
    if (urn) snprintf(cr->school_urn, sizeof(cr->school_urn), "%s", urn);
    cJSON_AddStringToObject(cr->out, "team", ops_teams_of(ops_of(cr->s)->teams, urn));
    case_missing_advice(cr);
    case_read_step(cr);
}

static int timeline_cmp(const void *a, const void *b) {
    static const char *const keys[] = {"business_date", "time", "id"};
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    for (int i = 0; i < 3; i++) {
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(x, keys[i]));
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(y, keys[i]));
        int c = strcmp(u ? u : "", v ? v : "");
        if (c) return c;
    }
    return 0;
}

static void notification_add(cJSON *notes, const cJSON *entry) {
    static const char *const fields[] = {"business_date", "type", "template",
                                         "recipient_role", "channel", "outcome", NULL};
    cJSON *n = cJSON_CreateObject();
    for (int i = 0; fields[i]; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(entry, fields[i]));
        if (v) cJSON_AddStringToObject(n, fields[i], v);
    }
    cJSON_AddItemToArray(notes, n);
}

static void case_timeline_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    cJSON **items;
    size_t n = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY ||
        !(items = calloc(rep->elements + 1, sizeof(*items)))) {
        cr->failed = 1;
        case_read_step(cr);
        return;
    }
    for (size_t i = 0; i < rep->elements; i++)
        if ((items[n] = cJSON_Parse(rep->element[i]->str))) n++;
    cr->found |= n > 0; /* deadlines may arrive before the request */
    if (n) qsort(items, n, sizeof(*items), timeline_cmp);
    cJSON *tl = cJSON_AddArrayToObject(cr->out, "timeline");
    cJSON *notes = cJSON_AddArrayToObject(cr->out, "notifications");
    for (size_t i = 0; i < n; i++) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(items[i], "type"));
        if (type && !strncmp(type, "notification.", 13)) notification_add(notes, items[i]);
        cJSON_AddItemToArray(tl, items[i]);
    }
    free(items);
    case_read_step(cr);
}

/* An open clock gets its state today, as the deadline lists show it. */
static void clock_state(case_read *cr, cJSON *c) {
    ops_deadline d = {0};
    const char *due = cJSON_GetStringValue(cJSON_GetObjectItem(c, "due_date"));
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
    if (!due || !status || strcmp(status, "open") || sp_date_parse(due, &d.due) ||
        cJSON_IsTrue(cJSON_GetObjectItem(c, "informational")))
        return;
    ops_deadline_classify(&d, ops_today(cr->s), ops_of(cr->s)->holidays,
                          (int)ops_conf_of(cr->s)->approaching_wd);
    cJSON_AddStringToObject(c, "state", ops_dl_state_names[d.state]);
    if (d.state == OPS_DL_OVERDUE) cJSON_AddNumberToObject(c, "days_overdue", d.days_overdue);
    else cJSON_AddNumberToObject(c, "working_days_left", d.working_days_left);
}

static int clock_cmp(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(x, "due_date"));
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(y, "due_date"));
    int c = strcmp(u ? u : "", v ? v : "");
    if (c) return c;
    u = cJSON_GetStringValue(cJSON_GetObjectItem(x, "clock_id"));
    v = cJSON_GetStringValue(cJSON_GetObjectItem(y, "clock_id"));
    return strcmp(u ? u : "", v ? v : "");
}

static void case_clocks_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    cJSON **items;
    size_t n = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY ||
        !(items = calloc(rep->elements / 2 + 1, sizeof(*items)))) {
        cr->failed = 1;
        case_read_step(cr);
        return;
    }
    for (size_t i = 1; i < rep->elements; i += 2)
        if ((items[n] = cJSON_Parse(rep->element[i]->str))) n++;
    if (n) qsort(items, n, sizeof(*items), clock_cmp);
    cJSON *all = cJSON_AddArrayToObject(cr->out, "clocks");
    cJSON *open = cJSON_AddArrayToObject(cr->out, "open_clocks");
    for (size_t i = 0; i < n; i++) {
        clock_state(cr, items[i]);
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(items[i], "status"));
        if (status && !strcmp(status, "open"))
            cJSON_AddItemToArray(open, cJSON_Duplicate(items[i], 1));
        cJSON_AddItemToArray(all, items[i]);
    }
    free(items);
    case_read_step(cr);
}

/* Every key of a case is on its partition's server (redis.shards). */
static void case_send(case_read *cr, sp_redis_cb cb, const char *fmt, const char *id) {
    sp_redis *r = sp_service_redis_of(cr->s, id);
    if (r && sp_redis_command(r, cb, cr, fmt, id) == 0) cr->pending++;
    else cr->failed = 1;
}

static void handle_case(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    const char *id = sp_http_req_param(req, "id");
    case_read *cr;
    if (!id || !sp_case_id_valid(id)) {
        ops_bad_param(req, "id", "is not a case id (c_ and 26 characters)");
        return;
    }
    if (!(cr = calloc(1, sizeof(*cr)))) {
        sp_http_respond_problem(req, 503, "Unavailable", "out of memory", NULL);
        return;
    }
    cr->s = s;
    cr->http = req;
    cr->out = cJSON_CreateObject();
    cJSON_AddStringToObject(cr->out, "case_id", id);
    cr->advice = cJSON_AddArrayToObject(cr->out, "advice");
    cr->exceptions = cJSON_AddObjectToObject(cr->out, "exceptions");
    cr->pending = 1; /* released below */
    case_send(cr, case_fields_cb, "HGETALL ops:case:%s", id);
    case_send(cr, case_timeline_cb, "LRANGE ops:timeline:%s 0 -1", id);
    case_send(cr, case_clocks_cb, "HGETALL ops:clocks:%s", id);
    case_read_step(cr);
}

void ops_cases_register(sp_service *s) {
    sp_http_route_scoped(s->http, "GET", "/v1/cases/:id", "ops:read casework:write school",
                         handle_case, s);
}
