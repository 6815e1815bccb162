/* Unit tests for services/ops/teams.c: which team a school's children are in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "teams.h"

static void test_schools_map_to_their_team(void **state) {
    char err[256];
    ops_teams *t = ops_teams_parse("North=100001, 100002;South=100003", "unassigned", err,
                                   sizeof(err));
    assert_non_null(t);
    assert_string_equal(ops_teams_of(t, "100001"), "North");
    assert_string_equal(ops_teams_of(t, "100002"), "North");
    assert_string_equal(ops_teams_of(t, "100003"), "South");
    assert_string_equal(ops_teams_of(t, "999999"), "unassigned");
    assert_string_equal(ops_teams_of(t, ""), "unassigned");
    assert_string_equal(ops_teams_of(t, NULL), "unassigned");
    assert_int_equal(ops_teams_count(t), 3);
    assert_string_equal(ops_teams_name(t, 0), "North");
    assert_string_equal(ops_teams_name(t, 2), "unassigned");
    assert_null(ops_teams_name(t, 3));
    assert_true(ops_teams_known(t, "South"));
    assert_false(ops_teams_known(t, "south"));
    ops_teams_free(t);
}

static void test_empty_table_is_the_default_team(void **state) {
    char err[256];
    const char *specs[] = {NULL, "", " ; "};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        ops_teams *t = ops_teams_parse(specs[i], "All", err, sizeof(err));
        assert_non_null(t);
        assert_int_equal(ops_teams_count(t), 1);
        assert_string_equal(ops_teams_of(t, "100001"), "All");
        ops_teams_free(t);
    }
}

/* A default that is also a configured team is listed once. */
static void test_default_may_be_a_team(void **state) {
    char err[256];
    ops_teams *t = ops_teams_parse("North=100001", "North", err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(ops_teams_count(t), 1);
    assert_string_equal(ops_teams_of(t, "123456"), "North");
    ops_teams_free(t);
}

static void test_bad_tables_are_refused_naming_the_row(void **state) {
    static const struct { const char *spec, *says; } bad[] = {
        {"North", "is not Team=URN"},
        {"=100001", "is not Team=URN"},
        {"North=12345", "not a 6-digit URN"},
        {"North=1234567", "not a 6-digit URN"},
        {"North=10000a", "not a 6-digit URN"},
        {"North=100001;North=100002", "appears twice"},
        {"North=100001;South=100001", "in two teams"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        assert_null(ops_teams_parse(bad[i].spec, "unassigned", err, sizeof(err)));
        if (!strstr(err, bad[i].says)) fail_msg("'%s': '%s'", bad[i].spec, err);
        assert_non_null(strstr(err, "ops.teams"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schools_map_to_their_team),
        cmocka_unit_test(test_empty_table_is_the_default_team),
        cmocka_unit_test(test_default_may_be_a_team),
        cmocka_unit_test(test_bad_tables_are_refused_naming_the_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
