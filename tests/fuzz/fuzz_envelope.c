/* fuzz_envelope.c - CloudEvents envelopes as every consumer decodes them.
 *
 * Any input: sp_event_parse() must either refuse it with a reason or return
 * an event whose attributes are all there. An accepted event must survive a
 * round trip: built again from its parts and parsed, it is accepted with
 * the same id, type and subject (consumers deduplicate by id, so a
 * producer's copy that read differently would be a silent duplicate). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"

static void check_accepted(const sp_event *ev) {
    sp_event again;
    char errstr[128];
    char *text;

    if (!ev->root || !ev->id || !ev->source || !ev->type || !ev->subject ||
        !ev->time || !cJSON_IsObject(ev->data))
        abort();
    (void)sp_event_str(ev, "case_id");
    text = sp_event_build_text(ev->id, ev->source, ev->type, ev->time_ms, ev->subject,
                               cJSON_Duplicate(ev->data, 1));
    if (!text) return; /* out of memory, or data too deep to copy */
    if (sp_event_parse(text, strlen(text), &again, errstr, sizeof(errstr)) != 0) abort();
    if (strcmp(again.id, ev->id) || strcmp(again.type, ev->type) ||
        strcmp(again.subject, ev->subject))
        abort();
    sp_event_free(&again);
    cJSON_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sp_event ev;
    char errstr[128];

    if (sp_event_parse((const char *)data, size, &ev, errstr, sizeof(errstr)) == 0) {
        check_accepted(&ev);
        sp_event_free(&ev);
    } else if (ev.root || errstr[0] == '\0') {
        abort(); /* refused: nothing held, and a reason given */
    }
    return 0;
}
