/* holidays.c - the bank holiday set and working-day arithmetic. See
 * holidays.h.
 *
 * The set is one allocation, the struct followed by its sorted dates, so it
 * is freed with one call and copied nowhere. Parsing is strict: a date that
 * does not parse fails the whole file, because silently dropping a holiday
 * would move every deadline that spans it by a day. An empty list fails too:
 * a set with no holidays is indistinguishable from "every weekday works",
 * which is never true of a real year.
 *
 * Counting working days between two dates is arithmetic on whole weeks plus a
 * binary search for the holidays in the span, so a report over years of
 * cases costs the same per case as one over a week. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cJSON.h>
#include "holidays.h"

/* The government's file is about 30 KiB; anything near this is not one. */
#define HOLIDAYS_FILE_MAX (4 * 1024 * 1024)
#define HOLIDAYS_DIVISION "england-and-wales"

static int date_cmp(const void *a, const void *b) {
    sp_date x = *(const sp_date *)a, y = *(const sp_date *)b;
    return (x > y) - (x < y);
}

/* Reads one event's date. Returns 0, or -1 with errstr naming the event. */
static int holidays_event_date(const cJSON *ev, int i, sp_date *d, char *errstr,
                               size_t errstr_size) {
    const cJSON *date;
    if (!cJSON_IsObject(ev)) {
        snprintf(errstr, errstr_size,
                 "bank holidays: %s events[%d] is not an object",
                 HOLIDAYS_DIVISION, i);
        return -1;
    }
    date = cJSON_GetObjectItemCaseSensitive(ev, "date");
    if (!cJSON_IsString(date)) {
        snprintf(errstr, errstr_size,
                 "bank holidays: %s events[%d] has no \"date\" string",
                 HOLIDAYS_DIVISION, i);
        return -1;
    }
    if (sp_date_parse(date->valuestring, d) < 0) {
        snprintf(errstr, errstr_size,
                 "bank holidays: %s events[%d]: bad date \"%.32s\" "
                 "(want YYYY-MM-DD)",
                 HOLIDAYS_DIVISION, i, date->valuestring);
        return -1;
    }
    return 0;
}

/* Finds the events array of our division. Returns NULL with errstr. */
static const cJSON *holidays_events(const cJSON *root, char *errstr,
                                    size_t errstr_size) {
    const cJSON *div, *events;
    if (!cJSON_IsObject(root)) {
        snprintf(errstr, errstr_size, "bank holidays: root is not an object");
        return NULL;
    }
    div = cJSON_GetObjectItemCaseSensitive(root, HOLIDAYS_DIVISION);
    if (!cJSON_IsObject(div)) {
        snprintf(errstr, errstr_size, "bank holidays: no \"%s\" object",
                 HOLIDAYS_DIVISION);
        return NULL;
    }
    events = cJSON_GetObjectItemCaseSensitive(div, "events");
    if (!cJSON_IsArray(events)) {
        snprintf(errstr, errstr_size,
                 "bank holidays: %s has no \"events\" array",
                 HOLIDAYS_DIVISION);
        return NULL;
    }
    if (cJSON_GetArraySize(events) == 0) {
        snprintf(errstr, errstr_size, "bank holidays: %s has no events",
                 HOLIDAYS_DIVISION);
        return NULL;
    }
    return events;
}

/* Builds the set from a non-empty events array. */
static sp_holidays *holidays_from_events(const cJSON *events, char *errstr,
                                         size_t errstr_size) {
    size_t n = (size_t)cJSON_GetArraySize(events), count = 1;
    sp_holidays *h = malloc(sizeof(*h) + n * sizeof(sp_date));
    const cJSON *ev;
    int i = 0;
    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->days = (sp_date *)(h + 1);
    cJSON_ArrayForEach(ev, events) {
        if (holidays_event_date(ev, i, &h->days[i], errstr, errstr_size) < 0) {
            free(h);
            return NULL;
        }
        i++;
    }
    /* The government lists events by date, but a hand-edited file need not
     * be, and a repeated date must count once. */
    qsort(h->days, n, sizeof(sp_date), date_cmp);
    for (size_t j = 1; j < n; j++)
        if (h->days[j] != h->days[count - 1]) h->days[count++] = h->days[j];
    h->count = count;
    h->first = h->days[0];
    h->last = h->days[count - 1];
    return h;
}

/* Parses the whole of json[0, len) as one JSON value. Text after the value
 * is an error too: a file with two documents pasted together is a mistake,
 * not a holiday list. Returns the tree (cJSON_Delete it) or NULL. */
static cJSON *holidays_parse_json(const char *json, size_t len, char *errstr,
                                  size_t errstr_size) {
    const char *end = NULL, *stop = json + len;
    /* The Opts form reports where parsing stopped without cJSON's global
     * error pointer, and len bounds it, so json need not end in a NUL. */
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    int line = 1;
    if (root) {
        while (end < stop &&
               (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end == stop || *end == '\0') return root;
        cJSON_Delete(root);
    }
    for (const char *p = json; end && p < end && p < stop; p++)
        line += *p == '\n';
    snprintf(errstr, errstr_size, "bank holidays: invalid JSON at line %d",
             line);
    return NULL;
}

sp_holidays *sp_holidays_parse(const char *json, size_t len, char *errstr,
                               size_t errstr_size) {
    cJSON *root = holidays_parse_json(json, len, errstr, errstr_size);
    const cJSON *events;
    sp_holidays *h = NULL;
    if (!root) return NULL;
    if ((events = holidays_events(root, errstr, errstr_size)) != NULL)
        h = holidays_from_events(events, errstr, errstr_size);
    cJSON_Delete(root);
    return h;
}

/* Reads the whole file at path. Returns a new buffer (free it) or NULL. */
static char *holidays_read_file(const char *path, size_t *len, char *errstr,
                                size_t errstr_size) {
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) goto fail;
    if (fstat(fd, &st) < 0) goto fail;
    if (!S_ISREG(st.st_mode) || st.st_size > HOLIDAYS_FILE_MAX) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 S_ISREG(st.st_mode) ? "larger than 4 MiB, not a holiday list"
                                     : "not a regular file");
        close(fd);
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) goto fail;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) goto fail;
        if (r == 0) break; /* shrank since fstat: parse what is there */
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
fail:
    snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

sp_holidays *sp_holidays_load(const char *path, char *errstr,
                              size_t errstr_size) {
    size_t len;
    char *json = holidays_read_file(path, &len, errstr, errstr_size);
    sp_holidays *h;
    char inner[256];
    if (!json) return NULL;
    h = sp_holidays_parse(json, len, inner, sizeof(inner));
    if (!h) snprintf(errstr, errstr_size, "%s: %s", path, inner);
    free(json);
    return h;
}

void sp_holidays_free(sp_holidays *h) { free(h); }

/* The index of the first holiday on or after d (count if none). */
static size_t holidays_lower_bound(const sp_holidays *h, sp_date d) {
    size_t lo = 0, hi = h->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->days[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int sp_holidays_contains(const sp_holidays *h, sp_date d) {
    if (!h) return 0;
    size_t i = holidays_lower_bound(h, d);
    return i < h->count && h->days[i] == d;
}

int sp_is_working_day(const sp_holidays *h, sp_date d) {
    return sp_date_weekday(d) < 5 && !sp_holidays_contains(h, d);
}

sp_date sp_add_working_days(const sp_holidays *h, sp_date d, int n) {
    int step = n > 0 ? 1 : -1;
    if (d == SP_DATE_INVALID) return SP_DATE_INVALID;
    while (n != 0) {
        d = sp_date_add_days(d, step);
        if (d == SP_DATE_INVALID) return SP_DATE_INVALID;
        if (sp_is_working_day(h, d)) n -= step;
    }
    return d;
}

/* Monday to Friday dates in [1970-01-05, d), negative for d before it: a
 * running count whose differences give the weekdays in any span. */
static int64_t weekdays_before(int64_t d) {
    int64_t k = d - 4; /* day 4, 1970-01-05, was a Monday */
    int64_t weeks = k >= 0 ? k / 7 : -((6 - k) / 7);
    int64_t rem = k - weeks * 7; /* 0 = Monday ... 6 = Sunday */
    return weeks * 5 + (rem < 5 ? rem : 5);
}

/* Working days in (from, to] for from <= to. */
static int64_t working_days_forward(const sp_holidays *h, sp_date from,
                                    sp_date to) {
    int64_t n =
        weekdays_before((int64_t)to + 1) - weekdays_before((int64_t)from + 1);
    size_t i;
    if (!h) return n;
    i = holidays_lower_bound(h, from);
    if (i < h->count && h->days[i] == from)
        i++; /* from itself is not counted */
    for (; i < h->count && h->days[i] <= to; i++)
        if (sp_date_weekday(h->days[i]) < 5) n--;
    return n;
}

int sp_working_days_between(const sp_holidays *h, sp_date from, sp_date to) {
    if (to >= from) return (int)working_days_forward(h, from, to);
    return -(int)working_days_forward(h, to, from);
}
