/* events.c - building deadline events. See events.h. */
#include <stdio.h>
#include <string.h>
#include "envelope.h"
#include "events.h"

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

char *timers_event_started(sp_service *s, const char *slot, const timers_record *r) {
    char cid[TIMERS_SLOT_MAX + 16], case_id[64];
    cJSON *d = base_data(slot, r, cid, sizeof(cid), case_id, sizeof(case_id));
    cJSON_AddBoolToObject(d, "informational", (r->flags & TIMERS_FLAG_INFORMATIONAL) != 0);
    return finish(s, cid, "started", "deadline.started", case_id, d);
}

char *timers_event_fire(sp_service *s, const char *slot, const timers_record *r,
                        int seq, const timers_fire_point *p) {
    char cid[TIMERS_SLOT_MAX + 16], case_id[64], suffix[48], type[32], buf[16];
    const char *kind = timers_fire_names[p->kind];
    cJSON *d = base_data(slot, r, cid, sizeof(cid), case_id, sizeof(case_id));
    cJSON_AddStringToObject(d, "date", sp_date_iso(p->date, buf, sizeof(buf)));
    cJSON_AddNumberToObject(d, "seq", seq);
    if (p->kind == TIMERS_FIRE_APPROACHING)
        cJSON_AddNumberToObject(d, "working_days_left", p->days_left);
    if (p->kind == TIMERS_FIRE_OVERDUE) cJSON_AddNumberToObject(d, "days_overdue", p->days_left);
    snprintf(suffix, sizeof(suffix), "%s/%d", kind, seq);
    snprintf(type, sizeof(type), "deadline.%s", kind);
    return finish(s, cid, suffix, type, case_id, d);
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
