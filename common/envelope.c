/* envelope.c - CloudEvents 1.0 structured JSON. See envelope.h. */
#include <stdio.h>
#include <string.h>
#include "dates.h"
#include "envelope.h"

cJSON *sp_event_build(const char *id, const char *source, const char *type,
                      int64_t time_ms, const char *subject, cJSON *data) {
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(data);
        return NULL;
    }
    sp_time_rfc3339(time_ms, ts, sizeof(ts));
    cJSON_AddStringToObject(o, "specversion", SP_EVENT_SPECVERSION);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "source", source);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "time", ts);
    cJSON_AddStringToObject(o, "subject", subject);
    cJSON_AddStringToObject(o, "datacontenttype", "application/json");
    cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateObject());
    return o;
}

char *sp_event_build_text(const char *id, const char *source, const char *type,
                          int64_t time_ms, const char *subject, cJSON *data) {
    cJSON *o = sp_event_build(id, source, type, time_ms, subject, data);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static const char *required_string(cJSON *root, const char *name, char *errstr,
                                   size_t size) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        snprintf(errstr, size, "envelope attribute '%s' is missing or not a string",
                 name);
        return NULL;
    }
    return v->valuestring;
}

int sp_event_parse(const char *text, size_t len, sp_event *ev, char *errstr,
                   size_t errstr_size) {
    static const char *attrs[] = {"specversion", "id", "source", "type",
                                  "subject", "time"};
    const char *vals[6];
    memset(ev, 0, sizeof(*ev));
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        snprintf(errstr, errstr_size, "envelope is not a JSON object");
        goto fail;
    }
    for (int i = 0; i < 6; i++)
        if (!(vals[i] = required_string(root, attrs[i], errstr, errstr_size)))
            goto fail;
    if (strcmp(vals[0], SP_EVENT_SPECVERSION) != 0) {
        snprintf(errstr, errstr_size, "envelope attribute 'specversion' must be \"1.0\"");
        goto fail;
    }
    if (sp_time_parse_rfc3339(vals[5], &ev->time_ms)) {
        snprintf(errstr, errstr_size, "envelope attribute 'time' is not RFC 3339");
        goto fail;
    }
    ev->data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsObject(ev->data)) {
        snprintf(errstr, errstr_size, "envelope attribute 'data' must be an object");
        goto fail;
    }
    ev->root = root;
    ev->id = vals[1];
    ev->source = vals[2];
    ev->type = vals[3];
    ev->subject = vals[4];
    ev->time = vals[5];
    return 0;
fail:
    cJSON_Delete(root);
    memset(ev, 0, sizeof(*ev));
    return -1;
}

void sp_event_free(sp_event *ev) {
    cJSON_Delete(ev->root);
    memset(ev, 0, sizeof(*ev));
}

const char *sp_event_str(const sp_event *ev, const char *field) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(ev->data, field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
