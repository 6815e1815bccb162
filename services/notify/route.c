/* route.c - the routing table and the roles table. See route.h.
 *
 * Only the rows are policy; everything below them is a loop over rows. */
#include <stdio.h>
#include <string.h>
#include "dates.h"
#include "route.h"

/* ---- the tables ------------------------------------------------------------ */

const notify_route notify_routes[] = {
    /* The acknowledgement a parent expects on receipt of a request, with the
     * date by which the LA must decide whether to assess (reg 5(1)): the
     * decision_to_assess clock starts on the day the request was received. */
    {"deadline.started", "clock", "decision_to_assess", "parent", "request_received",
     {{"parent_name", NOTIFY_FROM_CASE, "contact_name", NOTIFY_AS_TEXT},
      {"child_name", NOTIFY_FROM_CASE, "child_name", NOTIFY_AS_TEXT},
      {"received_date", NOTIFY_FROM_EVENT, "started_on", NOTIFY_AS_DATE_LONG},
      {"decision_date", NOTIFY_FROM_EVENT, "due_date", NOTIFY_AS_DATE_LONG}}},
};
const size_t notify_routes_count = sizeof(notify_routes) / sizeof(notify_routes[0]);

static const notify_role notify_roles[] = {
    {"parent", "contact_name", "contact_email", "channel", "postal_address"},
    {"school", "school_name", "senco_email", NULL, NULL},
};

static const notify_role *role_find(const char *name) {
    for (size_t i = 0; i < sizeof(notify_roles) / sizeof(notify_roles[0]); i++)
        if (strcmp(notify_roles[i].name, name) == 0) return &notify_roles[i];
    return NULL;
}

static size_t route_nvars(const notify_route *r) {
    size_t n = 0;
    while (n < NOTIFY_ROUTE_VARS_MAX && r->vars[n].name) n++;
    return n;
}

/* ---- start-up checks ------------------------------------------------------- */

/* The fields a row reads from the contact must exist in the projection. */
static int route_check_fields(const notify_route *r, char *errstr, size_t size) {
    const notify_role *role = role_find(r->role);
    const char *need[4 + NOTIFY_ROUTE_VARS_MAX];
    size_t n = 0;
    if (!role) {
        snprintf(errstr, size, "unknown role '%s'", r->role);
        return -1;
    }
    need[n++] = role->name_field;
    need[n++] = role->email_field;
    if (role->channel_field) need[n++] = role->channel_field;
    if (role->address_field) need[n++] = role->address_field;
    for (size_t i = 0; i < route_nvars(r); i++)
        if (r->vars[i].from == NOTIFY_FROM_CASE) need[n++] = r->vars[i].field;
    for (size_t i = 0; i < n; i++)
        if (notify_contact_field_index(need[i]) < 0) {
            snprintf(errstr, size, "no contact field '%s'", need[i]);
            return -1;
        }
    return 0;
}

/* Checks row i and finds its template. Returns 0, or -1 with errstr. */
static int route_bind(size_t i, const sp_templates *set, const sp_template **tpl,
                      char *errstr, size_t size) {
    const notify_route *r = &notify_routes[i];
    const char *names[NOTIFY_ROUTE_VARS_MAX];
    size_t n = route_nvars(r);
    char err[256];
    for (size_t j = 0; j < n; j++) names[j] = r->vars[j].name;
    if (route_check_fields(r, err, sizeof(err)) == 0) {
        if (!(*tpl = sp_templates_find(set, r->template_name)))
            snprintf(err, sizeof(err), "no template file %s.txt", r->template_name);
        else if (sp_template_check(*tpl, names, n, err, sizeof(err)) == 0)
            return 0;
    }
    snprintf(errstr, size, "route %zu (%s -> %s, %s): %s", i, r->event_type, r->role,
             r->template_name, err);
    return -1;
}

int notify_routes_bind(const sp_templates *set, const sp_template **templates,
                       char *errstr, size_t size) {
    for (size_t i = 0; i < notify_routes_count; i++)
        if (route_bind(i, set, &templates[i], errstr, size)) return -1;
    return 0;
}

/* ---- per event ------------------------------------------------------------- */

int notify_route_matches(const notify_route *r, const sp_event *ev) {
    if (strcmp(r->event_type, ev->type) != 0) return 0;
    if (!r->when_field) return 1;
    const char *v = sp_event_str(ev, r->when_field);
    return v && strcmp(v, r->when_value) == 0;
}

int notify_routes_any(const sp_event *ev) {
    for (size_t i = 0; i < notify_routes_count; i++)
        if (notify_route_matches(&notify_routes[i], ev)) return 1;
    return 0;
}

/* Formats one value into buf. Returns the value to use, or NULL if the
 * format does not fit it. */
static const char *value_format(const notify_var *v, const char *raw, char *buf,
                                size_t size) {
    sp_date d;
    if (v->as == NOTIFY_AS_TEXT) return raw;
    if (sp_date_parse(raw, &d)) return NULL;
    return sp_date_long(d, buf, size);
}

int notify_route_check_event(const notify_route *r, const sp_event *ev,
                             char *errstr, size_t size) {
    char buf[NOTIFY_VALUE_MAX];
    for (size_t i = 0; i < route_nvars(r); i++) {
        const notify_var *v = &r->vars[i];
        if (v->from != NOTIFY_FROM_EVENT) continue;
        const char *raw = sp_event_str(ev, v->field);
        if (!raw || !value_format(v, raw, buf, sizeof(buf))) {
            snprintf(errstr, size, "data.%s is missing or malformed (%s needs it)",
                     v->field, r->template_name);
            return -1;
        }
    }
    return 0;
}

int notify_route_values(const notify_route *r, const sp_event *ev,
                        const notify_contact *c, notify_values *out,
                        char *errstr, size_t size) {
    out->n = 0;
    for (size_t i = 0; i < route_nvars(r); i++) {
        const notify_var *v = &r->vars[i];
        const char *raw = v->from == NOTIFY_FROM_EVENT ? sp_event_str(ev, v->field)
                                                       : notify_contact_get(c, v->field);
        const char *val = raw ? value_format(v, raw, out->buf[i], sizeof(out->buf[i]))
                              : NULL;
        if (!val) {
            snprintf(errstr, size, "%s.%s is missing or malformed (%s needs it)",
                     v->from == NOTIFY_FROM_EVENT ? "data" : "contact", v->field,
                     r->template_name);
            return -1;
        }
        out->vars[out->n].name = v->name;
        out->vars[out->n++].value = val;
    }
    return 0;
}

int notify_route_recipient(const notify_route *r, const notify_contact *c,
                           notify_recipient *out) {
    const notify_role *role = role_find(r->role);
    const char *channel, *name;
    if (!role) return -1;
    channel = role->channel_field ? notify_contact_get(c, role->channel_field) : NULL;
    name = notify_contact_get(c, role->name_field);
    out->role = role->name;
    out->name = name ? name : "";
    out->email = notify_contact_get(c, role->email_field);
    out->address = NULL;
    /* Post when asked for, and as the way left when there is no email. */
    if (role->address_field && ((channel && !strcmp(channel, "post")) || !out->email))
        out->address = notify_contact_get(c, role->address_field);
    return out->email || out->address ? 0 : -1;
}
