/* events.c - building the evidence events. See events.h. */
#include <stdio.h>
#include <string.h>
#include "envelope.h"
#include "events.h"

static char *finish(sp_service *s, const char *case_id, const char *type,
                    const char *adviser, cJSON *data) {
    char id[160];
    if (!data) return NULL;
    if (adviser) snprintf(id, sizeof(id), "%s/%s/%s", case_id, type, adviser);
    else snprintf(id, sizeof(id), "%s/%s", case_id, type);
    return sp_event_build_text(id, s->source, type, sp_service_now(s), case_id, data);
}

static cJSON *base_data(const char *case_id, const char *adviser, const char *date) {
    cJSON *d = cJSON_CreateObject();
    if (!d) return NULL;
    cJSON_AddStringToObject(d, "case_id", case_id);
    if (adviser) cJSON_AddStringToObject(d, "adviser", adviser);
    cJSON_AddStringToObject(d, "date", date);
    return d;
}

char *evidence_event_requested(sp_service *s, const char *case_id, const char *adviser,
                               const char *date, const char *request_received_date,
                               const evidence_recipient *to) {
    cJSON *d = base_data(case_id, adviser, date);
    if (!d) return NULL;
    if (request_received_date && *request_received_date)
        cJSON_AddStringToObject(d, "request_received_date", request_received_date);
    cJSON_AddStringToObject(d, "recipient_role", to->role);
    /* notify needs the address to send the request; no names travel. */
    if (to->email) cJSON_AddStringToObject(d, "recipient_email", to->email);
    return finish(s, case_id, "advice.requested", adviser, d);
}

char *evidence_event_received(sp_service *s, const char *case_id, const char *adviser,
                              const char *date, const char *document_ref,
                              const char *author) {
    cJSON *d = base_data(case_id, adviser, date);
    if (!d) return NULL;
    cJSON_AddStringToObject(d, "document_ref", document_ref);
    cJSON_AddStringToObject(d, "author", author);
    return finish(s, case_id, "advice.received", adviser, d);
}

char *evidence_event_complete(sp_service *s, const char *case_id, const char *date) {
    return finish(s, case_id, "evidence.complete", NULL, base_data(case_id, NULL, date));
}

char *evidence_event_copy(const char *text) {
    size_t len = strlen(text);
    char *copy = cJSON_malloc(len + 1);
    if (copy) memcpy(copy, text, len + 1);
    return copy;
}
