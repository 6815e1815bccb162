/* fuzz_intake.c - commands as intake decodes them, from HTTP or the topic.
 *
 * The input is a message body. It is parsed as the commands topic would (the
 * size and depth limits first), then handed to every parser intake has: the
 * three creating commands and the casework command it names (or, with no
 * name, every casework command in turn). Each parser must either return an
 * object or refuse with a non-empty list of {field, reason}, never both and
 * never neither; an accepted request must give a child key and fingerprint
 * of 64 hex digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "request.h"
#include "validate.h"

typedef cJSON *(*create_parse)(const cJSON *body, sp_date today, cJSON **errors);

static int is_hex64(const char *s) {
    if (strlen(s) != 64) return 0;
    return strspn(s, "0123456789abcdef") == 64;
}

static void check_errors(cJSON *out, cJSON *errors) {
    const cJSON *e;
    if (!out == !errors) abort();
    if (!errors) return;
    if (!cJSON_IsArray(errors) || cJSON_GetArraySize(errors) == 0) abort();
    cJSON_ArrayForEach(e, errors) {
        if (!cJSON_IsString(cJSON_GetObjectItem(e, "field")) ||
            !cJSON_IsString(cJSON_GetObjectItem(e, "reason")))
            abort();
    }
}

static void try_create(create_parse parse, const cJSON *body, sp_date today) {
    cJSON *errors = NULL, *out = parse(body, today, &errors);
    char key[INTAKE_CHILD_KEY_LEN + 1];

    check_errors(out, errors);
    if (out && parse == intake_request_parse) {
        intake_request_child_key(out, key, sizeof(key));
        if (!is_hex64(key)) abort();
        intake_request_fingerprint(out, key, sizeof(key));
        if (!is_hex64(key)) abort();
    }
    cJSON_Delete(out);
    cJSON_Delete(errors);
}

static void try_command(const intake_command *c, const cJSON *body, sp_date today) {
    cJSON *errors = NULL, *out = intake_command_parse(c, body, today, &errors);
    const char *next = NULL;

    check_errors(out, errors);
    if (out && !intake_command_event(c, out, &next)) abort();
    cJSON_Delete(out);
    cJSON_Delete(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const sp_date today = sp_date_make(2026, 11, 23);
    sp_json_limits lim = {64 * 1024, 32};
    sp_json_refusal why = SP_JSON_OK;
    cJSON *body = sp_json_parse_limited((const char *)data, size, &lim, &why);
    const char *name;
    const intake_command *c;

    if (!body) {
        if (why == SP_JSON_OK) abort(); /* a refusal always says why */
        if (why == SP_JSON_TOO_DEEP &&
            sp_json_text_depth((const char *)data, size, 1000) <= lim.max_depth)
            abort();
        return 0;
    }
    try_create(intake_request_parse, body, today);
    try_create(intake_sen_support_parse, body, today);
    try_create(intake_plan_parse, body, today);
    name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "command"));
    if ((c = name ? intake_command_by_name(name) : NULL)) {
        try_command(c, body, today);
    } else if (!name) {
        for (int i = 0; i < intake_commands_count; i++)
            try_command(&intake_commands[i], body, today);
    }
    cJSON_Delete(body);
    return 0;
}
