/* Unit tests for services/notify/message.c: the header checks every path to
 * a mail header or an SMTP envelope goes through (the smtp channel checks
 * MAIL FROM and RCPT TO with notify_message_address). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "message.h"

static void test_address_of_mailbox(void **state) {
    static const struct {
        const char *mailbox, *addr; /* addr NULL: refused */
    } rows[] = {
        {"SEND Team <send@council.example>", "send@council.example"},
        {"send@council.example", "send@council.example"},
        {"\"Team, SEND\" <send@council.example>", "send@council.example"},
        {"send@council.example\r\nRCPT TO:<x@evil.example>", NULL},
        {"SEND <send@council.example>\nBcc: x@evil.example", NULL},
        {"send@council.example\r", NULL},
        {"Zoë <zoe@council.example>", NULL}, /* not ASCII: not for an envelope */
        {"SEND Team <not an address>", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char addr[256];
        int rc = notify_message_address(rows[i].mailbox, addr, sizeof(addr));
        if (rows[i].addr) {
            assert_int_equal(rc, 0);
            assert_string_equal(addr, rows[i].addr);
        } else if (rc != -1 || addr[0]) {
            fail_msg("row %zu: accepted", i);
        }
    }
}

static notify_message message(const char *reply_to, const char *to) {
    notify_message m = {.from = "SEND Team <send@council.example>", .reply_to = reply_to,
                        .to_name = "Ngozi Okafor", .to_email = to,
                        .subject = "We have your request", .body = "Dear Ngozi,\n",
                        .message_id = "3f9c0d6e2a7b4c51d8e9f0a1b2c3d4e5@sendpath",
                        .date_ms = 1795430400000LL, .case_id = "c_1",
                        .event_id = "c_1/started", .template_name = "request_received"};
    return m;
}

static void test_reply_to_header(void **state) {
    char err[128];
    size_t len;
    notify_message m = message("Replies <replies@council.example>", "ngozi@example.org");
    char *text = notify_message_build(&m, &len, err, sizeof(err));
    assert_non_null(text);
    assert_non_null(strstr(text, "\nReply-To: Replies <replies@council.example>\n"));
    free(text);
    m = message(NULL, "ngozi@example.org"); /* none: no header */
    text = notify_message_build(&m, &len, err, sizeof(err));
    assert_non_null(text);
    assert_null(strstr(text, "Reply-To"));
    free(text);
}

static void test_injection_refused(void **state) {
    static const struct {
        const char *reply_to, *to, *expect;
    } rows[] = {
        {"Replies <r@council.example>\r\nBcc: x@evil.example", "ngozi@example.org",
         "Reply-To"},
        {NULL, "ngozi@example.org\r\nBcc: x@evil.example", "To"},
        {NULL, "ngozi@example.org>\nX: y", "To"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char err[128] = "";
        size_t len;
        notify_message m = message(rows[i].reply_to, rows[i].to);
        assert_null(notify_message_build(&m, &len, err, sizeof(err)));
        if (!strstr(err, rows[i].expect)) fail_msg("row %zu: '%s'", i, err);
        assert_null(strstr(err, "evil")); /* errors never quote the value */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_of_mailbox),
        cmocka_unit_test(test_reply_to_header),
        cmocka_unit_test(test_injection_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
