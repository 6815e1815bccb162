/* test_dates.c - civil dates, Europe/London and RFC 3339 (common/dates.c).
 *
 * Mostly tables: a statutory date rule is a table of known answers, and a
 * new edge case found in the field becomes a new row. The loops at the end
 * check whole decades against each other (make/split, from_ms/start_ms) so a
 * wrong constant shows up even on a day nobody thought to list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "dates.h"

#define DAY_MS INT64_C(86400000)

static sp_date ymd(int y, int m, int d) {
    sp_date r = sp_date_make(y, m, d);
    assert_int_not_equal(r, SP_DATE_INVALID);
    return r;
}

/* Unix ms for a UTC wall-clock time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s, int ms) {
    return (int64_t)ymd(y, mo, d) * DAY_MS + h * INT64_C(3600000) +
           mi * INT64_C(60000) + s * INT64_C(1000) + ms;
}

static void assert_date_is(sp_date d, const char *iso) {
    char buf[16];
    assert_string_equal(sp_date_iso(d, buf, sizeof(buf)), iso);
}

static void test_leap_years(void **state) {
    (void)state;
    static const struct { int y, leap; } rows[] = {
        {2024, 1}, {2023, 0}, {2026, 0}, {2028, 1}, {1900, 0},
        {2000, 1}, {2100, 0}, {2400, 1}, {1600, 1}, {0, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_date_is_leap(rows[i].y), rows[i].leap);
}

static void test_days_in_month(void **state) {
    (void)state;
    static const struct { int y, m, days; } rows[] = {
        {2024, 2, 29}, {2026, 2, 28}, {1900, 2, 28}, {2000, 2, 29},
        {2026, 1, 31}, {2026, 4, 30}, {2026, 6, 30}, {2026, 9, 30},
        {2026, 11, 30}, {2026, 12, 31}, {2026, 0, 0}, {2026, 13, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_date_days_in_month(rows[i].y, rows[i].m),
                         rows[i].days);
}

static void test_make_known_day_numbers(void **state) {
    (void)state;
    static const struct { int y, m, d; sp_date day; } rows[] = {
        {1970, 1, 1, 0},        {1969, 12, 31, -1},    {2000, 3, 1, 11017},
        {2026, 11, 23, 20780},  {2027, 1, 4, 20822},   {1, 1, 1, -719162},
        {0, 1, 1, -719528},     {9999, 12, 31, 2932896},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int y, m, d;
        assert_int_equal(sp_date_make(rows[i].y, rows[i].m, rows[i].d),
                         rows[i].day);
        sp_date_split(rows[i].day, &y, &m, &d);
        assert_int_equal(y, rows[i].y);
        assert_int_equal(m, rows[i].m);
        assert_int_equal(d, rows[i].d);
    }
}

static void test_make_rejects_impossible_dates(void **state) {
    (void)state;
    static const struct { int y, m, d; } rows[] = {
        {2026, 2, 29}, {2026, 2, 30}, {2024, 2, 30}, {1900, 2, 29},
        {2026, 4, 31}, {2026, 13, 1}, {2026, 0, 10}, {2026, 1, 0},
        {2026, 1, 32}, {-1, 1, 1},    {10000, 1, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_date_make(rows[i].y, rows[i].m, rows[i].d),
                         SP_DATE_INVALID);
    assert_int_not_equal(sp_date_make(2024, 2, 29), SP_DATE_INVALID);
    assert_int_not_equal(sp_date_make(2000, 2, 29), SP_DATE_INVALID);
}

/* Every day from 1899 to 2101 splits back to itself, and consecutive day
 * numbers are consecutive calendar days. */
static void test_make_split_round_trip(void **state) {
    (void)state;
    int y = 1899, m = 1, d = 1;
    for (sp_date day = ymd(1899, 1, 1); day <= ymd(2101, 12, 31); day++) {
        int yy, mm, dd;
        sp_date_split(day, &yy, &mm, &dd);
        assert_int_equal(yy, y);
        assert_int_equal(mm, m);
        assert_int_equal(dd, d);
        assert_int_equal(sp_date_make(y, m, d), day);
        if (++d > sp_date_days_in_month(y, m)) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
}

static void test_weekday(void **state) {
    (void)state;
    static const struct { int y, m, d, wd; } rows[] = {
        {2026, 11, 23, 0}, {2027, 1, 4, 0},  {1970, 1, 1, 3},
        {1969, 12, 31, 2}, {2000, 1, 1, 5},  {2024, 2, 29, 3},
        {2027, 12, 25, 5}, {2027, 12, 26, 6}, {1900, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_date_weekday(ymd(rows[i].y, rows[i].m, rows[i].d)),
                         rows[i].wd);
}

static void test_parse(void **state) {
    (void)state;
    static const struct { const char *s; int y, m, d; } good[] = {
        {"2026-11-23", 2026, 11, 23},
        {"2024-02-29", 2024, 2, 29},
        {"0000-01-01", 0, 1, 1},
        {"9999-12-31", 9999, 12, 31},
    };
    static const char *bad[] = {
        "2026-02-30", "2026-1-01",   "2026-01-1",   "2026-01-01x",
        "2026-01-01 ", " 2026-01-01", "",           "2026/01/01",
        "20260101",   "abcd-ef-gh",  "2026-01-0a",  "+026-01-01",
        "2026-13-01", "2026-00-01",  "1900-02-29",  "2026-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        sp_date d = 0;
        assert_int_equal(sp_date_parse(good[i].s, &d), 0);
        assert_int_equal(d, ymd(good[i].y, good[i].m, good[i].d));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_date d = 12345;
        assert_int_equal(sp_date_parse(bad[i], &d), -1);
        assert_int_equal(d, 12345); /* untouched */
    }
}

static void test_format(void **state) {
    (void)state;
    static const struct { int y, m, d; const char *iso, *lng; } rows[] = {
        {2027, 1, 4, "2027-01-04", "Monday 4 January 2027"},
        {2026, 11, 23, "2026-11-23", "Monday 23 November 2026"},
        {2024, 2, 29, "2024-02-29", "Thursday 29 February 2024"},
        {2026, 9, 30, "2026-09-30", "Wednesday 30 September 2026"},
        {2027, 12, 26, "2027-12-26", "Sunday 26 December 2027"},
        {5, 6, 7, "0005-06-07", "Tuesday 7 June 5"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_date d = ymd(rows[i].y, rows[i].m, rows[i].d);
        assert_string_equal(sp_date_iso(d, buf, sizeof(buf)), rows[i].iso);
        assert_string_equal(sp_date_long(d, buf, sizeof(buf)), rows[i].lng);
    }
    /* Short buffers truncate, never overrun. */
    assert_string_equal(sp_date_iso(ymd(2027, 1, 4), buf, 5), "2027");
    assert_string_equal(sp_date_long(ymd(2027, 1, 4), buf, 7), "Monday");
    assert_string_equal(sp_date_iso(SP_DATE_INVALID, buf, sizeof(buf)),
                        "invalid");
    assert_string_equal(sp_date_long(SP_DATE_INVALID, buf, sizeof(buf)),
                        "invalid");
}

static void test_add_days(void **state) {
    (void)state;
    assert_date_is(sp_date_add_days(ymd(2026, 12, 31), 1), "2027-01-01");
    assert_date_is(sp_date_add_days(ymd(2024, 2, 28), 1), "2024-02-29");
    assert_date_is(sp_date_add_days(ymd(2026, 11, 23), 42), "2027-01-04");
    assert_date_is(sp_date_add_days(ymd(2027, 1, 4), -42), "2026-11-23");
    assert_date_is(sp_date_add_days(ymd(2026, 3, 1), 0), "2026-03-01");
    assert_int_equal(sp_date_add_days(ymd(9999, 12, 31), 1), SP_DATE_INVALID);
    assert_int_equal(sp_date_add_days(ymd(0, 1, 1), -1), SP_DATE_INVALID);
    assert_int_equal(sp_date_add_days(SP_DATE_INVALID, 1), SP_DATE_INVALID);
    assert_int_equal(sp_date_add_days(ymd(2026, 1, 1), INT32_MAX),
                     SP_DATE_INVALID);
}

static void test_add_months(void **state) {
    (void)state;
    static const struct { const char *from; int n; const char *to; } rows[] = {
        {"2027-01-31", 1, "2027-02-28"},  {"2028-01-31", 1, "2028-02-29"},
        {"2026-03-31", -1, "2026-02-28"}, {"2024-03-31", -1, "2024-02-29"},
        {"2026-05-31", 1, "2026-06-30"},  {"2026-01-31", -2, "2025-11-30"},
        {"2026-11-30", 3, "2027-02-28"},  {"2026-12-15", 1, "2027-01-15"},
        {"2027-01-15", -1, "2026-12-15"}, {"2026-01-15", 12, "2027-01-15"},
        {"2026-01-15", -13, "2024-12-15"}, {"2024-02-29", 12, "2025-02-28"},
        {"2024-02-29", 48, "2028-02-29"}, {"2019-01-01", 12, "2020-01-01"},
        {"2026-08-17", 0, "2026-08-17"},  {"2026-10-31", 2, "2026-12-31"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_date d;
        assert_int_equal(sp_date_parse(rows[i].from, &d), 0);
        assert_date_is(sp_date_add_months(d, rows[i].n), rows[i].to);
    }
    assert_int_equal(sp_date_add_months(ymd(9999, 12, 1), 1), SP_DATE_INVALID);
    assert_int_equal(sp_date_add_months(ymd(0, 1, 31), -1), SP_DATE_INVALID);
    assert_int_equal(sp_date_add_months(SP_DATE_INVALID, 1), SP_DATE_INVALID);
}

/* BST runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
 * last Sunday of October; each row sits a millisecond either side. */
static void test_london_offset(void **state) {
    (void)state;
    static const struct { int y, m, d, h, mi, s, ms, off; } rows[] = {
        {2026, 3, 29, 0, 59, 59, 999, 0},    {2026, 3, 29, 1, 0, 0, 0, 3600},
        {2026, 10, 25, 0, 59, 59, 999, 3600}, {2026, 10, 25, 1, 0, 0, 0, 0},
        {2026, 1, 15, 12, 0, 0, 0, 0},       {2026, 7, 1, 12, 0, 0, 0, 3600},
        {2026, 3, 22, 12, 0, 0, 0, 0},       {2026, 10, 18, 12, 0, 0, 0, 3600},
        /* Last Sundays that fall on the 31st. */
        {2024, 3, 31, 0, 59, 59, 999, 0},    {2024, 3, 31, 1, 0, 0, 0, 3600},
        {2027, 10, 31, 0, 59, 59, 999, 3600}, {2027, 10, 31, 1, 0, 0, 0, 0},
        {2027, 3, 28, 1, 0, 0, 0, 3600},     {1969, 12, 31, 23, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t ms = utc(rows[i].y, rows[i].m, rows[i].d, rows[i].h,
                         rows[i].mi, rows[i].s, rows[i].ms);
        assert_int_equal(sp_london_offset_s(ms), rows[i].off);
    }
    /* Independent of utc(): 2026-03-29T01:00:00Z as a literal. */
    assert_int_equal(sp_london_offset_s(INT64_C(1774746000000)), 3600);
    assert_int_equal(sp_london_offset_s(INT64_C(1774745999999)), 0);
}

static void test_date_from_ms(void **state) {
    (void)state;
    static const struct { int y, m, d, h, mi; const char *date; } rows[] = {
        {2026, 7, 15, 23, 30, "2026-07-16"},  /* 00:30 BST */
        {2026, 7, 15, 22, 59, "2026-07-15"},
        {2026, 1, 15, 23, 30, "2026-01-15"},  /* GMT */
        {2026, 3, 28, 23, 30, "2026-03-28"},  /* before the change */
        {2026, 3, 29, 23, 30, "2026-03-30"},  /* first BST evening */
        {2026, 10, 24, 23, 30, "2026-10-25"}, /* last BST evening */
        {2026, 10, 25, 23, 30, "2026-10-25"}, /* GMT again */
        {1969, 12, 31, 23, 59, "1969-12-31"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_date_is(sp_date_from_ms(utc(rows[i].y, rows[i].m, rows[i].d,
                                           rows[i].h, rows[i].mi, 0, 0)),
                       rows[i].date);
    assert_date_is(sp_date_from_ms(-1), "1969-12-31");
    assert_int_equal(sp_date_from_ms(INT64_MAX), SP_DATE_INVALID);
    assert_int_equal(sp_date_from_ms(INT64_MIN), SP_DATE_INVALID);
}

static void test_date_start_ms(void **state) {
    (void)state;
    static const struct { const char *date; int y, m, d, h; } rows[] = {
        {"2026-07-16", 2026, 7, 15, 23}, {"2026-01-15", 2026, 1, 15, 0},
        {"2026-03-29", 2026, 3, 29, 0},  {"2026-03-30", 2026, 3, 29, 23},
        {"2026-10-25", 2026, 10, 24, 23}, {"2026-10-26", 2026, 10, 26, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_date d;
        assert_int_equal(sp_date_parse(rows[i].date, &d), 0);
        assert_true(sp_date_start_ms(d) ==
                    utc(rows[i].y, rows[i].m, rows[i].d, rows[i].h, 0, 0, 0));
    }
    assert_true(sp_date_start_ms(SP_DATE_INVALID) == INT64_MIN);
}

/* For every day of 2020-2031: local midnight maps back to the day, the
 * millisecond before it to the day before, and days are 23, 24 or 25 hours. */
static void test_date_start_ms_round_trip(void **state) {
    (void)state;
    int short_days = 0, long_days = 0;
    for (sp_date d = ymd(2020, 1, 1); d <= ymd(2031, 12, 31); d++) {
        int64_t start = sp_date_start_ms(d);
        int64_t len = sp_date_start_ms(d + 1) - start;
        assert_int_equal(sp_date_from_ms(start), d);
        assert_int_equal(sp_date_from_ms(start - 1), d - 1);
        assert_true(len == 23 * 3600000 || len == 24 * 3600000 ||
                    len == 25 * 3600000);
        short_days += len == 23 * 3600000;
        long_days += len == 25 * 3600000;
    }
    assert_int_equal(short_days, 12); /* one spring change a year */
    assert_int_equal(long_days, 12);
}

static void test_rfc3339_format(void **state) {
    (void)state;
    static const struct { int64_t ms; const char *s; } rows[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {INT64_C(1795426200000), "2026-11-23T09:30:00.000Z"},
        {INT64_C(1795426200123), "2026-11-23T09:30:00.123Z"},
        {INT64_C(951782400000), "2000-02-29T00:00:00.000Z"},
    };
    char buf[25];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_string_equal(sp_time_rfc3339(rows[i].ms, buf, sizeof(buf)),
                            rows[i].s);
    assert_string_equal(sp_time_rfc3339(INT64_MAX, buf, sizeof(buf)),
                        "invalid");
}

static void test_rfc3339_parse(void **state) {
    (void)state;
    static const struct { const char *s; int64_t ms; } good[] = {
        {"2026-11-23T09:30:00Z", INT64_C(1795426200000)},
        {"2026-11-23T09:30:00.000Z", INT64_C(1795426200000)},
        {"2026-11-23T09:30:00.123Z", INT64_C(1795426200123)},
        {"2026-11-23T09:30:00.5Z", INT64_C(1795426200500)},
        {"2026-11-23T09:30:00.123999999Z", INT64_C(1795426200123)},
        {"2026-11-23t09:30:00z", INT64_C(1795426200000)},
        {"2026-11-23T10:30:00+01:00", INT64_C(1795426200000)},
        {"2026-11-23T04:00:00-05:30", INT64_C(1795426200000)},
        {"2026-11-23T09:30:00-00:00", INT64_C(1795426200000)},
        {"2026-11-24T00:30:00.250+01:00", INT64_C(1795476600250)},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1970-01-01T00:00:00Z", 0},
    };
    static const char *bad[] = {
        "",
        "2026-11-23",
        "2026-11-23T09:30Z",
        "2026-11-23T09:30:00",
        "2026-11-23T24:00:00Z",
        "2026-11-23T09:60:00Z",
        "2026-11-23T09:30:60Z",
        "2026-02-30T00:00:00Z",
        "2026-11-23T09:30:00.Z",
        "2026-11-23T09:30:00+0100",
        "2026-11-23T09:30:00+01:00x",
        "2026-11-23T09:30:00+24:00",
        "2026-11-23T09:30:00+01:60",
        "2026-11-23T09:30:00+01",
        "2026-11-23 09:30:00Z",
        "2026-11-23T09:30:00ZZ",
        "2026-11-23T9:30:00Z",
        "2026-11-23T09:30:00.12a3Z",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = 42;
        assert_int_equal(sp_time_parse_rfc3339(good[i].s, &ms), 0);
        assert_true(ms == good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        assert_int_equal(sp_time_parse_rfc3339(bad[i], &ms), -1);
        assert_true(ms == 42); /* untouched */
    }
}

static void test_rfc3339_round_trip(void **state) {
    (void)state;
    char buf[25];
    /* A prime step walks through every hour, minute and millisecond mix. */
    int64_t end = utc(2031, 1, 1, 0, 0, 0, 0);
    for (int64_t ms = utc(1999, 1, 1, 0, 0, 0, 0); ms < end;
         ms += INT64_C(7919) * 3600 + 7) {
        int64_t back = 0;
        sp_time_rfc3339(ms, buf, sizeof(buf));
        assert_int_equal(strlen(buf), 24);
        assert_int_equal(sp_time_parse_rfc3339(buf, &back), 0);
        assert_true(back == ms);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_days_in_month),
        cmocka_unit_test(test_make_known_day_numbers),
        cmocka_unit_test(test_make_rejects_impossible_dates),
        cmocka_unit_test(test_make_split_round_trip),
        cmocka_unit_test(test_weekday),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_add_days),
        cmocka_unit_test(test_add_months),
        cmocka_unit_test(test_london_offset),
        cmocka_unit_test(test_date_from_ms),
        cmocka_unit_test(test_date_start_ms),
        cmocka_unit_test(test_date_start_ms_round_trip),
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_parse),
        cmocka_unit_test(test_rfc3339_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
