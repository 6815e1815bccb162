/* route.h - which event sends which message to whom: the routing table.
 *
 * One row per message: the event type that triggers it, up to two
 * conditions on its data (data.clock is "advice", data.qualifier is none of
 * "parent|child_views"), the recipient's role and the template's name, and
 * the placeholders the row supplies, each with where its value comes from (a
 * field of the event's data, or a field of the case as that event sees it:
 * the contact projection, a fact joined from another event, a setting; see
 * contact.h) and how it is written (as is, as a long date "Monday 4 January
 * 2027", as wrapped paragraphs, as plain-English words for a code).
 *
 * Adding a letter is adding a row (and a template file); a new recipient is a
 * row in the roles table. At start-up notify_routes_bind() checks every row
 * against the templates and the contact fields, so a template asking for a
 * placeholder its row does not supply, a missing template, or a typo in a
 * field name stops the service before it takes a message.
 *
 * An event may match several rows (a deadline goes to an adviser and to the
 * caseworkers); they are sent in table order. A "gather" row sends one
 * message for a run of events of its type with the same case and data.date
 * (evidence's advice.requested, one per adviser, make one letter): batch.c
 * sends it from the last event of the run it can see. */
#ifndef NOTIFY_ROUTE_H
#define NOTIFY_ROUTE_H

#include <stddef.h>
#include "contact.h"
#include "envelope.h"
#include "template.h"

#define NOTIFY_ROUTE_VARS_MAX 10
#define NOTIFY_WHEN_MAX 2
#define NOTIFY_VALUE_MAX 48        /* bytes of a short formatted value (a date) */
#define NOTIFY_VALUES_BUF 12288    /* bytes of all of one message's values */

typedef enum {
    NOTIFY_FROM_EVENT, /* a field of the event's data (a string or an integer) */
    NOTIFY_FROM_CASE   /* a field of the case as the event sees it (contact.h) */
} notify_source;

typedef enum {
    NOTIFY_AS_TEXT,         /* the value as it is */
    NOTIFY_AS_DATE_LONG,    /* "YYYY-MM-DD" written as "Monday 4 January 2027" */
    NOTIFY_AS_PARAGRAPH,    /* free text, wrapped to lines of at most 72 bytes */
    NOTIFY_AS_ADVICE,       /* an adviser code as its advice: "medical advice" */
    NOTIFY_AS_ADVISER_LIST, /* comma-separated advisers as "- who: advice" lines */
    NOTIFY_AS_CLOCK,        /* data.clock (and data.qualifier) for a caseworker */
    NOTIFY_AS_DECISION,     /* an appealable decision's event type as words */
    /* The last day to appeal after a mediation certificate (HESC Rules
     * r.20): the later of the field's date + add_months (the certificate's
     * date + 1) and data.decision_date + 2 months, written long. */
    NOTIFY_AS_APPEAL_AFTER_MEDIATION
} notify_format;

typedef struct notify_var {
    const char *name; /* the ((placeholder)) */
    notify_source from;
    const char *field;
    notify_format as;
    /* NOTIFY_AS_DATE_LONG only: a date this many months, then days, after
     * the field's (a letter's appeal date: its date + 2 months). 0: as is. */
    int add_months, add_days;
} notify_var;

typedef enum {
    NOTIFY_IS,    /* the field is one of the values */
    NOTIFY_IS_NOT /* the field is absent or none of the values */
} notify_when_op;

/* A condition on a data field: values separated by '|'. A field that is an
 * integer (data.seq) is compared as its decimal text. */
typedef struct notify_when {
    const char *field; /* NULL: no condition */
    notify_when_op op;
    const char *values;
} notify_when;

typedef struct notify_route {
    const char *event_type;
    notify_when when[NOTIFY_WHEN_MAX]; /* all must hold */
    const char *role;                  /* a row of the roles table */
    const char *template_name;
    int gather; /* 1: one message per run of events (same case, data.date) */
    notify_var vars[NOTIFY_ROUTE_VARS_MAX]; /* ends at the first NULL name */
} notify_route;

/* How to reach someone in a role, as contact fields. */
typedef struct notify_role {
    const char *name;
    const char *name_field;    /* display name; NULL: none */
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
    char buf[NOTIFY_VALUES_BUF]; /* the formatted values, one after another */
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
/* Checks that ev carries every event field row r needs, well formed (those
 * its values read, and those that pick its facts). Done before an event
 * waits for its contact, so a bad event is refused at once. Returns 0, or -1
 * with errstr. */
int notify_route_check_event(const notify_route *r, const sp_event *ev,
                             char *errstr, size_t errstr_size);
/* Adds to needs the facts row r reads for ev (its values and its
 * recipient). Returns 0, or -1 with errstr. */
int notify_route_needs(const notify_route *r, const sp_event *ev,
                       notify_fact_needs *needs, char *errstr, size_t errstr_size);
/* The contact field row r's recipient is written to. */
const char *notify_route_email_field(const notify_route *r);
/* Fills out from ev and c. Returns 0, or -1 with errstr (a value missing or
 * malformed). out's strings borrow from out itself. */
int notify_route_values(const notify_route *r, const sp_event *ev,
                        const notify_contact *c, notify_values *out,
                        char *errstr, size_t errstr_size);
/* Finds who row r writes to. Returns 0, or -1 if the contact holds no way to
 * reach them (no email and no postal address). */
int notify_route_recipient(const notify_route *r, const notify_contact *c,
                           notify_recipient *out);

#endif
