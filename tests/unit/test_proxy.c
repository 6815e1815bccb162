/* test_proxy.c - trusted proxies and the client behind them: parsing the
 * list (IPv4, IPv6, CIDR), matching, and reading X-Forwarded-For from the
 * right, where a forged left end must never be believed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include "proxy.h"

static sp_proxies *parse_ok(const char *text) {
    char err[160] = "";
    sp_proxies *p = sp_proxies_parse(text, err, sizeof(err));
    if (!p) fail_msg("'%s' refused: %s", text, err);
    return p;
}

static void test_parse_forms(void **state) {
    (void)state;
    sp_proxies *p = parse_ok("10.0.0.0/8, 192.168.1.7 ::1,fd00::/8\t172.16.0.0/12");
    assert_int_equal(sp_proxies_count(p), 5);
    sp_proxies_free(p);
    p = parse_ok(NULL);
    assert_int_equal(sp_proxies_count(p), 0);
    sp_proxies_free(p);
    p = parse_ok("  , ");
    assert_int_equal(sp_proxies_count(p), 0);
    sp_proxies_free(p);
    /* /0 is legal (everything): an operator's choice, not ours. */
    p = parse_ok("0.0.0.0/0");
    assert_true(sp_proxies_trusted(p, "203.0.113.9"));
    sp_proxies_free(p);
}

static void test_parse_refusals(void **state) {
    (void)state;
    static const char *const bad[] = {"10.0.0.0/33", "::/129",   "10.0.0/8",  "10.0.0.1/",
                                      "10.0.0.1/x",  "proxy.lan", "10.0.0.1:80", "[::1]",
                                      "1.2.3.4/-1",  "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        sp_proxies *p = sp_proxies_parse(bad[i], err, sizeof(err));
        if (p) fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err, "is not an IP address or CIDR block"));
    }
    /* The bad one is named even among good ones. */
    char err[160] = "";
    assert_null(sp_proxies_parse("10.0.0.1, nonsense, ::1", err, sizeof(err)));
    assert_non_null(strstr(err, "'nonsense'"));
}

static void test_match(void **state) {
    (void)state;
    sp_proxies *p = parse_ok("10.1.0.0/16 192.168.1.7 fd00::/8 2001:db8::5 172.16.0.0/13");
    assert_true(sp_proxies_trusted(p, "10.1.255.255"));
    assert_false(sp_proxies_trusted(p, "10.2.0.1"));
    assert_true(sp_proxies_trusted(p, "192.168.1.7"));
    assert_false(sp_proxies_trusted(p, "192.168.1.8"));
    assert_true(sp_proxies_trusted(p, "fd12:3456::1"));
    assert_false(sp_proxies_trusted(p, "fe00::1"));
    assert_true(sp_proxies_trusted(p, "2001:db8::5"));
    assert_false(sp_proxies_trusted(p, "2001:db8::6"));
    /* A prefix that is not on a byte boundary: /13 is 172.16-172.23. */
    assert_true(sp_proxies_trusted(p, "172.23.9.9"));
    assert_false(sp_proxies_trusted(p, "172.24.0.1"));
    /* A dual-stack socket's view of an IPv4 peer matches the IPv4 entry. */
    assert_true(sp_proxies_trusted(p, "::ffff:10.1.2.3"));
    assert_false(sp_proxies_trusted(p, "::ffff:10.2.2.3"));
    assert_false(sp_proxies_trusted(p, "not an address"));
    assert_false(sp_proxies_trusted(p, NULL));
    assert_false(sp_proxies_trusted(NULL, "10.1.0.1"));
    sp_proxies_free(p);
}

typedef struct xff_case {
    const char *peer;
    const char *xff;
    const char *client;
} xff_case;

static void test_client(void **state) {
    (void)state;
    sp_proxies *p = parse_ok("10.0.0.0/8, fd00::/8");
    static const xff_case cases[] = {
        /* No proxy in the way: the peer, whatever it claims. */
        {"203.0.113.9", "198.51.100.1", "203.0.113.9"},
        {"203.0.113.9", NULL, "203.0.113.9"},
        /* One trusted proxy: the address it appended. */
        {"10.0.0.5", "198.51.100.1", "198.51.100.1"},
        {"10.0.0.5", " 198.51.100.1 ", "198.51.100.1"},
        /* A forged left end is skipped: the rightmost untrusted wins. */
        {"10.0.0.5", "6.6.6.6, 1.1.1.1, 198.51.100.1", "198.51.100.1"},
        /* Two trusted hops. */
        {"10.0.0.5", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"},
        /* IPv6 clients and proxies. */
        {"fd00::1", "2001:db8::77", "2001:db8::77"},
        {"fd00::1", "2001:db8::77, fd00::2", "2001:db8::77"},
        {"::ffff:10.0.0.5", "198.51.100.1", "198.51.100.1"},
        /* A trusted proxy with no header, or an empty one: the proxy. */
        {"10.0.0.5", NULL, "10.0.0.5"},
        {"10.0.0.5", "", "10.0.0.5"},
        /* Only trusted addresses: the farthest one. */
        {"10.0.0.5", "10.0.0.7, 10.0.0.6", "10.0.0.7"},
        /* Garbage where an address should be stops the walk at the last
         * good one: the client cannot name its own bucket. */
        {"10.0.0.5", "198.51.100.1, unknown", "10.0.0.5"},
        {"10.0.0.5", "198.51.100.1, 10.0.0.6, bob", "10.0.0.5"},
        {"10.0.0.5", "6.6.6.6, 198.51.100.1:443", "10.0.0.5"},
        {"10.0.0.5", "bob, 198.51.100.1", "198.51.100.1"},
        /* Empty entries (a proxy appending to an empty header) are no one. */
        {"10.0.0.5", "198.51.100.1,,", "198.51.100.1"},
        {"10.0.0.5", ", 198.51.100.1", "198.51.100.1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[INET6_ADDRSTRLEN];
        const char *got = sp_proxies_client(p, cases[i].peer, cases[i].xff, buf, sizeof(buf));
        if (strcmp(got, cases[i].client))
            fail_msg("peer %s, X-Forwarded-For '%s': got %s, want %s", cases[i].peer,
                     cases[i].xff ? cases[i].xff : "(none)", got, cases[i].client);
    }
    sp_proxies_free(p);
}

/* With no trusted proxies (the default) the header changes nothing. */
static void test_empty_list_trusts_nobody(void **state) {
    (void)state;
    sp_proxies *p = parse_ok("");
    char buf[INET6_ADDRSTRLEN];
    assert_string_equal(sp_proxies_client(p, "127.0.0.1", "1.2.3.4", buf, sizeof(buf)),
                        "127.0.0.1");
    sp_proxies_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_client),
        cmocka_unit_test(test_empty_list_trusts_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
