/* dates.c - civil dates, Europe/London, RFC 3339. See dates.h.
 *
 * Day numbers come from Howard Hinnant's days_from_civil / civil_from_days:
 * the year is shifted to start on 1 March so the leap day is the last day of
 * the year, and 400-year eras make the arithmetic exact for any proleptic
 * Gregorian date with no tables and no loops.
 *
 * Dates are kept to years 0000-9999, the range "YYYY-MM-DD" can spell.
 * Anything that would leave it yields SP_DATE_INVALID, and SP_DATE_INVALID
 * passed in comes back out, so a bad date read from a message cannot turn
 * into a plausible-looking deadline further down a calculation.
 *
 * Europe/London is two rules, not a tz database: the host's zoneinfo differs
 * between containers, and a deadline must not depend on which one ran it.
 * The UK has used these rules since 1996 (EU summer time); if they change,
 * sp_london_offset_s() is the only function to edit. */
#include <stdio.h>
#include <string.h>
#include "dates.h"

#define DAY_MS INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)
#define DATE_MIN (-719528) /* 0000-01-01 */
#define DATE_MAX 2932896   /* 9999-12-31 */

static const char *weekday_names[7] = {"Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday",
                                       "Sunday"};
static const char *month_names[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

/* Floor division: C's '/' truncates toward zero, which would put instants
 * before 1970 on the wrong day. */
static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int date_in_range(int64_t d) { return d >= DATE_MIN && d <= DATE_MAX; }

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    /* Year of era [0, 399], day of year from 1 March [0, 365], day of era
     * [0, 146096]. */
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sp_date_is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int sp_date_days_in_month(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) return 0;
    return m == 2 && sp_date_is_leap(y) ? 29 : days[m - 1];
}

sp_date sp_date_make(int y, int m, int d) {
    if (y < 0 || y > 9999 || m < 1 || m > 12) return SP_DATE_INVALID;
    if (d < 1 || d > sp_date_days_in_month(y, m)) return SP_DATE_INVALID;
    return (sp_date)days_from_civil(y, m, d);
}

void sp_date_split(sp_date d, int *y, int *m, int *day) {
    int64_t yy;
    int mm, dd;
    if (!date_in_range(d)) {
        *y = *m = *day = 0;
        return;
    }
    civil_from_days(d, &yy, &mm, &dd);
    *y = (int)yy;
    *m = mm;
    *day = dd;
}

int sp_date_weekday(sp_date d) {
    /* Day 0 was a Thursday, ISO weekday 3. */
    int64_t w = ((int64_t)d + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* Reads exactly n decimal digits. Returns the value, or -1. */
static int parse_digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD" at s, with nothing about what follows. */
static sp_date parse_ymd(const char *s) {
    int y = parse_digits(s, 4), m, d;
    if (y < 0 || s[4] != '-') return SP_DATE_INVALID;
    if ((m = parse_digits(s + 5, 2)) < 0 || s[7] != '-') return SP_DATE_INVALID;
    if ((d = parse_digits(s + 8, 2)) < 0) return SP_DATE_INVALID;
    return sp_date_make(y, m, d);
}

int sp_date_parse(const char *s, sp_date *d) {
    /* strnlen first: parse_ymd reads up to 10 bytes and s may be shorter. */
    if (strnlen(s, 11) != 10) return -1;
    sp_date v = parse_ymd(s);
    if (v == SP_DATE_INVALID) return -1;
    *d = v;
    return 0;
}

char *sp_date_iso(sp_date d, char *buf, size_t size) {
    int y, m, day;
    if (!date_in_range(d)) {
        snprintf(buf, size, "invalid");
        return buf;
    }
    sp_date_split(d, &y, &m, &day);
    snprintf(buf, size, "%04d-%02d-%02d", y, m, day);
    return buf;
}

char *sp_date_long(sp_date d, char *buf, size_t size) {
    int y, m, day;
    if (!date_in_range(d)) {
        snprintf(buf, size, "invalid");
        return buf;
    }
    sp_date_split(d, &y, &m, &day);
    snprintf(buf, size, "%s %d %s %d", weekday_names[sp_date_weekday(d)], day,
             month_names[m - 1], y);
    return buf;
}

sp_date sp_date_add_days(sp_date d, int n) {
    int64_t r = (int64_t)d + n;
    if (!date_in_range(d) || !date_in_range(r)) return SP_DATE_INVALID;
    return (sp_date)r;
}

sp_date sp_date_add_months(sp_date d, int n) {
    int y, m, day;
    if (!date_in_range(d)) return SP_DATE_INVALID;
    sp_date_split(d, &y, &m, &day);
    int64_t months = (int64_t)y * 12 + (m - 1) + n;
    int64_t y2 = floordiv(months, 12);
    int m2 = (int)(months - y2 * 12) + 1;
    if (y2 < 0 || y2 > 9999) return SP_DATE_INVALID;
    int dim = sp_date_days_in_month((int)y2, m2);
    return sp_date_make((int)y2, m2, day < dim ? day : dim);
}

/* The last Sunday of month m (March or October: both have 31 days). */
static int64_t last_sunday(int64_t y, int m) {
    int64_t d31 = days_from_civil(y, m, 31);
    return d31 - (sp_date_weekday((sp_date)d31) + 1) % 7;
}

int sp_london_offset_s(int64_t ms) {
    int64_t day = floordiv(ms, DAY_MS), y;
    int m, d;
    if (!date_in_range(day)) return 0;
    civil_from_days(day, &y, &m, &d);
    if (m < 3 || m > 10) return 0; /* skip the work for the winter months */
    int64_t start = last_sunday(y, 3) * DAY_MS + HOUR_MS;
    int64_t end = last_sunday(y, 10) * DAY_MS + HOUR_MS;
    return ms >= start && ms < end ? 3600 : 0;
}

sp_date sp_date_from_ms(int64_t ms) {
    int64_t day = floordiv(ms, DAY_MS);
    if (!date_in_range(day)) return SP_DATE_INVALID;
    return (sp_date)floordiv(ms + sp_london_offset_s(ms) * INT64_C(1000),
                             DAY_MS);
}

int64_t sp_date_start_ms(sp_date d) {
    if (!date_in_range(d)) return INT64_MIN;
    /* Both changes happen at 01:00 UTC, so local midnight always exists and
     * is unique: it is 23:00 UTC the day before if BST is then in force,
     * otherwise 00:00 UTC. */
    int64_t utc = (int64_t)d * DAY_MS;
    return sp_london_offset_s(utc - HOUR_MS) ? utc - HOUR_MS : utc;
}

char *sp_time_rfc3339(int64_t ms, char *buf, size_t size) {
    int64_t day = floordiv(ms, DAY_MS), rem = ms - day * DAY_MS;
    int y, m, d;
    if (!date_in_range(day)) {
        snprintf(buf, size, "invalid");
        return buf;
    }
    sp_date_split((sp_date)day, &y, &m, &d);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
             (int)(rem / HOUR_MS), (int)(rem / 60000 % 60),
             (int)(rem / 1000 % 60), (int)(rem % 1000));
    return buf;
}

/* Parses the "Z" or "+hh:mm" / "-hh:mm" that ends a timestamp, which must be
 * the end of the string. Sets *off_ms to the offset east of UTC. */
static int parse_offset(const char *s, int64_t *off_ms) {
    int h, m, sign;
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *off_ms = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-') return -1;
    sign = s[0] == '-' ? -1 : 1;
    if ((h = parse_digits(s + 1, 2)) < 0 || h > 23 || s[3] != ':') return -1;
    if ((m = parse_digits(s + 4, 2)) < 0 || m > 59 || s[6] != '\0') return -1;
    *off_ms = sign * (h * HOUR_MS + m * INT64_C(60000));
    return 0;
}

int sp_time_parse_rfc3339(const char *s, int64_t *ms) {
    int h, mi, sec, frac = 0, digits = 0;
    int64_t off;
    /* Each check stops at the first mismatch, so a NUL ends the scan before
     * any read past the end of a short string. */
    if (strnlen(s, 20) < 20) return -1;
    sp_date d = parse_ymd(s);
    if (d == SP_DATE_INVALID || (s[10] != 'T' && s[10] != 't')) return -1;
    if ((h = parse_digits(s + 11, 2)) < 0 || h > 23 || s[13] != ':') return -1;
    if ((mi = parse_digits(s + 14, 2)) < 0 || mi > 59 || s[16] != ':')
        return -1;
    /* :60 (a leap second) is refused: Unix time has no way to hold it. */
    if ((sec = parse_digits(s + 17, 2)) < 0 || sec > 59) return -1;
    s += 19;
    if (*s == '.') {
        /* Digits past milliseconds are truncated, not rounded, so an
         * instant never moves into the next millisecond (or day). */
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (digits < 3) frac = frac * 10 + (*s - '0');
        if (digits == 0) return -1;
        for (; digits < 3; digits++) frac *= 10;
    }
    if (parse_offset(s, &off) < 0) return -1;
    *ms = (int64_t)d * DAY_MS + h * HOUR_MS + mi * INT64_C(60000) +
          sec * INT64_C(1000) + frac - off;
    return 0;
}
