/* test_agenda.c - the digest's kept clock lines and its lists
 * (services/notify/agenda.c). Table-driven: which deadline events keep,
 * drop or ignore a clock; the line round trip; where each clock falls on a
 * given day; and the lists a team's digest shows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agenda.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CASE_A "c_01M83ZVG008Q4VZ7M2N5P6R9S3"
#define CASE_B "c_01M83ZVG008Q4VZ7M2N5P6R9S4"

static void event_make(sp_event *ev, const char *type, const char *data_json) {
    char err[256] = "";
    cJSON *d = cJSON_Parse(data_json);
    assert_non_null(d);
    char *text = sp_event_build_text(CASE_A "/test/1", "/test", type, 1798000000000LL,
                                     CASE_A, d);
    assert_non_null(text);
    memset(ev, 0, sizeof(*ev));
    if (sp_event_parse(text, strlen(text), ev, err, sizeof(err))) fail_msg("%s", err);
    cJSON_free(text);
}

#define CLOCK_DATA(clock, extra)                                                         \
    "{\"case_id\":\"" CASE_A "\",\"clock_id\":\"" CASE_A ":" clock ":20261123\","      \
    "\"clock\":\"" clock "\",\"started_on\":\"2026-11-23\",\"due_date\":\"2027-01-04\","  \
    "\"excepted\":false" extra "}"

static void test_events_keep_drop_or_ignore(void **state) {
    static const struct {
        const char *type, *data;
        notify_agenda_op want;
        const char *line;
    } rows[] = {
        {"deadline.started", CLOCK_DATA("decision_to_assess", ""), NOTIFY_AGENDA_KEEP,
         CASE_A "|decision_to_assess||2027-01-04|0"},
        {"deadline.approaching",
         CLOCK_DATA("advice", ",\"qualifier\":\"medical\",\"seq\":0"), NOTIFY_AGENDA_KEEP,
         CASE_A "|advice|medical|2027-01-04|0"},
        {"deadline.overdue", CLOCK_DATA("final_plan", ""), NOTIFY_AGENDA_KEEP,
         CASE_A "|final_plan||2027-01-04|0"},
        {"deadline.met", CLOCK_DATA("final_plan", ""), NOTIFY_AGENDA_DROP, NULL},
        {"deadline.cancelled", CLOCK_DATA("final_plan", ""), NOTIFY_AGENDA_DROP, NULL},
        /* the parent's windows are not the council's deadlines */
        {"deadline.started", CLOCK_DATA("appeal_window", ",\"informational\":true"),
         NOTIFY_AGENDA_IGNORE, NULL},
        {"deadline.due", CLOCK_DATA("mediation_window", ""), NOTIFY_AGENDA_IGNORE, NULL},
        {"decision.assess", "{\"case_id\":\"" CASE_A "\",\"date\":\"2026-12-10\"}",
         NOTIFY_AGENDA_IGNORE, NULL},
        /* no due date: not a deadline event of the contract */
        {"deadline.started",
         "{\"case_id\":\"" CASE_A "\",\"clock_id\":\"x\",\"clock\":\"advice\"}",
         NOTIFY_AGENDA_IGNORE, NULL},
    };
    (void)state;
    for (size_t i = 0; i < LEN(rows); i++) {
        sp_event ev;
        char line[NOTIFY_AGENDA_LINE_MAX] = "";
        event_make(&ev, rows[i].type, rows[i].data);
        notify_agenda_op op = notify_agenda_from_event(&ev, line, sizeof(line));
        if (op != rows[i].want) fail_msg("row %zu: op %d, want %d", i, op, rows[i].want);
        if (rows[i].line) assert_string_equal(line, rows[i].line);
        sp_event_free(&ev);
    }
}

static void test_excepted_is_kept(void **state) {
    sp_event ev;
    char line[NOTIFY_AGENDA_LINE_MAX];
    notify_agenda_item it;
    (void)state;
    event_make(&ev, "deadline.excepted",
               "{\"case_id\":\"" CASE_A "\",\"clock_id\":\"" CASE_A
               ":final_plan:20261123\",\"clock\":\"final_plan\",\"started_on\":"
               "\"2026-11-23\",\"due_date\":\"2027-04-12\",\"excepted\":true,"
               "\"exception_reason\":\"school_closure\"}");
    assert_int_equal(notify_agenda_from_event(&ev, line, sizeof(line)), NOTIFY_AGENDA_KEEP);
    assert_int_equal(notify_agenda_parse(line, &it), 0);
    assert_true(it.excepted);
    assert_string_equal(it.clock, "final_plan");
    assert_string_equal(it.qualifier, "");
    sp_event_free(&ev);
}

static void test_parse_refuses_what_is_not_a_line(void **state) {
    static const char *const bad[] = {
        "", CASE_A, CASE_A "|advice|medical|2027-01-04", CASE_A "|advice||2027-02-30|0",
        CASE_A "|advice||2027-01-04|0|extra", "|advice||2027-01-04|0",
    };
    notify_agenda_item it;
    (void)state;
    for (size_t i = 0; i < LEN(bad); i++)
        if (notify_agenda_parse(bad[i], &it) == 0) fail_msg("accepted '%s'", bad[i]);
}

static sp_date day(const char *iso) {
    sp_date d;
    assert_int_equal(sp_date_parse(iso, &d), 0);
    return d;
}

static void test_kinds(void **state) {
    static const struct {
        const char *due;
        notify_agenda_kind want;
    } rows[] = {
        {"2026-12-27", NOTIFY_AGENDA_OVERDUE},     {"2026-12-28", NOTIFY_AGENDA_DUE},
        {"2026-12-29", NOTIFY_AGENDA_APPROACHING}, {"2027-01-11", NOTIFY_AGENDA_APPROACHING},
        {"2027-01-12", NOTIFY_AGENDA_LATER},
    };
    (void)state;
    for (size_t i = 0; i < LEN(rows); i++) {
        notify_agenda_item it = {.due = day(rows[i].due)};
        assert_int_equal(notify_agenda_kind_of(&it, day("2026-12-28"), 14), rows[i].want);
    }
}

static void test_lists_of_one_team(void **state) {
    notify_agenda_item items[4];
    notify_agenda_text t;
    (void)state;
    assert_int_equal(notify_agenda_parse(CASE_B "|advice|psychological|2026-12-21|0",
                                         &items[0]), 0);
    assert_int_equal(notify_agenda_parse(CASE_A "|final_plan||2027-01-01|1", &items[1]), 0);
    assert_int_equal(notify_agenda_parse(CASE_A "|advice|medical|2026-12-27|0", &items[2]),
                     0);
    assert_int_equal(notify_agenda_parse(CASE_B "|final_plan||2027-01-02|0", &items[3]), 0);
    items[0].child = "Kofi Mensah", items[0].team = "north";
    items[1].child = "Amara Okafor", items[1].team = "north";
    items[2].child = NULL, items[2].team = "north";
    items[3].child = "Kofi Mensah", items[3].team = "south";
    assert_int_equal(notify_agenda_write(items, 4, "north", day("2026-12-28"), 14, &t), 0);
    assert_int_equal(t.count[NOTIFY_AGENDA_OVERDUE], 2);
    assert_int_equal(t.count[NOTIFY_AGENDA_DUE], 0);
    assert_int_equal(t.count[NOTIFY_AGENDA_APPROACHING], 1);
    /* oldest first; an unknown child and an exception said so */
    assert_string_equal(t.list[NOTIFY_AGENDA_OVERDUE],
                        "- " CASE_B " Kofi Mensah: Advice from an educational psychologist "
                        "(reg 8(1)), due Monday 21 December 2026, 7 days overdue\n"
                        "- " CASE_A " (child not known yet): Advice from a health "
                        "professional (reg 8(1)), due Sunday 27 December 2026, 1 day "
                        "overdue");
    assert_string_equal(t.list[NOTIFY_AGENDA_DUE], "- none");
    assert_non_null(strstr(t.list[NOTIFY_AGENDA_APPROACHING],
                           "due Friday 1 January 2027, in 4 days (exception recorded)"));
    notify_agenda_text_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_keep_drop_or_ignore),
        cmocka_unit_test(test_excepted_is_kept),
        cmocka_unit_test(test_parse_refuses_what_is_not_a_line),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_lists_of_one_team),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
