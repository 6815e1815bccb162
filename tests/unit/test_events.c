/* Unit tests for services/timers/events.c: the deadline events written as
 * text must read back, through the envelope parser every consumer uses, as
 * exactly the fields they stand for, whatever a qualifier holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "events.h"

#define NOW_MS 1795430400000LL /* 2026-11-23T10:40:00.000Z */

static sp_event parse(char *text) {
    sp_event ev;
    char err[128];
    assert_non_null(text);
    assert_int_equal(sp_event_parse(text, strlen(text), &ev, err, sizeof(err)), 0);
    cJSON_free(text);
    return ev;
}

static double num(const sp_event *ev, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev->data, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static int flag(const sp_event *ev, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev->data, name);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

static void test_started(void **state) {
    timers_record r = {.start = sp_date_make(2026, 11, 23), .due = sp_date_make(2027, 1, 4),
                       .seq = 0, .flags = TIMERS_FLAG_INFORMATIONAL};
    sp_event ev = parse(timers_event_started_text(
        "/sendpath/timers", NOW_MS, "c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess", &r));
    assert_string_equal(ev.id, "c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess:20261123/started");
    assert_string_equal(ev.type, "deadline.started");
    assert_string_equal(ev.source, "/sendpath/timers");
    assert_string_equal(ev.subject, "c_01M83ZVG008Q4VZ7M2N5P6R9S3");
    assert_int_equal(ev.time_ms, NOW_MS);
    assert_string_equal(sp_event_str(&ev, "case_id"), "c_01M83ZVG008Q4VZ7M2N5P6R9S3");
    assert_string_equal(sp_event_str(&ev, "clock"), "decision_to_assess");
    assert_string_equal(sp_event_str(&ev, "clock_id"),
                        "c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess:20261123");
    assert_null(sp_event_str(&ev, "qualifier"));
    assert_string_equal(sp_event_str(&ev, "started_on"), "2026-11-23");
    assert_string_equal(sp_event_str(&ev, "due_date"), "2027-01-04");
    assert_false(flag(&ev, "excepted"));
    assert_true(flag(&ev, "informational"));
    assert_null(sp_event_str(&ev, "exception_reason"));
    sp_event_free(&ev);
}

/* A qualifier is free text from an event: every character a JSON string
 * must escape comes back as it went in. */
static void test_fire_escapes_the_qualifier(void **state) {
    static const char qual[] = "ed \"psych\" \\ a\tb\nc\x01\x1f \xc3\xa9";
    char slot[TIMERS_SLOT_MAX];
    timers_record r = {.start = sp_date_make(2026, 11, 23), .due = sp_date_make(2027, 1, 4),
                       .seq = 2, .flags = TIMERS_FLAG_EXCEPTED};
    strcpy(r.reason, "child_unwell");
    timers_slot_make(slot, sizeof(slot), "c_01M83ZVG008Q4VZ7M2N5P6R9S3", "advice_ep", qual);
    timers_fire_point p = {.kind = TIMERS_FIRE_APPROACHING,
                           .date = sp_date_make(2026, 12, 28), .days_left = 5};
    sp_event ev = parse(timers_event_fire_text("/sendpath/timers", NOW_MS, slot, &r, 2, &p));
    assert_string_equal(sp_event_str(&ev, "qualifier"), qual);
    assert_string_equal(ev.type, "deadline.approaching");
    assert_non_null(strstr(ev.id, "/approaching/2"));
    assert_non_null(strstr(ev.id, qual));
    assert_string_equal(sp_event_str(&ev, "date"), "2026-12-28");
    assert_int_equal((int)num(&ev, "seq"), 2);
    assert_int_equal((int)num(&ev, "working_days_left"), 5);
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.data, "days_overdue"));
    assert_true(flag(&ev, "excepted"));
    assert_string_equal(sp_event_str(&ev, "exception_reason"), "child_unwell");
    sp_event_free(&ev);
}

static void test_fire_overdue(void **state) {
    timers_record r = {.start = sp_date_make(2026, 11, 23), .due = sp_date_make(2027, 1, 4),
                       .seq = 4};
    timers_fire_point p = {.kind = TIMERS_FIRE_OVERDUE, .date = sp_date_make(2027, 1, 5),
                           .days_left = 1};
    sp_event ev = parse(timers_event_fire_text("/sendpath/timers", NOW_MS,
                                               "c_01M83ZVG008Q4VZ7M2N5P6R9S3:plan_issue", &r,
                                               4, &p));
    assert_string_equal(ev.type, "deadline.overdue");
    assert_int_equal((int)num(&ev, "days_overdue"), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.data, "working_days_left"));
    assert_false(flag(&ev, "excepted"));
    sp_event_free(&ev);
}

/* A slot too long for the text buffer is refused, not cut. */
static void test_fire_refuses_what_does_not_fit(void **state) {
    char qual[3000];
    memset(qual, 'q', sizeof(qual) - 1);
    qual[sizeof(qual) - 1] = '\0';
    char *slot = malloc(sizeof(qual) + 64);
    assert_non_null(slot);
    sprintf(slot, "c_01M83ZVG008Q4VZ7M2N5P6R9S3:advice_ep:%s", qual);
    timers_record r = {.start = sp_date_make(2026, 11, 23), .due = sp_date_make(2027, 1, 4)};
    timers_fire_point p = {.kind = TIMERS_FIRE_DUE, .date = sp_date_make(2027, 1, 4)};
    /* The slot is cut to the qualifier buffer when split, but the id is the
     * whole slot: either the text is whole and parses, or it is NULL. */
    char *text = timers_event_fire_text("/sendpath/timers", NOW_MS, slot, &r, 0, &p);
    if (text) {
        sp_event ev = parse(text);
        sp_event_free(&ev);
    }
    free(slot);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_started),
        cmocka_unit_test(test_fire_escapes_the_qualifier),
        cmocka_unit_test(test_fire_overdue),
        cmocka_unit_test(test_fire_refuses_what_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
