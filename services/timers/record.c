/* record.c - clock records and fire schedules. See record.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layout.h"
#include "record.h"

const char *const timers_fire_names[] = {"approaching", "due", "overdue"};

/* "YYYYMMDD": dates are years 0..9999 (dates.h), so 8 digits always fit. */
static void date_compact(sp_date d, char *buf) {
    int y, m, day;
    sp_date_split(d, &y, &m, &day);
    unsigned v = (unsigned)y * 10000u + (unsigned)m * 100u + (unsigned)day;
    for (int i = 7; i >= 0; i--, v /= 10) buf[i] = (char)('0' + v % 10);
    buf[8] = '\0';
}

static int date_uncompact(const char *s, sp_date *d) {
    if (strlen(s) != 8 || strspn(s, "0123456789") != 8) return -1;
    int v = atoi(s);
    *d = sp_date_make(v / 10000, v / 100 % 100, v % 100);
    return *d == SP_DATE_INVALID ? -1 : 0;
}

/* A whole non-negative number and nothing else. */
static int number(const char *s, long *out) {
    char *end;
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9) return -1;
    *out = strtol(s, &end, 10);
    return 0;
}

/* The packed record (record.h): start, due, seq and flags in one integer
 * below 2^48, exact in Lua's doubles too; the stop and exception scripts
 * take it apart with the same arithmetic. */
#define PACK_DAYS (1 << 17) /* dates 1970-01-01 .. 2328 */
#define PACK_SEQ (1 << 12)
#define PACK_FLAGS 4

/* "<packed>[|<reason>]", or 0 if the record does not fit (text then). The
 * start is at least 1970-01-02, so a packed value has 10 digits or more and
 * never looks like a text record's 8-digit date. */
static int record_pack(const timers_record *r, char *buf, size_t size) {
    if (timers_layout_get() < 2 || r->start < 1 || r->start >= PACK_DAYS || r->due < 0 ||
        r->due >= PACK_DAYS || r->seq < 0 || r->seq >= PACK_SEQ || r->flags >= PACK_FLAGS)
        return 0;
    uint64_t v = (((uint64_t)r->start * PACK_DAYS + (uint64_t)r->due) * PACK_SEQ +
                  (uint64_t)r->seq) * PACK_FLAGS + r->flags;
    int n = snprintf(buf, size, "%llu%s%s", (unsigned long long)v, r->reason[0] ? "|" : "",
                     r->reason);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

static int record_unpack(const char *text, size_t len, timers_record *r) {
    uint64_t v = 0;
    const char *bar = memchr(text, '|', len);
    size_t rlen = bar ? len - (size_t)(bar - text) - 1 : 0;
    if (bar && (rlen == 0 || rlen >= sizeof(r->reason) || memchr(bar + 1, '|', rlen)))
        return -1;
    if (bar) len = (size_t)(bar - text);
    if (len < 10 || len > 15 || text[0] == '0') return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    r->flags = (unsigned)(v % PACK_FLAGS);
    v /= PACK_FLAGS;
    r->seq = (int)(v % PACK_SEQ);
    v /= PACK_SEQ;
    r->due = (sp_date)(v % PACK_DAYS);
    v /= PACK_DAYS;
    if (v >= PACK_DAYS) return -1;
    r->start = (sp_date)v;
    if (r->start < 1) return -1;
    memcpy(r->reason, bar ? bar + 1 : "", rlen);
    r->reason[rlen] = '\0';
    return 0;
}

int timers_record_encode(const timers_record *r, char *buf, size_t size) {
    char s[9], d[9];
    int packed = record_pack(r, buf, size);
    if (packed) return packed;
    date_compact(r->start, s);
    date_compact(r->due, d);
    int n = snprintf(buf, size, "%s|%s|%d|%u%s%s", s, d, r->seq, r->flags,
                     r->reason[0] ? "|" : "", r->reason);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int timers_record_decode(const char *text, size_t len, timers_record *r) {
    char buf[128], *f[5], *save = NULL;
    int n = 0;
    const char *bar = memchr(text, '|', len);
    if (!bar || bar - text != 8) return record_unpack(text, len, r);
    if (len >= sizeof(buf)) return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    for (char *t = strtok_r(buf, "|", &save); t && n < 5; t = strtok_r(NULL, "|", &save))
        f[n++] = t;
    long seq, flags;
    if (n < 4 || date_uncompact(f[0], &r->start) || date_uncompact(f[1], &r->due) ||
        number(f[2], &seq) || number(f[3], &flags) ||
        (n == 5 && strlen(f[4]) >= sizeof(r->reason)))
        return -1;
    r->seq = (int)seq;
    r->flags = (unsigned)flags;
    snprintf(r->reason, sizeof(r->reason), "%s", n == 5 ? f[4] : "");
    return 0;
}

/* fire_hour o'clock London time on d, also on the Sundays the clocks change
 * (local midnight + N hours would be an hour off on those days). */
static int64_t fire_at(const timers_schedule *s, sp_date d) {
    int64_t as_utc = (int64_t)d * 86400000 + (int64_t)s->fire_hour * 3600000;
    int off = sp_london_offset_s(as_utc - 3600000);
    return as_utc - (int64_t)off * 1000;
}

void timers_schedule_point(const timers_schedule *s, const timers_record *r, int seq,
                           timers_fire_point *out) {
    int n_app = (r->flags & TIMERS_FLAG_INFORMATIONAL) ? 0 : s->n_approaching;
    memset(out, 0, sizeof(*out));
    if (seq < n_app) {
        out->kind = TIMERS_FIRE_APPROACHING;
        out->days_left = s->approaching[seq];
        out->date = sp_add_working_days(s->holidays, r->due, -s->approaching[seq]);
    } else if (seq == n_app) {
        out->kind = TIMERS_FIRE_DUE;
        out->date = r->due;
    } else {
        out->kind = TIMERS_FIRE_OVERDUE;
        out->days_left = 1 + (seq - n_app - 1) * s->overdue_repeat_days;
        out->date = sp_date_add_days(r->due, out->days_left);
    }
    /* An approaching point can land before the clock started (a short clock):
     * it then fires on the start day, still before due. */
    if (out->kind == TIMERS_FIRE_APPROACHING && out->date < r->start) out->date = r->start;
    out->at_ms = fire_at(s, out->date);
}

int timers_schedule_first(const timers_schedule *s, const timers_record *r, sp_date from) {
    int n_app = (r->flags & TIMERS_FLAG_INFORMATIONAL) ? 0 : s->n_approaching;
    timers_fire_point p;
    for (int seq = 0; seq < n_app; seq++) {
        timers_schedule_point(s, r, seq, &p);
        if (p.date >= from) return seq;
    }
    return n_app;
}
