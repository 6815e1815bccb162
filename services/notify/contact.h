/* contact.h - what notify knows about a case when it writes one message.
 *
 * notify keeps its own projection of each case's contact details, built from
 * the event that opened the case (request.received, sen_support.registered
 * or plan.imported, on the case-events topic; it never reads another
 * service's keys). The fields are a table: each row names a field and where
 * its value comes from:
 *
 *   STORED  a path in the opening event's data ("contact.email"), kept in the
 *           notify:case:<case_id> hash;
 *   FACT    a fact another event told notify (fact.c), picked for the event
 *           being sent by one of its data fields: "adviser_email" is the fact
 *           adviser_email:<data.qualifier>, the address evidence gave for the
 *           adviser whose clock the event is about;
 *   CONFIG  a setting of the service (the caseworkers' mailbox), set by the
 *           service for every event.
 *
 * So a notify_contact is the case as one event sees it: STORED fields are
 * the same for every event of the case, FACT and CONFIG fields are filled
 * for the event at hand and never stored in the case hash. A route reads
 * every field by name, whatever its source. A route that needs a new fact (a
 * social worker's email, say) adds a row here and reads the field by name.
 *
 * These values are personal data. They live in Redis values and in the
 * messages notify writes, never in logs, keys or error strings. */
#ifndef NOTIFY_CONTACT_H
#define NOTIFY_CONTACT_H

#include <stddef.h>
#include <cJSON.h>
#include <hiredis/hiredis.h>
#include "envelope.h"

typedef enum {
    NOTIFY_FIELD_STORED, /* from the opening event, in notify:case:<case_id> */
    NOTIFY_FIELD_FACT,   /* from notify:facts:<case_id>, per event */
    NOTIFY_FIELD_CONFIG  /* from the service's settings */
} notify_field_source;

typedef struct notify_contact_field {
    const char *field;   /* the name routes use: "contact_email" */
    notify_field_source source;
    const char *path;    /* STORED: the data path in the opening event,
                          * "contact.email"; FACT: the fact's name (fact.c);
                          * CONFIG: the setting, without "notify." */
    const char *key;     /* FACT: the data field of the event being sent that
                          * picks the fact ("qualifier"); NULL otherwise */
    int required;        /* STORED: the opening event is refused without it.
                          * FACT: an event that needs it waits until it is
                          * known (0: an unknown fact is simply absent) */
    int kind;            /* NOTIFY_CONTACT_TEXT, _EMAIL or _CHANNEL */
} notify_contact_field;

enum { NOTIFY_CONTACT_TEXT, NOTIFY_CONTACT_EMAIL, NOTIFY_CONTACT_CHANNEL };

extern const notify_contact_field notify_contact_fields[];
extern const size_t notify_contact_nfields;

/* One case's contact details: values[i] is field i of the table, or NULL. */
typedef struct notify_contact {
    char **values;
} notify_contact;

/* The facts one event's messages read, as notify:facts:<case_id> hash
 * fields ("adviser_email:educational"), each with the contact row it fills. */
#define NOTIFY_NEEDS_MAX 8
#define NOTIFY_FACT_FIELD_MAX 160
typedef struct notify_fact_needs {
    size_t n;
    int row[NOTIFY_NEEDS_MAX];
    int wait[NOTIFY_NEEDS_MAX]; /* the row is required: wait while unknown */
    char field[NOTIFY_NEEDS_MAX][NOTIFY_FACT_FIELD_MAX];
} notify_fact_needs;

/* 1 if events of this type open a case and carry its contact details. */
int notify_contact_opens(const char *event_type);
/* Reads an opening event's data into c (zeroed by the caller). Returns 0, or
 * -1 with errstr naming the missing or bad field (never its value). */
int notify_contact_from_request(notify_contact *c, const cJSON *data,
                                char *errstr, size_t errstr_size);
/* Reads an HGETALL reply (borrowed) of the case hash: STORED fields only.
 * Returns 0, or -1 if the reply is not a non-empty field/value array or
 * memory ran out. */
int notify_contact_from_reply(notify_contact *c, const redisReply *reply);
/* Sets field to a copy of value (NULL or "" clears it). Returns 0, or -1
 * (no such field, no memory). */
int notify_contact_set(notify_contact *c, const char *field, const char *value);
/* The value of field, or NULL. Borrowed from c. */
const char *notify_contact_get(const notify_contact *c, const char *field);
/* The row index of field, or -1 (routes check their fields at start-up). */
int notify_contact_field_index(const char *field);
/* If field is a FACT row, adds the hash field ev needs for it to needs
 * (once). Returns 0 (also for other rows), or -1 with errstr when ev lacks
 * the key field or needs is full. */
int notify_contact_need(notify_fact_needs *needs, const char *field,
                        const sp_event *ev, char *errstr, size_t errstr_size);
void notify_contact_free(notify_contact *c);

#endif
