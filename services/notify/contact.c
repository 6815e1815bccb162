/* contact.c - the contact fields. See contact.h.
 *
 * The table is the whole mapping from the opening event, the facts and the
 * settings to what routes read; reading, checking and storing are loops over
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contact.h"
#include "validate.h"

#define CONTACT_VALUE_MAX 1000

#define STORED NOTIFY_FIELD_STORED
#define FACT NOTIFY_FIELD_FACT
#define TEXT NOTIFY_CONTACT_TEXT
#define EMAIL NOTIFY_CONTACT_EMAIL

const notify_contact_field notify_contact_fields[] = {
    /* From the event that opened the case, stored in notify:case:<case_id>. */
    {"contact_name", STORED, "contact.name", NULL, 1, TEXT},
    {"contact_email", STORED, "contact.email", NULL, 0, EMAIL},
    {"channel", STORED, "contact.preferred_channel", NULL, 1, NOTIFY_CONTACT_CHANNEL},
    {"postal_address", STORED, "contact.postal_address", NULL, 0, TEXT},
    {"language", STORED, "contact.language", NULL, 0, TEXT},
    {"child_name", STORED, "child.given_name", NULL, 1, TEXT},
    {"child_family_name", STORED, "child.family_name", NULL, 1, TEXT},
    {"child_date_of_birth", STORED, "child.date_of_birth", NULL, 1, TEXT},
    {"school_name", STORED, "school.name", NULL, 0, TEXT},
    {"senco_email", STORED, "school.senco_email", NULL, 0, EMAIL},
    {"school_urn", STORED, "school.urn", NULL, 0, TEXT}, /* the case's team (team.h) */
    /* Per event, from the facts (fact.c). The event's messages wait for the
     * required ones: each is told by an event that is certain to come. */
    {"adviser_email", FACT, "adviser_email", "qualifier", 1, EMAIL},
    {"advisers_asked", FACT, "advisers_asked", "date", 1, TEXT},
    {"advice_due_date", FACT, "advice_due_date", "date", 1, TEXT},
    {"appeal_last_date", FACT, "appeal_last_date", "date", 1, TEXT},
    {"mediation_last_date", FACT, "mediation_last_date", "date", 1, TEXT},
    {"no_plan_date", FACT, "no_plan_date", "started_on", 1, TEXT},
    {"annual_review_date", FACT, "annual_review_date", "date", 1, TEXT},
    /* Known only for the case's own school: no waiting for it. */
    {"consulted_senco_email", FACT, "school_senco", "qualifier", 0, EMAIL},
    /* Per event, from the settings (notify.caseworker_email). */
    {"caseworker_email", NOTIFY_FIELD_CONFIG, "caseworker_email", NULL, 0, EMAIL},
};
const size_t notify_contact_nfields =
    sizeof(notify_contact_fields) / sizeof(notify_contact_fields[0]);

/* The events that open a case; their data has the same contact, child and
 * school objects (command.request.json). */
static const char *const contact_opening[] = {"request.received",
                                              "sen_support.registered",
                                              "plan.imported"};

int notify_contact_opens(const char *event_type) {
    for (size_t i = 0; i < sizeof(contact_opening) / sizeof(contact_opening[0]); i++)
        if (strcmp(contact_opening[i], event_type) == 0) return 1;
    return 0;
}

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
        if (f->source != NOTIFY_FIELD_STORED) continue;
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
        if (idx < 0 || c->values[idx] ||
            notify_contact_fields[idx].source != NOTIFY_FIELD_STORED)
            continue;
        if (!(c->values[idx] = strdup(v->str))) return -1;
    }
    return 0;
}

int notify_contact_set(notify_contact *c, const char *field, const char *value) {
    int idx = notify_contact_field_index(field);
    if (idx < 0 || contact_alloc(c)) return -1;
    free(c->values[idx]);
    c->values[idx] = NULL;
    if (!value || !*value) return 0;
    return (c->values[idx] = strdup(value)) ? 0 : -1;
}

const char *notify_contact_get(const notify_contact *c, const char *field) {
    int idx = notify_contact_field_index(field);
    return idx >= 0 && c->values ? c->values[idx] : NULL;
}

int notify_contact_need(notify_fact_needs *needs, const char *field, const sp_event *ev,
                        char *errstr, size_t size) {
    int idx = notify_contact_field_index(field);
    char name[NOTIFY_FACT_FIELD_MAX];
    if (idx < 0 || notify_contact_fields[idx].source != NOTIFY_FIELD_FACT) return 0;
    const notify_contact_field *f = &notify_contact_fields[idx];
    const char *key = sp_event_str(ev, f->key);
    int w = key && *key ? snprintf(name, sizeof(name), "%s:%s", f->path, key) : -1;
    if (w < 0 || (size_t)w >= sizeof(name)) {
        snprintf(errstr, size, "data.%s is missing or too long (%s needs it)", f->key,
                 f->field);
        return -1;
    }
    for (size_t i = 0; i < needs->n; i++)
        if (strcmp(needs->field[i], name) == 0) return 0;
    if (needs->n == NOTIFY_NEEDS_MAX) {
        snprintf(errstr, size, "more than %d facts needed", NOTIFY_NEEDS_MAX);
        return -1;
    }
    memcpy(needs->field[needs->n], name, (size_t)w + 1);
    needs->row[needs->n] = idx;
    needs->wait[needs->n++] = f->required;
    return 0;
}

void notify_contact_free(notify_contact *c) {
    if (c->values)
        for (size_t i = 0; i < notify_contact_nfields; i++) free(c->values[i]);
    free(c->values);
    c->values = NULL;
}
