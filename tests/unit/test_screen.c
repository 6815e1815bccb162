/* test_screen.c - the limits a consumer applies to internal topics before a
 * service parses a message (the batch path itself runs against a real broker
 * in tests/integration/test_limits.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "screen.h"
#include "validate.h"

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

/* The depth as counted byte by byte, the plain way: the reference the
 * scan (which skips strings with memchr) must agree with. */
static int depth_by_byte(const char *text, size_t len, int stop_at) {
    int depth = 0, deepest = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest && (deepest = depth) > stop_at) return deepest;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

/* Random texts over the bytes that matter (brackets, quotes, runs of
 * backslashes, a filler), with an unterminated string and a backslash at
 * the very end among them: the two counts agree on every one. */
static void test_depth_agrees_with_byte_by_byte(void **state) {
    (void)state;
    static const char alphabet[] = "{}[]\"\\\\a ";
    char text[96];
    unsigned seed = 20261205;
    const char *fixed[] = {"\"\\\"[[[\"", "\"\\\\\"[[[", "[\"", "[\"\\", "\"", "", "[\"a\\\\\\\"]\"]"};
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
        for (int stop = 0; stop < 4; stop++)
            assert_int_equal(sp_json_text_depth(fixed[k], strlen(fixed[k]), stop),
                             depth_by_byte(fixed[k], strlen(fixed[k]), stop));
    for (int round = 0; round < 200000; round++) {
        size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        int stop = (int)(round % 6);
        assert_int_equal(sp_json_text_depth(text, len, stop), depth_by_byte(text, len, stop));
        assert_int_equal(sp_json_too_deep(text, len, stop), depth_by_byte(text, len, stop) > stop);
    }
    /* More brackets than the limit, all in a string: scanned, not refused. */
    const char *quoted = "{\"a\":\"[[[[[[{{{{\"}";
    assert_int_equal(sp_json_too_deep(quoted, strlen(quoted), 2), 0);
    assert_int_equal(sp_json_too_deep("[[[]]]", 6, 2), 1);
    assert_int_equal(sp_json_too_deep("[[[]]]", 6, 3), 0);
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

/* A message as the consumer hands it: only key and payload are read. */
static rd_kafka_message_t msg_of(const char *key, const char *type) {
    static char payload[8][160];
    static int next;
    rd_kafka_message_t m;
    char *p = payload[next++ % 8];
    memset(&m, 0, sizeof(m));
    snprintf(p, sizeof(payload[0]), "{\"type\":\"%s\",\"subject\":\"%s\"}", type, key);
    m.payload = p;
    m.len = strlen(p);
    m.key = (void *)key;
    m.key_len = strlen(key);
    return m;
}

/* The cut: only before an erasure whose case has events earlier in the
 * batch; an erasure of a case the batch has not named yet, and any other
 * event, join the batch. */
static void test_cut_at_erasure_after_its_events(void **state) {
    (void)state;
    const char *a = "c_01JA00000000000000000000AA", *b = "c_01JA00000000000000000000BB";
    rd_kafka_message_t m0 = msg_of(a, "decision.made"), m1 = msg_of(b, "request.received");
    rd_kafka_message_t *batch[] = {&m0, &m1};
    rd_kafka_message_t erase_a = msg_of(a, "case.erased"), erase_b = msg_of(b, "case.erased");
    rd_kafka_message_t other = msg_of("c_01JA00000000000000000000CC", "case.erased");
    rd_kafka_message_t more_a = msg_of(a, "plan.issued");
    assert_int_equal(sp_screen_cut(batch, 2, &erase_a, NULL), 1);
    assert_int_equal(sp_screen_cut(batch, 2, &erase_b, NULL), 1);
    assert_int_equal(sp_screen_cut(batch, 1, &erase_b, NULL), 0); /* b not in it yet */
    assert_int_equal(sp_screen_cut(batch, 2, &other, NULL), 0);
    assert_int_equal(sp_screen_cut(batch, 2, &more_a, NULL), 0);
    /* Same length, other case: no cut. */
    rd_kafka_message_t near = msg_of("c_01JA00000000000000000000AB", "case.erased");
    assert_int_equal(sp_screen_cut(batch, 2, &near, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_within_limits),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_depth_agrees_with_byte_by_byte),
        cmocka_unit_test(test_erasure_hash),
        cmocka_unit_test(test_cut_at_erasure_after_its_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
