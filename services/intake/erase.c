/* erase.c - erasing a closed case. See erase.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dates.h"
#include "envelope.h"
#include "erasure.h"
#include "ids.h"
#include "log.h"
#include "erase.h"

#define ERASABLE ",withdrawn,closed,"
/* On the case's server, with its case and child records (one script). */
#define ERASED_SET "intake:erased"

/* KEYS: case, erased set. ARGV: the case's hash. {"erased"}, {"none"} or
 * {"case", state, child, state_date}. */
static const char erase_read_lua[] =
    "if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {'erased'} end\n"
    "local c = redis.call('HMGET', KEYS[1], 'state', 'child', 'state_date')\n"
    "if not c[1] then return {'none'} end\n"
    "return {'case', c[1], c[2] or '', c[3] or ''}\n";

/* KEYS: case, child, erased set. ARGV: case id, its hash. The child's open
 * case is released only if it is this one (a newer case may hold it). */
static const char erase_lua[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "return 1\n";

typedef struct erase {
    sp_service *s;
    intake_done_cb cb;
    void *opaque;
    intake_result res;
    char hash[SP_ERASURE_HASH_HEX + 1];
    char child[160];
    char was[32];
    char who[64];
    char via[8];
} erase;

static void erase_finish(erase *e) {
    e->cb(e->s, &e->res, e->opaque);
    cJSON_Delete(e->res.errors);
    free(e);
}

static void erase_fail(erase *e, int status, const char *title, const char *detail) {
    e->res.status = status;
    e->res.title = title;
    snprintf(e->res.detail, sizeof(e->res.detail), "%s", detail ? detail : "");
    if (status >= 500) sp_service_count_error(e->s);
    erase_finish(e);
}

/* The access-log line of an erasure, whichever door it came in by. */
static void erase_done(erase *e, int replayed) {
    e->res.status = 201;
    e->res.replayed = replayed;
    snprintf(e->res.state, sizeof(e->res.state), "erased");
    snprintf(e->res.event_type, sizeof(e->res.event_type), "case.erased");
    snprintf(e->res.event_id, sizeof(e->res.event_id), "%s/case.erased", e->res.case_id);
    sp_log(SP_LOG_INFO, e->res.case_id, "access erase %s token=%s via=%s%s%s",
           e->res.case_id, e->who, e->via, replayed ? " replayed" : " was=",
           replayed ? "" : e->was);
    erase_finish(e);
}

/* ---- 3. the idempotency records that name the case ------------------------- */

static void erase_swept(int err, void *opaque) {
    erase *e = opaque;
    /* The case is erased and marked; only records that expire on their own
     * (idempotency.ttl_s) may be left, and a retry sweeps again. */
    if (err) {
        erase_fail(e, 503, "Not finished", "The case is erased but some of its idempotency "
                   "records are not; retry");
        return;
    }
    erase_done(e, 0);
}

/* ---- 2. intake's own keys ---------------------------------------------------- */

static void erase_deleted(sp_redis *r, redisReply *rep, void *priv) {
    erase *e = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        erase_fail(e, 503, "Not recorded", "Storage is unavailable; retry");
        return;
    }
    sp_redis *all[SP_REDIS_SHARDS_MAX + 1];
    size_t n = sp_service_redis_all(e->s, all, sizeof(all) / sizeof(all[0]));
    /* Idempotency records are keyed by the client's key: every server is
     * swept, as a partition may have moved since one was written. */
    if (sp_erasure_sweep_each(all, n, "intake:idem:*", e->res.case_id, erase_swept, e))
        erase_swept(-1, e);
}

static void erase_published(rd_kafka_resp_err_t err, void *opaque) {
    erase *e = opaque;
    char casek[64];
    if (err) {
        sp_log(SP_LOG_ERROR, e->res.case_id, "case.erased not delivered: %s",
               rd_kafka_err2str(err));
        erase_fail(e, 503, "Not recorded", "The event could not be stored; retry");
        return;
    }
    snprintf(casek, sizeof(casek), "intake:case:%s", e->res.case_id);
    const char *argv[] = {"EVAL", erase_lua, "3", casek, e->child, ERASED_SET,
                          e->res.case_id, e->hash};
    if (sp_redis_command_argv(sp_service_redis_of(e->s, e->res.case_id), erase_deleted, e, 8,
                              argv, NULL))
        erase_fail(e, 503, "Not recorded", "Storage is unavailable; retry");
}

/* ---- 1. the event ------------------------------------------------------------ */

/* case.erased carries nothing about the child or family: the id, the day,
 * and the state the case was erased from. */
static void erase_publish(erase *e) {
    char id[96], today[16], errstr[256];
    int64_t now = sp_service_now(e->s);
    cJSON *data = cJSON_CreateObject();
    char *text;
    cJSON_AddStringToObject(data, "case_id", e->res.case_id);
    cJSON_AddStringToObject(data, "date", sp_date_iso(sp_date_from_ms(now), today, 16));
    cJSON_AddStringToObject(data, "previous_state", e->was);
    snprintf(id, sizeof(id), "%s/case.erased", e->res.case_id);
    text = sp_event_build_text(id, e->s->source, "case.erased", now, e->res.case_id, data);
    if (!text) {
        erase_fail(e, 500, "Internal error", "Out of memory");
        return;
    }
    if (sp_service_publish(e->s, SP_TOPIC_CASE_EVENTS, e->res.case_id, text, strlen(text),
                           erase_published, e, errstr, sizeof(errstr))) {
        sp_log(SP_LOG_ERROR, e->res.case_id, "%s", errstr);
        erase_fail(e, 503, "Not recorded", "The event queue is full; retry");
    }
    cJSON_free(text);
}

/* erasure.after_days: a closed case is kept that long after closing. */
static int erase_too_soon(erase *e, const char *state_date, char *detail, size_t size) {
    const intake_conf *conf = e->s->conf;
    sp_date closed, today = sp_date_from_ms(sp_service_now(e->s));
    char buf[16];
    if (conf->erase_after_days <= 0) return 0;
    if (!state_date[0] || sp_date_parse(state_date, &closed)) {
        snprintf(detail, size, "The date the case was %s is not known, so erasure.after_days "
                 "cannot be checked", e->was);
        return 1;
    }
    if (today - closed >= conf->erase_after_days) return 0;
    snprintf(detail, size, "The case was %s on %s; it may be erased from %s "
             "(erasure.after_days = %lld)", e->was, state_date,
             sp_date_iso(closed + (sp_date)conf->erase_after_days, buf, sizeof(buf)),
             conf->erase_after_days);
    return 1;
}

static void erase_read(sp_redis *r, redisReply *rep, void *priv) {
    erase *e = priv;
    char detail[256];
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1) {
        erase_fail(e, 503, "Not recorded", "Storage is unavailable; retry");
    } else if (!strcmp(rep->element[0]->str, "erased")) {
        erase_done(e, 1);
    } else if (!strcmp(rep->element[0]->str, "none") || rep->elements < 4) {
        erase_fail(e, 404, "No such case", NULL);
    } else {
        snprintf(e->was, sizeof(e->was), "%s", rep->element[1]->str);
        snprintf(e->child, sizeof(e->child), "intake:child:%s", rep->element[2]->str);
        char allowed[48];
        snprintf(allowed, sizeof(allowed), ",%s,", e->was);
        snprintf(e->res.state, sizeof(e->res.state), "%s", e->was);
        if (!strstr(ERASABLE, allowed)) {
            snprintf(detail, sizeof(detail), "'erase' is allowed only once the case is "
                     "withdrawn or closed; it is %s", e->was);
            erase_fail(e, 409, "Not allowed in this state", detail);
        } else if (erase_too_soon(e, rep->element[3]->str, detail, sizeof(detail))) {
            erase_fail(e, 409, "Retention period not over", detail);
        } else {
            erase_publish(e);
        }
    }
}

void intake_erase_submit(sp_service *s, const char *case_id, const char *who,
                         const char *via, intake_done_cb cb, void *opaque) {
    erase *e = calloc(1, sizeof(*e));
    char casek[64];
    if (!e) {
        intake_result res = {.status = 503, .title = "Not recorded"};
        cb(s, &res, opaque);
        return;
    }
    e->s = s;
    e->cb = cb;
    e->opaque = opaque;
    snprintf(e->who, sizeof(e->who), "%s", who && *who ? who : "-");
    snprintf(e->via, sizeof(e->via), "%s", via);
    snprintf(e->res.case_id, sizeof(e->res.case_id), "%s", case_id ? case_id : "");
    if (!case_id || !sp_case_id_valid(case_id)) {
        erase_fail(e, 404, "No such case", "A case id is c_ and 26 characters");
        return;
    }
    sp_erasure_hash(case_id, e->hash, sizeof(e->hash));
    snprintf(casek, sizeof(casek), "intake:case:%s", case_id);
    const char *argv[] = {"EVAL", erase_read_lua, "2", casek, ERASED_SET, e->hash};
    if (sp_redis_command_argv(sp_service_redis_of(s, case_id), erase_read, e, 6, argv, NULL))
        erase_fail(e, 503, "Not recorded", "Storage is unavailable; retry");
}

/* ---- HTTP ---------------------------------------------------------------------- */

static void erase_answer(sp_service *s, intake_result *res, void *opaque) {
    sp_http_req *r = opaque;
    if (res->status != 201) {
        cJSON *errs = NULL;
        if (res->status == 409) {
            cJSON *e = cJSON_CreateObject();
            errs = cJSON_CreateArray();
            cJSON_AddStringToObject(e, "field", "state");
            cJSON_AddStringToObject(e, "reason", res->detail);
            cJSON_AddStringToObject(e, "state", res->state);
            cJSON_AddItemToArray(errs, e);
        }
        sp_http_respond_problem(r, res->status, res->title,
                                res->detail[0] ? res->detail : NULL, errs);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "case_id", res->case_id);
    cJSON_AddStringToObject(o, "state", "erased");
    cJSON_AddStringToObject(o, "event_type", res->event_type);
    cJSON_AddStringToObject(o, "event_id", res->event_id);
    if (res->replayed) sp_http_req_add_header(r, "Idempotent-Replayed", "true");
    sp_http_respond_json(r, 200, o);
}

static void handle_erase(sp_http_req *r, void *opaque) {
    intake_erase_submit(opaque, sp_http_req_param(r, "id"), sp_http_req_principal(r), "http",
                        erase_answer, r);
}

int intake_erase_register(sp_service *s) {
    if (sp_http_route_scoped(s->http, "POST", "/v1/cases/:id/erase", "admin", handle_erase, s))
        return -1;
    return sp_http_route_scoped(s->http, "DELETE", "/v1/cases/:id", "admin", handle_erase, s);
}

static void erase_gone_read(sp_redis *rd, redisReply *rep, void *priv) {
    sp_http_req *r = priv;
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
        sp_http_respond_problem(r, 410, "Gone", "The case was erased", NULL);
    else
        sp_http_respond_problem(r, 404, "No such case", NULL, NULL);
}

void intake_erase_answer_missing(sp_service *s, sp_http_req *r, const char *case_id) {
    char hash[SP_ERASURE_HASH_HEX + 1];
    sp_erasure_hash(case_id, hash, sizeof(hash));
    if (sp_redis_command(sp_service_redis_of(s, case_id), erase_gone_read, r,
                         "SISMEMBER " ERASED_SET " %s", hash))
        sp_http_respond_problem(r, 404, "No such case", NULL, NULL);
}
