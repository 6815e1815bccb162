/* main.c - sendpath-intake: the front door for commands.
 *
 * Accepts commands over HTTP (and, later, the commands topic), checks them,
 * and publishes the accepted facts on the case-events topic. A command is
 * answered only after the broker has acknowledged its event: a 201 means the
 * fact is durable and every other service will see it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "ids.h"
#include "log.h"
#include "request.h"
#include "service.h"
#include "store.h"

typedef struct intake_conf {
    sp_common_conf common;
    long long idem_ttl_s;
} intake_conf;

static const sp_conf_def intake_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8101", 0, 65535,
     NULL, "HTTP port of the intake API"},
    {"idempotency.ttl_s", SP_CONF_INT, offsetof(intake_conf, idem_ttl_s), "7776000",
     60, 315360000, NULL, "How long a command's idempotency key is remembered (s)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* One request for assessment in flight: from HTTP in to the answer out. */
typedef struct submit {
    sp_service *s;
    sp_http_req *http;
    char case_id[SP_CASE_ID_LEN + 1];
    char idem_key[160];
    char received_date[16];
    int replayed;
} submit;

static void submit_answer(submit *sub, int status) {
    cJSON *o = cJSON_CreateObject();
    char loc[80];
    cJSON_AddStringToObject(o, "case_id", sub->case_id);
    cJSON_AddStringToObject(o, "status", "received");
    snprintf(loc, sizeof(loc), "/v1/cases/%s", sub->case_id);
    sp_http_req_add_header(sub->http, "Location", loc);
    if (sub->replayed) sp_http_req_add_header(sub->http, "Idempotent-Replayed", "true");
    sp_http_respond_json(sub->http, status, o);
    free(sub);
}

static void submit_fail(submit *sub, int status, const char *title, const char *detail) {
    sp_service_count_error(sub->s);
    sp_http_respond_problem(sub->http, status, title, detail, NULL);
    free(sub);
}

static void submit_done_cb(sp_redis *r, redisReply *reply, void *priv) {
    submit *sub = priv;
    /* The event is on the topic whatever this reply says; a lost "done" only
     * means a repeat republishes the same event id, which consumers drop. */
    if (!reply) sp_warn("intake: could not mark %s done", sub->case_id);
    submit_answer(sub, 201);
}

static void submit_delivered(rd_kafka_resp_err_t err, void *opaque) {
    submit *sub = opaque;
    if (err) {
        sp_log(SP_LOG_ERROR, sub->case_id, "request.received not delivered: %s",
               rd_kafka_err2str(err));
        submit_fail(sub, 503, "Not recorded", "The event could not be stored; retry "
                    "with the same idempotency key");
        return;
    }
    sp_log(SP_LOG_INFO, sub->case_id, "request received");
    if (intake_store_done(sub->s->redis, sub->idem_key, submit_done_cb, sub))
        submit_answer(sub, 201);
}

static void submit_publish(submit *sub, const char *event) {
    char errstr[256];
    if (sp_service_publish(sub->s, SP_TOPIC_CASE_EVENTS, sub->case_id, event,
                           strlen(event), submit_delivered, sub, errstr, sizeof(errstr))) {
        sp_log(SP_LOG_ERROR, sub->case_id, "%s", errstr);
        submit_fail(sub, 503, "Not recorded", "The event queue is full; retry with the "
                    "same idempotency key");
    }
}

static void submit_reserved(intake_reserve_result res, const char *case_id,
                            const char *event, void *opaque) {
    submit *sub = opaque;
    char detail[160];
    switch (res) {
    case INTAKE_RESERVE_NEW:
    case INTAKE_RESERVE_PENDING:
        snprintf(sub->case_id, sizeof(sub->case_id), "%s", case_id);
        sub->replayed = (res == INTAKE_RESERVE_PENDING);
        submit_publish(sub, event);
        return;
    case INTAKE_RESERVE_DONE:
        snprintf(sub->case_id, sizeof(sub->case_id), "%s", case_id);
        sub->replayed = 1;
        submit_answer(sub, 201);
        return;
    case INTAKE_RESERVE_CHILD_OPEN: {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        snprintf(detail, sizeof(detail), "This child already has an open case: %s", case_id);
        cJSON_AddStringToObject(e, "field", "child");
        cJSON_AddStringToObject(e, "reason", detail);
        cJSON_AddStringToObject(e, "case_id", case_id);
        cJSON_AddItemToArray(errs, e);
        sp_http_respond_problem(sub->http, 409, "Open case exists", detail, errs);
        free(sub);
        return;
    }
    case INTAKE_RESERVE_KEY_REUSED:
        submit_fail(sub, 422, "Idempotency key reused",
                    "This idempotency key was used for a different request");
        return;
    case INTAKE_RESERVE_ERROR:
        submit_fail(sub, 503, "Not recorded", "Storage is unavailable; retry");
        return;
    }
}

static char *request_event(sp_service *s, const char *case_id, cJSON *data) {
    char id[96];
    cJSON_AddStringToObject(data, "case_id", case_id);
    /* Every case event carries "date", the business date it happened on:
     * clocks count from it, whatever time the event itself arrives. */
    cJSON_AddStringToObject(data, "date", cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(data, "received_date")));
    snprintf(id, sizeof(id), "%s/request.received", case_id);
    return sp_event_build_text(id, s->source, "request.received", sp_service_now(s),
                               case_id, data);
}

static const char *idempotency_key(sp_http_req *r, const cJSON *body) {
    const char *h = sp_http_req_header(r, "Idempotency-Key");
    cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "idempotency_key");
    return h ? h : cJSON_GetStringValue(k);
}

static void bad_request(sp_http_req *r, cJSON *errors) {
    sp_http_respond_problem(r, 400, "Invalid request",
                            "The request has fields that are missing or wrong", errors);
}

static void handle_request(sp_http_req *r, void *opaque) {
    sp_service *s = opaque;
    intake_conf *conf = s->conf;
    size_t len;
    const char *text = sp_http_req_body(r, &len);
    cJSON *body = cJSON_ParseWithLength(text, len), *errors = NULL, *req;
    const char *key = idempotency_key(r, body);
    char child[INTAKE_CHILD_KEY_LEN + 1], fp[INTAKE_CHILD_KEY_LEN + 1];

    if (!body) {
        errors = cJSON_CreateArray();
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", "(body)");
        cJSON_AddStringToObject(e, "reason", "is not valid JSON");
        cJSON_AddItemToArray(errors, e);
        bad_request(r, errors);
        return;
    }
    req = intake_request_parse(body, sp_date_from_ms(sp_service_now(s)), &errors);
    if (!key || !*key || strlen(key) > 128) {
        if (!errors) errors = cJSON_CreateArray();
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "field", "idempotency_key");
        cJSON_AddStringToObject(e, "reason", "is required (1 to 128 characters), in the "
                                "body or the Idempotency-Key header");
        cJSON_AddItemToArray(errors, e);
    }
    if (errors) {
        sp_service_count_error(s);
        cJSON_Delete(req);
        cJSON_Delete(body);
        bad_request(r, errors);
        return;
    }
    submit *sub = calloc(1, sizeof(*sub));
    sub->s = s;
    sub->http = r;
    snprintf(sub->idem_key, sizeof(sub->idem_key), "%s", key);
    cJSON_Delete(body);
    snprintf(sub->received_date, sizeof(sub->received_date), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "received_date")));
    intake_request_child_key(req, child, sizeof(child));
    intake_request_fingerprint(req, fp, sizeof(fp));
    if (sp_case_id_new(sp_service_now(s), sub->case_id, sizeof(sub->case_id))) {
        cJSON_Delete(req);
        submit_fail(sub, 500, "Internal error", "No random source");
        return;
    }
    char *event = request_event(s, sub->case_id, req);
    intake_reservation res = {sub->idem_key, child, fp, sub->case_id, event,
                              sub->received_date, conf->idem_ttl_s};
    if (intake_store_reserve(s->redis, &res, submit_reserved, sub))
        submit_fail(sub, 503, "Not recorded", "Storage is unavailable; retry");
    cJSON_free(event);
}

static int intake_init(sp_service *s, char *errstr, size_t size) {
    sp_http_route(s->http, "POST", "/v1/requests", handle_request, s);
    return 0;
}

static const sp_service_def intake_def = {
    .name = "intake",
    .conf_size = sizeof(intake_conf),
    .conf_table = intake_conf_table,
    .init = intake_init,
};

int main(int argc, char **argv) { return sp_service_main(&intake_def, argc, argv); }
