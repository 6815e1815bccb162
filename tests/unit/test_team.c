/* test_team.c - the caseworkers' teams from the settings
 * (services/notify/team.c): which team a school's case goes to, the one
 * team of notify.caseworker_email, and the settings refused at start-up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "team.h"

static sp_conf_kv north_south[] = {{"north", "north@la.example"},
                                   {"south", "south@la.example"}};
static sp_conf_kv schools[] = {{"north", "123456, 100001"}, {"south", "300400"}};

static void test_case_goes_to_its_schools_team(void **state) {
    sp_conf_kvs m = {north_south, 2}, s = {schools, 2};
    notify_teams t;
    char err[256] = "";
    (void)state;
    if (notify_teams_load(&t, &m, &s, "south", "", err, sizeof(err))) fail_msg("%s", err);
    assert_string_equal(notify_teams_for_school(&t, "123456")->name, "north");
    assert_string_equal(notify_teams_for_school(&t, "100001")->mailbox, "north@la.example");
    assert_string_equal(notify_teams_for_school(&t, "300400")->name, "south");
    /* no school, or one no team lists: the default team */
    assert_string_equal(notify_teams_for_school(&t, NULL)->name, "south");
    assert_string_equal(notify_teams_for_school(&t, "12345")->name, "south");
    assert_string_equal(notify_teams_for_school(&t, "999999")->name, "south");
    notify_teams_free(&t);
}

static void test_one_mailbox_is_one_team(void **state) {
    sp_conf_kvs none = {NULL, 0};
    notify_teams t;
    char err[256] = "";
    (void)state;
    assert_int_equal(notify_teams_load(&t, &none, &none, NULL, "team@la.example", err,
                                       sizeof(err)), 0);
    assert_int_equal(t.count, 1);
    assert_string_equal(notify_teams_for_school(&t, "123456")->mailbox, "team@la.example");
    notify_teams_free(&t);
    assert_int_equal(notify_teams_load(&t, &none, &none, NULL, "", err, sizeof(err)), 0);
    assert_int_equal(t.count, 0);
    assert_null(notify_teams_for_school(&t, "123456"));
}

static void test_bad_settings_are_refused(void **state) {
    static sp_conf_kv bad_mail[] = {{"north", "not an address"}};
    static sp_conf_kv stray[] = {{"east", "123456"}};
    static sp_conf_kv twice[] = {{"north", "123456"}, {"south", "300400,123456"}};
    static const struct {
        sp_conf_kvs m, s;
        const char *def, *cw, *want;
    } rows[] = {
        {{bad_mail, 1}, {NULL, 0}, "north", "", "notify.team.north is not an email"},
        {{north_south, 2}, {stray, 1}, "north", "", "notify.schools.east names no"},
        {{north_south, 2}, {NULL, 0}, NULL, "", "notify.default_team must name"},
        {{north_south, 2}, {NULL, 0}, "west", "", "notify.default_team must name"},
        {{north_south, 2}, {twice, 2}, "north", "", "school 123456 is in"},
        {{NULL, 0}, {stray, 1}, NULL, "", "notify.schools.east without"},
        {{NULL, 0}, {NULL, 0}, NULL, "x@", "notify.caseworker_email is not"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        notify_teams t;
        char err[256] = "";
        if (notify_teams_load(&t, &rows[i].m, &rows[i].s, rows[i].def, rows[i].cw, err,
                              sizeof(err)) == 0)
            fail_msg("row %zu accepted", i);
        if (!strstr(err, rows[i].want)) fail_msg("row %zu: '%s'", i, err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_goes_to_its_schools_team),
        cmocka_unit_test(test_one_mailbox_is_one_team),
        cmocka_unit_test(test_bad_settings_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
