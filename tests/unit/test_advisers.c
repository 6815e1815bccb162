/* test_advisers.c - the adviser table and its config (services/evidence/advisers.c).
 *
 * Table-driven like the module: who is asked by default (reg 6(1)(a)-(e) and
 * the child's views), where each request goes for a case with and without a
 * school or a parent email, and every way the three config rows
 * (evidence.advisers, evidence.advisers.extra, evidence.team.*) can be wrong.
 * Each failing row prints itself, and every row is checked before the test
 * fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "advisers.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The shipped team defaults (services/evidence/main.c). */
static void set_default_teams(evidence_advisers *a) {
    static const char *const teams[][2] = {
        {"educational", "send-education@la.example"},
        {"medical", "health-send@nhs.example"},
        {"psychological", "educational-psychology@la.example"},
        {"social_care", "social-care@la.example"},
    };
    char err[256];
    for (size_t i = 0; i < N(teams); i++)
        assert_int_equal(evidence_advisers_set_team(a, teams[i][0], teams[i][1], err,
                                                    sizeof(err)), 0);
}

static void configured(evidence_advisers *a, const char *extra, const char *select) {
    char err[256] = "";
    evidence_advisers_init(a);
    set_default_teams(a);
    if (evidence_advisers_add_extra(a, extra, err, sizeof(err)) ||
        evidence_advisers_select(a, select, err, sizeof(err)))
        fail_msg("config '%s' / '%s' refused: %s", extra, select, err);
}

static void test_default_selection(void **state) {
    static const struct { const char *name; evidence_route route; const char *source; } want[] = {
        {"parent", EVIDENCE_TO_PARENT, "reg 6(1)(a)"},
        {"educational", EVIDENCE_TO_SCHOOL, "reg 6(1)(b)"},
        {"medical", EVIDENCE_TO_TEAM, "reg 6(1)(c)"},
        {"psychological", EVIDENCE_TO_TEAM, "reg 6(1)(d)"},
        {"social_care", EVIDENCE_TO_TEAM, "reg 6(1)(e)"},
        {"child_views", EVIDENCE_TO_PARENT, "reg 7(a); CFA 2014 s.19(a)"},
    };
    evidence_advisers a;
    configured(&a, "", evidence_advisers_default);
    assert_int_equal(a.nselected, (int)N(want));
    for (size_t i = 0; i < N(want); i++) {
        const evidence_adviser *ad = &a.all[a.selected[i]];
        assert_string_equal(ad->name, want[i].name);
        assert_int_equal(ad->route, want[i].route);
        assert_string_equal(ad->source, want[i].source);
        assert_non_null(ad->summary);
        assert_true(evidence_adviser_name_valid(ad->name));
    }
}

static void test_recipients(void **state) {
    static const struct {
        const char *adviser, *parent, *senco; /* the case's contact */
        const char *role, *email;             /* expected */
    } rows[] = {
        {"parent", "p@home.example", "s@school.example", "parent", "p@home.example"},
        {"parent", NULL, "s@school.example", "parent", NULL}, /* contact by post */
        {"parent", "", NULL, "parent", NULL},
        {"child_views", "p@home.example", NULL, "parent", "p@home.example"},
        {"educational", "p@home.example", "s@school.example", "senco", "s@school.example"},
        {"educational", "p@home.example", NULL, "team", "send-education@la.example"},
        {"educational", "p@home.example", "", "team", "send-education@la.example"},
        {"medical", "p@home.example", "s@school.example", "team", "health-send@nhs.example"},
        {"psychological", NULL, NULL, "team", "educational-psychology@la.example"},
        {"social_care", NULL, NULL, "team", "social-care@la.example"},
        {"speech_language", "p@home.example", "s@school.example", "team", "salt@nhs.example"},
    };
    evidence_advisers a;
    int bad = 0;
    configured(&a, "speech_language=salt@nhs.example", evidence_advisers_default);
    for (size_t i = 0; i < N(rows); i++) {
        const evidence_adviser *ad = evidence_advisers_find(&a, rows[i].adviser);
        evidence_contact c = {rows[i].parent, rows[i].senco};
        evidence_recipient to = {NULL, NULL};
        assert_non_null(ad);
        evidence_adviser_recipient(ad, &c, &to);
        int ok = !strcmp(to.role, rows[i].role) &&
                 (rows[i].email ? to.email && !strcmp(to.email, rows[i].email) : !to.email);
        if (!ok) {
            printf("  row %zu %s: got %s <%s>, want %s <%s>\n", i, rows[i].adviser, to.role,
                   to.email ? to.email : "none", rows[i].role,
                   rows[i].email ? rows[i].email : "none");
            bad++;
        }
    }
    /* No contact projected at all (the decision came first). */
    evidence_recipient to;
    evidence_adviser_recipient(evidence_advisers_find(&a, "educational"), NULL, &to);
    assert_string_equal(to.email, "send-education@la.example");
    assert_int_equal(bad, 0);
}

static void test_selection(void **state) {
    static const struct {
        const char *extra, *select;
        const char *want; /* the selection, space-separated, or NULL for an error */
        const char *in_err;
    } rows[] = {
        {"", "medical, psychological", "medical psychological", NULL},
        {"", " child_views ,parent", "child_views parent", NULL},
        {"sensory=sensory@la.example", "parent,sensory", "parent sensory", NULL},
        {"", "", NULL, "no adviser selected"},
        {"", " , ", NULL, "no adviser selected"},
        {"", "medical,medical", NULL, "'medical' is listed twice"},
        {"", "parent,dentist", NULL, "unknown adviser 'dentist'"},
        {"", "Medical", NULL, "unknown adviser 'Medical'"},
        {"sensory=sensory@la.example", "sensory,sensory", NULL, "listed twice"},
    };
    int bad = 0;
    for (size_t i = 0; i < N(rows); i++) {
        evidence_advisers a;
        char err[256] = "", got[256] = "";
        evidence_advisers_init(&a);
        set_default_teams(&a);
        assert_int_equal(evidence_advisers_add_extra(&a, rows[i].extra, err, sizeof(err)), 0);
        assert_int_equal(evidence_advisers_select(&a, "parent", err, sizeof(err)), 0);
        int rc = evidence_advisers_select(&a, rows[i].select, err, sizeof(err));
        for (int k = 0; k < a.nselected; k++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "",
                     a.all[a.selected[k]].name);
        int ok = rows[i].want ? rc == 0 && !strcmp(got, rows[i].want)
                              : rc == -1 && strstr(err, "evidence.advisers") &&
                                    strstr(err, rows[i].in_err) && !strcmp(got, "parent");
        if (!ok) {
            printf("  row %zu '%s': rc %d, selected '%s', errstr '%s'\n", i, rows[i].select,
                   rc, got, err);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* A team-routed adviser with no address cannot be selected: its requests
 * would go nowhere. */
static void test_selection_needs_team(void **state) {
    static const char *const rows[] = {"educational", "medical", "psychological",
                                       "social_care"};
    for (size_t i = 0; i < N(rows); i++) {
        evidence_advisers a;
        char err[256] = "";
        evidence_advisers_init(&a);
        assert_int_equal(evidence_advisers_select(&a, "parent,child_views", err, sizeof(err)), 0);
        assert_int_equal(evidence_advisers_select(&a, rows[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "evidence.team."));
        assert_non_null(strstr(err, rows[i]));
        set_default_teams(&a);
        assert_int_equal(evidence_advisers_set_team(&a, rows[i], "", err, sizeof(err)), 0);
        assert_int_equal(evidence_advisers_select(&a, rows[i], err, sizeof(err)), -1);
    }
}

static void test_extra_rows(void **state) {
    static const struct { const char *spec; const char *in_err; } rows[] = {
        {"sensory", "cannot read 'sensory'"},
        {"sensory=sensory@la.example,=x@y.example", "'' is not an adviser name"},
        {"Sensory=sensory@la.example", "'Sensory' is not an adviser name"},
        {"9lives=cat@la.example", "'9lives' is not an adviser name"},
        {"sen:sory=s@la.example", "not an adviser name"},
        {"a_name_that_is_far_too_long_for_a_slot=x@y.example", "not an adviser name"},
        {"medical=other@nhs.example", "'medical' already exists"},
        {"sensory=a@la.example,sensory=b@la.example", "'sensory' already exists"},
        {"sensory=not-an-email", "'not-an-email' is not an email address"},
        {"sensory=Ann <a@la.example>", "is not an email address"},
        {"sensory=", "is not an email address"},
    };
    int bad = 0;
    for (size_t i = 0; i < N(rows); i++) {
        evidence_advisers a;
        char err[256] = "";
        evidence_advisers_init(&a);
        int rc = evidence_advisers_add_extra(&a, rows[i].spec, err, sizeof(err));
        if (rc != -1 || !strstr(err, "evidence.advisers.extra") || !strstr(err, rows[i].in_err)) {
            printf("  row %zu '%s': rc %d, errstr '%s'\n", i, rows[i].spec, rc, err);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_extra_parsed(void **state) {
    evidence_advisers a;
    char err[256] = "";
    evidence_advisers_init(&a);
    int builtins = a.count;
    assert_int_equal(evidence_advisers_add_extra(&a, "   ", err, sizeof(err)), 0);
    assert_int_equal(a.count, builtins);
    assert_int_equal(evidence_advisers_add_extra(
                         &a, " speech_language = salt@nhs.example ,sensory=vi@la.example",
                         err, sizeof(err)), 0);
    assert_int_equal(a.count, builtins + 2);
    const evidence_adviser *ad = evidence_advisers_find(&a, "speech_language");
    assert_non_null(ad);
    assert_string_equal(ad->team, "salt@nhs.example");
    assert_int_equal(ad->route, EVIDENCE_TO_TEAM);
    assert_string_equal(ad->source, "reg 6(1)(f)");
    assert_string_equal(evidence_advisers_find(&a, "sensory")->team, "vi@la.example");
    assert_null(evidence_advisers_find(&a, "dentist"));
}

static void test_extra_table_full(void **state) {
    evidence_advisers a;
    char spec[2048] = "", err[256] = "";
    evidence_advisers_init(&a);
    for (int i = a.count; i <= EVIDENCE_MAX_ADVISERS; i++)
        snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%sx%d=x%d@la.example",
                 spec[0] ? "," : "", i, i);
    assert_int_equal(evidence_advisers_add_extra(&a, spec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than"));
    assert_int_equal(a.count, EVIDENCE_MAX_ADVISERS);
}

static void test_set_team(void **state) {
    evidence_advisers a;
    char err[256] = "";
    evidence_advisers_init(&a);
    assert_int_equal(evidence_advisers_set_team(&a, "medical", "ico@nhs.example", err,
                                                sizeof(err)), 0);
    assert_string_equal(evidence_advisers_find(&a, "medical")->team, "ico@nhs.example");
    assert_int_equal(evidence_advisers_set_team(&a, "medical", "nope", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "evidence.team.medical"));
    assert_string_equal(evidence_advisers_find(&a, "medical")->team, "ico@nhs.example");
    assert_int_equal(evidence_advisers_set_team(&a, "dentist", "d@x.example", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no adviser 'dentist'"));
}

static void test_names(void **state) {
    static const struct { const char *name; int valid; } rows[] = {
        {"medical", 1}, {"social_care", 1}, {"x", 1}, {"team2", 1},
        {"abcdefghijklmnopqrstuvwxyz_12345", 1}, /* 32 */
        {"abcdefghijklmnopqrstuvwxyz_123456", 0}, /* 33 */
        {"", 0}, {"_x", 0}, {"2x", 0}, {"Medical", 0}, {"a b", 0}, {"a|b", 0},
        {"a:b", 0}, {"a/b", 0}, {"a-b", 0}, {"é", 0},
    };
    int bad = 0;
    for (size_t i = 0; i < N(rows); i++) {
        if (evidence_adviser_name_valid(rows[i].name) != rows[i].valid) {
            printf("  name '%s': want %d\n", rows[i].name, rows[i].valid);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_selection),
        cmocka_unit_test(test_recipients),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_selection_needs_team),
        cmocka_unit_test(test_extra_rows),
        cmocka_unit_test(test_extra_parsed),
        cmocka_unit_test(test_extra_table_full),
        cmocka_unit_test(test_set_team),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
