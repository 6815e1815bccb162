/* route.h - which event sends which message to whom: the routing table.
 *
 * One row per message: the event type that triggers it, an optional
 * condition (a data field that must equal a value, e.g. data.clock ==
 * "decision_to_assess"), the recipient's role and the template's name, and
 * the placeholders the row supplies, each with where its value comes from
 * (a field of the event's data or of the case's contact projection) and how
 * it is written (as is, or as a long date "Monday 4 January 2027").
 *
 * Adding a letter is adding a row (and a template file); a new recipient is a
 * row in the roles table. At start-up notify_routes_bind() checks every row
 * against the templates and the contact fields, so a template asking for a
 * placeholder its row does not supply, a missing template, or a typo in a
 * field name stops the service before it takes a message.
 *
 * An event may match several rows (a decision goes to the parent and to the
 * school); they are sent in table order. */
#ifndef NOTIFY_ROUTE_H
#define NOTIFY_ROUTE_H

#include <stddef.h>
#include "contact.h"
#include "envelope.h"
#include "template.h"

#define NOTIFY_ROUTE_VARS_MAX 8
#define NOTIFY_VALUE_MAX 48 /* bytes of a formatted value (a long date) */

typedef enum {
    NOTIFY_FROM_EVENT, /* a string field of the event's data */
    NOTIFY_FROM_CASE   /* a field of the case's contact projection */
} notify_source;

typedef enum {
    NOTIFY_AS_TEXT,     /* the value as it is */
    NOTIFY_AS_DATE_LONG /* "YYYY-MM-DD" written as "Monday 4 January 2027" */
} notify_format;

typedef struct notify_var {
    const char *name; /* the ((placeholder)) */
    notify_source from;
    const char *field;
    notify_format as;
} notify_var;

typedef struct notify_route {
    const char *event_type;
    const char *when_field; /* NULL: every event of the type */
    const char *when_value;
    const char *role;       /* a row of the roles table */
    const char *template_name;
    notify_var vars[NOTIFY_ROUTE_VARS_MAX]; /* ends at the first NULL name */
} notify_route;

/* How to reach someone in a role, as contact fields. */
typedef struct notify_role {
    const char *name;
    const char *name_field;    /* display name */
    const char *email_field;
    const char *channel_field; /* "email" or "post"; NULL: always email */
    const char *address_field; /* postal address, for post; NULL: none */
} notify_role;

/* Where one message goes. Strings borrowed from the contact. */
typedef struct notify_recipient {
    const char *role;
    const char *name;
    const char *email;   /* NULL: no email */
    const char *address; /* NULL unless the recipient prefers post */
} notify_recipient;

/* A route's placeholder values, ready for sp_template_render. */
typedef struct notify_values {
    sp_template_var vars[NOTIFY_ROUTE_VARS_MAX];
    char buf[NOTIFY_ROUTE_VARS_MAX][NOTIFY_VALUE_MAX];
    size_t n;
} notify_values;

extern const notify_route notify_routes[];
extern const size_t notify_routes_count;

/* Checks every row and finds its template: templates[i] (an array of
 * notify_routes_count, caller-owned) gets row i's. Returns 0, or -1 with
 * errstr naming the row. */
int notify_routes_bind(const sp_templates *set, const sp_template **templates,
                       char *errstr, size_t errstr_size);
/* 1 if row r applies to ev. */
int notify_route_matches(const notify_route *r, const sp_event *ev);
/* 1 if any row applies to ev. */
int notify_routes_any(const sp_event *ev);
/* Checks that ev carries every event field row r needs, well formed. Done
 * before an event waits for its contact, so a bad event is refused at once.
 * Returns 0, or -1 with errstr. */
int notify_route_check_event(const notify_route *r, const sp_event *ev,
                             char *errstr, size_t errstr_size);
/* Fills out from ev and c. Returns 0, or -1 with errstr (a value missing or
 * malformed). out's strings borrow from ev, c and out itself. */
int notify_route_values(const notify_route *r, const sp_event *ev,
                        const notify_contact *c, notify_values *out,
                        char *errstr, size_t errstr_size);
/* Finds who row r writes to. Returns 0, or -1 if the contact holds no way to
 * reach them (no email and no postal address). */
int notify_route_recipient(const notify_route *r, const notify_contact *c,
                           notify_recipient *out);

#endif
