/* test_layout.c - how timers stores a slot (services/timers/layout.c).
 *
 * Layout 2 drops the case id's "c_" and writes a built-in clock as its
 * code; layout 1 (every clock armed before it) is the slot as named. Reading
 * must take both, and a stored slot must never be read as another clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "layout.h"
#include "record.h"
#include "rules.h"

static void test_layout_store_and_back(void **state) {
    static const struct {
        const char *slot, *stored;
    } rows[] = {
        {"c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess", "01M83ZVG008Q4VZ7M2N5P6R9S3:A"},
        {"c_01M83ZVG008Q4VZ7M2N5P6R9S3:advice:health", "01M83ZVG008Q4VZ7M2N5P6R9S3:B:health"},
        {"c_01M83ZVG008Q4VZ7M2N5P6R9S3:mediation_window", "01M83ZVG008Q4VZ7M2N5P6R9S3:N"},
        /* a local milestone has no code: layout 1 */
        {"c_01M83ZVG008Q4VZ7M2N5P6R9S3:panel_visit", "c_01M83ZVG008Q4VZ7M2N5P6R9S3:panel_visit"},
        /* a milestone named like a code stays itself: its case part has "c_" */
        {"c_01M83ZVG008Q4VZ7M2N5P6R9S3:A", "c_01M83ZVG008Q4VZ7M2N5P6R9S3:A"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char stored[160], back[160];
        assert_int_equal(timers_layout_store(rows[i].slot, stored, sizeof(stored)),
                         (int)strlen(rows[i].stored));
        assert_string_equal(stored, rows[i].stored);
        assert_int_equal(timers_layout_slot(stored, back, sizeof(back)),
                         (int)strlen(rows[i].slot));
        assert_string_equal(back, rows[i].slot);
    }
}

/* The point of layout 2: "<ulid>:<code>" is 28 bytes, which Redis keeps in
 * a 32-byte allocation (sds header 3, NUL 1). */
static void test_layout_fits_32(void **state) {
    char stored[160];
    assert_int_equal(timers_layout_store("c_01M83ZVG008Q4VZ7M2N5P6R9S3:review_decision", stored,
                                         sizeof(stored)), 28);
}

/* Every built-in clock has a code, and no two share one. */
static void test_layout_codes_unique(void **state) {
    timers_ruleset set;
    timers_rules_init(&set);
    for (int i = 0; i < set.count; i++) {
        const char *a = timers_layout_code(set.rules[i].clock);
        assert_non_null(a);
        for (int j = 0; j < i; j++) assert_string_not_equal(a, timers_layout_code(set.rules[j].clock));
    }
}

static void test_layout_small_buffer(void **state) {
    char out[28];
    assert_int_equal(timers_layout_store("c_01M83ZVG008Q4VZ7M2N5P6R9S3:decision_to_assess", out,
                                         sizeof(out)), -1);
    assert_int_equal(timers_layout_slot("01M83ZVG008Q4VZ7M2N5P6R9S3:A", out, sizeof(out)), -1);
}

/* timers.store.layout 1, while a rolling upgrade is under way: new clocks
 * are written as the older timers reads them, and layout 2 is still read. */
static void test_layout_write_1(void **state) {
    char stored[160], back[160], rec[64];
    timers_record r = {sp_date_make(2026, 11, 23), sp_date_make(2027, 1, 4), 0, 0, ""};
    timers_layout_set(1);
    assert_int_equal(timers_layout_store("c_01M83ZVG008Q4VZ7M2N5P6R9S3:advice:health", stored,
                                         sizeof(stored)), 42);
    assert_string_equal(stored, "c_01M83ZVG008Q4VZ7M2N5P6R9S3:advice:health");
    assert_int_equal(timers_record_encode(&r, rec, sizeof(rec)), 21);
    assert_string_equal(rec, "20261123|20270104|0|0");
    assert_int_equal(timers_layout_slot("01M83ZVG008Q4VZ7M2N5P6R9S3:B:health", back,
                                        sizeof(back)), 42);
    assert_string_equal(back, "c_01M83ZVG008Q4VZ7M2N5P6R9S3:advice:health");
    timers_layout_set(2);
    assert_int_equal(timers_record_encode(&r, rec, sizeof(rec)), 14);
}

static void test_layout_case(void **state) {
    assert_string_equal(timers_layout_case("c_01M83ZVG008Q4VZ7M2N5P6R9S3"),
                        "01M83ZVG008Q4VZ7M2N5P6R9S3");
    assert_string_equal(timers_layout_case("other"), "other");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_store_and_back),
        cmocka_unit_test(test_layout_fits_32),
        cmocka_unit_test(test_layout_codes_unique),
        cmocka_unit_test(test_layout_small_buffer),
        cmocka_unit_test(test_layout_write_1),
        cmocka_unit_test(test_layout_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
