/* store.h - the evidence service's Redis keys. Nothing else reads them;
 * other services learn about advice from the evidence topic.
 *
 *   evidence:contact:<case_id>   hash  what request.received told us:
 *       {received_date, parent_email?, senco_email?, school_urn?}
 *   evidence:case:<case_id>      hash  adviser -> its advice:
 *       "requested|<requested_on>" or
 *       "received|<received_on>|<requested_on>|<document_ref>"
 *       (the reference is last, so it may hold '|')
 *   evidence:returned:<case_id>  hash  adviser -> the advice.received event
 *       exactly as first published, to re-announce after a replayed request
 *   evidence:idem:<sha256(idempotency key)>  hash {fp, state, event,
 *       complete, answer}: state "pending" holds the advice.received event
 *       (and, in "complete", the date evidence became complete) until the
 *       broker acknowledged it, so a retry after a crash republishes the
 *       same event instead of losing it; "done" holds the answer given, for
 *       repeats. Expires after evidence.idempotency.ttl_s. A return from
 *       the case-events topic (advice.returned) is keyed by the event's id
 *       and stays pending: the committed offset is its "done".
 *
 * A case is known once either of the first two keys exists. Requesting is
 * HSETNX per adviser, so a replayed decision never asks twice; recording a
 * return is one script (idempotency, the adviser's state, completeness), so
 * two returns racing cannot both be the last. */
#ifndef EVIDENCE_STORE_H
#define EVIDENCE_STORE_H

#include "redis.h"

/* What request.received gives us; borrowed; NULL fields are left out. */
typedef struct evidence_projection {
    const char *received_date;
    const char *parent_email;
    const char *senco_email;
    const char *school_urn;
} evidence_projection;

/* Records the contact of a case. cb gets the HSET reply. Returns 0 or -1
 * (not connected; cb not called). */
int evidence_store_project(sp_redis *r, const char *case_id, const evidence_projection *p,
                           sp_redis_cb cb, void *priv);

/* Marks advisers[0..n) requested on requested_on (YYYY-MM-DD) unless already
 * there. Reply to cb: an array of parent_email, senco_email, received_date
 * ("" when unknown), then per adviser, in order, its state value (as stored,
 * possibly from an earlier request) and its returned event ("" unless it
 * came back). Returns 0 or -1 (cb not called). */
int evidence_store_request(sp_redis *r, const char *case_id, const char *requested_on,
                           const char *const *advisers, int n, sp_redis_cb cb, void *priv);

typedef enum {
    EVIDENCE_RESERVE_NEW,            /* recorded: publish the event */
    EVIDENCE_RESERVE_PENDING,        /* an earlier attempt did not finish: republish */
    EVIDENCE_RESERVE_DONE,           /* a repeat: answer as the first time */
    EVIDENCE_RESERVE_KEY_REUSED,     /* same key, a different return */
    EVIDENCE_RESERVE_NO_CASE,        /* evidence has never heard of the case */
    EVIDENCE_RESERVE_NOT_ASKED,      /* the adviser was not asked on this case */
    EVIDENCE_RESERVE_RETURNED,       /* the adviser's advice already came back */
    EVIDENCE_RESERVE_BEFORE_REQUEST, /* dated before the advice was requested */
    EVIDENCE_RESERVE_ERROR           /* Redis failed */
} evidence_reserve_result;

/* The outcome of a reservation; strings borrowed for the callback only, ""
 * when they do not apply. event: the advice.received text to (re)publish;
 * complete: the date evidence became complete, if this return completed it;
 * answer: the first answer, for DONE; state: the adviser's state value, for
 * RETURNED and BEFORE_REQUEST. */
typedef struct evidence_reserved {
    evidence_reserve_result res;
    const char *event;
    const char *complete;
    const char *answer;
    const char *state;
} evidence_reserved;

typedef void (*evidence_reserve_cb)(const evidence_reserved *r, void *opaque);

typedef struct evidence_reservation {
    const char *idem_key;    /* as the client sent it */
    const char *fingerprint; /* evidence_store_fingerprint() */
    const char *case_id;
    const char *adviser;
    const char *received_on; /* YYYY-MM-DD */
    const char *document_ref;
    const char *event;       /* the advice.received text to hold while pending */
    long long idem_ttl_s;
} evidence_reservation;

/* Checks the key, the case and the adviser, then marks the advice received,
 * keeps the event, and says whether the case's evidence is now complete.
 * Returns 0 (cb called once) or -1 (not connected; cb not called). */
int evidence_store_reserve(sp_redis *r, const evidence_reservation *res,
                           evidence_reserve_cb cb, void *opaque);
/* Marks the reservation done and keeps answer for repeats. */
int evidence_store_done(sp_redis *r, const char *idem_key, const char *answer,
                        sp_redis_cb cb, void *priv);

/* Reads a case. Reply: an array {1 if the contact exists else 0, the case
 * hash as field/value pairs}. */
int evidence_store_read(sp_redis *r, const char *case_id, sp_redis_cb cb, void *priv);

#define EVIDENCE_FINGERPRINT_LEN 64
/* The request's fingerprint (hex SHA-256 of its fields), for telling a
 * repeat from a different return under the same key. out needs 65 bytes. */
void evidence_store_fingerprint(const char *const *fields, int n, char *out, size_t size);

/* One adviser's state value, parsed. */
typedef struct evidence_advice_state {
    int received;
    char requested_on[11];
    char received_on[11];     /* "" unless received */
    const char *document_ref; /* borrowed from the value; NULL unless received */
} evidence_advice_state;

/* Parses a value of evidence:case:<id>. Returns 0 or -1 (not a state). */
int evidence_store_state_parse(const char *value, evidence_advice_state *st);

#endif
