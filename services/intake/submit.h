/* submit.h - one path from a command to its event, for HTTP and Kafka alike.
 *
 * check -> reserve in Redis (idempotency, state) -> publish -> wait for the
 * broker's acknowledgement -> mark done -> answer. The answer is the same
 * whichever door the command came in by; the adapters (api.c for HTTP,
 * topic.c for the commands topic) only translate it. */
#ifndef INTAKE_SUBMIT_H
#define INTAKE_SUBMIT_H

#include <cJSON.h>
#include "commands.h"
#include "service.h"

typedef struct intake_conf {
    sp_common_conf common;
    long long idem_ttl_s;
    long long commands_max_bytes;
    long long erase_after_days; /* erase.h: days after closing before erasure */
    long long repair_after_s;      /* repair.h: pending this long is republished */
    long long repair_interval_ms;  /* repair.h: how often to look */
} intake_conf;

typedef struct intake_result {
    int status;        /* 201 done, 400, 404, 409, 422, 503 */
    const char *title; /* for problems */
    char detail[256];
    cJSON *errors;     /* {field, reason} array, or NULL; owned by the result */
    char case_id[40];
    char event_type[48];
    char event_id[160];
    char state[32];    /* the case's state after (or, on 409, before) */
    int replayed;      /* a repeat of an earlier command: nothing new published */
    char linked_case_id[40]; /* a SEN Support escalation: the EHC request opened */
} intake_result;

/* Called exactly once, possibly before intake_submit_*() returns. The
 * result is borrowed for the call. */
typedef void (*intake_done_cb)(sp_service *s, intake_result *res, void *opaque);

typedef enum {
    INTAKE_CREATE_REQUEST,     /* request.received, state received */
    INTAKE_CREATE_SEN_SUPPORT, /* sen_support.registered, state sen_support */
    INTAKE_CREATE_PLAN         /* plan.imported, state plan (an existing plan) */
} intake_create_kind;

/* A request for an EHC needs assessment, or a SEN Support plan registered by
 * a school: makes a case. */
void intake_submit_create(sp_service *s, intake_create_kind kind, const cJSON *body,
                          const char *idem_key, intake_done_cb cb, void *opaque);
/* A casework command on case_id. */
void intake_submit_command(sp_service *s, const intake_command *c, const char *case_id,
                           const cJSON *body, const char *idem_key, intake_done_cb cb,
                           void *opaque);

/* The idempotency key from a header (may be NULL) or the body; NULL if none
 * or longer than 128 characters. */
const char *intake_idempotency_key(const char *header, const cJSON *body);

#endif
