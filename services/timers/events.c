/* events.c - building deadline events. See events.h.
 *
 * deadline.started and the fire events are most of what timers publishes (one
 * per clock armed, one per fire point), so they are written straight as text
 * into a stack buffer, in the same field order cJSON would print, instead of
 * through a cJSON tree (a malloc per field and a print): building them was
 * the top of timers' profile while arming and firing. The rarer stop and
 * exception events still use cJSON. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "envelope.h"
#include "events.h"

#define EV_TEXT_MAX 2048 /* a fire event is ~600 bytes; slot and reason are bounded */

typedef struct ev_text {
    char buf[EV_TEXT_MAX];
    size_t len;
    int overflow;
} ev_text;

static void ev_raw(ev_text *t, const char *s, size_t n) {
    if (t->overflow || n >= sizeof(t->buf) - t->len) {
        t->overflow = 1;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void ev_fmt(ev_text *t, const char *fmt, ...) {
    va_list ap;
    if (t->overflow) return;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(t->buf) - t->len) t->overflow = 1;
    else t->len += (size_t)n;
}

/* A JSON string, escaped as cJSON escapes it. */
static void ev_str(ev_text *t, const char *s) {
    static const char hex[] = "0123456789abcdef";
    ev_raw(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc) {
            ev_raw(t, esc, 2);
        } else if (*p < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            ev_raw(t, u, 6);
        } else {
            ev_raw(t, (const char *)p, 1);
        }
    }
    ev_raw(t, "\"", 1);
}

/* ,"name":"value" */
static void ev_field(ev_text *t, const char *name, const char *value) {
    ev_fmt(t, ",\"%s\":", name);
    ev_str(t, value);
}

void timers_slot_make(char *buf, size_t size, const char *case_id, const char *clock,
                      const char *qualifier) {
    if (qualifier && *qualifier)
        snprintf(buf, size, "%s:%s:%s", case_id, clock, qualifier);
    else
        snprintf(buf, size, "%s:%s", case_id, clock);
}

int timers_slot_split(const char *slot, char *case_id, size_t case_size, char *clock,
                      size_t clock_size, char *qualifier, size_t qual_size) {
    const char *a = strchr(slot, ':'), *b;
    if (!a) return -1;
    b = strchr(a + 1, ':');
    snprintf(case_id, case_size, "%.*s", (int)(a - slot), slot);
    if (b) {
        snprintf(clock, clock_size, "%.*s", (int)(b - a - 1), a + 1);
        snprintf(qualifier, qual_size, "%s", b + 1);
    } else {
        snprintf(clock, clock_size, "%s", a + 1);
        qualifier[0] = '\0';
    }
    return 0;
}

/* The clock instance: the slot and its start date, unique for ever. */
static void clock_id(char *buf, size_t size, const char *slot, const timers_record *r) {
    int y, m, d;
    sp_date_split(r->start, &y, &m, &d);
    snprintf(buf, size, "%s:%04d%02d%02d", slot, y, m, d);
}

/* The envelope up to "data":{ and the fields every deadline event's data
 * starts with (base_data() below, as text). */
static void text_head(ev_text *t, const char *source, int64_t now_ms, const char *suffix,
                      const char *type, const char *slot, const timers_record *r) {
    char clock[64], qual[96], case_id[64], cid[TIMERS_SLOT_MAX + 16], ts[32], buf[16];
    char full_id[TIMERS_SLOT_MAX + 96];
    timers_slot_split(slot, case_id, sizeof(case_id), clock, sizeof(clock), qual,
                      sizeof(qual));
    clock_id(cid, sizeof(cid), slot, r);
    sp_time_rfc3339(now_ms, ts, sizeof(ts));
    snprintf(full_id, sizeof(full_id), "%s/%s", cid, suffix);
    ev_raw(t, "{\"specversion\":", 15);
    ev_str(t, SP_EVENT_SPECVERSION);
    ev_field(t, "id", full_id);
    ev_field(t, "source", source);
    ev_field(t, "type", type);
    ev_field(t, "time", ts);
    ev_field(t, "subject", case_id);
    ev_field(t, "datacontenttype", "application/json");
    ev_raw(t, ",\"data\":{\"case_id\":", 19);
    ev_str(t, case_id);
    ev_field(t, "clock_id", cid);
    ev_field(t, "clock", clock);
    if (qual[0]) ev_field(t, "qualifier", qual);
    ev_field(t, "started_on", sp_date_iso(r->start, buf, sizeof(buf)));
    ev_field(t, "due_date", sp_date_iso(r->due, buf, sizeof(buf)));
    ev_fmt(t, ",\"excepted\":%s", (r->flags & TIMERS_FLAG_EXCEPTED) ? "true" : "false");
    if (r->reason[0]) ev_field(t, "exception_reason", r->reason);
}

/* The text as a new cJSON allocation, or NULL if it did not fit. */
static char *text_done(ev_text *t) {
    ev_raw(t, "}}", 2);
    if (t->overflow) return NULL;
    char *out = cJSON_malloc(t->len + 1);
    if (!out) return NULL;
    memcpy(out, t->buf, t->len);
    out[t->len] = '\0';
    return out;
}

static cJSON *base_data(const char *slot, const timers_record *r, char *cid, size_t size,
                        char *case_id, size_t case_size) {
    char clock[64], qual[96], buf[16];
    cJSON *d = cJSON_CreateObject();
    timers_slot_split(slot, case_id, case_size, clock, sizeof(clock), qual, sizeof(qual));
    clock_id(cid, size, slot, r);
    cJSON_AddStringToObject(d, "case_id", case_id);
    cJSON_AddStringToObject(d, "clock_id", cid);
    cJSON_AddStringToObject(d, "clock", clock);
    if (qual[0]) cJSON_AddStringToObject(d, "qualifier", qual);
    cJSON_AddStringToObject(d, "started_on", sp_date_iso(r->start, buf, sizeof(buf)));
    cJSON_AddStringToObject(d, "due_date", sp_date_iso(r->due, buf, sizeof(buf)));
    cJSON_AddBoolToObject(d, "excepted", (r->flags & TIMERS_FLAG_EXCEPTED) != 0);
    if (r->reason[0]) cJSON_AddStringToObject(d, "exception_reason", r->reason);
    return d;
}

static char *finish(sp_service *s, const char *cid, const char *suffix, const char *type,
                    const char *case_id, cJSON *data) {
    char id[320];
    snprintf(id, sizeof(id), "%s/%s", cid, suffix);
    return sp_event_build_text(id, s->source, type, sp_service_now(s), case_id, data);
}

char *timers_event_started_text(const char *source, int64_t now_ms, const char *slot,
                               const timers_record *r) {
    ev_text t;
    t.len = 0;
    t.overflow = 0;
    text_head(&t, source, now_ms, "started", "deadline.started", slot, r);
    ev_fmt(&t, ",\"informational\":%s",
           (r->flags & TIMERS_FLAG_INFORMATIONAL) ? "true" : "false");
    return text_done(&t);
}

char *timers_event_fire_text(const char *source, int64_t now_ms, const char *slot,
                             const timers_record *r, int seq, const timers_fire_point *p) {
    char suffix[48], type[32], buf[16];
    const char *kind = timers_fire_names[p->kind];
    ev_text t;
    t.len = 0;
    t.overflow = 0;
    snprintf(suffix, sizeof(suffix), "%s/%d", kind, seq);
    snprintf(type, sizeof(type), "deadline.%s", kind);
    text_head(&t, source, now_ms, suffix, type, slot, r);
    ev_field(&t, "date", sp_date_iso(p->date, buf, sizeof(buf)));
    ev_fmt(&t, ",\"seq\":%d", seq);
    if (p->kind == TIMERS_FIRE_APPROACHING)
        ev_fmt(&t, ",\"working_days_left\":%d", p->days_left);
    if (p->kind == TIMERS_FIRE_OVERDUE) ev_fmt(&t, ",\"days_overdue\":%d", p->days_left);
    return text_done(&t);
}

char *timers_event_started(sp_service *s, const char *slot, const timers_record *r) {
    return timers_event_started_text(s->source, sp_service_now(s), slot, r);
}

char *timers_event_fire(sp_service *s, const char *slot, const timers_record *r,
                        int seq, const timers_fire_point *p) {
    return timers_event_fire_text(s->source, sp_service_now(s), slot, r, seq, p);
}

char *timers_event_stopped(sp_service *s, const char *slot, const timers_record *r,
                           int met, sp_date on, const char *by) {
    char cid[TIMERS_SLOT_MAX + 16], case_id[64], buf[16];
    cJSON *d = base_data(slot, r, cid, sizeof(cid), case_id, sizeof(case_id));
    cJSON_AddStringToObject(d, "date", sp_date_iso(on, buf, sizeof(buf)));
    cJSON_AddStringToObject(d, "by", by);
    if (met) {
        cJSON_AddStringToObject(d, "met_on", buf);
        cJSON_AddBoolToObject(d, "on_time", on <= r->due);
        return finish(s, cid, "met", "deadline.met", case_id, d);
    }
    cJSON_AddStringToObject(d, "cancelled_on", buf);
    return finish(s, cid, "cancelled", "deadline.cancelled", case_id, d);
}

char *timers_event_excepted(sp_service *s, const char *slot, const timers_record *r) {
    char cid[TIMERS_SLOT_MAX + 16], case_id[64], suffix[64];
    cJSON *d = base_data(slot, r, cid, sizeof(cid), case_id, sizeof(case_id));
    snprintf(suffix, sizeof(suffix), "excepted/%s", r->reason);
    return finish(s, cid, suffix, "deadline.excepted", case_id, d);
}
