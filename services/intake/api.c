/* api.c - intake's HTTP API.
 *
 *   POST /v1/requests               a request for an EHC needs assessment
 *   POST /v1/sen-support            a SEN Support plan registered by a school
 *   POST /v1/plans                  an EHC plan made before sendpath (import)
 *   POST /v1/cases/{id}/<command>   every casework command (commands.c)
 *   POST /v1/cases/{id}/commands    the same, named in the body as on Kafka
 *   GET  /v1/cases/{id}             the case's state as intake holds it (410
 *                                   once erased)
 *   POST /v1/cases/{id}/erase, DELETE /v1/cases/{id}: erase.c
 *
 * Each handler only translates: HTTP in, submit.c, HTTP out. Who may call
 * what is the scope column of the route table at the end (auth.h); a school's
 * token is further held to its own pupils here, where the school is known:
 * the body's school for a new case, the case's stored school otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "auth.h"
#include "commands.h"
#include "erase.h"
#include "ids.h"
#include "submit.h"

/* Route patterns must outlive the server: built once, kept here. */
static char route_patterns[64][96];

static void answer(sp_service *s, intake_result *res, void *opaque) {
    sp_http_req *r = opaque;
    char loc[96];
    if (res->status != 201) {
        cJSON *errs = res->errors;
        res->errors = NULL;
        if (res->status == 409 && res->state[0] && !errs) {
            errs = cJSON_CreateArray();
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "field", "state");
            cJSON_AddStringToObject(e, "reason", res->detail);
            cJSON_AddStringToObject(e, "state", res->state);
            cJSON_AddItemToArray(errs, e);
        }
        sp_http_respond_problem(r, res->status, res->title, res->detail[0] ? res->detail : NULL,
                                errs);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "case_id", res->case_id);
    cJSON_AddStringToObject(o, "state", res->state);
    if (res->event_type[0]) cJSON_AddStringToObject(o, "event_type", res->event_type);
    if (res->event_id[0]) cJSON_AddStringToObject(o, "event_id", res->event_id);
    if (res->linked_case_id[0])
        cJSON_AddStringToObject(o, "linked_case_id", res->linked_case_id);
    /* Kept for clients of the first release, which read "status". */
    cJSON_AddStringToObject(o, "status", res->state);
    snprintf(loc, sizeof(loc), "/v1/cases/%s", res->case_id);
    sp_http_req_add_header(r, "Location", loc);
    if (res->replayed) sp_http_req_add_header(r, "Idempotent-Replayed", "true");
    sp_http_respond_json(r, 201, o);
}

/* Parses the body within the service's limits (input.max_depth; the HTTP
 * layer has bounded the size); answers 400 itself and returns NULL when it is
 * not JSON or nests too deep. */
static cJSON *json_body(sp_http_req *r, sp_service *s) {
    size_t len;
    const char *text = sp_http_req_body(r, &len);
    sp_json_limits lim = sp_service_json_limits(s);
    sp_json_refusal why;
    char reason[64];
    cJSON *body = sp_json_parse_limited(text, len, &lim, &why);
    if (!body) {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", "(body)");
        cJSON_AddStringToObject(e, "reason",
                                sp_json_refusal_reason(why, &lim, reason, sizeof(reason)));
        cJSON_AddItemToArray(errs, e);
        sp_http_respond_problem(r, why == SP_JSON_TOO_BIG ? 413 : 400, "Invalid request",
                                "The body must be a JSON object", errs);
    }
    return body;
}

/* A school may open a case only for a pupil of its own. */
static const char *body_school_urn(const cJSON *body) {
    const cJSON *school = cJSON_GetObjectItemCaseSensitive(body, "school");
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(school, "urn"));
}

static void handle_create(sp_http_req *r, sp_service *s, intake_create_kind kind) {
    cJSON *body = json_body(r, s);
    if (!body) return;
    if (!sp_auth_req_school_ok(r, body_school_urn(body))) {
        cJSON_Delete(body);
        sp_auth_respond_school_forbidden(r, "school.urn");
        return;
    }
    const char *key = intake_idempotency_key(sp_http_req_header(r, "Idempotency-Key"), body);
    intake_submit_create(s, kind, body, key, answer, r);
    cJSON_Delete(body);
}

static void handle_request(sp_http_req *r, void *opaque) {
    handle_create(r, opaque, INTAKE_CREATE_REQUEST);
}

static void handle_sen_support(sp_http_req *r, void *opaque) {
    handle_create(r, opaque, INTAKE_CREATE_SEN_SUPPORT);
}

static void handle_plan(sp_http_req *r, void *opaque) {
    handle_create(r, opaque, INTAKE_CREATE_PLAN);
}

/* How a school's token is held to its pupils on a command it may send. */
typedef enum { SCHOOL_NEVER, SCHOOL_BY_BODY, SCHOOL_BY_CASE } school_check;

/* The commands a school sends itself; every other one is the authority's. */
static const struct {
    const char *command;
    school_check check;
} school_commands[] = {
    {"school_response", SCHOOL_BY_BODY},   /* its answer to a consultation */
    {"sen_support_review", SCHOOL_BY_CASE}, /* its own SEN Support pupil */
};

typedef struct command_route {
    sp_service *s;
    const intake_command *c;
    school_check school;
} command_route;

static command_route command_routes[64];

static void submit_command(sp_http_req *r, command_route *cr, cJSON *body) {
    const char *key = intake_idempotency_key(sp_http_req_header(r, "Idempotency-Key"), body);
    intake_submit_command(cr->s, cr->c, sp_http_req_param(r, "id"), body, key, answer, r);
}

/* A command from a school, waiting for the case's school to be read. */
typedef struct school_wait {
    sp_http_req *r;
    command_route *cr;
    cJSON *body;
} school_wait;

static void command_school_read(sp_redis *rd, redisReply *rep, void *priv) {
    school_wait *w = priv;
    if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL))
        sp_http_respond_problem(w->r, 503, "Unavailable", "Storage is unavailable; retry",
                                NULL);
    else if (!sp_auth_req_school_ok(w->r, rep->type == REDIS_REPLY_STRING ? rep->str : NULL))
        sp_auth_respond_school_forbidden(w->r, "case_id");
    else
        submit_command(w->r, w->cr, w->body);
    cJSON_Delete(w->body);
    free(w);
}

static void handle_command(sp_http_req *r, void *opaque) {
    command_route *cr = opaque;
    const char *id = sp_http_req_param(r, "id");
    cJSON *body = json_body(r, cr->s);
    school_wait *w;
    if (!body) return;
    if (cr->school == SCHOOL_BY_BODY &&
        !sp_auth_req_school_ok(r, cJSON_GetStringValue(
                                      cJSON_GetObjectItemCaseSensitive(body, "school_urn")))) {
        sp_auth_respond_school_forbidden(r, "school_urn");
    } else if (cr->school == SCHOOL_BY_CASE && !sp_auth_req_any_school(r) &&
               id && sp_case_id_valid(id) && (w = calloc(1, sizeof(*w)))) {
        *w = (school_wait){r, cr, body};
        if (sp_redis_command(sp_service_redis_of(cr->s, id), command_school_read, w,
                             "HGET intake:case:%s school_urn", id) == 0)
            return; /* body is w's now */
        free(w);
        sp_http_respond_problem(r, 503, "Unavailable", "Storage is unavailable; retry", NULL);
    } else if (cr->school == SCHOOL_BY_CASE && !sp_auth_req_any_school(r)) {
        sp_auth_respond_school_forbidden(r, "case_id");
    } else {
        submit_command(r, cr, body);
    }
    cJSON_Delete(body);
}

static school_check command_school_check(const intake_command *c) {
    for (size_t i = 0; i < sizeof(school_commands) / sizeof(school_commands[0]); i++)
        if (!strcmp(school_commands[i].command, c->name)) return school_commands[i].check;
    return SCHOOL_NEVER;
}

/* The Kafka shape over HTTP: {"command": "<name>", ...fields}. Lets a case
 * system send every command to one URL, and the importer replay steps. */
static void handle_named_command(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    cJSON *body = json_body(r, s);
    if (!body) return;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "command"));
    const intake_command *c = name ? intake_command_by_name(name) : NULL;
    if (!c) {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", "command");
        cJSON_AddStringToObject(e, "reason", "is missing or not a known command");
        cJSON_AddItemToArray(errs, e);
        sp_http_respond_problem(r, 400, "Invalid command", NULL, errs);
    } else {
        const char *key = intake_idempotency_key(sp_http_req_header(r, "Idempotency-Key"), body);
        intake_submit_command(s, c, sp_http_req_param(r, "id"), body, key, answer, r);
    }
    cJSON_Delete(body);
}

typedef struct case_get {
    sp_service *s;
    sp_http_req *r;
    char case_id[40];
} case_get;

static void case_got(sp_redis *rd, redisReply *rep, void *priv) {
    case_get *g = priv;
    static const char *names[] = {"state", NULL, "received_date", NULL, "kind", NULL,
                                  "school_urn"};
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 7) {
        sp_http_respond_problem(g->r, 503, "Unavailable", "Storage is unavailable; retry", NULL);
    } else if (!sp_auth_req_school_ok(g->r, rep->element[6]->type == REDIS_REPLY_STRING
                                                ? rep->element[6]->str : NULL)) {
        /* Before "no such case": a school learns nothing of others' ids. */
        sp_auth_respond_school_forbidden(g->r, "case_id");
    } else if (rep->element[0]->type != REDIS_REPLY_STRING) {
        intake_erase_answer_missing(g->s, g->r, g->case_id); /* 404, or 410 if erased */
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "case_id", g->case_id);
        for (size_t i = 0; i < 7; i++)
            if (names[i] && rep->element[i]->type == REDIS_REPLY_STRING &&
                rep->element[i]->len)
                cJSON_AddStringToObject(o, names[i], rep->element[i]->str);
        sp_http_respond_json(g->r, 200, o);
    }
    free(g);
}

static void handle_case(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    const char *id = sp_http_req_param(r, "id");
    case_get *g;
    if (!id || !sp_case_id_valid(id)) {
        sp_http_respond_problem(r, 404, "No such case", "A case id is c_ and 26 characters",
                                NULL);
        return;
    }
    if (!(g = calloc(1, sizeof(*g)))) {
        sp_http_respond_problem(r, 500, "Internal Server Error", "Out of memory", NULL);
        return;
    }
    g->s = s;
    g->r = r;
    snprintf(g->case_id, sizeof(g->case_id), "%s", id);
    if (sp_redis_command(sp_service_redis_of(s, id), case_got, g,
                         "HMGET intake:case:%s state child received_date date_of_birth kind "
                         "profile school_urn", id)) {
        free(g);
        sp_http_respond_problem(r, 503, "Unavailable", "Storage is unavailable; retry", NULL);
    }
}

/* The route table; the third column is who may call (auth.h). */
int intake_api_register(sp_service *s) {
    sp_http *h = s->http;
    sp_http_route_scoped(h, "POST", "/v1/requests", "intake:write school", handle_request, s);
    sp_http_route_scoped(h, "POST", "/v1/sen-support", "intake:write school",
                         handle_sen_support, s);
    sp_http_route_scoped(h, "POST", "/v1/plans", "casework:write", handle_plan, s);
    sp_http_route_scoped(h, "GET", "/v1/cases/:id", "intake:write casework:write ops:read school",
                         handle_case, s);
    /* One URL for every command: the authority's case system only. */
    sp_http_route_scoped(h, "POST", "/v1/cases/:id/commands", "casework:write",
                         handle_named_command, s);
    for (int i = 0; i < intake_commands_count && i < 64; i++) {
        snprintf(route_patterns[i], sizeof(route_patterns[i]), "/v1/cases/:id/%s",
                 intake_commands[i].path);
        school_check sc = command_school_check(&intake_commands[i]);
        command_routes[i] = (command_route){s, &intake_commands[i], sc};
        if (sp_http_route_scoped(h, "POST", route_patterns[i],
                                 sc == SCHOOL_NEVER ? "casework:write" : "casework:write school",
                                 handle_command, &command_routes[i]))
            return -1;
    }
    return 0;
}
