/* api.c - GET /v1/cases/{id}: a case with its timeline and clocks.
 *
 * The three reads are pipelined on one connection; replies arrive in order
 * and each is copied into the answer as it comes, since a hiredis reply is
 * valid only inside its callback. A school's token sees only cases naming
 * its school (the projection's school_urn), checked once all replies are in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "auth.h"
#include "ids.h"
#include "log.h"

typedef struct case_read {
    sp_http_req *http;
    cJSON *out;
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
        cJSON_Delete(cr->out); /* before 404: a school learns nothing of others' ids */
        sp_auth_respond_school_forbidden(cr->http, "case_id");
    } else if (!cr->found) {
        cJSON_Delete(cr->out);
        sp_http_respond_problem(cr->http, 404, "No such case", NULL, NULL);
    } else {
        sp_http_respond_json(cr->http, 200, cr->out);
    }
    free(cr);
}

static void case_fields_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        cr->failed = 1;
    } else {
        cr->found = rep->elements > 0;
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            cJSON_AddStringToObject(cr->out, rep->element[i]->str, rep->element[i + 1]->str);
            if (!strcmp(rep->element[i]->str, "school_urn"))
                snprintf(cr->school_urn, sizeof(cr->school_urn), "%s", rep->element[i + 1]->str);
        }
    }
    case_read_step(cr);
}

/* Adds each JSON string element of rep to a new array named name. */
static void add_json_array(case_read *cr, redisReply *rep, const char *name, int pairs) {
    cJSON *arr = cJSON_AddArrayToObject(cr->out, name);
    for (size_t i = pairs; i < rep->elements; i += 1 + pairs) {
        cJSON *item = cJSON_Parse(rep->element[i]->str);
        if (item) cJSON_AddItemToArray(arr, item);
    }
}

static void case_timeline_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) cr->failed = 1;
    else add_json_array(cr, rep, "timeline", 0);
    case_read_step(cr);
}

static void case_clocks_cb(sp_redis *r, redisReply *rep, void *priv) {
    case_read *cr = priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) cr->failed = 1;
    else add_json_array(cr, rep, "clocks", 1); /* values of field/value pairs */
    case_read_step(cr);
}

static void handle_case(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    const char *id = sp_http_req_param(req, "id");
    case_read *cr;
    if (!id || !sp_case_id_valid(id)) {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", "id");
        cJSON_AddStringToObject(e, "reason", "is not a case id (c_ and 26 characters)");
        cJSON_AddItemToArray(errs, e);
        sp_http_respond_problem(req, 400, "Invalid case id", NULL, errs);
        return;
    }
    cr = calloc(1, sizeof(*cr));
    cr->http = req;
    cr->out = cJSON_CreateObject();
    cJSON_AddStringToObject(cr->out, "case_id", id);
    cr->pending = 1; /* released below */
    if (sp_redis_command(s->redis, case_fields_cb, cr, "HGETALL ops:case:%s", id) == 0)
        cr->pending++;
    else
        cr->failed = 1;
    if (sp_redis_command(s->redis, case_timeline_cb, cr, "LRANGE ops:timeline:%s 0 -1", id) == 0)
        cr->pending++;
    else
        cr->failed = 1;
    if (sp_redis_command(s->redis, case_clocks_cb, cr, "HGETALL ops:clocks:%s", id) == 0)
        cr->pending++;
    else
        cr->failed = 1;
    case_read_step(cr);
}

void ops_api_register(sp_service *s) {
    sp_http_route_scoped(s->http, "GET", "/v1/cases/:id", "ops:read casework:write school",
                         handle_case, s);
}
