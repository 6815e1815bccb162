/* returns.h - recording an adviser's return, whichever door it came in by.
 *
 * A return arrives over HTTP (api.c: POST /v1/cases/{id}/advice/{adviser})
 * or as advice.returned on the case-events topic (apply.c: intake accepted
 * the advice_received command). Both go through here, so both are checked
 * alike and recorded by the same reservation (store.h: the idempotency key,
 * the adviser was asked, not dated before the request, first return wins,
 * completeness), and both make the same events with the same ids. A door
 * only decides what to do with the outcome: HTTP publishes the events at once
 * and answers; the topic publishes them in its batch's order, and sends a
 * refused return to the dead-letter topic with the words HTTP would answer. */
#ifndef EVIDENCE_RETURNS_H
#define EVIDENCE_RETURNS_H

#include <cJSON.h>
#include "advisers.h"
#include "dates.h"
#include "ids.h"
#include "service.h"
#include "store.h"
#include "validate.h"

#define EVIDENCE_RETURN_TEXT_MAX 200 /* document_ref, author */
#define EVIDENCE_RETURN_KEY_MAX 200  /* an HTTP key (128), or an event id */

/* A return as given, borrowed from the caller for the call only. */
typedef struct evidence_return_input {
    const char *case_id;
    const char *adviser;
    const char *idem_key; /* HTTP: the client's; topic: the event's id */
    char date[11];
    const char *document_ref;
    const char *author;
} evidence_return_input;

/* Checks the adviser's name (NULL when missing) and the date, document_ref
 * and author of fields (nothing when fields is not an object: the caller
 * names that), the date from 10 years before today up to today. Sets those
 * members of in; each bad field is an error in v, named as HTTP names it. */
void evidence_return_check(sp_valid *v, const char *adviser, const cJSON *fields,
                           sp_date today, evidence_return_input *in);

/* The outcome of recording one return. */
typedef struct evidence_return {
    evidence_reserve_result res;
    char case_id[SP_CASE_ID_LEN + 1];
    char adviser[EVIDENCE_ADVISER_NAME_MAX + 1];
    char idem_key[EVIDENCE_RETURN_KEY_MAX + 1];
    char date[11];
    char document_ref[EVIDENCE_RETURN_TEXT_MAX + 1];
    /* NEW and PENDING: the events to publish on the evidence topic, on the
     * case's partition, in this order (cJSON allocator; a door may take
     * them, leaving NULL). complete is NULL unless this return was the last. */
    char *event;
    char *complete;
    /* DONE: the answer the first attempt gave. */
    char *answer;
    /* Any other res: the refusal as HTTP answers it. field is the one to
     * name in errors[] (with detail as its reason), or NULL. */
    int status;
    const char *title;
    const char *field;
    char detail[192];
    /* RETURNED: the advice on record has this return's date and reference,
     * so this is the same return come again, not a conflicting one. */
    int repeat;
} evidence_return;

/* Called exactly once with the outcome, which is the callee's: free it with
 * evidence_return_free. */
typedef void (*evidence_return_cb)(sp_service *s, evidence_return *ret, void *opaque);

/* Builds the advice.received event for in (checked) and reserves it.
 * Returns 0 (cb called once, later) or -1 (out of memory, a key longer than
 * EVIDENCE_RETURN_KEY_MAX, Redis not connected; cb not called). */
int evidence_return_record(sp_service *s, const evidence_return_input *in,
                           evidence_return_cb cb, void *opaque);

/* "409 Advice not requested: This adviser was not asked ...", for a refusal. */
void evidence_return_describe(const evidence_return *ret, char *buf, size_t size);

void evidence_return_free(evidence_return *ret);

#endif
