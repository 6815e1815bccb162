/* submit.c - checking, reserving, publishing and answering a command.
 * See submit.h.
 *
 * A command is answered only after its event is acknowledged by the broker.
 * Until then the idempotency record holds the event text, so a crash between
 * the reservation and the publish republishes the same event (same id) when
 * the client retries with the same key, instead of losing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "envelope.h"
#include "ids.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "submit.h"

typedef struct submit {
    sp_service *s;
    intake_done_cb cb;
    void *opaque;
    intake_result res;
    char idem_key[160];
    char fp[INTAKE_CHILD_KEY_LEN + 1];
    /* For commands: what the case read gives the event. */
    const intake_command *command;
    cJSON *data;
    char *event;
    char *reserved_event; /* held while redis.wait_replicas is waited for */
    /* A SEN Support case's child, contact and school, and what an escalation
     * needs to open the EHC request from them. */
    char *profile;
    char date[16];
    int consent;
} submit;

static void finish(submit *sub) {
    sub->cb(sub->s, &sub->res, sub->opaque);
    cJSON_Delete(sub->res.errors);
    cJSON_Delete(sub->data);
    cJSON_free(sub->event);
    free(sub->reserved_event);
    free(sub->profile);
    free(sub);
}

static void escalate(submit *sub);

/* An escalated SEN Support review opens the linked EHC request before the
 * answer: also on a repeat, where the create answers with the same case. */
static int wants_escalation(const submit *sub) {
    return sub->profile && strcmp(sub->res.event_type, "sen_support.escalated") == 0;
}

static void fail(submit *sub, int status, const char *title, const char *detail,
                 cJSON *errors) {
    sub->res.status = status;
    sub->res.title = title;
    snprintf(sub->res.detail, sizeof(sub->res.detail), "%s", detail ? detail : "");
    sub->res.errors = errors;
    if (status >= 500 || status == 400) sp_service_count_error(sub->s);
    finish(sub);
}

const char *intake_idempotency_key(const char *header, const cJSON *body) {
    const char *k = header;
    if (!k) k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "idempotency_key"));
    return k && *k && strlen(k) <= 128 ? k : NULL;
}

/* Adds the missing-key error to *errors, making the array if needed. */
static void add_key_error(cJSON **errors) {
    cJSON *e = cJSON_CreateObject();
    if (!*errors) *errors = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "field", "idempotency_key");
    cJSON_AddStringToObject(e, "reason", "is required (1 to 128 characters), in the body or "
                            "the Idempotency-Key header");
    cJSON_AddItemToArray(*errors, e);
}

static submit *submit_new(sp_service *s, const char *idem, intake_done_cb cb, void *opaque) {
    submit *sub = calloc(1, sizeof(*sub));
    if (!sub) return NULL;
    sub->s = s;
    sub->cb = cb;
    sub->opaque = opaque;
    snprintf(sub->idem_key, sizeof(sub->idem_key), "%s", idem ? idem : "");
    return sub;
}

/* ---- publish and mark done ------------------------------------------------- */

static void done_marked(sp_redis *r, redisReply *reply, void *priv) {
    submit *sub = priv;
    /* The event is on the topic whatever this says; a lost "done" only means
     * a repeat republishes the same event id, which consumers drop. */
    if (!reply) sp_log(SP_LOG_WARN, sub->res.case_id, "intake: could not mark done");
    sub->res.status = 201;
    if (wants_escalation(sub)) escalate(sub);
    else finish(sub);
}

static void delivered(rd_kafka_resp_err_t err, void *opaque) {
    submit *sub = opaque;
    if (err) {
        sp_log(SP_LOG_ERROR, sub->res.case_id, "%s not delivered: %s", sub->res.event_type,
               rd_kafka_err2str(err));
        fail(sub, 503, "Not recorded", "The event could not be stored; retry with the "
             "same idempotency key", NULL);
        return;
    }
    sp_log(SP_LOG_INFO, sub->res.case_id, "%s", sub->res.event_type);
    if (intake_store_done(sp_service_redis_of(sub->s, sub->res.case_id), sub->idem_key, sub->res.event_type,
                          sub->res.event_id, done_marked, sub))
        done_marked(NULL, NULL, sub);
}

/* Reads type and id back from the event text, for the answer. */
static void note_event(submit *sub, const char *event) {
    sp_event ev;
    char errstr[64];
    if (sp_event_parse(event, strlen(event), &ev, errstr, sizeof(errstr)) == 0) {
        snprintf(sub->res.event_type, sizeof(sub->res.event_type), "%s", ev.type);
        snprintf(sub->res.event_id, sizeof(sub->res.event_id), "%s", ev.id);
        sp_event_free(&ev);
    }
}

static void publish(submit *sub, const char *event) {
    char errstr[256];
    note_event(sub, event);
    if (sp_service_publish(sub->s, SP_TOPIC_CASE_EVENTS, sub->res.case_id, event,
                           strlen(event), delivered, sub, errstr, sizeof(errstr))) {
        sp_log(SP_LOG_ERROR, sub->res.case_id, "%s", errstr);
        fail(sub, 503, "Not recorded", "The event queue is full; retry with the same "
             "idempotency key", NULL);
    }
}

/* The reservation is on redis.wait_replicas replicas: a failover now keeps
 * the idempotency and child records, so a retry cannot open a second case
 * for an event already out. */
static void reserve_replicated(sp_service *s, int ok, void *opaque) {
    submit *sub = opaque;
    if (!ok) {
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry with the same "
             "idempotency key", NULL);
        return;
    }
    publish(sub, sub->reserved_event);
}

static void publish_durably(submit *sub, const char *event) {
    if (sub->s->common->redis_wait_replicas <= 0) {
        publish(sub, event);
        return;
    }
    if (!(sub->reserved_event = strdup(event)) ||
        sp_service_redis_wait(sub->s, reserve_replicated, sub))
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
}

static void reserved(intake_reserve_result res, const char *case_id, const char *event,
                     void *opaque) {
    submit *sub = opaque;
    char detail[200];
    if (case_id) snprintf(sub->res.case_id, sizeof(sub->res.case_id), "%s", case_id);
    switch (res) {
    case INTAKE_RESERVE_PENDING:
        sub->res.replayed = 1;
        /* fall through */
    case INTAKE_RESERVE_NEW:
        publish_durably(sub, event);
        return;
    case INTAKE_RESERVE_DONE:
        sub->res.replayed = 1;
        sub->res.status = 201;
        if (event)
            sscanf(event, "%47[^\t]\t%159[^\t]\t%31s", sub->res.event_type,
                   sub->res.event_id, sub->res.state);
        if (wants_escalation(sub)) escalate(sub);
        else finish(sub);
        return;
    case INTAKE_RESERVE_CHILD_OPEN: {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        snprintf(detail, sizeof(detail), "This child already has an open case: %s", case_id);
        cJSON_AddStringToObject(e, "field", "child");
        cJSON_AddStringToObject(e, "reason", detail);
        cJSON_AddStringToObject(e, "case_id", case_id);
        cJSON_AddItemToArray(errs, e);
        fail(sub, 409, "Open case exists", detail, errs);
        return;
    }
    case INTAKE_RESERVE_KEY_REUSED:
        fail(sub, 422, "Idempotency key reused",
             "This idempotency key was used for a different command", NULL);
        return;
    case INTAKE_RESERVE_NO_CASE:
        fail(sub, 404, "No such case", NULL, NULL);
        return;
    case INTAKE_RESERVE_CONFLICT:
        snprintf(sub->res.state, sizeof(sub->res.state), "%s", event ? event : "");
        snprintf(detail, sizeof(detail), "'%s' is not allowed while the case is %s",
                 sub->command ? sub->command->name : "this command", sub->res.state);
        fail(sub, 409, "Not allowed in this state", detail, NULL);
        return;
    case INTAKE_RESERVE_ERROR:
        break;
    }
    fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
}

/* ---- creating a case -------------------------------------------------------- */

static void sha256_hex(const char *text, char *out, size_t size) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n && 2 * i + 2 < size; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *str(const cJSON *o, const char *path) {
    const cJSON *c = o;
    char buf[64], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *t = strtok_r(buf, ".", &save); t && c; t = strtok_r(NULL, ".", &save))
        c = cJSON_GetObjectItemCaseSensitive(c, t);
    return cJSON_GetStringValue(c);
}

/* What each creating command is: its parser, event, first state. */
typedef struct create_kind {
    cJSON *(*parse)(const cJSON *body, sp_date today, cJSON **errors);
    const char *event;
    const char *state;
    const char *kind;         /* "ehc" or "sen_support" */
    const char *child_prefix; /* one open case per child per prefix */
} create_kind;

static const create_kind create_kinds[] = {
    [INTAKE_CREATE_REQUEST] = {intake_request_parse, "request.received", "received", "ehc", ""},
    [INTAKE_CREATE_SEN_SUPPORT] = {intake_sen_support_parse, "sen_support.registered",
                                   "sen_support", "sen_support", "sen-"},
    [INTAKE_CREATE_PLAN] = {intake_plan_parse, "plan.imported", "plan", "ehc", ""},
};

/* Keeps a SEN Support case's child, contact and school for an escalation. */
static char *profile_of(const cJSON *data) {
    cJSON *p = cJSON_CreateObject();
    static const char *parts[] = {"child", "contact", "school"};
    for (int i = 0; i < 3; i++)
        cJSON_AddItemToObject(p, parts[i],
                              cJSON_Duplicate(cJSON_GetObjectItem(data, parts[i]), 1));
    char *text = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return text;
}

/* A new case id whose partition is the child record's: the create script
 * writes the idempotency record, the child's open case and the case at
 * once, so with redis.shards all three must be on one server. The child
 * fixes it (a second request for the child must find its open case), and
 * the id's random part is drawn again until the id's partition matches:
 * one draw in `partitions` does, so 64 times that many fail with a
 * probability below e^-64. Done with or without redis.shards, so that a
 * deployment can add shards later without moving a case's records apart. */
static int case_id_for_child(sp_service *s, const char *child, char *buf, size_t size) {
    int want = sp_kafka_partition_of(child, s->partitions);
    for (int i = 0; i < 64 * (s->partitions > 0 ? s->partitions : 1); i++) {
        if (sp_case_id_new(sp_service_now(s), buf, size)) return -1;
        if (sp_service_partition_of(s, buf) == want) return 0;
    }
    return -1;
}

void intake_submit_create(sp_service *s, intake_create_kind kind, const cJSON *body,
                          const char *idem_key, intake_done_cb cb, void *opaque) {
    intake_conf *conf = s->conf;
    const create_kind *k = &create_kinds[kind];
    submit *sub = submit_new(s, idem_key, cb, opaque);
    cJSON *errors = NULL, *data;
    char child[INTAKE_CHILD_KEY_LEN + 8], id[96], dob[16], date[16], urn[16];
    sp_date today = sp_date_from_ms(sp_service_now(s));
    if (!sub) return;
    data = k->parse(body, today, &errors);
    if (!idem_key) add_key_error(&errors);
    if (errors) {
        cJSON_Delete(data);
        fail(sub, 400, "Invalid request", "The request has fields that are missing or wrong",
             errors);
        return;
    }
    snprintf(child, sizeof(child), "%s", k->child_prefix);
    intake_request_child_key(data, child + strlen(child), sizeof(child) - strlen(child));
    intake_request_fingerprint(data, sub->fp, sizeof(sub->fp));
    if (case_id_for_child(s, child, sub->res.case_id, sizeof(sub->res.case_id))) {
        cJSON_Delete(data);
        fail(sub, 500, "Internal error", "No random source", NULL);
        return;
    }
    if (kind == INTAKE_CREATE_SEN_SUPPORT) sub->profile = profile_of(data);
    cJSON_AddStringToObject(data, "case_id", sub->res.case_id);
    /* Every case event carries "date", the business date it happened on:
     * clocks count from it, whatever time the event itself arrives. */
    if (kind == INTAKE_CREATE_REQUEST)
        cJSON_AddStringToObject(data, "date", str(data, "received_date"));
    snprintf(dob, sizeof(dob), "%s", str(data, "child.date_of_birth") ? str(data, "child.date_of_birth") : "");
    snprintf(date, sizeof(date), "%s", str(data, "date") ? str(data, "date") : "");
    snprintf(urn, sizeof(urn), "%s", str(data, "school.urn") ? str(data, "school.urn") : "");
    snprintf(id, sizeof(id), "%s/%s", sub->res.case_id, k->event);
    sub->event = sp_event_build_text(id, s->source, k->event, sp_service_now(s),
                                     sub->res.case_id, data);
    intake_reservation res = {sub->idem_key, child, sub->fp, sub->res.case_id, sub->event,
                              date, dob, k->kind, k->state, sub->profile, conf->idem_ttl_s,
                              urn};
    snprintf(sub->res.state, sizeof(sub->res.state), "%s", k->state);
    if (intake_store_reserve(sp_service_redis_of(s, sub->res.case_id), &res, reserved, sub))
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
}

/* ---- SEN Support escalation --------------------------------------------- */

static void escalated(sp_service *s, intake_result *res, void *opaque) {
    submit *sub = opaque;
    /* A child with an open request already: link to that one. */
    const cJSON *e = cJSON_GetArrayItem(res->errors, 0);
    const char *open = cJSON_GetStringValue(cJSON_GetObjectItem(e, "case_id"));
    if (res->status == 201 || (res->status == 409 && open)) {
        snprintf(sub->res.linked_case_id, sizeof(sub->res.linked_case_id), "%s",
                 res->status == 201 ? res->case_id : open);
        finish(sub);
        return;
    }
    /* The escalation is recorded; the request is not: a retry with the same
     * key replays the escalation and opens the request again. */
    fail(sub, res->status >= 500 ? 503 : res->status, "Request not opened",
         "The escalation is recorded but the EHC request could not be opened; retry "
         "with the same idempotency key", NULL);
}

static void escalate(submit *sub) {
    char key[200];
    cJSON *body = cJSON_Parse(sub->profile), *req = cJSON_CreateObject();
    if (!body) {
        fail(sub, 500, "Internal error", "The SEN Support case has no readable profile", NULL);
        cJSON_Delete(req);
        return;
    }
    cJSON_AddStringToObject(req, "type", "school");
    cJSON_AddItemToObject(body, "requester", req);
    cJSON_AddStringToObject(body, "received_date", sub->date);
    cJSON_AddBoolToObject(body, "consent_to_share", sub->consent);
    cJSON_AddStringToObject(body, "linked_case_id", sub->res.case_id);
    snprintf(key, sizeof(key), "%s/escalation", sub->idem_key);
    intake_submit_create(sub->s, INTAKE_CREATE_REQUEST, body, key, escalated, sub);
    cJSON_Delete(body);
}

/* ---- commands on a case ----------------------------------------------------- */

/* Facts the case already holds that the event's consumers count from. */
static void enrich(cJSON *data, redisReply *rep) {
    static const char *names[] = {NULL, NULL, "request_received_date", "child_date_of_birth"};
    for (size_t i = 2; i < 4 && i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i]->len > 0)
            cJSON_AddStringToObject(data, names[i], rep->element[i]->str);
}

static void case_read(sp_redis *r, redisReply *rep, void *priv) {
    submit *sub = priv;
    intake_conf *conf = sub->s->conf;
    const char *next = NULL, *type;
    char id[200], child[96] = "";
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 6) {
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
        return;
    }
    if (rep->element[0]->type != REDIS_REPLY_STRING) {
        fail(sub, 404, "No such case", NULL, NULL);
        return;
    }
    if (rep->element[1]->type == REDIS_REPLY_STRING)
        snprintf(child, sizeof(child), "%s", rep->element[1]->str);
    if ((type = intake_command_state_refusal(sub->command, sub->data, rep->element[0]->str))) {
        cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
        snprintf(sub->res.state, sizeof(sub->res.state), "%s", rep->element[0]->str);
        snprintf(id, sizeof(id), "'%s' does not fit a case that is %s", type, sub->res.state);
        cJSON_AddStringToObject(e, "field", type);
        cJSON_AddStringToObject(e, "reason", id);
        cJSON_AddStringToObject(e, "state", sub->res.state);
        cJSON_AddItemToArray(errs, e);
        fail(sub, 409, "Not allowed in this state", id, errs);
        return;
    }
    enrich(sub->data, rep);
    if (rep->elements > 5 && rep->element[5]->type == REDIS_REPLY_STRING)
        sub->profile = strdup(rep->element[5]->str);
    snprintf(sub->date, sizeof(sub->date), "%s", str(sub->data, "date") ? str(sub->data, "date") : "");
    sub->consent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sub->data, "consent_to_share"));
    type = intake_command_event(sub->command, sub->data, &next);
    cJSON_AddStringToObject(sub->data, "case_id", sub->res.case_id);
    /* The same command (same idempotency key) always makes the same id. */
    snprintf(id, sizeof(id), "%s/%s/%.16s", sub->res.case_id, type, sub->fp);
    sub->event = sp_event_build_text(id, sub->s->source, type, sp_service_now(sub->s),
                                     sub->res.case_id, sub->data);
    sub->data = NULL; /* owned by the event now */
    snprintf(sub->res.state, sizeof(sub->res.state), "%s", next ? next : rep->element[0]->str);
    intake_command_reservation res = {sub->idem_key, sub->fp, sub->res.case_id,
                                      sub->command->from_states, next, sub->event, child,
                                      sub->command->releases_child, conf->idem_ttl_s,
                                      sub->date};
    if (intake_store_reserve_command(sp_service_redis_of(sub->s, sub->res.case_id), &res,
                                     reserved, sub))
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
}

void intake_submit_command(sp_service *s, const intake_command *c, const char *case_id,
                           const cJSON *body, const char *idem_key, intake_done_cb cb,
                           void *opaque) {
    submit *sub = submit_new(s, idem_key, cb, opaque);
    cJSON *errors = NULL;
    char *canon;
    if (!sub) return;
    sub->command = c;
    snprintf(sub->res.case_id, sizeof(sub->res.case_id), "%s", case_id ? case_id : "");
    if (!case_id || !sp_case_id_valid(case_id)) {
        fail(sub, 404, "No such case", "A case id is c_ and 26 characters", NULL);
        return;
    }
    sub->data = intake_command_parse(c, body, sp_date_from_ms(sp_service_now(s)), &errors);
    if (!idem_key) add_key_error(&errors);
    if (errors) {
        fail(sub, 400, "Invalid command", "The command has fields that are missing or wrong",
             errors);
        return;
    }
    canon = cJSON_PrintUnformatted(sub->data);
    char scoped[4096];
    snprintf(scoped, sizeof(scoped), "%s|%s|%s", c->name, case_id, canon ? canon : "");
    sha256_hex(scoped, sub->fp, sizeof(sub->fp));
    cJSON_free(canon);
    if (intake_store_case_read(sp_service_redis_of(s, case_id), case_id, case_read, sub))
        fail(sub, 503, "Not recorded", "Storage is unavailable; retry", NULL);
}
