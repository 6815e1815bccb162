/* test_screen.c - the limits a consumer applies to internal topics before a
 * service parses a message (the batch path itself runs against a real broker
 * in tests/integration/test_limits.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "screen.h"

static void test_within_limits(void **state) {
    (void)state;
    char why[160] = "";
    const char *ev = "{\"a\":{\"b\":[1,2,{\"c\":\"[[[[\"}]}}";
    assert_int_equal(sp_screen_refuse(ev, strlen(ev), 1024, 4, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    /* No limits at all. */
    assert_int_equal(sp_screen_refuse(ev, strlen(ev), 0, 0, why, sizeof(why)), 0);
}

static void test_too_large(void **state) {
    (void)state;
    char why[160];
    char *big = malloc(5000);
    memset(big, ' ', 4999);
    big[0] = '{', big[4998] = '}', big[4999] = '\0';
    assert_int_equal(sp_screen_refuse(big, 4999, 4096, 32, why, sizeof(why)), 1);
    assert_string_equal(why, "413 Too large: the message is larger than 4096 bytes");
    assert_int_equal(sp_screen_refuse(big, 4999, 4999, 32, why, sizeof(why)), 0);
    free(big);
}

static void test_too_deep(void **state) {
    (void)state;
    char why[160];
    /* Brackets in strings do not count; those outside do. */
    const char *deep = "{\"x\":[[[\"]]]]]]\"]]]}";
    assert_int_equal(sp_screen_refuse(deep, strlen(deep), 0, 3, why, sizeof(why)), 1);
    assert_string_equal(why, "400 Invalid event: the message nests deeper than 3 levels");
    assert_int_equal(sp_screen_refuse(deep, strlen(deep), 0, 4, why, sizeof(why)), 0);
}

/* The erased-case mark is sha256 of the id in hex, never the id. */
static void test_erasure_hash(void **state) {
    (void)state;
    char h[SP_ERASURE_HASH_HEX + 1], key[64];
    sp_erasure_hash("abc", h, sizeof(h));
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sp_erasure_set_key("notify", key, sizeof(key));
    assert_string_equal(key, "notify:erased");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_within_limits),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_erasure_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
