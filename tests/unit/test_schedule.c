/* test_schedule.c - fire schedules and clock records (services/timers/record.c).
 *
 * The schedule turns a due date into the points a clock fires at: approaching
 * (working days before due), due, overdue (the day after, then every
 * overdue_repeat_days). Working days depend on bank holidays, so these tests
 * load the shipped config/bank-holidays.json once in the group setup, and the
 * rows sit where the holidays bite: Christmas 2026 (25 Dec a Friday, Boxing
 * Day substitute Monday 28 Dec, New Year's Day Friday 1 Jan 2027) and Easter
 * 2027 (Good Friday 26 Mar, Easter Monday 29 Mar, BST from 28 Mar).
 *
 * Every expected date and instant below was worked out by hand from a
 * calendar, never by running the code under test. Instants are written as
 * RFC 3339 UTC: fire_hour 7 is 07:00Z in GMT and 06:00Z in BST. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "holidays.h"
#include "record.h"

#define SHIPPED_HOLIDAYS SP_SOURCE_DIR "/config/bank-holidays.json"

static sp_date day(const char *iso) {
    sp_date d = SP_DATE_INVALID;
    assert_int_equal(sp_date_parse(iso, &d), 0);
    return d;
}

static int holidays_setup(void **state) {
    char err[256];
    sp_holidays *h = sp_holidays_load(SHIPPED_HOLIDAYS, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", SHIPPED_HOLIDAYS, err);
        return -1;
    }
    *state = h;
    return 0;
}

static int holidays_teardown(void **state) {
    sp_holidays_free(*state);
    return 0;
}

/* The defaults of timers.approaching.working_days, timers.overdue.repeat_days
 * and timers.fire.hour. */
static timers_schedule default_schedule(const sp_holidays *h) {
    timers_schedule s = {{10, 5}, 2, 7, 7, h};
    return s;
}

static timers_record record(const char *start, const char *due, unsigned flags,
                            const char *reason) {
    timers_record r = {day(start), day(due), 0, flags, ""};
    snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
    return r;
}

/* ---- fire points ----------------------------------------------------------------- */

typedef struct point_row {
    const char *start, *due;
    unsigned flags;
    int repeat_days; /* timers.overdue.repeat_days */
    int seq;
    timers_fire_kind kind;
    const char *date;
    int days_left;
    const char *at; /* at_ms as RFC 3339 UTC */
    const char *why;
} point_row;

#define A TIMERS_FIRE_APPROACHING
#define D TIMERS_FIRE_DUE
#define O TIMERS_FIRE_OVERDUE
#define INFO TIMERS_FLAG_INFORMATIONAL

static const point_row point_rows[] = {
    /* Due Monday 4 January 2027 (a request received 23 Nov 2026 + 6 weeks). */
    {"2026-11-23", "2027-01-04", 0, 7, 0, A, "2026-12-16", 10, "2026-12-16T07:00:00.000Z",
     "back from Mon 4 Jan: 1 Jan holiday; Thu 31, Wed 30, Tue 29 Dec; Mon 28 (Boxing Day "
     "substitute), Sun 27, Sat 26, Fri 25 (Christmas) skipped; Thu 24, Wed 23, Tue 22, "
     "Mon 21, Fri 18, Thu 17, Wed 16 is the 10th"},
    {"2026-11-23", "2027-01-04", 0, 7, 1, A, "2026-12-23", 5, "2026-12-23T07:00:00.000Z",
     "the 5th working day back is Wed 23 Dec"},
    {"2026-11-23", "2027-01-04", 0, 7, 2, D, "2027-01-04", 0, "2027-01-04T07:00:00.000Z",
     "the due date, 07:00 GMT"},
    {"2026-11-23", "2027-01-04", 0, 7, 3, O, "2027-01-05", 1, "2027-01-05T07:00:00.000Z",
     "the day after due"},
    {"2026-11-23", "2027-01-04", 0, 7, 4, O, "2027-01-12", 8, "2027-01-12T07:00:00.000Z",
     "a week later"},
    {"2026-11-23", "2027-01-04", 0, 7, 5, O, "2027-01-19", 15, "2027-01-19T07:00:00.000Z",
     "and again"},
    {"2026-11-23", "2027-01-04", 0, 7, 100, O, "2028-11-14", 680, "2028-11-14T07:00:00.000Z",
     "the 98th overdue point: 1 + 97 * 7 = 680 days after 4 Jan 2027 is 14 Nov 2028; "
     "overdue repeats never end while the clock is open"},
    {"2026-11-23", "2027-01-04", 0, 3, 4, O, "2027-01-08", 4, "2027-01-08T07:00:00.000Z",
     "timers.overdue.repeat_days = 3: 5 Jan, then 8 Jan"},

    /* Due Tuesday 6 April 2027, after Easter and in BST. */
    {"2027-02-23", "2027-04-06", 0, 7, 0, A, "2027-03-19", 10, "2027-03-19T07:00:00.000Z",
     "back from Tue 6 Apr: Mon 5, Fri 2, Thu 1, Wed 31, Tue 30 Mar; Mon 29 (Easter "
     "Monday), Sun, Sat, Fri 26 (Good Friday) skipped; Thu 25, Wed 24, Tue 23, Mon 22, "
     "Fri 19 Mar is the 10th, still GMT"},
    {"2027-02-23", "2027-04-06", 0, 7, 1, A, "2027-03-30", 5, "2027-03-30T06:00:00.000Z",
     "the 5th working day back is Tue 30 Mar; 07:00 BST is 06:00Z"},
    {"2027-02-23", "2027-04-06", 0, 7, 2, D, "2027-04-06", 0, "2027-04-06T06:00:00.000Z",
     "the due date, 07:00 BST"},
    {"2027-02-23", "2027-04-06", 0, 7, 3, O, "2027-04-07", 1, "2027-04-07T06:00:00.000Z",
     "the day after due, BST"},

    /* A short clock (a review report, 2 weeks): the 10-day point would fall
     * before the clock started, so it fires on the start day. */
    {"2027-01-06", "2027-01-18", 0, 7, 0, A, "2027-01-06", 10, "2027-01-06T07:00:00.000Z",
     "10 working days before Mon 18 Jan is Mon 4 Jan, before the start on 6 Jan"},
    {"2027-01-06", "2027-01-18", 0, 7, 1, A, "2027-01-11", 5, "2027-01-11T07:00:00.000Z",
     "5 working days before Mon 18 Jan is Mon 11 Jan"},

    /* A summer due date: BST. */
    {"2027-06-03", "2027-07-15", 0, 7, 2, D, "2027-07-15", 0, "2027-07-15T06:00:00.000Z",
     "07:00 BST is 06:00Z"},

    /* An informational clock (appeal window): no approaching points, seq 0 is
     * the date itself. */
    {"2027-12-31", "2028-02-29", INFO, 7, 0, D, "2028-02-29", 0, "2028-02-29T07:00:00.000Z",
     "the window's last day is point 0"},
};

#define N_POINT_ROWS (sizeof(point_rows) / sizeof(point_rows[0]))

static int point_row_check(size_t i, const point_row *r, const sp_holidays *h) {
    timers_schedule s = default_schedule(h);
    timers_record rec = record(r->start, r->due, r->flags, NULL);
    timers_fire_point p;
    char date[16], at[32], want_date[16];
    s.overdue_repeat_days = r->repeat_days;
    timers_schedule_point(&s, &rec, r->seq, &p);
    sp_date_iso(p.date, date, sizeof(date));
    sp_time_rfc3339(p.at_ms, at, sizeof(at));
    snprintf(want_date, sizeof(want_date), "%s", r->date);
    if (p.kind == r->kind && !strcmp(date, want_date) && p.days_left == r->days_left &&
        !strcmp(at, r->at))
        return 0;
    printf("  point row %zu (due %s seq %d): want %s %s %d %s, got %s %s %d %s\n      (%s)\n",
           i, r->due, r->seq, timers_fire_names[r->kind], r->date, r->days_left, r->at,
           timers_fire_names[p.kind], date, p.days_left, at, r->why);
    return 1;
}

static void test_schedule_points(void **state) {
    size_t failed = 0;
    for (size_t i = 0; i < N_POINT_ROWS; i++) failed += point_row_check(i, &point_rows[i], *state);
    printf("  %zu schedule rows, %zu wrong\n", N_POINT_ROWS, failed);
    assert_int_equal(failed, 0);
}

/* With no approaching offsets configured, point 0 is the due date. */
static void test_schedule_without_approaching(void **state) {
    timers_schedule s = default_schedule(*state);
    timers_record r = record("2026-11-23", "2027-01-04", 0, NULL);
    timers_fire_point p;
    s.n_approaching = 0;
    timers_schedule_point(&s, &r, 0, &p);
    assert_int_equal(p.kind, TIMERS_FIRE_DUE);
    assert_int_equal(p.date, day("2027-01-04"));
    timers_schedule_point(&s, &r, 1, &p);
    assert_int_equal(p.kind, TIMERS_FIRE_OVERDUE);
    assert_int_equal(p.date, day("2027-01-05"));
    assert_int_equal(timers_schedule_first(&s, &r, day("2026-12-30")), 0);
}

/* fire_hour is a London wall-clock hour on the day itself, the two days the
 * clocks change included: on Sunday 28 March 2027 London runs on GMT until
 * 01:00Z and on BST after, so 07:00 local is 06:00Z; on Sunday 31 October
 * 2027 BST ends at 01:00Z, so 07:00 local is 07:00Z. Due dates are calendar
 * dates and can fall on a Sunday. */
static void test_fire_hour_on_clock_change_days(void **state) {
    static const struct { const char *due, *at; } rows[] = {
        {"2027-03-27", "2027-03-27T07:00:00.000Z"}, /* Saturday, GMT */
        {"2027-03-28", "2027-03-28T06:00:00.000Z"}, /* BST starts 01:00Z */
        {"2027-03-29", "2027-03-29T06:00:00.000Z"},
        {"2027-10-30", "2027-10-30T06:00:00.000Z"}, /* Saturday, BST */
        {"2027-10-31", "2027-10-31T07:00:00.000Z"}, /* BST ends 01:00Z */
        {"2027-11-01", "2027-11-01T07:00:00.000Z"},
    };
    timers_schedule s = default_schedule(*state);
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        timers_record r = record("2027-01-04", rows[i].due, 0, NULL);
        timers_fire_point p;
        char at[32];
        timers_schedule_point(&s, &r, s.n_approaching, &p); /* the due point */
        sp_time_rfc3339(p.at_ms, at, sizeof(at));
        if (strcmp(at, rows[i].at)) {
            printf("  due %s, fire_hour 7: want %s (07:00 London), got %s\n", rows[i].due,
                   rows[i].at, at);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* A clock armed late skips the approaching points already past, never the
 * due or overdue ones. */
static void test_schedule_first(void **state) {
    static const struct {
        unsigned flags;
        const char *from;
        int seq;
    } rows[] = {
        {0, "2026-11-23", 0},    {0, "2026-12-16", 0}, /* the 10-day point is today */
        {0, "2026-12-17", 1},    {0, "2026-12-23", 1}, {0, "2026-12-24", 2},
        {0, "2027-01-04", 2},    {0, "2027-01-05", 2}, /* due already past: still due */
        {0, "2027-06-01", 2},    {INFO, "2026-11-23", 0}, {INFO, "2027-06-01", 0},
    };
    timers_schedule s = default_schedule(*state);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        timers_record r = record("2026-11-23", "2027-01-04", rows[i].flags, NULL);
        int got = timers_schedule_first(&s, &r, day(rows[i].from));
        if (got != rows[i].seq)
            printf("  first from %s flags %u: want %d, got %d\n", rows[i].from, rows[i].flags,
                   rows[i].seq, got);
        assert_int_equal(got, rows[i].seq);
    }
}

/* An exception (regs 5(4), 8(2), 10(4)) does not stop or move the clock: it
 * is marked, and fires exactly as before. */
static void test_excepted_schedules_identically(void **state) {
    timers_schedule s = default_schedule(*state);
    timers_record plain = record("2026-11-23", "2027-01-04", 0, NULL);
    timers_record excepted = record("2026-11-23", "2027-01-04", TIMERS_FLAG_EXCEPTED,
                                    "absence_from_area");
    for (int seq = 0; seq < 8; seq++) {
        timers_fire_point a, b;
        timers_schedule_point(&s, &plain, seq, &a);
        timers_schedule_point(&s, &excepted, seq, &b);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.date, b.date);
        assert_int_equal(a.days_left, b.days_left);
        assert_true(a.at_ms == b.at_ms);
    }
    timers_fire_point p;
    timers_schedule_point(&s, &excepted, 2, &p);
    assert_int_equal(p.kind, TIMERS_FIRE_DUE);
    assert_int_equal(p.date, day("2027-01-04")); /* the due date did not move */
    static const char *const froms[] = {"2026-11-23", "2026-12-17", "2026-12-24", "2027-02-01"};
    for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++)
        assert_int_equal(timers_schedule_first(&s, &excepted, day(froms[i])),
                         timers_schedule_first(&s, &plain, day(froms[i])));
}

/* ---- records ---------------------------------------------------------------------- */

/* Each row: the record, the text it is written as (packed: ((start * 2^17 +
 * due) * 2^12 + seq) * 4 + flags, dates as days since 1970, worked out with
 * a calculator: 2026-11-23 is day 20780, 2027-01-04 day 20822, 2027-12-31
 * 21183, 2028-02-29 21243, 2029-02-28 21608), and the layout 1 text
 * written before the packed form, which must still decode the same. */
static const struct {
    const char *start, *due;
    int seq;
    unsigned flags;
    const char *reason, *text, *layout1;
} record_rows[] = {
    {"2026-11-23", "2027-01-04", 0, 0, "", "44625051353088", "20261123|20270104|0|0"},
    {"2026-11-23", "2027-01-04", 3, TIMERS_FLAG_EXCEPTED, "closure_summer",
     "44625051353101|closure_summer", "20261123|20270104|3|1|closure_summer"},
    {"2027-12-31", "2028-02-29", 0, TIMERS_FLAG_INFORMATIONAL, "", "45490494160898",
     "20271231|20280229|0|2"},
    {"2028-02-29", "2029-02-28", 12, TIMERS_FLAG_EXCEPTED | TIMERS_FLAG_INFORMATIONAL,
     "absence_from_area", "45619349159987|absence_from_area",
     "20280229|20290228|12|3|absence_from_area"},
    /* past what the packed form holds (2328): text */
    {"2400-01-01", "2400-02-01", 0, 0, "", "24000101|24000201|0|0", "24000101|24000201|0|0"},
};

static void assert_same_record(const timers_record *back, const timers_record *r) {
    assert_int_equal(back->start, r->start);
    assert_int_equal(back->due, r->due);
    assert_int_equal(back->seq, r->seq);
    assert_int_equal(back->flags, r->flags);
    assert_string_equal(back->reason, r->reason);
}

static void test_record_round_trip(void **state) {
    for (size_t i = 0; i < sizeof(record_rows) / sizeof(record_rows[0]); i++) {
        timers_record r = record(record_rows[i].start, record_rows[i].due,
                                 record_rows[i].flags, record_rows[i].reason);
        timers_record back;
        char buf[128];
        r.seq = record_rows[i].seq;
        assert_int_equal(timers_record_encode(&r, buf, sizeof(buf)),
                         (int)strlen(record_rows[i].text));
        assert_string_equal(buf, record_rows[i].text);
        memset(&back, 0xa5, sizeof(back));
        assert_int_equal(timers_record_decode(buf, strlen(buf), &back), 0);
        assert_same_record(&back, &r);
    }
}

/* Records written before the packed form still read the same. */
static void test_record_decode_layout1(void **state) {
    for (size_t i = 0; i < sizeof(record_rows) / sizeof(record_rows[0]); i++) {
        timers_record r = record(record_rows[i].start, record_rows[i].due,
                                 record_rows[i].flags, record_rows[i].reason);
        timers_record back;
        const char *text = record_rows[i].layout1;
        r.seq = record_rows[i].seq;
        memset(&back, 0xa5, sizeof(back));
        assert_int_equal(timers_record_decode(text, strlen(text), &back), 0);
        assert_same_record(&back, &r);
    }
}

static void test_record_encode_small_buffer(void **state) {
    timers_record r = record("2026-11-23", "2027-01-04", TIMERS_FLAG_EXCEPTED, "closure_summer");
    char buf[64];
    /* "44625051353089|closure_summer" is 29 characters and a NUL. */
    assert_int_equal(timers_record_encode(&r, buf, 29), -1);
    assert_int_equal(timers_record_encode(&r, buf, 30), 29);
}

/* Redis replies are not NUL-terminated: only len bytes are the record. */
static void test_record_decode_honours_len(void **state) {
    const char *text = "20261123|20270104|3|1|closure_summer|20990101";
    timers_record r;
    assert_int_equal(timers_record_decode(text, strlen("20261123|20270104|3|1|closure_summer"),
                                          &r), 0);
    assert_string_equal(r.reason, "closure_summer");
    assert_int_equal(r.seq, 3);
}

static int decode_rejects(const char *text, size_t len) {
    timers_record r;
    if (timers_record_decode(text, len, &r) == -1) return 1;
    printf("  decode accepted '%.*s'\n", (int)(len > 60 ? 60 : len), text);
    return 0;
}

static void test_record_decode_rejects_garbage(void **state) {
    static const char *const rows[] = {
        "",
        "garbage",
        "20261123",
        "20261123|20270104|3",        /* three fields */
        "a|b|c|d",
        "20261323|20270104|0|0",      /* month 13 */
        "20270229|20270301|0|0",      /* 29 Feb in a common year */
        "20261123|20270100|0|0",      /* day 0 */
        "20261123|20270104|-1|0",     /* negative seq */
        "||||",
        "044625051353088",            /* packed: a leading zero */
        "4462505135308812",           /* packed: 16 digits */
        "2147483647",                 /* packed: start 1970-01-01, below what is packed */
        "44625051353101|",            /* packed: empty reason */
        "44625051353101|a|b",         /* packed: reason with a bar */
        "281474976710656",            /* packed: 2^48, start past 2328 */
    };
    char big[200];
    memset(big, '1', sizeof(big));
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_true(decode_rejects(rows[i], strlen(rows[i])));
    assert_true(decode_rejects(big, sizeof(big)));
}

/* Fields that are there but are not numbers or dates are garbage too: a seq
 * read as 0 would replay every point of the clock. */
static void test_record_decode_rejects_bad_fields(void **state) {
    static const char *const rows[] = {
        "20261123|20270104|x|0",       /* seq not a number */
        "20261123|20270104|3x|0",      /* seq with junk */
        "20261123|20270104|0|one",     /* flags not a number */
        "2026112|20270104|0|0",        /* a 7-digit date */
        "20261123junk|20270104|0|0",   /* a date with junk */
    };
    size_t accepted = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        accepted += !decode_rejects(rows[i], strlen(rows[i]));
    assert_int_equal(accepted, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_points),
        cmocka_unit_test(test_schedule_without_approaching),
        cmocka_unit_test(test_fire_hour_on_clock_change_days),
        cmocka_unit_test(test_schedule_first),
        cmocka_unit_test(test_excepted_schedules_identically),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_decode_layout1),
        cmocka_unit_test(test_record_encode_small_buffer),
        cmocka_unit_test(test_record_decode_honours_len),
        cmocka_unit_test(test_record_decode_rejects_garbage),
        cmocka_unit_test(test_record_decode_rejects_bad_fields),
    };
    return cmocka_run_group_tests(tests, holidays_setup, holidays_teardown);
}
