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
        cmocka_unit_test(test_erasure_hash),
        cmocka_unit_test(test_cut_at_erasure_after_its_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
