/* projection.c - what each event changes in ops's read model. See
 * projection.h.
 *
 * The C side reads the event and picks its writes from small tables; the
 * batch's script (batch.h) checks the event id once and performs them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "batch.h"
#include "dates.h"
#include "projection.h"
#include "timeline.h"

/* Formats into buf (the batch copies every argument at once). */
static const char *strf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *strf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

static void write2(ops_batch *b, const char *cmd, ops_key k, const char *x, const char *y) {
    ops_batch_write(b, cmd, k);
    ops_batch_arg(b, x);
    ops_batch_arg(b, y);
    ops_batch_write_end(b);
}

/* ---- reading events -------------------------------------------------------- */

static const char *str(const cJSON *o, const char *name) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static sp_date day_of(const char *iso) {
    sp_date d;
    return iso && sp_date_parse(iso, &d) == 0 ? d : SP_DATE_INVALID;
}

/* The case's status after each case event that changes it. */
static const struct { const char *type, *status; } case_statuses[] = {
    {"request.received", "received"},       {"decision.assess", "assessing"},
    {"decision.not_assess", "not_assessing"}, {"decision.issue_plan", "issuing"},
    {"decision.not_issue_plan", "not_issuing"}, {"draft_plan.served", "draft_served"},
    {"final_plan.issued", "plan"},          {"request.withdrawn", "withdrawn"},
    {"case.closed", "closed"},              {"plan.imported", "plan"},
    {"sen_support.registered", "sen_support"}, {"sen_support.escalated", "escalated"},
    {NULL, NULL}};

/* "A.O." from a name; the first character of each part, UTF-8 kept whole. */
static void initials(const char *given, const char *family, char *out, size_t size) {
    const char *parts[2] = {given, family};
    size_t o = 0;
    for (int p = 0; p < 2; p++) {
        const unsigned char *s = (const unsigned char *)parts[p];
        if (!s || !*s) continue;
        size_t n = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : 4;
        if (strnlen((const char *)s, n) < n || o + n + 2 > size) break;
        memcpy(out + o, s, n);
        o += n;
        out[o++] = '.';
    }
    out[o] = '\0';
}

/* The child's name and school, wherever an event carries them. */
static void case_identity(ops_batch *b, const sp_event *ev) {
    const cJSON *child = cJSON_GetObjectItemCaseSensitive(ev->data, "child");
    const cJSON *school = cJSON_GetObjectItemCaseSensitive(ev->data, "school");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(ev->data, "requester");
    const char *urn = str(school, "urn");
    char ini[32];
    if (!child && !school) return;
    ops_batch_write(b, "HSET", OPS_K_CASE);
    if (child) {
        ops_batch_arg(b, "child_name");
        ops_batch_argf(b, "%s %s", str(child, "given_name") ? str(child, "given_name") : "",
                       str(child, "family_name") ? str(child, "family_name") : "");
    }
    if (school) {
        ops_batch_arg(b, "school_urn"), ops_batch_arg(b, urn);
        ops_batch_arg(b, "school_name"), ops_batch_arg(b, str(school, "name"));
    }
    if (req) ops_batch_arg(b, "requester_type"), ops_batch_arg(b, str(req, "type"));
    ops_batch_write_end(b);
    initials(str(child, "given_name"), str(child, "family_name"), ini, sizeof(ini));
    ops_batch_write(b, "HSET", OPS_K_WHO);
    ops_batch_arg(b, ev->subject);
    ops_batch_argf(b, "%s\t%s", urn ? urn : "", ini);
    ops_batch_write_end(b);
}

/* What a case event changes on the case: status, SEN2 dates, advice. */
static void case_event(ops_batch *b, const sp_event *ev) {
    const char *date = sp_event_str(ev, "date"), *t = ev->type;
    char tmp[96];
    for (int i = 0; case_statuses[i].type; i++)
        if (!strcmp(t, case_statuses[i].type)) write2(b, "HSET", OPS_K_CASE, "status", case_statuses[i].status);
    if (sp_event_str(ev, "received_date"))
        write2(b, "HSET", OPS_K_CASE, "received_date", sp_event_str(ev, "received_date"));
    else if (sp_event_str(ev, "request_received_date"))
        write2(b, "HSET", OPS_K_CASE, "received_date", sp_event_str(ev, "request_received_date"));
    if (!strcmp(t, "plan.imported") && sp_event_str(ev, "plan_date"))
        write2(b, "HSET", OPS_K_CASE, "plan_date", sp_event_str(ev, "plan_date"));
    case_identity(b, ev);
    if (!date || day_of(date) == SP_DATE_INVALID) return;
    if (!strcmp(t, "decision.assess") || !strcmp(t, "decision.not_assess")) {
        write2(b, "HSET", OPS_K_CASE, "decided_on", date);
        write2(b, "ZADD", OPS_K_DECIDED, strf(tmp, sizeof(tmp), "%d", day_of(date)), ev->subject);
    } else if (!strcmp(t, "final_plan.issued")) {
        write2(b, "HSET", OPS_K_CASE, "issued_on", date);
        write2(b, "ZADD", OPS_K_ISSUED, strf(tmp, sizeof(tmp), "%d", day_of(date)), ev->subject);
    } else if (!strcmp(t, "exception.recorded") && sp_event_str(ev, "clock")) {
        write2(b, "HSET", OPS_K_CASE, strf(tmp, sizeof(tmp), "exc:%s", sp_event_str(ev, "clock")),
               sp_event_str(ev, "reason"));
    } else if (!strcmp(t, "advice.requested") && sp_event_str(ev, "adviser")) {
        write2(b, "HSET", OPS_K_CASE, strf(tmp, sizeof(tmp), "adv:%s", sp_event_str(ev, "adviser")), date);
    } else if (!strcmp(t, "advice.received") && sp_event_str(ev, "adviser")) {
        write2(b, "HSET", OPS_K_CASE, strf(tmp, sizeof(tmp), "advr:%s", sp_event_str(ev, "adviser")), date);
    } else if (!strcmp(t, "evidence.complete")) {
        write2(b, "HSET", OPS_K_CASE, "evidence_complete", date);
    }
}

/* The clock's state as ops shows it, from a deadline.* event. */
static char *clock_json(const sp_event *ev, const char *kind) {
    static const char *const copied[] = {"clock", "clock_id", "started_on", "due_date",
                                         "exception_reason", "met_on", "cancelled_on",
                                         "by", NULL};
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; copied[i]; i++)
        if (sp_event_str(ev, copied[i]))
            cJSON_AddStringToObject(o, copied[i], sp_event_str(ev, copied[i]));
    cJSON_AddStringToObject(o, "status", !strcmp(kind, "met") ? "met" :
                            !strcmp(kind, "cancelled") ? "cancelled" : "open");
    cJSON_AddStringToObject(o, "last_event", kind);
    cJSON_AddBoolToObject(o, "excepted",
                          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "excepted")));
    cJSON_AddBoolToObject(o, "informational", cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(ev->data, "informational")));
    const cJSON *on_time = cJSON_GetObjectItemCaseSensitive(ev->data, "on_time");
    if (cJSON_IsBool(on_time)) cJSON_AddBoolToObject(o, "on_time", cJSON_IsTrue(on_time));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* What a deadline.* event changes: the case's clock, the open-deadline
 * index, and the late annual reviews SEN2 counts. */
static void deadline_event(ops_batch *b, const sp_event *ev) {
    const char *kind = ev->type + strlen("deadline."), *id = sp_event_str(ev, "clock_id");
    const char *clock = sp_event_str(ev, "clock"), *due = sp_event_str(ev, "due_date");
    int excepted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "excepted"));
    const char *started = sp_event_str(ev, "started_on");
    char tmp[16], rec[256], *json;
    if (!id || !clock || !due) return;
    if ((json = clock_json(ev, kind))) write2(b, "HSET", OPS_K_CLOCKS, id, json);
    cJSON_free(json);
    strf(rec, sizeof(rec), "%s\t%s\t%s\t%s\t%d", ev->subject, clock, due, started ? started : "",
         excepted);
    if (!strcmp(kind, "started")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "informational")))
            write2(b, "HSET", OPS_K_DL, id, rec);
    } else if (!strcmp(kind, "excepted")) {
        write2(b, "HSETXX", OPS_K_DL, id, rec);
    } else if (!strcmp(kind, "met") || !strcmp(kind, "cancelled")) {
        ops_batch_write(b, "HDEL", OPS_K_DL);
        ops_batch_arg(b, id);
        ops_batch_write_end(b);
        if (!strcmp(kind, "met") && !strcmp(clock, "annual_review") &&
            cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ev->data, "on_time")))
            write2(b, "ZADD", OPS_K_ARLATE, strf(tmp, sizeof(tmp), "%d", day_of(due)), id);
    }
}

int ops_projection_wants(const sp_event *ev) {
    return strncmp(ev->subject, "team:", 5) != 0;
}

void ops_projection_add(ops_batch *b, const sp_event *ev) {
    ops_batch_event_begin(b, ev->subject, ev->id);
    ops_batch_write(b, "RPUSH", OPS_K_TIMELINE);
    ops_timeline_arg(b, ev);
    ops_batch_write_end(b);
    if (!strncmp(ev->type, "deadline.", 9)) deadline_event(b, ev);
    else case_event(b, ev);
    ops_batch_event_end(b);
}
