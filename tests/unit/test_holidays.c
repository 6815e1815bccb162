/* test_holidays.c - bank holidays and working days (common/holidays.c).
 *
 * Most tests run against the shipped config/bank-holidays.json, loaded once
 * by the group setup: the file is data the deadlines depend on, so these
 * tests are also its check (substitute days, Easter, the one-off holidays).
 * The parse tests use small inline documents, one per way a file can be
 * wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "holidays.h"

#define SHIPPED SP_SOURCE_DIR "/config/bank-holidays.json"

static sp_date day(const char *iso) {
    sp_date d = SP_DATE_INVALID;
    assert_int_equal(sp_date_parse(iso, &d), 0);
    return d;
}

static void assert_date_is(sp_date d, const char *iso) {
    char buf[16];
    assert_string_equal(sp_date_iso(d, buf, sizeof(buf)), iso);
}

static int load_shipped(void **state) {
    char err[256];
    sp_holidays *h = sp_holidays_load(SHIPPED, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", SHIPPED, err);
        return -1;
    }
    *state = h;
    return 0;
}

static int free_shipped(void **state) {
    sp_holidays_free(*state);
    return 0;
}

static void test_shipped_file_shape(void **state) {
    const sp_holidays *h = *state;
    /* 2018-2030: 8 a year, plus the 2022 jubilee, the 2022 state funeral
     * and the 2023 coronation (the 2020 and 2022 moves replace a day). */
    assert_int_equal(h->count, 13 * 8 + 3);
    assert_date_is(h->first, "2018-01-01");
    assert_date_is(h->last, "2030-12-26");
    for (size_t i = 1; i < h->count; i++)
        assert_true(h->days[i - 1] < h->days[i]);
    /* The rules move every holiday onto a weekday. */
    for (size_t i = 0; i < h->count; i++)
        assert_true(sp_date_weekday(h->days[i]) < 5);
}

static void test_contains(void **state) {
    static const struct { const char *date; int holiday; } rows[] = {
        {"2026-12-25", 1}, {"2026-12-26", 0}, /* Saturday */
        {"2026-12-28", 1},                    /* Boxing Day substitute */
        {"2027-01-01", 1}, {"2027-03-26", 1}, /* Good Friday */
        {"2027-03-29", 1},                    /* Easter Monday */
        {"2027-03-28", 0}, {"2027-05-03", 1}, {"2027-05-31", 1},
        {"2027-08-30", 1}, {"2024-03-29", 1}, {"2024-04-01", 1},
        {"2025-04-18", 1}, {"2025-04-21", 1}, {"2026-04-03", 1},
        {"2026-04-06", 1}, {"2020-05-08", 1}, {"2020-05-04", 0}, /* VE day */
        {"2022-06-02", 1}, {"2022-06-03", 1}, {"2022-05-30", 0},
        {"2022-09-19", 1}, {"2023-05-08", 1}, {"2019-05-06", 1},
        {"2026-11-23", 0}, {"2017-12-25", 0}, /* before the file */
    };
    const sp_holidays *h = *state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_holidays_contains(h, day(rows[i].date)),
                         rows[i].holiday);
    assert_int_equal(sp_holidays_contains(NULL, day("2026-12-25")), 0);
}

/* Christmas, Boxing Day and New Year's Day on a weekend move to the next
 * weekday not already a holiday. */
static void test_substitute_days(void **state) {
    static const struct { const char *date; int holiday; } rows[] = {
        {"2027-12-25", 0}, {"2027-12-26", 0}, /* Sat, Sun */
        {"2027-12-27", 1}, {"2027-12-28", 1}, {"2027-12-29", 0},
        {"2028-01-03", 1},                    /* 1 Jan 2028 is a Saturday */
        {"2022-12-26", 1}, {"2022-12-27", 1}, /* 25 Dec 2022 a Sunday */
        {"2023-01-02", 1}, {"2021-12-27", 1}, {"2021-12-28", 1},
        {"2022-01-03", 1}, {"2020-12-28", 1},
    };
    const sp_holidays *h = *state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_holidays_contains(h, day(rows[i].date)),
                         rows[i].holiday);
}

static void test_is_working_day(void **state) {
    const sp_holidays *h = *state;
    assert_true(sp_is_working_day(h, day("2026-11-23")));   /* Monday */
    assert_false(sp_is_working_day(h, day("2026-11-28")));  /* Saturday */
    assert_false(sp_is_working_day(h, day("2026-11-29")));  /* Sunday */
    assert_false(sp_is_working_day(h, day("2026-12-28")));  /* holiday */
    assert_true(sp_is_working_day(NULL, day("2026-12-28"))); /* no set */
    assert_false(sp_is_working_day(NULL, day("2026-11-28")));
}

static void test_add_working_days(void **state) {
    static const struct { const char *from; int n; const char *to; } rows[] = {
        /* Christmas and New Year 2026-27: 25, 28 Dec and 1 Jan off. */
        {"2026-12-23", 1, "2026-12-24"}, {"2026-12-23", 2, "2026-12-29"},
        {"2026-12-23", 5, "2027-01-04"}, {"2027-01-04", -5, "2026-12-23"},
        {"2026-12-24", 1, "2026-12-29"}, {"2026-12-29", -1, "2026-12-24"},
        /* Easter 2027: Good Friday 26 March, Easter Monday 29 March. */
        {"2027-03-25", 1, "2027-03-30"}, {"2027-03-30", -1, "2027-03-25"},
        {"2027-03-24", 3, "2027-03-31"},
        /* Christmas 2027: both days substituted, then New Year's Day. */
        {"2027-12-24", 1, "2027-12-29"}, {"2027-12-31", 1, "2028-01-04"},
        /* Weekends: a Saturday start counts Monday as the first day. */
        {"2026-11-28", 1, "2026-11-30"}, {"2026-11-27", 1, "2026-11-30"},
        {"2026-11-30", -1, "2026-11-27"}, {"2026-11-29", -1, "2026-11-27"},
        {"2026-11-23", 20, "2026-12-21"},
        /* n == 0 is the date itself, working day or not. */
        {"2026-12-25", 0, "2026-12-25"}, {"2026-11-28", 0, "2026-11-28"},
    };
    const sp_holidays *h = *state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_date_is(sp_add_working_days(h, day(rows[i].from), rows[i].n),
                       rows[i].to);
    assert_date_is(sp_add_working_days(NULL, day("2026-12-24"), 1),
                   "2026-12-25");
    assert_int_equal(sp_add_working_days(h, SP_DATE_INVALID, 3),
                     SP_DATE_INVALID);
    assert_int_equal(sp_add_working_days(h, day("9999-12-31"), 1),
                     SP_DATE_INVALID);
}

static void test_working_days_between(void **state) {
    static const struct { const char *from, *to; int n; } rows[] = {
        {"2026-12-23", "2027-01-04", 5}, {"2027-01-04", "2026-12-23", -5},
        {"2026-12-24", "2026-12-28", 0}, {"2026-12-24", "2026-12-29", 1},
        {"2027-03-25", "2027-03-30", 1}, {"2027-03-25", "2027-03-29", 0},
        {"2026-11-23", "2026-11-23", 0}, {"2026-11-27", "2026-11-30", 1},
        {"2026-11-28", "2026-11-29", 0}, {"2026-11-23", "2026-12-21", 20},
        /* 2027 has 261 weekdays, 8 of them bank holidays. */
        {"2026-12-31", "2027-12-31", 253},
        /* A holiday as from is not counted, as to it adds nothing. */
        {"2026-12-25", "2026-12-29", 1}, {"2026-12-22", "2026-12-25", 2},
    };
    const sp_holidays *h = *state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_working_days_between(h, day(rows[i].from),
                                                 day(rows[i].to)),
                         rows[i].n);
    /* 2027 without holidays: weekdays only. */
    assert_int_equal(sp_working_days_between(NULL, day("2026-12-31"),
                                             day("2027-12-31")), 261);
    assert_int_equal(sp_working_days_between(NULL, day("1969-12-26"),
                                             day("1970-01-09")), 10);
}

/* The arithmetic in sp_working_days_between against a plain day-by-day
 * count, and against sp_add_working_days, for every pair of starts and
 * spans over several years, with and without the holiday set. */
static void test_working_days_agree(void **state) {
    const sp_holidays *sets[2] = {*state, NULL};
    for (int s = 0; s < 2; s++) {
        const sp_holidays *h = sets[s];
        sp_date end = day("2028-02-01");
        for (sp_date from = day("2025-12-01"); from < end; from += 3) {
            int count = 0;
            for (sp_date to = from + 1; to < from + 120; to++) {
                count += sp_is_working_day(h, to);
                assert_int_equal(sp_working_days_between(h, from, to), count);
                assert_int_equal(sp_working_days_between(h, to, from), -count);
                if (sp_is_working_day(h, to) && count > 0)
                    assert_int_equal(sp_add_working_days(h, from, count), to);
            }
        }
    }
}

/* The start of a minimal document: the division and its events array. */
#define EW "{\"england-and-wales\":{\"events\":"

static void test_parse_sorts_and_dedupes(void **state) {
    (void)state; /* parses its own documents */
    static const char json[] =
        "{\"england-and-wales\":{\"division\":\"england-and-wales\","
        "\"events\":["
        "{\"title\":\"B\",\"date\":\"2027-12-28\",\"notes\":\"\","
        "\"bunting\":true},"
        "{\"title\":\"A\",\"date\":\"2027-12-27\",\"notes\":\"\","
        "\"bunting\":true},"
        "{\"title\":\"B again\",\"date\":\"2027-12-28\"},"
        "{\"title\":\"C\",\"date\":\"2027-01-01\"}]},"
        "\"scotland\":{\"division\":\"scotland\",\"events\":["
        "{\"title\":\"St Andrew\\u2019s Day\",\"date\":\"2027-11-30\"}]}}";
    char err[128];
    sp_holidays *h = sp_holidays_parse(json, strlen(json), err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(h->count, 3);
    assert_date_is(h->days[0], "2027-01-01");
    assert_date_is(h->days[1], "2027-12-27");
    assert_date_is(h->days[2], "2027-12-28");
    assert_date_is(h->first, "2027-01-01");
    assert_date_is(h->last, "2027-12-28");
    /* Scotland's own holiday is not England's. */
    assert_false(sp_holidays_contains(h, day("2027-11-30")));
    sp_holidays_free(h);
}

/* len bounds the parse: the text need not end in a NUL. */
static void test_parse_uses_len(void **state) {
    (void)state; /* parses its own documents */
    static const char text[] = EW "[{\"date\":\"2027-01-01\"}]}}garbage";
    char err[128];
    sp_holidays *h;

    h = sp_holidays_parse(text, strlen(text) - 7, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(h->count, 1);
    sp_holidays_free(h);
    assert_null(sp_holidays_parse(text, strlen(text), err, sizeof(err)));
}

static void test_parse_errors(void **state) {
    (void)state; /* parses its own documents */
    static const struct {
        const char *json, *err;
    } rows[] = {
        {"", "invalid JSON at line 1"},
        {"not json", "invalid JSON at line 1"},
        {"{\n\"england-and-wales\": {\n\"events\": [}\n}",
         "invalid JSON at line 3"},
        {EW "[{\"date\":\"2027-01-01\"}]}}\n\n{}", "invalid JSON at line 3"},
        {"[]", "root is not an object"},
        {"{\"scotland\":{\"division\":\"scotland\",\"events\":[]}}",
         "no \"england-and-wales\" object"},
        {"{\"england-and-wales\":[]}", "no \"england-and-wales\" object"},
        {"{\"england-and-wales\":{\"division\":\"england-and-wales\"}}",
         "england-and-wales has no \"events\" array"},
        {EW "{}}}", "england-and-wales has no \"events\" array"},
        {EW "[]}}", "england-and-wales has no events"},
        {EW "[{\"date\":\"2027-01-01\"},{\"date\":\"2026-02-30\"}]}}",
         "england-and-wales events[1]: bad date \"2026-02-30\" "
         "(want YYYY-MM-DD)"},
        {EW "[{\"date\":\"2026-1-01\"}]}}",
         "events[0]: bad date \"2026-1-01\""},
        {EW "[{\"title\":\"x\"}]}}", "events[0] has no \"date\" string"},
        {EW "[{\"date\":20270101}]}}", "events[0] has no \"date\" string"},
        {EW "[{\"date\":\"2027-01-01\"},\"x\"]}}",
         "events[1] is not an object"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char err[256] = "";
        sp_holidays *h = sp_holidays_parse(rows[i].json, strlen(rows[i].json),
                                           err, sizeof(err));
        assert_null(h);
        if (strstr(err, rows[i].err) == NULL)
            fail_msg("row %zu: errstr \"%s\" lacks \"%s\"", i, err,
                     rows[i].err);
    }
}

static void test_parse_error_buffers(void **state) {
    (void)state; /* parses its own documents */
    static const char bad[] = EW "[{\"date\":\"2026-02-30\"}]}}";
    char small[8];
    memset(small, 'x', sizeof(small));
    assert_null(sp_holidays_parse(bad, strlen(bad), small, sizeof(small)));
    assert_int_equal(strlen(small), sizeof(small) - 1); /* truncated, ended */
    assert_null(sp_holidays_parse(bad, strlen(bad), NULL, 0));
}

static void test_load_errors(void **state) {
    (void)state; /* reads its own files */
    char err[512], path[] = "/tmp/test_holidays_XXXXXX";
    static const char bad[] = EW "[]}}";
    const char *missing = "/nonexistent/bank-holidays.json";
    int fd;

    assert_null(sp_holidays_load(missing, err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/bank-holidays.json: "
                             "No such file or directory");

    assert_null(sp_holidays_load(SP_SOURCE_DIR "/config", err, sizeof(err)));
    assert_non_null(strstr(err, "not a regular file"));

    /* A parse error names the file as well as the fault. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)sizeof(bad) - 1);
    close(fd);
    assert_null(sp_holidays_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "has no events"));

    /* Over the 4 MiB cap (sparse, so cheap): refused before reading. */
    assert_int_equal(truncate(path, 4 * 1024 * 1024 + 1), 0);
    assert_null(sp_holidays_load(path, err, sizeof(err)));
    unlink(path);
    assert_non_null(strstr(err, "larger than"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_file_shape),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_substitute_days),
        cmocka_unit_test(test_is_working_day),
        cmocka_unit_test(test_add_working_days),
        cmocka_unit_test(test_working_days_between),
        cmocka_unit_test(test_working_days_agree),
        cmocka_unit_test(test_parse_sorts_and_dedupes),
        cmocka_unit_test(test_parse_uses_len),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_error_buffers),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, load_shipped, free_shipped);
}
