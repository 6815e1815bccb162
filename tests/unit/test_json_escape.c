/* Unit tests for common/json_escape.c: every byte escapes as cJSON escapes
 * it, and a short buffer is never written past. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "json_escape.h"

/* s as cJSON prints it, quotes stripped. */
static void cjson_escaped(const char *s, char *out, size_t size) {
    cJSON *item = cJSON_CreateString(s);
    char *text = cJSON_PrintUnformatted(item);
    size_t n = strlen(text);
    assert_true(n >= 2 && n - 2 < size);
    memcpy(out, text + 1, n - 2);
    out[n - 2] = '\0';
    cJSON_free(text);
    cJSON_Delete(item);
}

/* Every byte but NUL, alone and in company, and the length measured alone. */
static void test_every_byte_escapes_as_cjson(void **state) {
    char s[4], want[16], got[16];
    for (int c = 1; c < 256; c++) {
        snprintf(s, sizeof(s), "a%cb", c);
        cjson_escaped(s, want, sizeof(want));
        size_t n = sp_json_escape(got, sizeof(got), s, 3);
        assert_int_equal(n, sp_json_escape(NULL, 0, s, 3));
        got[n] = '\0';
        assert_string_equal(got, want);
    }
}

static void test_runs_and_escapes_mixed(void **state) {
    const char *s = "Dr \"Q\" O'Neill\\ \xc3\xa9\n\ttab\x01\x1f\x7f/ end";
    char want[128], got[128];
    cjson_escaped(s, want, sizeof(want));
    size_t n = sp_json_escape(got, sizeof(got), s, strlen(s));
    got[n] = '\0';
    assert_string_equal(got, want);
    assert_int_equal(sp_json_escape(NULL, 0, "", 0), 0);
}

/* Each cap short of the escaped length: the full length is returned and no
 * byte past cap is touched. */
static void test_short_buffer_not_overrun(void **state) {
    const char *s = "ab\"c\x02" "def";
    size_t need = sp_json_escape(NULL, 0, s, strlen(s));
    assert_int_equal(need, strlen("ab\\\"c\\u0002def"));
    for (size_t cap = 0; cap <= need; cap++) {
        char buf[32];
        memset(buf, '#', sizeof(buf));
        assert_int_equal(sp_json_escape(buf, cap, s, strlen(s)), need);
        for (size_t i = cap; i < sizeof(buf); i++) assert_int_equal(buf[i], '#');
        if (cap == need) assert_memory_equal(buf, "ab\\\"c\\u0002def", need);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_escapes_as_cjson),
        cmocka_unit_test(test_runs_and_escapes_mixed),
        cmocka_unit_test(test_short_buffer_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
