/* test_rules.c - due dates of every statutory clock (services/timers/rules.c).
 *
 * One table: a row is a clock, what its start event gives it (base date,
 * child's date of birth, transfer year and phase, a due date field), the
 * counting setting (timers.counting.receipt_is_day_one) and the due date a
 * SEND manager would work out by hand from the law as
 * /work/shared/domain/send-pathway.md states it. The expected dates were
 * worked out by hand, never by calling the code under test: a row that fails
 * is the code disagreeing with the law, not a stale expectation.
 *
 * The counting conventions the rows apply (domain doc, "Counting"):
 *   - "within N weeks of" / "N weeks from": the start day is not counted,
 *     due = start + 7N; with receipt_is_day_one, one day earlier.
 *   - "N months from" (appeal, mediation): the corresponding date N months
 *     later; where that month has no such date, its last day (31 Dec + 2
 *     months = 28/29 Feb; Dodds v Walker [1981] 1 WLR 1027).
 *   - "N months starting with" (annual review, under-5 review): the start day
 *     is day 1, so the last day is the day before the corresponding date
 *     (plan made 1 Jan 2019 -> 31 Dec 2019). Where the end month has no
 *     corresponding date (29 Feb + 12 months, 31 Aug + 6 months) the period
 *     runs to that month's last day: a 12-month period starting with 29 Feb
 *     2028 includes 28 Feb 2029, because no 29 Feb 2029 exists for it to stop
 *     the day before. (The same rule, written out, is r.1.4(2)(a)(ii) of
 *     SI 2018/1082: "the day before the date corresponding ..., or if there is
 *     no such date in the month in which it ends, the last day of that
 *     month".)
 *   - "at least 15 days beginning with the day served": served + 14.
 *   - Calendar dates only: school holidays, bank holidays and the change to
 *     or from BST never move a calendar-day, week or month due date.
 *
 * A failing row prints itself with the date the code gave, and every row is
 * checked before the test fails, so one run lists every disagreement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "holidays.h"
#include "rules.h"

#define SHIPPED_HOLIDAYS SP_SOURCE_DIR "/config/bank-holidays.json"

/* The local milestones an authority might configure (timers.milestones):
 * one row per unit, so each is parsed from config and counted. */
#define MILESTONES                                                                \
    "panel_decision=request.received+5w/decision.assess,decision.not_assess;"     \
    "caseworker_call=request.received+3wd/contact.made;"                          \
    "draft_target=decision.assess+10d/draft_plan.served;"                         \
    "plan_check=final_plan.issued+3m/review.held"

typedef struct rules_fixture {
    timers_ruleset set;
    sp_holidays *holidays;
} rules_fixture;

static sp_date day(const char *iso) {
    sp_date d = SP_DATE_INVALID;
    if (iso) assert_int_equal(sp_date_parse(iso, &d), 0);
    return d;
}

static int fixture_setup(void **state) {
    char err[256];
    rules_fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    if (!(f->holidays = sp_holidays_load(SHIPPED_HOLIDAYS, err, sizeof(err)))) {
        fprintf(stderr, "cannot load %s: %s\n", SHIPPED_HOLIDAYS, err);
        free(f);
        return -1;
    }
    timers_rules_init(&f->set);
    if (timers_rules_add_milestones(&f->set, MILESTONES, err, sizeof(err))) {
        fprintf(stderr, "milestones: %s\n", err);
        sp_holidays_free(f->holidays);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state) {
    rules_fixture *f = *state;
    sp_holidays_free(f->holidays);
    free(f);
    return 0;
}

/* ---- the due-date table ------------------------------------------------------ */

typedef struct due_row {
    const char *clock;
    const char *base;      /* the rule's base date; NULL = missing */
    const char *dob;       /* child's date of birth; NULL = unknown */
    int transfer_year;     /* phase_transfer: 0 = none given */
    int post16;            /* phase_transfer: secondary to post-16 */
    const char *due_field; /* sen_support_review: the agreed date; NULL = none */
    int day_one;           /* timers.counting.receipt_is_day_one */
    const char *expect;    /* the due date, or NULL: no due date (invalid) */
    const char *why;       /* the hand working */
} due_row;

/* Most rows need only a base date; the others name what they add. */
#define ROW(clock, base, day_one, expect, why) \
    {clock, base, NULL, 0, 0, NULL, day_one, expect, why}
#define ROW_DOB(clock, base, dob, expect, why) \
    {clock, base, dob, 0, 0, NULL, 0, expect, why}
#define ROW_PHASE(base, year, post16, day_one, expect, why) \
    {"phase_transfer", base, NULL, year, post16, NULL, day_one, expect, why}
#define ROW_FIELD(base, field, day_one, expect, why) \
    {"sen_support_review", base, NULL, 0, 0, field, day_one, expect, why}

static const due_row due_rows[] = {
    /* decision_to_assess: 6 weeks from receipt of the request, reg 5(1). */
    ROW("decision_to_assess", "2026-11-23", 0, "2027-01-04",
        "23 Nov + 42: 7 to 30 Nov, 31 to 31 Dec, 4 to 4 Jan (a Monday)"),
    ROW("decision_to_assess", "2026-11-23", 1, "2027-01-03",
        "receipt as day 1: one day earlier than 4 Jan"),
    ROW("decision_to_assess", "2028-01-18", 0, "2028-02-29",
        "18 Jan + 42: 13 to 31 Jan, 29 to 29 Feb (2028 is a leap year)"),
    ROW("decision_to_assess", "2027-01-18", 0, "2027-03-01",
        "18 Jan + 42: 13 to 31 Jan, 28 to 28 Feb, 1 to 1 Mar (2027 not leap)"),
    ROW("decision_to_assess", "2028-02-29", 0, "2028-04-11",
        "29 Feb + 42: 31 to 31 Mar, 11 to 11 Apr"),
    ROW("decision_to_assess", "2027-03-28", 0, "2027-05-09",
        "received the day BST starts: 3 to 31 Mar, 30 to 30 Apr, 9 to 9 May"),
    ROW("decision_to_assess", "2027-03-20", 0, "2027-05-01",
        "across the BST change: 11 to 31 Mar, 30 to 30 Apr, 1 to 1 May"),
    ROW("decision_to_assess", "2027-03-20", 1, "2027-04-30",
        "receipt as day 1: one day earlier than 1 May"),
    ROW("decision_to_assess", "2027-07-15", 0, "2027-08-26",
        "summer holiday does not stop the clock: 16 to 31 Jul, 26 to 26 Aug"),
    ROW("decision_to_assess", NULL, 0, NULL, "no receipt date: no due date"),

    /* advice: 6 weeks from the day the adviser received the request, reg 8(1). */
    ROW("advice", "2027-01-04", 0, "2027-02-15", "4 Jan + 42: 27 to 31 Jan, 15 to 15 Feb"),
    ROW("advice", "2027-01-04", 1, "2027-02-14", "receipt as day 1: 14 Feb"),
    ROW("advice", "2028-02-15", 0, "2028-03-28", "15 Feb + 42: 14 to 29 Feb, 28 to 28 Mar"),
    ROW("advice", "2027-02-15", 0, "2027-03-29", "15 Feb + 42: 13 to 28 Feb, 29 to 29 Mar"),
    ROW("advice", "2027-10-20", 0, "2027-12-01",
        "across BST ending 31 Oct: 11 to 31 Oct, 30 to 30 Nov, 1 to 1 Dec"),

    /* no_plan_notice: 16 weeks from the request, reg 10(1). */
    ROW("no_plan_notice", "2026-11-23", 0, "2027-03-15",
        "23 Nov + 112: 30 Nov 7, 31 Dec 38, 31 Jan 69, 28 Feb 97, 15 Mar 112"),
    ROW("no_plan_notice", "2026-11-23", 1, "2027-03-14", "receipt as day 1: 14 Mar"),
    ROW("no_plan_notice", "2027-11-23", 0, "2028-03-14",
        "23 Nov + 112 over a leap Feb: 31 Jan 69, 29 Feb 98, 14 Mar 112"),
    ROW("no_plan_notice", "2027-10-24", 0, "2028-02-13",
        "24 Oct + 112: 31 Oct 7, 30 Nov 37, 31 Dec 68, 31 Jan 99, 13 Feb 112"),

    /* final_plan: 20 weeks from the request, reg 13(2). */
    ROW("final_plan", "2026-11-23", 0, "2027-04-12", "16 weeks is 15 Mar, + 28 = 12 Apr"),
    ROW("final_plan", "2026-11-23", 1, "2027-04-11", "receipt as day 1: 11 Apr"),
    ROW("final_plan", "2027-11-23", 0, "2028-04-11", "16 weeks is 14 Mar 2028, + 28 = 11 Apr"),
    ROW("final_plan", "2028-02-29", 0, "2028-07-18",
        "29 Feb + 140: 31 Mar 31, 30 Apr 61, 31 May 92, 30 Jun 122, 18 Jul 140"),
    ROW("final_plan", "2027-01-31", 0, "2027-06-20",
        "31 Jan + 140: 28 Feb 28, 31 Mar 59, 30 Apr 89, 31 May 120, 20 Jun 140"),

    /* draft_response: at least 15 days beginning with the day served, reg 13(1). */
    ROW("draft_response", "2027-03-08", 0, "2027-03-22", "served 8 Mar is day 1; day 15 is 22 Mar"),
    ROW("draft_response", "2027-03-08", 1, "2027-03-22",
        "the setting is for 'within N weeks of receiving'; 15 days beginning "
        "with service is already counted from day 1"),
    ROW("draft_response", "2028-02-20", 0, "2028-03-05", "20 Feb + 14: 9 to 29 Feb, 5 to 5 Mar"),
    ROW("draft_response", "2027-02-20", 0, "2027-03-06", "20 Feb + 14: 8 to 28 Feb, 6 to 6 Mar"),
    ROW("draft_response", "2027-03-28", 0, "2027-04-11", "28 Mar (BST starts) + 14 = 11 Apr"),
    ROW("draft_response", "2027-12-25", 0, "2028-01-08",
        "bank holidays do not count against calendar days: 25 Dec + 14 = 8 Jan"),

    /* school_consultation: should respond within 15 days, CoP 9.83. */
    ROW("school_consultation", "2027-03-10", 0, "2027-03-25", "10 Mar + 15 = 25 Mar"),
    ROW("school_consultation", "2027-03-10", 1, "2027-03-25",
        "a days rule: receipt_is_day_one changes weeks rules only"),
    ROW("school_consultation", "2028-02-20", 0, "2028-03-06", "20 Feb + 15: 9 to 29 Feb, 6 to 6 Mar"),
    ROW("school_consultation", "2027-04-30", 0, "2027-05-15", "30 Apr + 15 = 15 May"),

    /* annual_review: the period of 12 months starting with the date the plan
     * was made, then with the date of the last review; CFA s.44(1). */
    ROW("annual_review", "2019-01-01", 0, "2019-12-31",
        "the domain doc's example: made 1 Jan 2019 is day 1, reviewed by 31 Dec 2019"),
    ROW("annual_review", "2027-03-01", 0, "2028-02-29",
        "day before the corresponding date 1 Mar 2028 is 29 Feb (leap)"),
    ROW("annual_review", "2028-03-01", 0, "2029-02-28",
        "day before the corresponding date 1 Mar 2029 is 28 Feb"),
    ROW("annual_review", "2028-02-29", 0, "2029-02-28",
        "made 29 Feb 2028: 2029 has no 29 Feb, so the 12 months run to the last "
        "day of Feb 2029, 28 Feb (not 27 Feb: that would make the period a day "
        "short of 12 months)"),
    ROW("annual_review", "2027-02-28", 0, "2028-02-27",
        "day before the corresponding date 28 Feb 2028"),
    ROW("annual_review", "2028-02-28", 0, "2029-02-27",
        "day before the corresponding date 28 Feb 2029"),
    ROW("annual_review", "2026-05-31", 0, "2027-05-30", "day before 31 May 2027"),
    ROW("annual_review", "2026-05-31", 1, "2027-05-30",
        "a months rule: receipt_is_day_one changes weeks rules only"),
    ROW("annual_review", "2027-03-28", 0, "2028-03-27", "reviewed the day BST starts: 27 Mar 2028"),
    ROW("annual_review", "2027-04-01", 0, "2028-03-31", "made 1 Apr 2027: by 31 Mar 2028"),
    ROW("annual_review", NULL, 0, NULL, "no plan date: no due date"),
    /* Under 5 on the start date: review within 6 months (CoP 9.178), counted
     * the same way, starting with the date. */
    ROW_DOB("annual_review", "2027-06-14", "2022-06-15", "2027-12-13",
            "child is 4 (5 on 15 Jun 2027): 6 months, day before 14 Dec 2027"),
    ROW_DOB("annual_review", "2027-06-15", "2022-06-15", "2028-06-14",
            "child is 5 that day: not under 5, 12 months, day before 15 Jun 2028"),
    ROW_DOB("annual_review", "2027-06-14", NULL, "2028-06-13",
            "age unknown: the 12-month rule"),
    ROW_DOB("annual_review", "2027-08-29", "2024-01-10", "2028-02-28",
            "under 5: day before the corresponding date 29 Feb 2028"),
    ROW_DOB("annual_review", "2027-08-31", "2024-01-10", "2028-02-29",
            "under 5: Feb 2028 has no 31st, so 6 months run to its last day, 29 Feb"),
    ROW_DOB("annual_review", "2027-03-31", "2024-01-10", "2027-09-30",
            "under 5: Sep has no 31st, so 6 months run to 30 Sep"),
    ROW_DOB("annual_review", "2028-06-01", "2024-02-29", "2028-11-30",
            "child born on a leap day is 4: day before 1 Dec 2028"),

    /* review_report: within 2 weeks after the review meeting, reg 20. */
    ROW("review_report", "2027-05-10", 0, "2027-05-24", "10 May + 14"),
    ROW("review_report", "2027-05-10", 1, "2027-05-23", "meeting day as day 1: 23 May"),
    ROW("review_report", "2028-02-20", 0, "2028-03-05", "20 Feb + 14 over 29 Feb: 5 Mar"),
    ROW("review_report", "2027-10-24", 0, "2027-11-07", "across BST ending 31 Oct: 7 Nov"),

    /* review_decision: within 4 weeks of the meeting, reg 20; CoP 9.176. */
    ROW("review_decision", "2027-05-10", 0, "2027-06-07", "10 May + 28: 21 to 31 May, 7 to 7 Jun"),
    ROW("review_decision", "2027-05-10", 1, "2027-06-06", "meeting day as day 1: 6 Jun"),
    ROW("review_decision", "2028-02-01", 0, "2028-02-29", "1 Feb + 28 = 29 Feb (leap)"),
    ROW("review_decision", "2027-02-01", 0, "2027-03-01", "1 Feb + 28 = 1 Mar (not leap)"),
    ROW("review_decision", "2027-03-28", 0, "2027-04-25", "28 Mar (BST starts) + 28 = 25 Apr"),

    /* amended_plan: final amended plan within 8 weeks of the notice, reg 22. */
    ROW("amended_plan", "2027-06-01", 0, "2027-07-27", "1 Jun + 56: 29 to 30 Jun, 27 to 27 Jul"),
    ROW("amended_plan", "2027-06-01", 1, "2027-07-26", "notice day as day 1: 26 Jul"),
    ROW("amended_plan", "2028-01-10", 0, "2028-03-06",
        "10 Jan + 56: 21 to 31 Jan, 29 to 29 Feb, 6 to 6 Mar"),
    ROW("amended_plan", "2027-01-10", 0, "2027-03-07",
        "10 Jan + 56: 21 to 31 Jan, 28 to 28 Feb, 7 to 7 Mar"),

    /* phase_transfer: 15 Feb of the transfer year, 31 Mar to post-16, reg 18. */
    ROW_PHASE("2026-07-01", 2027, 0, 0, "2027-02-15", "primary to secondary, Sep 2027"),
    ROW_PHASE("2026-07-01", 2027, 1, 0, "2027-03-31", "secondary to post-16, Sep 2027"),
    ROW_PHASE("2027-05-10", 2028, 0, 0, "2028-02-15", "transfer in 2028"),
    ROW_PHASE("2027-05-10", 2028, 1, 0, "2028-03-31", "post-16 transfer in 2028"),
    ROW_PHASE("2026-07-01", 2027, 0, 1, "2027-02-15", "a fixed date: the setting changes nothing"),
    ROW_PHASE("2026-07-01", 0, 0, 0, NULL, "no transfer year: no due date"),

    /* sen_support_review: the review date agreed with the parent, CoP 6.65. */
    ROW_FIELD("2026-11-23", "2027-03-19", 0, "2027-03-19", "the agreed date"),
    ROW_FIELD("2027-11-23", "2028-02-29", 0, "2028-02-29", "the agreed date, a leap day"),
    ROW_FIELD("2026-11-23", "2027-03-19", 1, "2027-03-19", "a given date: the setting changes nothing"),
    ROW_FIELD("2026-11-23", NULL, 0, NULL, "no agreed date: no due date"),

    /* appeal_window: 2 months from the decision letter (HESC Rules r.20). */
    ROW("appeal_window", "2027-12-31", 0, "2028-02-29", "no 31 Feb: last day of Feb 2028 (leap)"),
    ROW("appeal_window", "2026-12-31", 0, "2027-02-28", "no 31 Feb: last day of Feb 2027"),
    ROW("appeal_window", "2027-12-29", 0, "2028-02-29", "corresponding date 29 Feb 2028 exists"),
    ROW("appeal_window", "2028-12-30", 0, "2029-02-28", "no 30 Feb: last day of Feb 2029"),
    ROW("appeal_window", "2027-01-15", 0, "2027-03-15", "corresponding date"),
    ROW("appeal_window", "2027-08-31", 0, "2027-10-31", "31 Aug -> 31 Oct"),
    ROW("appeal_window", "2027-07-31", 0, "2027-09-30", "no 31 Sep: 30 Sep"),
    ROW("appeal_window", "2027-10-31", 0, "2027-12-31", "31 Oct -> 31 Dec"),
    ROW("appeal_window", "2028-02-29", 0, "2028-04-29", "29 Feb -> 29 Apr"),
    ROW("appeal_window", "2026-12-31", 1, "2027-02-28",
        "a months rule: receipt_is_day_one changes weeks rules only"),
    ROW("appeal_window", NULL, 0, NULL, "no decision date: no due date"),

    /* mediation_window: contact the mediation adviser within 2 months, reg 33. */
    ROW("mediation_window", "2027-12-31", 0, "2028-02-29", "no 31 Feb: 29 Feb 2028 (leap)"),
    ROW("mediation_window", "2026-12-31", 0, "2027-02-28", "no 31 Feb: 28 Feb 2027"),
    ROW("mediation_window", "2028-02-29", 0, "2028-04-29", "29 Feb -> 29 Apr"),
    ROW("mediation_window", "2027-03-28", 0, "2027-05-28", "28 Mar (BST starts) -> 28 May"),

    /* Local milestones parsed from MILESTONES above. */
    ROW("panel_decision", "2026-11-23", 0, "2026-12-28", "+5w: 23 Nov + 35 = 28 Dec"),
    ROW("panel_decision", "2026-11-23", 1, "2026-12-27", "a weeks rule: receipt as day 1, 27 Dec"),
    ROW("panel_decision", "2028-02-01", 0, "2028-03-07", "+5w: 1 Feb + 35: 28 to 29 Feb, 7 to 7 Mar"),
    ROW("caseworker_call", "2026-12-24", 0, "2026-12-31",
        "+3wd from Thu 24 Dec 2026: Fri 25 (Christmas), Sat, Sun, Mon 28 (Boxing "
        "Day substitute) are not working days; Tue 29, Wed 30, Thu 31"),
    ROW("caseworker_call", "2027-03-25", 0, "2027-04-01",
        "+3wd from Thu 25 Mar 2027: Good Friday 26, Easter Monday 29 skipped; "
        "Tue 30, Wed 31, Thu 1 Apr"),
    ROW("caseworker_call", "2027-01-08", 0, "2027-01-13", "+3wd from Fri 8 Jan: Mon 11, Tue 12, Wed 13"),
    ROW("draft_target", "2028-02-20", 0, "2028-03-01", "+10d: 9 to 29 Feb, 1 to 1 Mar"),
    ROW("plan_check", "2027-11-30", 0, "2028-02-29", "+3m from 30 Nov: no 30 Feb, last day 29 Feb"),
};

#define N_DUE_ROWS (sizeof(due_rows) / sizeof(due_rows[0]))

static void row_print(size_t i, const due_row *r, const char *got) {
    printf("  row %zu %s: base %s%s%s transfer %d%s field %s day_one %d: want %s, got %s\n"
           "      (%s)\n",
           i, r->clock, r->base ? r->base : "-", r->dob ? " dob " : "", r->dob ? r->dob : "",
           r->transfer_year, r->post16 ? " post16" : "", r->due_field ? r->due_field : "-",
           r->day_one, r->expect ? r->expect : "invalid", got, r->why);
}

static void test_due_dates(void **state) {
    rules_fixture *f = *state;
    size_t failed = 0;
    for (size_t i = 0; i < N_DUE_ROWS; i++) {
        const due_row *r = &due_rows[i];
        const timers_rule *rule = timers_rules_find(&f->set, r->clock);
        timers_start_input in = {day(r->base), day(r->due_field), day(r->dob),
                                 r->transfer_year, r->post16};
        timers_counting c = {r->day_one, f->holidays};
        char got[16], want[16];
        if (!rule) {
            printf("  row %zu: no clock named %s\n", i, r->clock);
            failed++;
            continue;
        }
        sp_date_iso(timers_rule_due(rule, &in, &c), got, sizeof(got));
        snprintf(want, sizeof(want), "%s", r->expect ? r->expect : "invalid");
        if (strcmp(got, want) != 0) {
            row_print(i, r, got);
            failed++;
        }
    }
    printf("  %zu due-date rows, %zu disagree with the law\n", N_DUE_ROWS, failed);
    assert_int_equal(failed, 0);
}

/* Every clock of the built-in table has rows, so a clock added to rules.c
 * without its law being written down here fails this test. */
static void test_every_clock_has_rows(void **state) {
    static const char *const builtin[] = {
        "decision_to_assess", "advice", "no_plan_notice", "final_plan",
        "draft_response", "school_consultation", "annual_review", "review_report",
        "review_decision", "amended_plan", "phase_transfer", "sen_support_review",
        "appeal_window", "mediation_window"};
    rules_fixture *f = *state;
    timers_ruleset fresh;
    timers_rules_init(&fresh);
    assert_int_equal(fresh.count, (int)(sizeof(builtin) / sizeof(builtin[0])));
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        assert_non_null(timers_rules_find(&fresh, builtin[i]));
    for (int i = 0; i < f->set.count; i++) {
        size_t n = 0;
        for (size_t j = 0; j < N_DUE_ROWS; j++) n += !strcmp(due_rows[j].clock, f->set.rules[i].clock);
        if (n == 0) printf("  clock %s has no rows\n", f->set.rules[i].clock);
        assert_true(n > 0);
    }
}

/* Only the two windows are informational (a date for the parent, with no
 * approaching or overdue events): docs/clocks.md says so. */
static void test_informational_clocks(void **state) {
    rules_fixture *f = *state;
    for (int i = 0; i < f->set.count; i++) {
        const timers_rule *r = &f->set.rules[i];
        int window = !strcmp(r->clock, "appeal_window") || !strcmp(r->clock, "mediation_window");
        assert_int_equal((r->flags & TIMERS_RULE_INFORMATIONAL) != 0, window);
    }
}

/* ---- local milestones ---------------------------------------------------------- */

static void test_milestone_parsed(void **state) {
    rules_fixture *f = *state;
    const timers_rule *r = timers_rules_find(&f->set, "panel_decision");
    assert_non_null(r);
    assert_int_equal(r->amount, 5);
    assert_int_equal(r->unit, TIMERS_UNIT_WEEKS);
    assert_true(timers_rule_starts_on(r, "request.received"));
    assert_false(timers_rule_starts_on(r, "decision.assess"));
    assert_true(timers_rule_met_on(r, "decision.assess"));
    assert_true(timers_rule_met_on(r, "decision.not_assess"));
    assert_false(timers_rule_met_on(r, "request.received"));
    assert_null(r->qualifier_field);
    assert_int_equal(r->flags, 0);
    assert_int_equal(timers_rules_find(&f->set, "caseworker_call")->unit,
                     TIMERS_UNIT_WORKING_DAYS);
    assert_int_equal(timers_rules_find(&f->set, "draft_target")->unit, TIMERS_UNIT_DAYS);
    assert_int_equal(timers_rules_find(&f->set, "plan_check")->unit, TIMERS_UNIT_MONTHS);
}

/* The brief's example on its own, through a fresh set, as an authority would
 * write it. */
static void test_milestone_one_row(void **state) {
    timers_ruleset set;
    char err[256] = "";
    timers_counting c = {0, NULL};
    timers_start_input in = {day("2026-11-23"), SP_DATE_INVALID, SP_DATE_INVALID, 0, 0};
    char buf[16];
    timers_rules_init(&set);
    assert_int_equal(timers_rules_add_milestones(
                         &set, "panel_decision=request.received+5w/decision.assess", err,
                         sizeof(err)),
                     0);
    assert_int_equal(set.count, 15);
    const timers_rule *r = timers_rules_find(&set, "panel_decision");
    assert_non_null(r);
    assert_string_equal(sp_date_iso(timers_rule_due(r, &in, &c), buf, sizeof(buf)),
                        "2026-12-28"); /* +35 days */
    /* Nothing to add is not an error. */
    assert_int_equal(timers_rules_add_milestones(&set, "", err, sizeof(err)), 0);
    assert_int_equal(timers_rules_add_milestones(&set, NULL, err, sizeof(err)), 0);
    assert_int_equal(set.count, 15);
}

static void test_milestone_malformed(void **state) {
    static const struct {
        const char *spec;
        const char *in_err; /* the errstr must say this */
    } rows[] = {
        {"panel_decision", "'panel_decision'"},                            /* no '=' */
        {"panel_decision=request.received", "cannot read"},                /* no amount */
        {"panel_decision=request.received+5w", "cannot read"},             /* no stop */
        {"panel_decision=request.received+5w/", "cannot read"},            /* empty stop */
        {"=request.received+5w/decision.assess", "cannot read"},           /* no name */
        {"panel_decision=+5w/decision.assess", "cannot read"},             /* no start */
        {"panel_decision=request.received+w/decision.assess", "cannot read"},
        {"panel_decision=request.received+5/decision.assess", "cannot read"}, /* no unit */
        {"panel_decision=request.received+5y/decision.assess", "cannot read"},
        {"panel_decision=request.received+5W/decision.assess", "cannot read"},
        {"panel_decision=request.received+0w/decision.assess", "cannot read"},
        {"panel_decision=request.received+-5w/decision.assess", "cannot read"},
        {"panel_decision=request.received+521w/decision.assess", "cannot read"},
        {"panel_decision=request.received+5w/a,b,c,d,e", "cannot read"}, /* 5 stops */
        {"a_name_that_is_far_too_long_to_be_a_clock_name_at_all=x+1d/y", "cannot read"},
        {"decision_to_assess=request.received+5w/decision.assess", "already exists"},
        {"dup=x+1d/y;dup=x+2d/y", "'dup' already exists"},
        {"ok=x+1d/y;broken", "'broken'"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        timers_ruleset set;
        char err[256] = "";
        timers_rules_init(&set);
        int rc = timers_rules_add_milestones(&set, rows[i].spec, err, sizeof(err));
        if (rc != -1 || !strstr(err, "timers.milestones") || !strstr(err, rows[i].in_err))
            printf("  malformed row %zu '%s': rc %d, errstr '%s'\n", i, rows[i].spec, rc, err);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, "timers.milestones"));
        assert_non_null(strstr(err, rows[i].in_err));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_dates),
        cmocka_unit_test(test_every_clock_has_rows),
        cmocka_unit_test(test_informational_clocks),
        cmocka_unit_test(test_milestone_parsed),
        cmocka_unit_test(test_milestone_one_row),
        cmocka_unit_test(test_milestone_malformed),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
