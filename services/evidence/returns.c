/* returns.c - recording an adviser's return. See returns.h.
 *
 * The outcome is a value the door owns, not a view of the Redis reply: HTTP
 * keeps it while the broker stores the events, the topic while its batch
 * finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events.h"
#include "evidence.h"
#include "returns.h"

/* Refusals from the reservation, as a table: status, title, the field to
 * name (or NULL) and which date of the adviser's state the detail adds. */
enum { NO_DATE, RECEIVED_ON, REQUESTED_ON };
static const struct {
    evidence_reserve_result res;
    int status;
    const char *title;
    const char *field;
    const char *detail;
    int date;
} refusals[] = {
    {EVIDENCE_RESERVE_KEY_REUSED, 422, "Idempotency key reused", NULL,
     "This idempotency key was used for a different return", NO_DATE},
    {EVIDENCE_RESERVE_NO_CASE, 404, "No such case", NULL,
     "The evidence service has no case with this id", NO_DATE},
    {EVIDENCE_RESERVE_NOT_ASKED, 409, "Advice not requested", NULL,
     "This adviser was not asked for advice on this case", NO_DATE},
    {EVIDENCE_RESERVE_RETURNED, 409, "Advice already returned", NULL,
     "This adviser's advice is already recorded, received on", RECEIVED_ON},
    {EVIDENCE_RESERVE_BEFORE_REQUEST, 400, "Invalid return", "date",
     "must not be before the advice was requested, on", REQUESTED_ON},
    {EVIDENCE_RESERVE_ERROR, 503, "Not recorded", NULL,
     "Storage is unavailable; retry with the same idempotency key", NO_DATE},
};

typedef struct return_call {
    sp_service *s;
    evidence_return *ret;
    evidence_return_cb cb;
    void *opaque;
} return_call;

void evidence_return_check(sp_valid *v, const char *adviser, const cJSON *fields,
                           sp_date today, evidence_return_input *in) {
    sp_date d;
    in->adviser = adviser;
    if (!adviser || !evidence_adviser_name_valid(adviser))
        sp_valid_error(v, "adviser", "is not an adviser name (a-z, 0-9 and _)");
    if (!cJSON_IsObject(fields)) return;
    d = sp_valid_date(v, fields, "date", 1, sp_date_add_months(today, -120), today);
    if (d != SP_DATE_INVALID) sp_date_iso(d, in->date, sizeof(in->date));
    in->document_ref = sp_valid_string(v, fields, "document_ref", 1, EVIDENCE_RETURN_TEXT_MAX);
    in->author = sp_valid_string(v, fields, "author", 1, EVIDENCE_RETURN_TEXT_MAX);
}

void evidence_return_free(evidence_return *ret) {
    if (!ret) return;
    cJSON_free(ret->event);
    cJSON_free(ret->complete);
    free(ret->answer);
    free(ret);
}

/* Fills the refusal for res; state is the adviser's state value, or "". */
static void return_refuse(evidence_return *ret, evidence_reserve_result res,
                          const char *state) {
    evidence_advice_state st;
    int known = evidence_store_state_parse(state, &st) == 0;
    ret->res = res;
    ret->status = 500;
    ret->title = "Internal error";
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        if (refusals[i].res != res) continue;
        ret->status = refusals[i].status;
        ret->title = refusals[i].title;
        ret->field = refusals[i].field;
        snprintf(ret->detail, sizeof(ret->detail), "%s", refusals[i].detail);
        if (refusals[i].date != NO_DATE && known)
            snprintf(ret->detail, sizeof(ret->detail), "%s %s", refusals[i].detail,
                     refusals[i].date == RECEIVED_ON ? st.received_on : st.requested_on);
    }
    ret->repeat = res == EVIDENCE_RESERVE_RETURNED && known && st.received &&
                  strcmp(st.received_on, ret->date) == 0 &&
                  strcmp(st.document_ref, ret->document_ref) == 0;
}

static void return_reserved(const evidence_reserved *r, void *opaque) {
    return_call *call = opaque;
    evidence_return *ret = call->ret;
    ret->res = r->res;
    switch (r->res) {
    case EVIDENCE_RESERVE_NEW:
    case EVIDENCE_RESERVE_PENDING: /* finish what an earlier attempt started */
        ret->event = *r->event ? evidence_event_copy(r->event) : NULL;
        if (*r->complete)
            ret->complete = evidence_event_complete(call->s, ret->case_id, r->complete);
        if (!ret->event || (*r->complete && !ret->complete))
            return_refuse(ret, EVIDENCE_RESERVE_ERROR, "");
        break;
    case EVIDENCE_RESERVE_DONE:
        if (!(ret->answer = strdup(r->answer))) return_refuse(ret, EVIDENCE_RESERVE_ERROR, "");
        break;
    default:
        return_refuse(ret, r->res, r->state);
    }
    call->cb(call->s, ret, call->opaque);
    free(call);
}

static evidence_return *return_new(const evidence_return_input *in) {
    evidence_return *ret;
    if (strlen(in->idem_key) > EVIDENCE_RETURN_KEY_MAX || !(ret = calloc(1, sizeof(*ret))))
        return NULL;
    snprintf(ret->case_id, sizeof(ret->case_id), "%s", in->case_id);
    snprintf(ret->adviser, sizeof(ret->adviser), "%s", in->adviser);
    snprintf(ret->idem_key, sizeof(ret->idem_key), "%s", in->idem_key);
    snprintf(ret->date, sizeof(ret->date), "%s", in->date);
    snprintf(ret->document_ref, sizeof(ret->document_ref), "%s", in->document_ref);
    return ret;
}

int evidence_return_record(sp_service *s, const evidence_return_input *in,
                           evidence_return_cb cb, void *opaque) {
    const evidence_conf *conf = s->conf;
    char fp[EVIDENCE_FINGERPRINT_LEN + 1];
    const char *fields[] = {in->case_id, in->adviser, in->date, in->document_ref, in->author};
    return_call *call = malloc(sizeof(*call));
    evidence_return *ret = return_new(in);
    char *event = evidence_event_received(s, in->case_id, in->adviser, in->date,
                                          in->document_ref, in->author);
    int rc = -1;
    if (call && ret && event) {
        *call = (return_call){s, ret, cb, opaque};
        evidence_store_fingerprint(fields, 5, fp, sizeof(fp));
        evidence_reservation res = {in->idem_key, fp, in->case_id, in->adviser, in->date,
                                    in->document_ref, event, conf->idem_ttl_s};
        rc = evidence_store_reserve(sp_service_redis_of(s, in->case_id), &res,
                                    return_reserved, call);
    }
    cJSON_free(event);
    if (rc) {
        free(call);
        evidence_return_free(ret);
    }
    return rc;
}

void evidence_return_describe(const evidence_return *ret, char *buf, size_t size) {
    snprintf(buf, size, "%d %s: %s%s%s", ret->status, ret->title ? ret->title : "",
             ret->field ? ret->field : "", ret->field ? ": " : "", ret->detail);
}
