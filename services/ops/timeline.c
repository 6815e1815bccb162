/* timeline.c - one entry of a case's timeline. See timeline.h. */
#include <string.h>
#include "dates.h"
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

/* cJSON's escapes: the two-character ones, \u00xx (lower-case hex) for the
 * other control characters, every other byte as it is (UTF-8 unchanged). */
size_t ops_timeline_json_str(char *out, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
#define PUT(c) do { if (out) out[n] = (c); n++; } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e = 0;
        switch (*p) {
        case '"': e = '"'; break;
        case '\\': e = '\\'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        }
        if (e) {
            PUT('\\');
            PUT(e);
        } else if (*p < 32) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[*p >> 4]);
            PUT(hex[*p & 15]);
        } else {
            PUT((char)*p);
        }
    }
    PUT('"');
#undef PUT
    return n;
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
    /* "key":value, each: the keys need no escaping */
    for (size_t i = 0; i < n; i += 2)
        len += strlen(kv[i]) + 3 + ops_timeline_json_str(NULL, kv[i + 1]) + (i ? 1 : 0);
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
        p += ops_timeline_json_str(p, kv[i + 1]);
    }
    *p++ = '}';
    *p = '\0';
}
