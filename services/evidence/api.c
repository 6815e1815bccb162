/* api.c - the evidence HTTP API: recording a return, reading a case.
 *
 * POST /v1/cases/{id}/advice/{adviser} records that an adviser's advice came
 * back: check the input -> reserve in Redis (returns.c, the same path as an
 * advice.returned event) -> publish advice.received, then evidence.complete
 * if it was the last -> wait for the broker -> mark the key done -> answer
 * 201. A 201 therefore means the events are durable and timers will see the
 * clock met. A repeat with the same key gets the first answer (200) and
 * publishes nothing new; a retry of an attempt that never finished (a crash,
 * a broker error) republishes the same events with the same ids.
 *
 * GET /v1/cases/{id}/advice: who was asked and when, who answered, who is
 * still missing.
 *
 * Requests are answered from callbacks (Redis replies, delivery reports); a
 * request in flight is one advice_return, freed when it is answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "evidence.h"
#include "ids.h"
#include "log.h"
#include "returns.h"
#include "store.h"
#include "validate.h"

#define IDEM_KEY_MAX 128

/* One return in flight: from HTTP in to the answer out. */
typedef struct advice_return {
    sp_service *s;
    sp_http_req *http;
    evidence_return *ret; /* the outcome, once reserved */
    char *answer; /* the body of the 201, kept for repeats; cJSON allocator */
    size_t outstanding;
    int failed;
    int replayed;
} advice_return;

/* ---- answering ------------------------------------------------------------------ */

static void return_free(advice_return *ar) {
    evidence_return_free(ar->ret);
    cJSON_free(ar->answer);
    free(ar);
}

static cJSON *one_error(const char *field, const char *reason) {
    cJSON *errs = cJSON_CreateArray(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddItemToArray(errs, e);
    return errs;
}

static void return_fail(advice_return *ar, int status, const char *title, const char *detail,
                        cJSON *errors) {
    sp_service_count_error(ar->s);
    sp_http_respond_problem(ar->http, status, title, detail, errors);
    return_free(ar);
}

static void return_answer(advice_return *ar, int status, const char *body) {
    char loc[96];
    snprintf(loc, sizeof(loc), "/v1/cases/%s/advice", ar->ret->case_id);
    sp_http_req_add_header(ar->http, "Location", loc);
    if (ar->replayed) sp_http_req_add_header(ar->http, "Idempotent-Replayed", "true");
    sp_http_respond(ar->http, status, "application/json", body, strlen(body));
    return_free(ar);
}

static char *answer_text(const evidence_return *ret) {
    cJSON *o = cJSON_CreateObject();
    char *text;
    cJSON_AddStringToObject(o, "case_id", ret->case_id);
    cJSON_AddStringToObject(o, "adviser", ret->adviser);
    cJSON_AddStringToObject(o, "status", "received");
    cJSON_AddStringToObject(o, "received_on", ret->date);
    cJSON_AddStringToObject(o, "document_ref", ret->document_ref);
    cJSON_AddBoolToObject(o, "evidence_complete", ret->complete != NULL);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- the pipeline: reserve, publish, mark done ------------------------------------ */

static void return_done_cb(sp_redis *r, redisReply *reply, void *priv) {
    advice_return *ar = priv;
    /* The events are on the topic whatever this says; a lost "done" only
     * means a repeat republishes the same ids, which consumers drop. */
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        sp_log(SP_LOG_WARN, ar->ret->case_id, "evidence: could not mark a return done");
    return_answer(ar, 201, ar->answer);
}

static void return_delivered(rd_kafka_resp_err_t err, void *opaque) {
    advice_return *ar = opaque;
    const evidence_return *ret = ar->ret;
    if (err) {
        sp_log(SP_LOG_ERROR, ret->case_id, "evidence: return not delivered: %s",
               rd_kafka_err2str(err));
        ar->failed = 1;
    }
    if (--ar->outstanding > 0) return;
    if (ar->failed) {
        return_fail(ar, 503, "Not recorded", "The event could not be stored; retry with "
                    "the same idempotency key", NULL);
        return;
    }
    sp_log(SP_LOG_INFO, ret->case_id, "advice received from adviser %s", ret->adviser);
    if (evidence_store_done(sp_service_redis_of(ar->s, ret->case_id), ret->idem_key,
                            ar->answer, return_done_cb, ar))
        return_answer(ar, 201, ar->answer);
}

static void return_send(advice_return *ar, const char *text) {
    char errstr[256];
    ar->outstanding++;
    if (sp_service_publish(ar->s, SP_TOPIC_EVIDENCE, ar->ret->case_id, text, strlen(text),
                           return_delivered, ar, errstr, sizeof(errstr)) == 0)
        return;
    sp_log(SP_LOG_ERROR, ar->ret->case_id, "evidence: %s", errstr);
    ar->outstanding--;
    ar->failed = 1;
}

/* Publishes the return, then evidence.complete when this return completed
 * the case; both go on the case's partition, in this order. */
static void return_publish(advice_return *ar) {
    const evidence_return *ret = ar->ret;
    ar->answer = answer_text(ret);
    ar->outstanding = 1; /* released below */
    if (!ar->answer) ar->failed = 1;
    if (!ar->failed) return_send(ar, ret->event);
    if (!ar->failed && ret->complete) return_send(ar, ret->complete);
    return_delivered(RD_KAFKA_RESP_ERR_NO_ERROR, ar);
}

static void return_reserved(sp_service *s, evidence_return *ret, void *opaque) {
    advice_return *ar = opaque;
    ar->ret = ret;
    switch (ret->res) {
    case EVIDENCE_RESERVE_PENDING: /* finish what an earlier attempt started */
    case EVIDENCE_RESERVE_NEW:
        ar->replayed = ret->res == EVIDENCE_RESERVE_PENDING;
        return_publish(ar);
        return;
    case EVIDENCE_RESERVE_DONE:
        ar->replayed = 1;
        return_answer(ar, 200, ret->answer);
        return;
    default:
        if (ret->field)
            return_fail(ar, ret->status, ret->title, NULL, one_error(ret->field, ret->detail));
        else
            return_fail(ar, ret->status, ret->title, ret->detail[0] ? ret->detail : NULL,
                        NULL);
    }
}

/* ---- POST /v1/cases/:id/advice/:adviser ----------------------------------------------- */

/* The key from the Idempotency-Key header or the body's idempotency_key. */
static const char *idempotency_key(sp_valid *v, sp_http_req *req, const cJSON *body) {
    const char *h = sp_http_req_header(req, "Idempotency-Key");
    if (!h) return sp_valid_string(v, body, "idempotency_key", 1, IDEM_KEY_MAX);
    if (*h && strlen(h) <= IDEM_KEY_MAX) return h;
    sp_valid_error(v, "idempotency_key", "must be 1 to 128 characters");
    return NULL;
}

/* Checks the path and the body; returns the {field, reason} array, or NULL
 * when in is complete. */
static cJSON *return_parse(sp_service *s, sp_http_req *req, const cJSON *body,
                           const char *unparsed, evidence_return_input *in) {
    sp_valid v;
    sp_valid_init(&v);
    memset(in, 0, sizeof(*in));
    in->case_id = sp_http_req_param(req, "id");
    if (!in->case_id || !sp_case_id_valid(in->case_id))
        sp_valid_error(&v, "id", "is not a case id (c_ and 26 characters)");
    evidence_return_check(&v, sp_http_req_param(req, "adviser"), body,
                          sp_date_from_ms(sp_service_now(s)), in);
    if (!cJSON_IsObject(body))
        sp_valid_error(&v, "(body)", body ? "must be a JSON object" : unparsed);
    else
        in->idem_key = idempotency_key(&v, req, body);
    return sp_valid_take(&v);
}

static void handle_return(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    size_t len;
    const char *text = sp_http_req_body(req, &len);
    sp_json_limits lim = sp_service_json_limits(s);
    sp_json_refusal why;
    char unparsed[64];
    cJSON *body = sp_json_parse_limited(text, len, &lim, &why), *errors;
    evidence_return_input in;
    advice_return *ar;
    sp_json_refusal_reason(why, &lim, unparsed, sizeof(unparsed));
    if ((errors = return_parse(s, req, body, unparsed, &in)) != NULL) {
        sp_service_count_error(s);
        sp_http_respond_problem(req, 400, "Invalid return",
                                "The return has fields that are missing or wrong", errors);
    } else if (!(ar = calloc(1, sizeof(*ar)))) {
        sp_http_respond_problem(req, 500, "Internal error", "Out of memory", NULL);
    } else {
        ar->s = s;
        ar->http = req;
        if (evidence_return_record(s, &in, return_reserved, ar)) {
            sp_service_count_error(s);
            sp_http_respond_problem(req, 503, "Not recorded", "Storage is unavailable; retry",
                                    NULL);
            free(ar);
        }
    }
    cJSON_Delete(body);
}

/* ---- GET /v1/cases/:id/advice -------------------------------------------------------- */

typedef struct advice_row {
    const char *adviser; /* borrowed from the reply */
    evidence_advice_state st;
    int order;           /* the adviser's row in the table; unknown ones last */
} advice_row;

static int row_cmp(const void *pa, const void *pb) {
    const advice_row *a = pa, *b = pb;
    if (a->order != b->order) return a->order < b->order ? -1 : 1;
    return strcmp(a->adviser, b->adviser);
}

/* The case's rows, sorted in table order; *n set. NULL when out of memory. */
static advice_row *advice_rows(const evidence_advisers *a, const redisReply *pairs,
                               size_t *n) {
    advice_row *rows = calloc(pairs->elements / 2 + 1, sizeof(*rows));
    *n = 0;
    if (!rows) return NULL;
    for (size_t i = 0; i + 1 < pairs->elements; i += 2) {
        advice_row *row = &rows[*n];
        const evidence_adviser *ad = evidence_advisers_find(a, pairs->element[i]->str);
        if (evidence_store_state_parse(pairs->element[i + 1]->str, &row->st)) continue;
        row->adviser = pairs->element[i]->str;
        row->order = ad ? (int)(ad - a->all) : EVIDENCE_MAX_ADVISERS;
        (*n)++;
    }
    qsort(rows, *n, sizeof(*rows), row_cmp);
    return rows;
}

static cJSON *advice_json(const char *case_id, const advice_row *rows, size_t n) {
    cJSON *o = cJSON_CreateObject();
    cJSON *req, *missing;
    cJSON_AddStringToObject(o, "case_id", case_id);
    req = cJSON_AddArrayToObject(o, "requested");
    missing = cJSON_AddArrayToObject(o, "missing");
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "adviser", rows[i].adviser);
        cJSON_AddStringToObject(r, "requested_on", rows[i].st.requested_on);
        if (rows[i].st.received) {
            cJSON_AddStringToObject(r, "received_on", rows[i].st.received_on);
            cJSON_AddStringToObject(r, "document_ref", rows[i].st.document_ref);
        } else {
            cJSON_AddItemToArray(missing, cJSON_CreateString(rows[i].adviser));
        }
        cJSON_AddItemToArray(req, r);
    }
    cJSON_AddBoolToObject(o, "complete", n > 0 && cJSON_GetArraySize(missing) == 0);
    return o;
}

typedef struct advice_read {
    sp_service *s;
    sp_http_req *http;
    char case_id[SP_CASE_ID_LEN + 1];
} advice_read;

static void advice_read_cb(sp_redis *r, redisReply *rep, void *priv) {
    advice_read *rd = priv;
    const evidence_state *es = rd->s->priv;
    advice_row *rows;
    size_t n;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[1]->type != REDIS_REPLY_ARRAY) {
        sp_http_respond_problem(rd->http, 503, "Unavailable", "Storage is unavailable; retry",
                                NULL);
    } else if (rep->element[0]->integer == 0 && rep->element[1]->elements == 0) {
        sp_http_respond_problem(rd->http, 404, "No such case",
                                "The evidence service has no case with this id", NULL);
    } else if (!(rows = advice_rows(&es->advisers, rep->element[1], &n))) {
        sp_http_respond_problem(rd->http, 500, "Internal error", "Out of memory", NULL);
    } else {
        sp_http_respond_json(rd->http, 200, advice_json(rd->case_id, rows, n));
        free(rows);
    }
    free(rd);
}

static void handle_advice(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    const char *id = sp_http_req_param(req, "id");
    advice_read *rd;
    if (!id || !sp_case_id_valid(id)) {
        sp_http_respond_problem(req, 400, "Invalid case id", NULL,
                                one_error("id", "is not a case id (c_ and 26 characters)"));
        return;
    }
    if (!(rd = calloc(1, sizeof(*rd)))) {
        sp_http_respond_problem(req, 500, "Internal error", "Out of memory", NULL);
        return;
    }
    rd->s = s;
    rd->http = req;
    snprintf(rd->case_id, sizeof(rd->case_id), "%s", id);
    if (evidence_store_read(sp_service_redis_of(s, id), id, advice_read_cb, rd)) {
        sp_http_respond_problem(req, 503, "Unavailable", "Storage is unavailable; retry", NULL);
        free(rd);
    }
}

/* The route table; the third column is who may call (auth.h). Advice is
 * the authority's business: schools see it through their caseworker. */
void evidence_api_register(sp_service *s) {
    sp_http_route_scoped(s->http, "GET", "/v1/cases/:id/advice", "casework:write ops:read",
                         handle_advice, s);
    sp_http_route_scoped(s->http, "POST", "/v1/cases/:id/advice/:adviser",
                         "casework:write intake:write", handle_return, s);
}
