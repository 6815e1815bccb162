/* timeline.c - one entry of a case's timeline. See timeline.h. */
#include <string.h>
#include "dates.h"
#include "json_escape.h"
#include "timeline.h"

/* Fields copied from data into the entry when present. */
static const char *const timeline_fields[] = {
    "clock", "clock_id", "due_date", "adviser", "template", "recipient_role",
    "channel", "outcome", "reason", "by", NULL};

#define TIMELINE_PAIRS 14 /* id, type, time, business_date and the fields */

const char *ops_timeline_business_date(const sp_event *ev, char *buf, size_t size) {
    static const char *fields[] = {"received_date", "date", "plan_date", "met_on",
                                   "cancelled_on", "started_on", NULL};
    for (int i = 0; fields[i]; i++)
        if (sp_event_str(ev, fields[i])) return sp_event_str(ev, fields[i]);
    return sp_date_iso(sp_date_from_ms(ev->time_ms), buf, size);
}

void ops_timeline_arg(ops_batch *b, const sp_event *ev) {
    char day[16];
    const char *kv[2 * TIMELINE_PAIRS];
    size_t n = 0, len = 2; /* the braces */
    const char *base[] = {"id", ev->id, "type", ev->type, "time", ev->time, "business_date",
                          ops_timeline_business_date(ev, day, sizeof(day))};
    for (size_t i = 0; i < 8; i += 2)
        if (base[i + 1]) kv[n++] = base[i], kv[n++] = base[i + 1];
    for (int i = 0; timeline_fields[i]; i++) {
        const char *v = sp_event_str(ev, timeline_fields[i]);
        if (v) kv[n++] = timeline_fields[i], kv[n++] = v;
    }
    size_t raw[TIMELINE_PAIRS], vlen[TIMELINE_PAIRS]; /* each value as given, escaped */
    /* "key":"value", each: the keys need no escaping */
    for (size_t i = 0; i < n; i += 2) {
        raw[i / 2] = strlen(kv[i + 1]);
        vlen[i / 2] = sp_json_escape(NULL, 0, kv[i + 1], raw[i / 2]);
        len += strlen(kv[i]) + 5 + vlen[i / 2] + (i ? 1 : 0);
    }
    char *p = ops_batch_arg_alloc(b, len);
    if (!p) return;
    *p++ = '{';
    for (size_t i = 0; i < n; i += 2) {
        size_t k = strlen(kv[i]);
        if (i) *p++ = ',';
        *p++ = '"';
        memcpy(p, kv[i], k);
        p += k;
        *p++ = '"';
        *p++ = ':';
        *p++ = '"';
        p += sp_json_escape(p, vlen[i / 2], kv[i + 1], raw[i / 2]);
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
}
