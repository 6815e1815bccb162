/* fact.c - the facts table. See fact.h.
 *
 * Only the rows are policy: which event tells which fact. Every fact here is
 * read by a contact row (contact.c) and so by some route (route.c). */
#include <stdio.h>
#include <string.h>
#include "fact.h"
#include "validate.h"

#define FACT_VALUE_MAX 1000

const notify_fact notify_facts[] = {
    /* Whom evidence asked, and where: the advice clock's deadline events
     * name only the adviser (data.qualifier). */
    {"adviser_email", "advice.requested", NULL, NULL, "adviser", "recipient_email",
     NOTIFY_FACT_SET},
    /* Everyone asked on one date: the parent's one letter lists them. */
    {"advisers_asked", "advice.requested", NULL, NULL, "date", "adviser", NOTIFY_FACT_ADD},
    /* Due dates of clocks, for letters sent on another event: keyed by the
     * date the clock counts from, which is the letter's event's date. */
    {"advice_due_date", "deadline.started", "clock", "advice", "started_on", "due_date",
     NOTIFY_FACT_SET},
    {"appeal_last_date", "deadline.started", "clock", "appeal_window", "started_on",
     "due_date", NOTIFY_FACT_SET},
    {"mediation_last_date", "deadline.started", "clock", "mediation_window", "started_on",
     "due_date", NOTIFY_FACT_SET},
    {"no_plan_date", "deadline.started", "clock", "no_plan_notice", "started_on",
     "due_date", NOTIFY_FACT_SET},
    {"annual_review_date", "deadline.started", "clock", "annual_review", "started_on",
     "due_date", NOTIFY_FACT_SET},
    /* The SENCO of each school notify knows, by URN: today only the case's
     * own school, from the event that opened the case. */
    {"school_senco", "request.received", NULL, NULL, "school.urn", "school.senco_email",
     NOTIFY_FACT_SET},
    {"school_senco", "sen_support.registered", NULL, NULL, "school.urn",
     "school.senco_email", NOTIFY_FACT_SET},
    {"school_senco", "plan.imported", NULL, NULL, "school.urn", "school.senco_email",
     NOTIFY_FACT_SET},
};
const size_t notify_facts_count = sizeof(notify_facts) / sizeof(notify_facts[0]);

static const char *data_str(const sp_event *ev, const char *path) {
    const cJSON *j = sp_json_path(ev->data, path);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int fact_applies(const notify_fact *f, const sp_event *ev) {
    if (strcmp(f->event_type, ev->type) != 0) return 0;
    if (!f->when_field) return 1;
    const char *v = sp_event_str(ev, f->when_field);
    return v && strcmp(v, f->when_value) == 0;
}

size_t notify_facts_from_event(const sp_event *ev, notify_fact_write *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < notify_facts_count && n < max; i++) {
        const notify_fact *f = &notify_facts[i];
        if (!fact_applies(f, ev)) continue;
        const char *key = data_str(ev, f->key_path), *value = data_str(ev, f->value_path);
        if (!value || strlen(value) > FACT_VALUE_MAX) value = "";
        /* A list holds codes: a value that would break it is not one. */
        if (!key || !*key || (f->op == NOTIFY_FACT_ADD && (!*value || strchr(value, ','))))
            continue;
        int w = snprintf(out[n].field, sizeof(out[n].field), "%s:%s", f->name, key);
        if (w < 0 || (size_t)w >= sizeof(out[n].field)) continue; /* no such key */
        out[n].op = f->op;
        out[n++].value = value;
    }
    return n;
}

int notify_facts_check(char *errstr, size_t size) {
    for (size_t i = 0; i < notify_contact_nfields; i++) {
        const notify_contact_field *c = &notify_contact_fields[i];
        size_t j = 0;
        if (c->source != NOTIFY_FIELD_FACT) continue;
        while (j < notify_facts_count && strcmp(notify_facts[j].name, c->path)) j++;
        if (j == notify_facts_count) {
            snprintf(errstr, size, "contact field %s reads fact '%s', which no event "
                     "tells", c->field, c->path);
            return -1;
        }
    }
    return 0;
}
