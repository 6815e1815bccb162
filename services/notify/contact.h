/* contact.h - what notify knows about a case in order to address its letters.
 *
 * notify keeps its own projection of each case's contact details, built from
 * the request.received event on the case-events topic (it never reads another
 * service's keys). The fields are a table: each row names a field of the
 * notify:case:<case_id> hash and the path in request.received's data it comes
 * from. A route that needs a new fact (a social worker's email, say) adds a
 * row here and reads the field by name.
 *
 * These values are personal data. They live in Redis values and in the
 * messages notify writes, never in logs, keys or error strings. */
#ifndef NOTIFY_CONTACT_H
#define NOTIFY_CONTACT_H

#include <stddef.h>
#include <cJSON.h>
#include <hiredis/hiredis.h>

typedef struct notify_contact_field {
    const char *field;   /* hash field: "contact_email" */
    const char *path;    /* in request.received data: "contact.email" */
    int required;        /* the event is refused without it */
    int kind;            /* NOTIFY_CONTACT_TEXT, _EMAIL or _CHANNEL */
} notify_contact_field;

enum { NOTIFY_CONTACT_TEXT, NOTIFY_CONTACT_EMAIL, NOTIFY_CONTACT_CHANNEL };

extern const notify_contact_field notify_contact_fields[];
extern const size_t notify_contact_nfields;

/* One case's contact details: values[i] is field i of the table, or NULL. */
typedef struct notify_contact {
    char **values;
} notify_contact;

/* Reads request.received data into c (zeroed by the caller). Returns 0, or -1
 * with errstr naming the missing or bad field (never its value). */
int notify_contact_from_request(notify_contact *c, const cJSON *data,
                                char *errstr, size_t errstr_size);
/* Reads an HGETALL reply (borrowed). Unknown fields are ignored. Returns 0, or
 * -1 if the reply is not a non-empty field/value array or memory ran out. */
int notify_contact_from_reply(notify_contact *c, const redisReply *reply);
/* The value of field, or NULL. Borrowed from c. */
const char *notify_contact_get(const notify_contact *c, const char *field);
/* The row index of field, or -1 (routes check their fields at start-up). */
int notify_contact_field_index(const char *field);
void notify_contact_free(notify_contact *c);

#endif
