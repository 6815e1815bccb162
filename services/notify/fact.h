/* fact.h - what notify remembers from one event for the messages of another.
 *
 * A message often needs something its triggering event does not carry: the
 * deadline events of an adviser's clock name the adviser but not their
 * address (advice.requested has it); a decision not to assess carries the
 * reasons but not the last day to appeal (the appeal_window clock's
 * deadline.started has it). notify joins them itself, in its own Redis hash
 * notify:facts:<case_id>, never by reading another service's keys.
 *
 * The facts are a table: each row says which event tells it, the data path
 * of the instance it is about (the key: an adviser, a date, a school URN)
 * and the path of its value. The hash field is "<name>:<key>", e.g.
 * "adviser_email:educational" or "appeal_last_date:2027-01-10". A SET fact is
 * replaced by a later event; an ADD fact is a comma-separated list that
 * gains the value once (the advisers asked on one date). A fact whose value
 * is absent from its event is written as "" (known: there is none), so a
 * message waiting for it stops waiting and finds no address.
 *
 * Messages read facts through contact rows of source FACT (contact.h); an
 * event whose messages need a required fact that is not known yet waits in
 * notify:pending:<case_id> and is sent when the fact arrives (batch.c). */
#ifndef NOTIFY_FACT_H
#define NOTIFY_FACT_H

#include <stddef.h>
#include "contact.h"
#include "envelope.h"

typedef enum {
    NOTIFY_FACT_SET, /* the value replaces the last one */
    NOTIFY_FACT_ADD  /* the value joins a comma-separated list, once */
} notify_fact_op;

typedef struct notify_fact {
    const char *name;       /* as contact rows of source FACT name it */
    const char *event_type; /* the event that tells it */
    const char *when_field; /* NULL: every event of the type */
    const char *when_value;
    const char *key_path;   /* data path of the instance: "adviser" */
    const char *value_path; /* data path of the value: "recipient_email" */
    notify_fact_op op;
} notify_fact;

extern const notify_fact notify_facts[];
extern const size_t notify_facts_count;

/* One write to notify:facts:<case_id>. */
typedef struct notify_fact_write {
    notify_fact_op op;
    char field[NOTIFY_FACT_FIELD_MAX]; /* "<name>:<key>" */
    const char *value;                 /* borrowed from the event; "" if absent */
} notify_fact_write;

#define NOTIFY_FACT_WRITES_MAX 4

/* The writes ev tells, at most max, into out. An event without a row's key
 * (a request with no school) simply writes nothing for that row. Returns the
 * number of writes. */
size_t notify_facts_from_event(const sp_event *ev, notify_fact_write *out, size_t max);
/* Start-up check: every FACT contact row names a fact of the table. Returns
 * 0, or -1 with errstr. */
int notify_facts_check(char *errstr, size_t errstr_size);

#endif
