/* events.c - building deadline events. See events.h.
 *
 * deadline.started and the fire events are most of what timers publishes (one
 * per clock armed, one per fire point), so they are written straight as text
 * into a stack buffer, in the same field order cJSON would print, instead of
 * through a cJSON tree (a malloc per field and a print): building them was
 * the top of timers' profile while arming and firing. The rarer stop and
 * exception events still use cJSON. */
#include <stdio.h>
#include <string.h>
#include "envelope.h"
#include "events.h"
#include "json_escape.h"

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

#define EV_LIT(t, lit) ev_raw((t), (lit), sizeof(lit) - 1)

/* v as exactly n decimal digits (zero-padded), as %0<n>d prints 0 <= v < 10^n. */
static void ev_digits(ev_text *t, unsigned v, int n) {
    char d[10];
    for (int i = n - 1; i >= 0; i--, v /= 10) d[i] = (char)('0' + v % 10);
    ev_raw(t, d, (size_t)n);
}

/* v as %d prints it. */
static void ev_int(ev_text *t, int v) {
    char d[12];
    int i = sizeof(d);
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do d[--i] = (char)('0' + u % 10); while ((u /= 10) > 0);
    if (v < 0) d[--i] = '-';
    ev_raw(t, d + i, sizeof(d) - (size_t)i);
}

/* A date as sp_date_iso writes it (YYYY-MM-DD, or invalid), or without the
 * dashes as the clock id has it. Written by hand: these and the fields
 * below were most of the cost of an event when printf wrote them. */
static void ev_date(ev_text *t, sp_date date, int dashes) {
    int y, m, d;
    sp_date_split(date, &y, &m, &d);
    if (dashes && m == 0) {
        EV_LIT(t, "invalid");
        return;
    }
    ev_digits(t, (unsigned)y, 4);
    if (dashes) EV_LIT(t, "-");
    ev_digits(t, (unsigned)m, 2);
    if (dashes) EV_LIT(t, "-");
    ev_digits(t, (unsigned)d, 2);
}

/* An instant as sp_time_rfc3339 writes it. */
static void ev_time(ev_text *t, int64_t ms) {
    int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - day * 86400000;
    int y, m, d;
    sp_date_split((sp_date)day, &y, &m, &d);
    if (m == 0) {
        EV_LIT(t, "invalid");
        return;
    }
    ev_date(t, (sp_date)day, 1);
    EV_LIT(t, "T");
    ev_digits(t, (unsigned)(rem / 3600000), 2);
    EV_LIT(t, ":");
    ev_digits(t, (unsigned)(rem / 60000 % 60), 2);
    EV_LIT(t, ":");
    ev_digits(t, (unsigned)(rem / 1000 % 60), 2);
    EV_LIT(t, ".");
    ev_digits(t, (unsigned)(rem % 1000), 3);
    EV_LIT(t, "Z");
}

/* The n bytes at s inside a JSON string, escaped as cJSON escapes them,
 * in one pass; the last byte of buf stays free, as ev_raw keeps it. */
static void ev_escaped(ev_text *t, const char *s, size_t n) {
    size_t room = t->overflow ? 0 : sizeof(t->buf) - t->len - 1;
    size_t need = sp_json_escape(t->buf + t->len, room, s, n);
    if (need > room)
        t->overflow = 1;
    else
        t->len += need;
}

/* A JSON string. */
static void ev_strn(ev_text *t, const char *s, size_t n) {
    EV_LIT(t, "\"");
    ev_escaped(t, s, n);
    EV_LIT(t, "\"");
}

static void ev_str(ev_text *t, const char *s) { ev_strn(t, s, strlen(s)); }

/* ,"name": (names are ours: nothing to escape) */
static void ev_name(ev_text *t, const char *name) {
    EV_LIT(t, ",\"");
    ev_raw(t, name, strlen(name));
    EV_LIT(t, "\":");
}

/* ,"name":"value" */
static void ev_field(ev_text *t, const char *name, const char *value) {
    ev_name(t, name);
    ev_str(t, value);
}

static void ev_fieldn(ev_text *t, const char *name, const char *value, size_t n) {
    ev_name(t, name);
    ev_strn(t, value, n);
}

/* ,"name":"YYYY-MM-DD" */
static void ev_date_field(ev_text *t, const char *name, sp_date d) {
    ev_name(t, name);
    EV_LIT(t, "\"");
    ev_date(t, d, 1);
    EV_LIT(t, "\"");
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

/* A slot's parts, pointing into it (timers_slot_split without copies). */
typedef struct ev_slot {
    const char *slot, *clock, *qual;
    size_t case_len, clock_len, slot_len;
} ev_slot;

static void ev_slot_parse(ev_slot *sl, const char *slot) {
    const char *a = strchr(slot, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    sl->slot = slot;
    sl->slot_len = strlen(slot);
    sl->case_len = a ? (size_t)(a - slot) : 0;
    sl->clock = a ? a + 1 : "";
    sl->clock_len = b ? (size_t)(b - a - 1) : strlen(sl->clock);
    sl->qual = b ? b + 1 : "";
}

/* The clock instance, "<slot>:<YYYYMMDD>", escaped, without quotes. */
static void ev_clock_id(ev_text *t, const ev_slot *sl, const timers_record *r) {
    ev_escaped(t, sl->slot, sl->slot_len);
    EV_LIT(t, ":");
    ev_date(t, r->start, 0);
}

/* The envelope up to "data":{ and the fields every deadline event's data
 * starts with (base_data() below, as text). suffix ends the id (escaped). */
static void text_head(ev_text *t, const char *source, int64_t now_ms, const char *suffix,
                      const char *type, const char *slot, const timers_record *r) {
    ev_slot sl;
    ev_slot_parse(&sl, slot);
    EV_LIT(t, "{\"specversion\":\"" SP_EVENT_SPECVERSION "\",\"id\":\"");
    ev_clock_id(t, &sl, r);
    EV_LIT(t, "/");
    ev_escaped(t, suffix, strlen(suffix));
    EV_LIT(t, "\"");
    ev_field(t, "source", source);
    ev_field(t, "type", type);
    EV_LIT(t, ",\"time\":\"");
    ev_time(t, now_ms);
    EV_LIT(t, "\"");
    ev_fieldn(t, "subject", slot, sl.case_len);
    EV_LIT(t, ",\"datacontenttype\":\"application/json\",\"data\":{\"case_id\":");
    ev_strn(t, slot, sl.case_len);
    EV_LIT(t, ",\"clock_id\":\"");
    ev_clock_id(t, &sl, r);
    EV_LIT(t, "\"");
    ev_fieldn(t, "clock", sl.clock, sl.clock_len);
    if (sl.qual[0]) ev_field(t, "qualifier", sl.qual);
    ev_date_field(t, "started_on", r->start);
    ev_date_field(t, "due_date", r->due);
    if (r->flags & TIMERS_FLAG_EXCEPTED) EV_LIT(t, ",\"excepted\":true");
    else EV_LIT(t, ",\"excepted\":false");
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
    if (r->flags & TIMERS_FLAG_INFORMATIONAL) EV_LIT(&t, ",\"informational\":true");
    else EV_LIT(&t, ",\"informational\":false");
    return text_done(&t);
}

char *timers_event_fire_text(const char *source, int64_t now_ms, const char *slot,
                             const timers_record *r, int seq, const timers_fire_point *p) {
    char suffix[48], type[32];
    const char *kind = timers_fire_names[p->kind];
    ev_text t;
    t.len = 0;
    t.overflow = 0;
    snprintf(suffix, sizeof(suffix), "%s/%d", kind, seq);
    snprintf(type, sizeof(type), "deadline.%s", kind);
    text_head(&t, source, now_ms, suffix, type, slot, r);
    ev_date_field(&t, "date", p->date);
    ev_name(&t, "seq");
    ev_int(&t, seq);
    if (p->kind == TIMERS_FIRE_APPROACHING) ev_name(&t, "working_days_left");
    if (p->kind == TIMERS_FIRE_OVERDUE) ev_name(&t, "days_overdue");
    if (p->kind == TIMERS_FIRE_APPROACHING || p->kind == TIMERS_FIRE_OVERDUE)
        ev_int(&t, p->days_left);
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
