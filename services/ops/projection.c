/* projection.c - applying events to ops's read model. See projection.h.
 *
 * Each event becomes one EVALSHA whose arguments are a list of writes
 * (command, key number, argument count, arguments). The C side reads the
 * event and picks the writes from small tables; the script checks the event
 * id once and performs them. */
#include <openssl/sha.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "dates.h"
#include "projection.h"

enum { K_SEEN = 1, K_TIMELINE, K_CASE, K_CLOCKS, K_DL, K_WHO, K_DECIDED, K_ISSUED,
       K_ARLATE, K__COUNT = K_ARLATE };

/* HSETXX sets a field only if it exists: an exception must not bring back a
 * deadline that was met or cancelled before it arrived. */
const char ops_projection_script[] =
    "if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "local i = 2\n"
    "while i <= #ARGV do\n"
    "  local cmd, k, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])\n"
    "  if cmd == 'HSETXX' then\n"
    "    if redis.call('HEXISTS', k, ARGV[i + 3]) == 1 then\n"
    "      redis.call('HSET', k, ARGV[i + 3], ARGV[i + 4]) end\n"
    "  else\n"
    "    redis.call(cmd, k, unpack(ARGV, i + 3, i + 2 + n))\n"
    "  end\n"
    "  i = i + 3 + n\n"
    "end\n"
    "return 1\n";

void ops_projection_sha(char sha[41]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)ops_projection_script, strlen(ops_projection_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) sprintf(sha + 2 * i, "%02x", md[i]);
}

int ops_projection_load(sp_redis *r, sp_redis_cb cb, void *priv) {
    const char *argv[] = {"SCRIPT", "LOAD", ops_projection_script};
    return sp_redis_command_argv(r, cb, priv, 3, argv, NULL);
}

/* ---- building one call ---------------------------------------------------- */

#define MAX_ARGS 96

typedef struct proj_call {
    const char *argv[MAX_ARGS];
    int argc, overflow;
    int nargs_at; /* argv index of the open write's argument count */
    char nbuf[16][12];
    int nbufs;
    char scratch[2048]; /* formatted values live here until the call is sent */
    size_t used;
} proj_call;

static void arg(proj_call *c, const char *s) {
    if (c->argc < MAX_ARGS) c->argv[c->argc++] = s ? s : "";
    else c->overflow = 1;
}

/* A copy of the formatted text in the call's scratch space. */
static const char *fmt(proj_call *c, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt(proj_call *c, const char *f, ...) {
    va_list ap;
    char *at = c->scratch + c->used;
    size_t room = sizeof(c->scratch) - c->used;
    va_start(ap, f);
    int n = vsnprintf(at, room, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        c->overflow = 1;
        return "";
    }
    c->used += (size_t)n + 1;
    return at;
}

/* Opens a write: cmd on key number k; its arguments follow with arg(). */
static void write_begin(proj_call *c, const char *cmd, int k) {
    static const char *const keys[] = {"", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    arg(c, cmd);
    arg(c, keys[k]);
    c->nargs_at = c->argc;
    arg(c, "0");
}

static void write_end(proj_call *c) {
    if (c->overflow || c->nbufs == 16) {
        c->overflow = 1;
        return;
    }
    char *n = c->nbuf[c->nbufs++];
    snprintf(n, sizeof(c->nbuf[0]), "%d", c->argc - c->nargs_at - 1);
    c->argv[c->nargs_at] = n;
}

static void write2(proj_call *c, const char *cmd, int k, const char *a, const char *b) {
    write_begin(c, cmd, k);
    arg(c, a);
    arg(c, b);
    write_end(c);
}

/* ---- reading events -------------------------------------------------------- */

static const char *str(const cJSON *o, const char *name) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static sp_date day_of(const char *iso) {
    sp_date d;
    return iso && sp_date_parse(iso, &d) == 0 ? d : SP_DATE_INVALID;
}

/* The date the event is about, for the timeline: the business date the
 * regulations count from, else the day it was recorded. */
static const char *business_date(const sp_event *ev, char *buf, size_t size) {
    static const char *fields[] = {"received_date", "date", "plan_date", "met_on",
                                   "cancelled_on", "started_on", NULL};
    for (int i = 0; fields[i]; i++)
        if (sp_event_str(ev, fields[i])) return sp_event_str(ev, fields[i]);
    return sp_date_iso(sp_date_from_ms(ev->time_ms), buf, size);
}

/* Fields copied from data into the timeline entry when present. */
static const char *const timeline_fields[] = {
    "clock", "clock_id", "due_date", "adviser", "template", "recipient_role",
    "channel", "outcome", "reason", "by", NULL};

static char *timeline_entry(const sp_event *ev) {
    char buf[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ev->id);
    cJSON_AddStringToObject(o, "type", ev->type);
    cJSON_AddStringToObject(o, "time", ev->time);
    cJSON_AddStringToObject(o, "business_date", business_date(ev, buf, sizeof(buf)));
    for (int i = 0; timeline_fields[i]; i++)
        if (sp_event_str(ev, timeline_fields[i]))
            cJSON_AddStringToObject(o, timeline_fields[i], sp_event_str(ev, timeline_fields[i]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
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
static void case_identity(proj_call *c, const sp_event *ev) {
    const cJSON *child = cJSON_GetObjectItemCaseSensitive(ev->data, "child");
    const cJSON *school = cJSON_GetObjectItemCaseSensitive(ev->data, "school");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(ev->data, "requester");
    char ini[32];
    if (!child && !school) return;
    write_begin(c, "HSET", K_CASE);
    if (child) {
        arg(c, "child_name");
        arg(c, fmt(c, "%s %s", str(child, "given_name") ? str(child, "given_name") : "",
                   str(child, "family_name") ? str(child, "family_name") : ""));
    }
    if (school) {
        arg(c, "school_urn"), arg(c, str(school, "urn"));
        arg(c, "school_name"), arg(c, str(school, "name"));
    }
    if (req) arg(c, "requester_type"), arg(c, str(req, "type"));
    write_end(c);
    initials(str(child, "given_name"), str(child, "family_name"), ini, sizeof(ini));
    write2(c, "HSET", K_WHO, ev->subject,
           fmt(c, "%s\t%s", school && str(school, "urn") ? str(school, "urn") : "", ini));
}

/* What a case event changes on the case: status, SEN2 dates, advice. */
static void case_event(proj_call *c, const sp_event *ev) {
    const char *date = sp_event_str(ev, "date"), *t = ev->type;
    for (int i = 0; case_statuses[i].type; i++)
        if (!strcmp(t, case_statuses[i].type)) write2(c, "HSET", K_CASE, "status", case_statuses[i].status);
    if (sp_event_str(ev, "received_date"))
        write2(c, "HSET", K_CASE, "received_date", sp_event_str(ev, "received_date"));
    else if (sp_event_str(ev, "request_received_date"))
        write2(c, "HSET", K_CASE, "received_date", sp_event_str(ev, "request_received_date"));
    if (!strcmp(t, "plan.imported") && sp_event_str(ev, "plan_date"))
        write2(c, "HSET", K_CASE, "plan_date", sp_event_str(ev, "plan_date"));
    case_identity(c, ev);
    if (!date || day_of(date) == SP_DATE_INVALID) return;
    if (!strcmp(t, "decision.assess") || !strcmp(t, "decision.not_assess")) {
        write2(c, "HSET", K_CASE, "decided_on", date);
        write2(c, "ZADD", K_DECIDED, fmt(c, "%d", day_of(date)), ev->subject);
    } else if (!strcmp(t, "final_plan.issued")) {
        write2(c, "HSET", K_CASE, "issued_on", date);
        write2(c, "ZADD", K_ISSUED, fmt(c, "%d", day_of(date)), ev->subject);
    } else if (!strcmp(t, "exception.recorded") && sp_event_str(ev, "clock")) {
        write2(c, "HSET", K_CASE, fmt(c, "exc:%s", sp_event_str(ev, "clock")),
               sp_event_str(ev, "reason"));
    } else if (!strcmp(t, "advice.requested") && sp_event_str(ev, "adviser")) {
        write2(c, "HSET", K_CASE, fmt(c, "adv:%s", sp_event_str(ev, "adviser")), date);
    } else if (!strcmp(t, "advice.received") && sp_event_str(ev, "adviser")) {
        write2(c, "HSET", K_CASE, fmt(c, "advr:%s", sp_event_str(ev, "adviser")), date);
    } else if (!strcmp(t, "evidence.complete")) {
        write2(c, "HSET", K_CASE, "evidence_complete", date);
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
 * index, and the late annual reviews SEN2 counts. clock_text is set to the
 * JSON the call points to (the caller frees it). */
static void deadline_event(proj_call *c, const sp_event *ev, char **clock_text) {
    const char *kind = ev->type + strlen("deadline."), *id = sp_event_str(ev, "clock_id");
    const char *clock = sp_event_str(ev, "clock"), *due = sp_event_str(ev, "due_date");
    int excepted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "excepted"));
    if (!id || !clock || !due) return;
    *clock_text = clock_json(ev, kind);
    write2(c, "HSET", K_CLOCKS, id, *clock_text);
    const char *rec = fmt(c, "%s\t%s\t%s\t%s\t%d", ev->subject, clock, due,
                          sp_event_str(ev, "started_on") ? sp_event_str(ev, "started_on") : "",
                          excepted);
    if (!strcmp(kind, "started")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "informational")))
            write2(c, "HSET", K_DL, id, rec);
    } else if (!strcmp(kind, "excepted")) {
        write2(c, "HSETXX", K_DL, id, rec);
    } else if (!strcmp(kind, "met") || !strcmp(kind, "cancelled")) {
        write_begin(c, "HDEL", K_DL);
        arg(c, id);
        write_end(c);
        if (!strcmp(kind, "met") && !strcmp(clock, "annual_review") &&
            cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ev->data, "on_time")))
            write2(c, "ZADD", K_ARLATE, fmt(c, "%d", day_of(due)), id);
    }
}

int ops_projection_apply(sp_redis *r, const char *sha, const sp_event *ev,
                         sp_redis_cb cb, void *priv) {
    static proj_call c; /* one call is built at a time, on the loop thread */
    char *entry = timeline_entry(ev), *clock = NULL;
    const char *keys[K__COUNT + 1];
    int rc;
    memset(&c, 0, offsetof(proj_call, scratch));
    c.used = 0;
    keys[K_SEEN] = fmt(&c, "ops:seen:%s", ev->subject);
    keys[K_TIMELINE] = fmt(&c, "ops:timeline:%s", ev->subject);
    keys[K_CASE] = fmt(&c, "ops:case:%s", ev->subject);
    keys[K_CLOCKS] = fmt(&c, "ops:clocks:%s", ev->subject);
    keys[K_DL] = "ops:dl", keys[K_WHO] = "ops:who";
    keys[K_DECIDED] = "ops:sen2:decided", keys[K_ISSUED] = "ops:sen2:issued";
    keys[K_ARLATE] = "ops:sen2:arlate";
    arg(&c, "EVALSHA"), arg(&c, sha), arg(&c, fmt(&c, "%d", K__COUNT));
    for (int k = 1; k <= K__COUNT; k++) arg(&c, keys[k]);
    arg(&c, ev->id);
    write_begin(&c, "RPUSH", K_TIMELINE);
    arg(&c, entry);
    write_end(&c);
    if (!strncmp(ev->type, "deadline.", 9)) deadline_event(&c, ev, &clock);
    else case_event(&c, ev);
    rc = c.overflow ? -2 : sp_redis_command_argv(r, cb, priv, c.argc, c.argv, NULL);
    cJSON_free(entry);
    cJSON_free(clock);
    return rc;
}
