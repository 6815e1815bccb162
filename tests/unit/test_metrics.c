/* test_metrics.c - the Prometheus registry: exact text format 0.0.4 output,
 * family grouping, histogram buckets and the registration checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

/* Renders m and compares with want, byte for byte. */
static void assert_render(sp_metrics *m, const char *want) {
    size_t len = 12345;
    char *got = sp_metrics_render(m, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static void test_empty_registry(void **state) {
    sp_metrics *m = sp_metrics_new();
    assert_render(m, "");
    sp_metrics_free(m);
}

static void test_counter_and_gauge(void **state) {
    sp_metrics *m = sp_metrics_new();
    sp_metric *a = sp_metrics_counter(m, "sp_events_total", "Events handled.",
                                      "topic=\"sendpath.deadlines\"");
    sp_metric *b = sp_metrics_counter(m, "sp_events_total", "Events handled.",
                                      "topic=\"sendpath.cases\",result=\"ok\"");
    sp_metric *g = sp_metrics_gauge(m, "sp_pending_requests", "Requests in flight.", NULL);

    sp_metric_inc(a);
    sp_metric_inc(a);
    sp_metric_add(b, 40);
    sp_metric_add(b, 0.5);
    sp_metric_set(g, 3);
    sp_metric_add(g, -1); /* gauges go both ways */
    assert_true(sp_metric_value(a) == 2);
    assert_true(sp_metric_value(g) == 2);

    assert_render(m,
                  "# HELP sp_events_total Events handled.\n"
                  "# TYPE sp_events_total counter\n"
                  "sp_events_total{topic=\"sendpath.deadlines\"} 2\n"
                  "sp_events_total{topic=\"sendpath.cases\",result=\"ok\"} 40.5\n"
                  "# HELP sp_pending_requests Requests in flight.\n"
                  "# TYPE sp_pending_requests gauge\n"
                  "sp_pending_requests 2\n");
    sp_metrics_free(m);
}

static void test_families_grouped(void **state) {
    sp_metrics *m = sp_metrics_new();
    /* Interleaved registration still renders each family in one block. */
    sp_metric *a1 = sp_metrics_counter(m, "a_total", "A.", "k=\"1\"");
    sp_metric *b = sp_metrics_gauge(m, "b", "B.", NULL);
    sp_metric *a2 = sp_metrics_counter(m, "a_total", "A again, ignored.", "k=\"2\"");
    sp_metric *c = sp_metrics_gauge(m, "c", NULL, "x=\"y\"");

    assert_non_null(a1);
    assert_non_null(b);
    assert_non_null(a2);
    assert_non_null(c);
    assert_render(m,
                  "# HELP a_total A.\n"
                  "# TYPE a_total counter\n"
                  "a_total{k=\"1\"} 0\n"
                  "a_total{k=\"2\"} 0\n"
                  "# HELP b B.\n"
                  "# TYPE b gauge\n"
                  "b 0\n"
                  "# TYPE c gauge\n" /* no help, no HELP line */
                  "c{x=\"y\"} 0\n");
    sp_metrics_free(m);
}

static void test_same_series_and_rejections(void **state) {
    sp_metrics *m = sp_metrics_new();
    const double bounds[] = {1, 2};
    sp_metric *a = sp_metrics_counter(m, "x_total", "X.", NULL);

    assert_ptr_equal(sp_metrics_counter(m, "x_total", "X.", NULL), a);
    assert_ptr_equal(sp_metrics_counter(m, "x_total", "X.", ""), a);
    assert_ptr_not_equal(sp_metrics_counter(m, "x_total", "X.", "a=\"b\""), a);
    assert_null(sp_metrics_gauge(m, "x_total", "X.", NULL)); /* other type */

    static const char *const bad_names[] = {"", "9lives", "has space", "dash-ed", "é"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        assert_null(sp_metrics_gauge(m, bad_names[i], "", NULL));
    assert_non_null(sp_metrics_gauge(m, "ns:sub_total", "", NULL));

    static const char *const bad_labels[] = {
        "a=b",          "a=\"b\",",     "a=\"b\",a=\"c\"", "=\"b\"",
        "a=\"b\nc\"",   "a=\"b\\x\"",   "a=\"b",           "1a=\"b\"",
        "a=\"b\" ,c=\"d\"", "a=\"b\\",
    };
    for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
        assert_null(sp_metrics_gauge(m, "y", "", bad_labels[i]));
    assert_non_null(sp_metrics_gauge(m, "y", "", "a=\"q\\\"uote\\\\d\\n\",_b2=\"\""));

    /* Histogram names clash with their own _bucket/_sum/_count. */
    assert_non_null(sp_metrics_histogram(m, "lat_seconds", "", NULL, bounds, 2));
    assert_null(sp_metrics_counter(m, "lat_seconds_count", "", NULL));
    assert_null(sp_metrics_gauge(m, "lat_seconds_bucket", "", NULL));
    assert_non_null(sp_metrics_histogram(m, "x", "", NULL, bounds, 2)); /* x_total is fine */
    sp_metrics_free(m);
}

static void test_histogram_clash_with_existing(void **state) {
    sp_metrics *m = sp_metrics_new();
    const double bounds[] = {1};
    assert_non_null(sp_metrics_gauge(m, "q_sum", "", NULL));
    assert_null(sp_metrics_histogram(m, "q", "", NULL, bounds, 1));
    assert_non_null(sp_metrics_histogram(m, "qq", "", NULL, bounds, 1));
    sp_metrics_free(m);
}

static void test_help_escaping(void **state) {
    sp_metrics *m = sp_metrics_new();
    sp_metrics_counter(m, "h_total", "Back\\slash, \"quotes\" and\nnewline.", NULL);
    assert_render(m,
                  "# HELP h_total Back\\\\slash, \"quotes\" and\\nnewline.\n"
                  "# TYPE h_total counter\n"
                  "h_total 0\n");
    sp_metrics_free(m);
}

static void test_histogram_buckets(void **state) {
    sp_metrics *m = sp_metrics_new();
    const double bounds[] = {0.25, 1, 2.5};
    sp_metric *h = sp_metrics_histogram(m, "sp_http_request_seconds", "Request time.",
                                        "route=\"/v1/cases\"", bounds, 3);
    sp_metric *h2 = sp_metrics_histogram(m, "sp_http_request_seconds", "Request time.",
                                         NULL, bounds, 3);
    const double obs[] = {0.25, 0.5, 1, 2, 8}; /* 0.25 and 1 sit on a bound: le */

    assert_non_null(h);
    assert_non_null(h2);
    for (size_t i = 0; i < 5; i++) sp_metric_observe(h, obs[i]);
    sp_metric_observe(h2, 0.1);
    assert_true(sp_metric_value(h) == 5);

    assert_render(m,
                  "# HELP sp_http_request_seconds Request time.\n"
                  "# TYPE sp_http_request_seconds histogram\n"
                  "sp_http_request_seconds_bucket{route=\"/v1/cases\",le=\"0.25\"} 1\n"
                  "sp_http_request_seconds_bucket{route=\"/v1/cases\",le=\"1\"} 3\n"
                  "sp_http_request_seconds_bucket{route=\"/v1/cases\",le=\"2.5\"} 4\n"
                  "sp_http_request_seconds_bucket{route=\"/v1/cases\",le=\"+Inf\"} 5\n"
                  "sp_http_request_seconds_sum{route=\"/v1/cases\"} 11.75\n"
                  "sp_http_request_seconds_count{route=\"/v1/cases\"} 5\n"
                  "sp_http_request_seconds_bucket{le=\"0.25\"} 1\n"
                  "sp_http_request_seconds_bucket{le=\"1\"} 1\n"
                  "sp_http_request_seconds_bucket{le=\"2.5\"} 1\n"
                  "sp_http_request_seconds_bucket{le=\"+Inf\"} 1\n"
                  "sp_http_request_seconds_sum 0.1\n"
                  "sp_http_request_seconds_count 1\n");
    sp_metrics_free(m);
}

static void test_histogram_bounds_checked(void **state) {
    sp_metrics *m = sp_metrics_new();
    const double unsorted[] = {1, 0.5};
    const double repeated[] = {1, 1};
    const double with_nan[] = {NAN};
    const double with_inf[] = {0.5, INFINITY};
    sp_metric *h;

    assert_null(sp_metrics_histogram(m, "a", "", NULL, unsorted, 2));
    assert_null(sp_metrics_histogram(m, "a", "", NULL, repeated, 2));
    assert_null(sp_metrics_histogram(m, "a", "", NULL, with_nan, 1));
    assert_null(sp_metrics_histogram(m, "a", "", "le=\"1\"", with_inf, 2));
    h = sp_metrics_histogram(m, "a", "", NULL, with_inf, 2); /* +Inf is implied */
    assert_non_null(h);
    sp_metric_observe(h, 7);
    assert_render(m,
                  "# TYPE a histogram\n"
                  "a_bucket{le=\"0.5\"} 0\n"
                  "a_bucket{le=\"+Inf\"} 1\n"
                  "a_sum 7\n"
                  "a_count 1\n");
    sp_metrics_free(m);
}

static void test_no_bounds_histogram(void **state) {
    sp_metrics *m = sp_metrics_new();
    sp_metric *h = sp_metrics_histogram(m, "b", "B.", NULL, NULL, 0);
    sp_metric_observe(h, 2);
    assert_render(m,
                  "# HELP b B.\n"
                  "# TYPE b histogram\n"
                  "b_bucket{le=\"+Inf\"} 1\n"
                  "b_sum 2\n"
                  "b_count 1\n");
    sp_metrics_free(m);
}

static void test_value_formatting(void **state) {
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},           {-3, "-3"},           {0.1, "0.1"},
        {1.5e-7, "1.5e-07"}, {1e21, "1e+21"},      {123456789012, "123456789012"},
        {1.0 / 3, "0.3333333333333333"},          {NAN, "NaN"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sp_metrics *m = sp_metrics_new();
        char want[128];
        sp_metric_set(sp_metrics_gauge(m, "v", NULL, NULL), cases[i].v);
        snprintf(want, sizeof(want), "# TYPE v gauge\nv %s\n", cases[i].text);
        assert_render(m, want);
        sp_metrics_free(m);
    }
}

static void test_counter_never_decreases(void **state) {
    sp_metrics *m = sp_metrics_new();
    sp_metric *c = sp_metrics_counter(m, "c_total", NULL, NULL);
    sp_metric_add(c, 5);
    sp_metric_add(c, -2);
    sp_metric_add(c, NAN);
    assert_true(sp_metric_value(c) == 5);
    sp_metric_observe(c, 1); /* not a histogram: ignored */
    assert_true(sp_metric_value(c) == 5);
    /* A failed registration's NULL is harmless. */
    sp_metric_inc(NULL);
    sp_metric_observe(NULL, 1);
    sp_metrics_free(m);
}

static void collect(sp_metrics *m, void *opaque) {
    int *calls = opaque;
    (*calls)++;
    sp_metric_set(sp_metrics_gauge(m, "lag", "Consumer lag.", NULL), *calls * 10);
}

static void test_collect_runs_before_render(void **state) {
    sp_metrics *m = sp_metrics_new();
    int calls = 0;
    sp_metrics_on_collect(m, collect, &calls);
    assert_render(m, "# HELP lag Consumer lag.\n# TYPE lag gauge\nlag 10\n");
    assert_render(m, "# HELP lag Consumer lag.\n# TYPE lag gauge\nlag 20\n");
    assert_int_equal(calls, 2);
    sp_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_families_grouped),
        cmocka_unit_test(test_same_series_and_rejections),
        cmocka_unit_test(test_histogram_clash_with_existing),
        cmocka_unit_test(test_help_escaping),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_histogram_bounds_checked),
        cmocka_unit_test(test_no_bounds_histogram),
        cmocka_unit_test(test_value_formatting),
        cmocka_unit_test(test_counter_never_decreases),
        cmocka_unit_test(test_collect_runs_before_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
