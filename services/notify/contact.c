/* contact.c - the contact projection's fields. See contact.h.
 *
 * The table is the whole mapping from request.received to the case hash;
 * reading, checking and storing are loops over it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contact.h"
#include "validate.h"

#define CONTACT_VALUE_MAX 1000

const notify_contact_field notify_contact_fields[] = {
    {"contact_name", "contact.name", 1, NOTIFY_CONTACT_TEXT},
    {"contact_email", "contact.email", 0, NOTIFY_CONTACT_EMAIL},
    {"channel", "contact.preferred_channel", 1, NOTIFY_CONTACT_CHANNEL},
    {"postal_address", "contact.postal_address", 0, NOTIFY_CONTACT_TEXT},
    {"language", "contact.language", 0, NOTIFY_CONTACT_TEXT},
    {"child_name", "child.given_name", 1, NOTIFY_CONTACT_TEXT},
    {"school_name", "school.name", 0, NOTIFY_CONTACT_TEXT},
    {"senco_email", "school.senco_email", 0, NOTIFY_CONTACT_EMAIL},
};
const size_t notify_contact_nfields =
    sizeof(notify_contact_fields) / sizeof(notify_contact_fields[0]);

int notify_contact_field_index(const char *field) {
    for (size_t i = 0; i < notify_contact_nfields; i++)
        if (strcmp(notify_contact_fields[i].field, field) == 0) return (int)i;
    return -1;
}

static int contact_alloc(notify_contact *c) {
    if (c->values) return 0;
    c->values = calloc(notify_contact_nfields, sizeof(*c->values));
    return c->values ? 0 : -1;
}

/* Checks one value by its kind; returns the reason it is bad, or NULL. */
static const char *contact_check(const notify_contact_field *f, const char *v) {
    if (strlen(v) > CONTACT_VALUE_MAX) return "is too long";
    if (f->kind == NOTIFY_CONTACT_EMAIL && !sp_email_valid(v))
        return "is not an email address";
    if (f->kind == NOTIFY_CONTACT_CHANNEL && strcmp(v, "email") && strcmp(v, "post"))
        return "must be \"email\" or \"post\"";
    return NULL;
}

int notify_contact_from_request(notify_contact *c, const cJSON *data, char *errstr,
                                size_t size) {
    if (contact_alloc(c)) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < notify_contact_nfields; i++) {
        const notify_contact_field *f = &notify_contact_fields[i];
        const cJSON *j = sp_json_path(data, f->path);
        const char *v = cJSON_IsString(j) ? j->valuestring : NULL, *why;
        if (!v || !*v) {
            if (!f->required) continue;
            snprintf(errstr, size, "data.%s is missing or not a string", f->path);
            return -1;
        }
        if ((why = contact_check(f, v)) != NULL) {
            snprintf(errstr, size, "data.%s %s", f->path, why);
            return -1;
        }
        if (!(c->values[i] = strdup(v))) {
            snprintf(errstr, size, "out of memory");
            return -1;
        }
    }
    return 0;
}

int notify_contact_from_reply(notify_contact *c, const redisReply *reply) {
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        reply->elements % 2 || contact_alloc(c))
        return -1;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        int idx = notify_contact_field_index(k->str);
        if (idx < 0 || c->values[idx]) continue;
        if (!(c->values[idx] = strdup(v->str))) return -1;
    }
    return 0;
}

const char *notify_contact_get(const notify_contact *c, const char *field) {
    int idx = notify_contact_field_index(field);
    return idx >= 0 && c->values ? c->values[idx] : NULL;
}

void notify_contact_free(notify_contact *c) {
    if (c->values)
        for (size_t i = 0; i < notify_contact_nfields; i++) free(c->values[i]);
    free(c->values);
    c->values = NULL;
}
