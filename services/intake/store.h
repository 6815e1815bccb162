/* store.h - intake's Redis keys: idempotency records, open cases per child,
 * and each case's state. Nothing else reads these keys; other services learn
 * about cases from the case-events topic.
 *
 *   intake:idem:<sha256(idempotency key)>  hash {case_id, state, event, fp,
 *                                                etype, eid}
 *       state "pending" holds the event text until the broker acknowledged it,
 *       so a retry after a crash republishes the same event (same id) instead
 *       of losing it; "done" answers repeats. Expires after idem_ttl_s.
 *   intake:child:<child key>               string: the child's open case id
 *   intake:case:<case id>                  hash {state, child, received_date,
 *                                                date_of_birth, kind, profile,
 *                                                school_urn, state_date}
 *       school_urn is the school the case names, for the access check of a
 *       school's token (auth.h); absent when it names none. state_date is the
 *       business date of the command that last moved the state (the date a
 *       case closed, for erasure's retention: erase.h).
 *   intake:pending                         sorted set: the intake:idem:* keys
 *       still pending, scored by when they were reserved (Redis TIME, ms);
 *       repair.c republishes those left longer than repair.after_s
 *   intake:erased                          set: sha256 of each erased case id
 *       (erase.h, common/erasure.h)
 *
 * The reservation is one Lua script, so two concurrent requests for the same
 * child or key cannot both win. */
#ifndef INTAKE_STORE_H
#define INTAKE_STORE_H

#include "redis.h"

typedef enum {
    INTAKE_RESERVE_NEW,        /* reserved: publish the event */
    INTAKE_RESERVE_PENDING,    /* an earlier attempt did not finish: republish */
    INTAKE_RESERVE_DONE,       /* a repeat: answer as the first time */
    INTAKE_RESERVE_CHILD_OPEN, /* the child already has an open case */
    INTAKE_RESERVE_KEY_REUSED, /* same idempotency key, different request */
    INTAKE_RESERVE_NO_CASE,    /* a command for a case that does not exist */
    INTAKE_RESERVE_CONFLICT,   /* the case's state does not allow the command */
    INTAKE_RESERVE_ERROR       /* Redis failed */
} intake_reserve_result;

/* case_id: the (existing or new) case; event: the text to (re)publish, for
 * NEW and PENDING; the case's state, for CONFLICT; "<type>\t<id>\t<state>"
 * of the first answer, for DONE. Both borrowed for the
 * callback only. */
typedef void (*intake_reserve_cb)(intake_reserve_result res, const char *case_id,
                                  const char *event, void *opaque);

typedef struct intake_reservation {
    const char *idem_key;  /* as the client sent it */
    const char *child_key; /* intake_request_child_key() */
    const char *fingerprint;
    const char *case_id;   /* a fresh id, used if NEW */
    const char *event;     /* the event text to hold while pending */
    const char *received_date;
    const char *date_of_birth;
    const char *kind;      /* "ehc" or "sen_support" */
    const char *state;     /* the new case's state */
    const char *profile;   /* SEN Support: child, contact and school (JSON), kept
                              so an escalation can open the EHC request */
    long long idem_ttl_s;
    const char *school_urn; /* NULL or "": the case names no school */
} intake_reservation;

/* Returns 0 (cb will be called once) or -1 (Redis not connected). */
int intake_store_reserve(sp_redis *r, const intake_reservation *res,
                         intake_reserve_cb cb, void *opaque);
/* A command on an existing case: checks the idempotency key, that the case
 * exists and that its state is one of allowed (",a,b,"), then moves it to
 * next_state (NULL: unchanged) and holds event until done. release_child
 * frees the child for a new request (withdrawn, closed). */
typedef struct intake_command_reservation {
    const char *idem_key;
    const char *fingerprint;
    const char *case_id;
    const char *allowed;
    const char *next_state;
    const char *event;
    const char *child_key; /* from intake_store_case_read */
    int release_child;
    long long idem_ttl_s;
    const char *date; /* the command's business date, or NULL */
} intake_command_reservation;

int intake_store_reserve_command(sp_redis *r, const intake_command_reservation *res,
                                 intake_reserve_cb cb, void *opaque);

/* Reads a case's fields (state, child, received_date, date_of_birth, kind,
 * profile, school_urn);
 * the reply to cb is an array in that order, nil where absent. */
int intake_store_case_read(sp_redis *r, const char *case_id, sp_redis_cb cb, void *priv);

#define INTAKE_PENDING_KEY "intake:pending"

/* Marks the idempotency record done (the event is on the topic) and takes it
 * out of intake:pending. _key takes the record's Redis key (intake:idem:...)
 * rather than the client's idempotency key. Return 0 or -1 as
 * sp_redis_command. */
int intake_store_done(sp_redis *r, const char *idem_key, const char *event_type,
                      const char *event_id, sp_redis_cb cb, void *opaque);
int intake_store_done_key(sp_redis *r, const char *idem_redis_key, const char *event_type,
                          const char *event_id, sp_redis_cb cb, void *opaque);

/* Up to max reservations pending for longer than older_ms, leased to the
 * caller (repair.c): the reply to cb is a flat array of (idem Redis key,
 * case id, event text) triples. */
int intake_store_stale(sp_redis *r, long long older_ms, int max, sp_redis_cb cb,
                       void *opaque);

#endif
