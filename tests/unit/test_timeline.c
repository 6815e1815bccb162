/* Unit tests for services/ops/timeline.c: a timeline entry is the text
 * cJSON printed for it before (the way earlier releases made it), byte for
 * byte, escapes included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "timeline.h"

/* The entry as ops made it with cJSON up to 4 December 2026. */
static char *entry_by_cjson(const sp_event *ev) {
    static const char *const fields[] = {"clock", "clock_id", "due_date", "adviser",
                                         "template", "recipient_role", "channel", "outcome",
                                         "reason", "by", NULL};
    char buf[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ev->id);
    cJSON_AddStringToObject(o, "type", ev->type);
    cJSON_AddStringToObject(o, "time", ev->time);
    cJSON_AddStringToObject(o, "business_date", ops_timeline_business_date(ev, buf, sizeof(buf)));
    for (int i = 0; fields[i]; i++)
        if (sp_event_str(ev, fields[i]))
            cJSON_AddStringToObject(o, fields[i], sp_event_str(ev, fields[i]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The entry ops_timeline_arg makes, through a batch as the projection does. */
static char *entry_by_ops(const sp_event *ev) {
    size_t n;
    ops_batch *b = ops_batch_new(0);
    assert_non_null(b);
    ops_batch_event_begin(b, ev->subject, ev->id);
    ops_batch_write(b, "RPUSH", OPS_K_TIMELINE);
    ops_timeline_arg(b, ev);
    ops_batch_write_end(b);
    ops_batch_event_end(b);
    assert_false(ops_batch_failed(b));
    const char *const *args = ops_batch_args(b, &n);
    char *text = strdup(args[n - 1]);
    ops_batch_free(b);
    return text;
}

static void check_event(const char *data) {
    char text[4096], err[256];
    sp_event ev;
    snprintf(text, sizeof(text),
             "{\"specversion\":\"1.0\",\"id\":\"c_1/x/1\",\"source\":\"/t\",\"type\":"
             "\"deadline.due\",\"time\":\"2026-12-04T09:00:00.000Z\",\"subject\":\"c_1\","
             "\"data\":%s}", data);
    assert_int_equal(sp_event_parse(text, strlen(text), &ev, err, sizeof(err)), 0);
    char *want = entry_by_cjson(&ev), *got = entry_by_ops(&ev);
    assert_string_equal(got, want);
    free(got);
    cJSON_free(want);
    sp_event_free(&ev);
}

static void test_entries_match_cjson(void **state) {
    check_event("{}");
    check_event("{\"date\":\"2026-11-30\",\"clock\":\"advice\",\"clock_id\":\"c_1:advice:1\","
                "\"due_date\":\"2027-01-15\",\"by\":7}"); /* a number is left out */
    check_event("{\"adviser\":\"Dr \\\"Q\\\" O'Neill\\\\ \\u00e9\\u2013\\ud83d\\ude00\","
                "\"reason\":\"line\\none\\ttab\\r\\b\\f\\u0001\\u001f\\u007f/\","
                "\"outcome\":\"\",\"template\":\"t\",\"recipient_role\":\"parent\","
                "\"channel\":\"email\",\"met_on\":\"2026-12-01\"}");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_match_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
