/* job.c - a send as a record that can wait in Redis. See job.h.
 *
 * The JSON is a flat object of strings (the personalisation a nested object),
 * read back by a table of fields, so adding a field is adding a row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "job.h"

/* The string fields, by offset. required: a job without it is unusable. */
typedef struct job_field {
    const char *name;
    size_t offset;
    int required;
} job_field;

#define F(f) offsetof(notify_job, f)
static const job_field job_fields[] = {
    {"case_id", F(case_id), 1},   {"event_id", F(event_id), 1},
    {"template", F(template_name), 1}, {"role", F(role), 1},
    {"to", F(to_email), 0},       {"message", F(message), 0},
    {"name", F(name), 1},         {"event", F(event), 1},
};
#undef F
#define JOB_NFIELDS (sizeof(job_fields) / sizeof(job_fields[0]))

static char **field_ptr(const notify_job *j, const job_field *f) {
    return (char **)((char *)j + f->offset);
}

char *notify_job_to_json(const notify_job *j) {
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "key", j->key);
    for (size_t i = 0; i < JOB_NFIELDS; i++) {
        const char *v = *field_ptr(j, &job_fields[i]);
        if (v) cJSON_AddStringToObject(o, job_fields[i].name, v);
    }
    cJSON_AddBoolToObject(o, "printed", j->printed);
    if (j->personalisation)
        cJSON_AddItemToObject(o, "personalisation",
                              cJSON_Duplicate(j->personalisation, 1));
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return NULL;
    char *copy = strdup(text); /* free() for the caller, whatever cJSON uses */
    cJSON_free(text);
    return copy;
}

static int job_fail(notify_job *j, const char *what, char *errstr, size_t size) {
    snprintf(errstr, size, "retry record: %s", what);
    notify_job_free(j);
    return -1;
}

int notify_job_from_json(notify_job *j, const char *text, size_t len, char *errstr,
                         size_t size) {
    cJSON *o = cJSON_ParseWithLength(text, len), *v;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return job_fail(j, "not a JSON object", errstr, size);
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "key");
    if (!cJSON_IsString(v) || strlen(v->valuestring) != NOTIFY_SENT_KEY_HEX) {
        cJSON_Delete(o);
        return job_fail(j, "no key", errstr, size);
    }
    memcpy(j->key, v->valuestring, NOTIFY_SENT_KEY_HEX + 1);
    for (size_t i = 0; i < JOB_NFIELDS; i++) {
        v = cJSON_GetObjectItemCaseSensitive(o, job_fields[i].name);
        if (cJSON_IsString(v) && !(*field_ptr(j, &job_fields[i]) = strdup(v->valuestring)))
            break;
        if (!cJSON_IsString(v) && job_fields[i].required) break;
    }
    j->printed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "printed"));
    v = cJSON_DetachItemFromObjectCaseSensitive(o, "personalisation");
    j->personalisation = cJSON_IsObject(v) ? v : (cJSON_Delete(v), NULL);
    cJSON_Delete(o);
    if (!j->case_id || !j->event_id || !j->template_name || !j->role || !j->name ||
        !j->event)
        return job_fail(j, "a field is missing", errstr, size);
    j->message_len = j->message ? strlen(j->message) : 0;
    j->event_len = strlen(j->event);
    return 0;
}

char *notify_job_message_id(const notify_job *j, char *buf, size_t size) {
    snprintf(buf, size, "%.*s@sendpath", NOTIFY_JOB_ID_HEX, j->key);
    return buf;
}

void notify_job_free(notify_job *j) {
    for (size_t i = 0; i < JOB_NFIELDS; i++) {
        char **p = field_ptr(j, &job_fields[i]);
        free(*p);
        *p = NULL;
    }
    cJSON_Delete(j->personalisation);
    j->personalisation = NULL;
}
