/* test_template.c - GOV.UK Notify-style templates (common/template.c).
 *
 * Parsing and rendering are tables of known answers; then the checks that
 * protect recipients: a template asking for a placeholder nobody supplies is
 * refused at load, rendering never leaves "((" in its output, and nothing
 * puts CR or LF into a subject (a mail header). The last tests load the
 * shipped templates/ directory, so a broken template fails the build. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "template.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static sp_template *parse_ok(const char *text) {
    char err[256] = "";
    sp_template *t = sp_template_parse("t", text, strlen(text), err, sizeof(err));
    if (!t) fail_msg("parse failed: %s", err);
    return t;
}

/* Renders t with vars; returns 0 or -1, err filled. */
static int render(const sp_template *t, const sp_template_var *vars, size_t n,
                  char **subject, char **body, char *err, size_t size) {
    *subject = *body = NULL;
    return sp_template_render(t, vars, n, subject, body, err, size);
}

/* ---- parsing --------------------------------------------------------------- */

static void test_parse_splits_subject_and_body(void **state) {
    (void)state;
    sp_template *t = parse_ok("Subject: Hello ((name))\n\nLine one.\nLine two.\n\n\n");
    assert_string_equal(t->name, "t");
    assert_string_equal(t->subject, "Hello ((name))");
    assert_string_equal(t->body, "Line one.\nLine two.");
    sp_template_free(t);
}

static void test_parse_lists_placeholders_once_in_order(void **state) {
    (void)state;
    sp_template *t = parse_ok("Subject: ((b)) and ((a))\n\n((c)) ((a)) ((b_2)) ((c))");
    static const char *const want[] = {"b", "a", "c", "b_2"};
    assert_int_equal(t->nplaceholders, LEN(want));
    for (size_t i = 0; i < LEN(want); i++) {
        assert_string_equal(t->placeholders[i], want[i]);
        assert_true(sp_template_uses(t, want[i]));
    }
    assert_false(sp_template_uses(t, "d"));
    sp_template_free(t);
}

static void test_parse_drops_carriage_returns(void **state) {
    (void)state;
    sp_template *t = parse_ok("Subject: S\r\n\r\nBody ((x)).\r\nMore.\r\n");
    assert_string_equal(t->subject, "S");
    assert_string_equal(t->body, "Body ((x)).\nMore.");
    sp_template_free(t);
}

static void test_parse_errors(void **state) {
    (void)state;
    static const struct { const char *text, *why; } rows[] = {
        {"Hello\n\nBody", "line 1"},
        {"Subject: S", "line 1"},
        {"Subject: \n\nBody", "subject is empty"},
        {"Subject: S\nBody", "line 2"},
        {"Subject: S\n\n\n  \n", "body is empty"},
        {"Subject: S\n\nDear ((Name))", "line 3"},
        {"Subject: S\n\nDear ((name", "line 3"},
        {"Subject: S\n\nDear (())", "line 3"},
        {"Subject: S\n\nDear ((first name))", "line 3"},
        {"Subject: S\n\nOne\nTwo ((x??y))", "line 4"},
        {"Subject: ((a-b))\n\nBody", "line 1"},
        {"Subject: S\n\nA stray (( is not a placeholder", "line 3"},
    };
    for (size_t i = 0; i < LEN(rows); i++) {
        char err[256] = "";
        sp_template *t = sp_template_parse("bad", rows[i].text, strlen(rows[i].text),
                                           err, sizeof(err));
        if (t) fail_msg("row %zu parsed", i);
        if (!strstr(err, rows[i].why)) fail_msg("row %zu: '%s'", i, err);
        assert_non_null(strstr(err, "template bad"));
    }
}

static void test_parse_refuses_bad_names(void **state) {
    (void)state;
    static const char *const names[] = {"", "Request", "a-b", "a.txt", "../x"};
    for (size_t i = 0; i < LEN(names); i++) {
        char err[256] = "";
        assert_null(sp_template_parse(names[i], "Subject: S\n\nB", 13, err, sizeof(err)));
        assert_non_null(strstr(err, "name"));
    }
}

/* ---- the load-time check --------------------------------------------------- */

static void test_check_accepts_a_subset(void **state) {
    (void)state;
    char err[256] = "";
    sp_template *t = parse_ok("Subject: ((a))\n\n((b))");
    static const char *const supplied[] = {"c", "b", "a"};
    assert_int_equal(sp_template_check(t, supplied, LEN(supplied), err, sizeof(err)), 0);
    sp_template_free(t);
}

static void test_check_refuses_an_unsupplied_placeholder(void **state) {
    (void)state;
    char err[256] = "";
    sp_template *t = parse_ok("Subject: ((child_name))\n\nBy ((decision_date)).");
    static const char *const supplied[] = {"child_name", "received_date"};
    assert_int_equal(sp_template_check(t, supplied, LEN(supplied), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "((decision_date))"));
    assert_int_equal(sp_template_check(t, NULL, 0, err, sizeof(err)), -1);
    sp_template_free(t);
}

static void test_check_of_a_template_without_placeholders(void **state) {
    (void)state;
    char err[256] = "";
    sp_template *t = parse_ok("Subject: Plain\n\nNo placeholders (at all).");
    assert_int_equal(t->nplaceholders, 0);
    assert_int_equal(sp_template_check(t, NULL, 0, err, sizeof(err)), 0);
    sp_template_free(t);
}

/* ---- rendering ------------------------------------------------------------- */

static void test_render_substitutes_every_use(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: About ((child))\n\nDear ((parent)),\n"
                              "((child)) is ((child)). ((parent))!");
    sp_template_var vars[] = {{"parent", "Sam"}, {"child", "Zoë"}, {"unused", "x"}};
    assert_int_equal(render(t, vars, LEN(vars), &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(subject, "About Zoë");
    assert_string_equal(body, "Dear Sam,\nZoë is Zoë. Sam!");
    free(subject);
    free(body);
    sp_template_free(t);
}

static void test_render_does_not_rescan_values(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: S\n\n((a)) and ((b))");
    sp_template_var vars[] = {{"a", "(b) ))"}, {"b", "done"}};
    assert_int_equal(render(t, vars, LEN(vars), &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(body, "(b) )) and done");
    free(subject);
    free(body);
    sp_template_free(t);
}

static void test_render_refuses_a_missing_value(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: S\n\nBy ((decision_date)).");
    sp_template_var vars[] = {{"received_date", "Monday 4 January 2027"}};
    assert_int_equal(render(t, vars, LEN(vars), &subject, &body, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "((decision_date))"));
    assert_null(subject);
    assert_null(body);
    sp_template_free(t);
}

static void test_render_never_leaves_a_placeholder(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: ((a))\n\n((a))");
    static const char *const bad[] = {"((a))", "((", "x((y))", "(((", "a ((b",
                                      "Sam ((secret))"};
    for (size_t i = 0; i < LEN(bad); i++) {
        sp_template_var vars[] = {{"a", bad[i]}};
        assert_int_equal(render(t, vars, 1, &subject, &body, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "holds '(('"));
        assert_null(strstr(err, "secret")); /* errors never carry values */
    }
    sp_template_free(t);
}

/* Found by fuzz_template: a value ending in '(' next to a literal '(', or
 * two values meeting at '(' and '(', made "((" though neither held it. */
static void test_render_refuses_a_value_that_joins_into_two_parens(void **state) {
    (void)state;
    char err[256] = "", *subject = NULL, *body = NULL;
    sp_template *t = parse_ok("Subject: S\n\nSee ((a))(note) and ((b))((c))");
    static const char *const cases[][3] = {
        {"Sam (", "", ""},   /* "Sam ((note)" */
        {"x", "y (", "(z"},  /* "y ((z" */
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        sp_template_var vars[] = {{"a", cases[i][0]}, {"b", cases[i][1]}, {"c", cases[i][2]}};
        assert_int_equal(render(t, vars, 3, &subject, &body, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "makes '(('"));
        assert_null(subject);
        assert_null(body);
    }
    sp_template_var fine[] = {{"a", "Sam ("}, {"b", "(y)"}, {"c", "z)"}};
    assert_int_equal(render(t, fine, 3, &subject, &body, err, sizeof(err)), -1);
    sp_template_var ok[] = {{"a", "Sam"}, {"b", "(y)"}, {"c", "z)"}};
    assert_int_equal(render(t, ok, 3, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(body, "See Sam(note) and (y)z)");
    free(subject);
    free(body);
    sp_template_free(t);
}

static void test_render_refuses_cr_lf_in_the_subject(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: About ((name))\n\nDear ((name))");
    static const char *const bad[] = {"Sam\r\nBcc: x@example.com", "Sam\n", "\rSam",
                                      "Sam\r"};
    for (size_t i = 0; i < LEN(bad); i++) {
        sp_template_var vars[] = {{"name", bad[i]}};
        assert_int_equal(render(t, vars, 1, &subject, &body, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "CR or LF"));
        assert_null(strstr(err, "Bcc"));
    }
    sp_template_free(t);
}

static void test_render_allows_line_breaks_in_the_body(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_template *t = parse_ok("Subject: Letter\n\nTo:\n((address))");
    sp_template_var vars[] = {{"address", "1 High Street\nTown\nAB1 2CD"}};
    assert_int_equal(render(t, vars, 1, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(body, "To:\n1 High Street\nTown\nAB1 2CD");
    free(subject);
    free(body);
    sp_template_free(t);
}

/* ---- directories ----------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_dir(const char *dir, const char *const *names, size_t n) {
    char path[512];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_load_dir_takes_txt_files_sorted(void **state) {
    (void)state;
    char dir[] = "/tmp/test_template_XXXXXX", err[256] = "";
    static const char *const files[] = {"b.txt", "a.txt", "notes.md", ".hidden.txt"};
    sp_templates set = {0};
    assert_non_null(mkdtemp(dir));
    write_file(dir, "b.txt", "Subject: B\n\n((y))");
    write_file(dir, "a.txt", "Subject: A\n\n((x))");
    write_file(dir, "notes.md", "not a template");
    write_file(dir, ".hidden.txt", "not a template");
    assert_int_equal(sp_templates_load_dir(&set, dir, err, sizeof(err)), 0);
    assert_int_equal(set.count, 2);
    assert_string_equal(set.items[0]->name, "a");
    assert_string_equal(set.items[1]->name, "b");
    assert_ptr_equal(sp_templates_find(&set, "b"), set.items[1]);
    assert_null(sp_templates_find(&set, "c"));
    sp_templates_free(&set);
    remove_dir(dir, files, LEN(files));
}

static void test_load_dir_fails_on_a_bad_template(void **state) {
    (void)state;
    char dir[] = "/tmp/test_template_XXXXXX", err[256] = "";
    static const char *const files[] = {"good.txt", "broken.txt"};
    sp_templates set = {0};
    assert_non_null(mkdtemp(dir));
    write_file(dir, "good.txt", "Subject: G\n\nFine");
    write_file(dir, "broken.txt", "Subject: B\n\nDear ((name");
    assert_int_equal(sp_templates_load_dir(&set, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "template broken"));
    assert_int_equal(set.count, 0);
    assert_null(set.items);
    remove_dir(dir, files, LEN(files));
    assert_int_equal(sp_templates_load_dir(&set, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "templates directory"));
}

/* The shipped acknowledgement: the placeholders the notify route supplies,
 * rendered the way letters write dates. */
static void test_shipped_request_received(void **state) {
    (void)state;
    char err[256] = "", *subject, *body;
    sp_templates set = {0};
    static const char *const supplied[] = {"parent_name", "child_name", "received_date",
                                           "decision_date"};
    assert_int_equal(sp_templates_load_dir(&set, SP_SOURCE_DIR "/templates", err,
                                           sizeof(err)), 0);
    const sp_template *t = sp_templates_find(&set, "request_received");
    assert_non_null(t);
    assert_int_equal(sp_template_check(t, supplied, LEN(supplied), err, sizeof(err)), 0);
    for (size_t i = 1; i < LEN(supplied); i++) assert_true(sp_template_uses(t, supplied[i]));
    sp_template_var vars[] = {{"parent_name", "Sam Smith"}, {"child_name", "Alex"},
                              {"received_date", "Monday 4 January 2027"},
                              {"decision_date", "Monday 15 February 2027"}};
    assert_int_equal(render(t, vars, LEN(vars), &subject, &body, err, sizeof(err)), 0);
    assert_non_null(strstr(subject, "Alex"));
    assert_non_null(strstr(body, "Monday 4 January 2027"));
    assert_non_null(strstr(body, "Monday 15 February 2027"));
    assert_non_null(strstr(body, "SENDIASS"));
    assert_null(strstr(body, "(("));
    free(subject);
    free(body);
    sp_templates_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_splits_subject_and_body),
        cmocka_unit_test(test_parse_lists_placeholders_once_in_order),
        cmocka_unit_test(test_parse_drops_carriage_returns),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_refuses_bad_names),
        cmocka_unit_test(test_check_accepts_a_subset),
        cmocka_unit_test(test_check_refuses_an_unsupplied_placeholder),
        cmocka_unit_test(test_check_of_a_template_without_placeholders),
        cmocka_unit_test(test_render_substitutes_every_use),
        cmocka_unit_test(test_render_does_not_rescan_values),
        cmocka_unit_test(test_render_refuses_a_missing_value),
        cmocka_unit_test(test_render_never_leaves_a_placeholder),
        cmocka_unit_test(test_render_refuses_a_value_that_joins_into_two_parens),
        cmocka_unit_test(test_render_refuses_cr_lf_in_the_subject),
        cmocka_unit_test(test_render_allows_line_breaks_in_the_body),
        cmocka_unit_test(test_load_dir_takes_txt_files_sorted),
        cmocka_unit_test(test_load_dir_fails_on_a_bad_template),
        cmocka_unit_test(test_shipped_request_received),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
