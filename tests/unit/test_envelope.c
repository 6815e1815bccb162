/* Unit tests for common/envelope.c and common/ids.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "envelope.h"
#include "ids.h"

static void test_build_then_parse(void **state) {
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "received_date", "2026-11-23");
    char *text = sp_event_build_text("c_1/request.received", "/sendpath/intake",
                                     "request.received", 1795430400000LL, "c_1", data);
    sp_event ev;
    char err[128];
    assert_non_null(text);
    assert_int_equal(sp_event_parse(text, strlen(text), &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.id, "c_1/request.received");
    assert_string_equal(ev.type, "request.received");
    assert_string_equal(ev.subject, "c_1");
    assert_string_equal(ev.time, "2026-11-23T10:40:00.000Z");
    assert_int_equal(ev.time_ms, 1795430400000LL);
    assert_string_equal(sp_event_str(&ev, "received_date"), "2026-11-23");
    assert_null(sp_event_str(&ev, "absent"));
    assert_non_null(strstr(text, "\"datacontenttype\":\"application/json\""));
    sp_event_free(&ev);
    cJSON_free(text);
}

static void test_parse_refuses_bad_envelopes(void **state) {
    static const struct {
        const char *text, *expect;
    } rows[] = {
        {"not json", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"id\":\"1\"}", "'specversion'"},
        {"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
         "\"subject\":\"c\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{}}", "\"1.0\""},
        {"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"s\",\"type\":\"t\","
         "\"subject\":\"c\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{}}", "'id'"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
         "\"subject\":\"c\",\"time\":\"yesterday\",\"data\":{}}", "'time'"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
         "\"subject\":\"c\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":3}", "'data'"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":7,"
         "\"subject\":\"c\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{}}", "'type'"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sp_event ev;
        char err[128] = "";
        assert_int_equal(sp_event_parse(rows[i].text, strlen(rows[i].text), &ev, err,
                                        sizeof(err)), -1);
        if (!strstr(err, rows[i].expect)) fail_msg("row %zu: '%s' lacks '%s'", i, err, rows[i].expect);
        assert_null(ev.root);
    }
}

static void test_case_ids(void **state) {
    char a[SP_CASE_ID_LEN + 1], b[SP_CASE_ID_LEN + 1];
    assert_int_equal(sp_case_id_new(1795430400000LL, a, sizeof(a)), 0);
    assert_int_equal(sp_case_id_new(1795430400001LL, b, sizeof(b)), 0);
    assert_int_equal(strlen(a), SP_CASE_ID_LEN);
    assert_true(sp_case_id_valid(a));
    assert_true(strcmp(a, b) < 0); /* time-ordered */
    assert_int_equal(sp_case_id_new(0, a, 10), -1);
    assert_false(sp_case_id_valid("c_short"));
    assert_false(sp_case_id_valid("x_00000000000000000000000000"));
    assert_false(sp_case_id_valid("c_0000000000000000000000000I")); /* not Crockford */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_then_parse),
        cmocka_unit_test(test_parse_refuses_bad_envelopes),
        cmocka_unit_test(test_case_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
