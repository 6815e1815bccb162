/* request.h - the request for an EHC needs assessment, as intake accepts it.
 *
 * Owns the shape and the rules of the command: which fields, which values,
 * which limits. The same checks apply whether the request came over HTTP or
 * the commands topic. proto/schemas/command.request.json is the contract an
 * integrator reads; this file is its enforcement and must agree with it. */
#ifndef INTAKE_REQUEST_H
#define INTAKE_REQUEST_H

#include <cJSON.h>
#include "dates.h"

#define INTAKE_CHILD_KEY_LEN 64 /* hex SHA-256 */

/* Checks body against the rules. today bounds the dates (nothing received in
 * the future). Returns the normalised request (a new object: free with
 * cJSON_Delete) or NULL with *errors set to a new array of {field, reason}. */
cJSON *intake_request_parse(const cJSON *body, sp_date today, cJSON **errors);

/* A SEN Support plan registered by a school: child, contact, school (all
 * required), outcomes_summary, date (registered) and next_review_date (the
 * review date agreed with the parent). Same conventions as above. */
cJSON *intake_sen_support_parse(const cJSON *body, sp_date today, cJSON **errors);

/* An EHC plan that existed before sendpath (an import): child, contact,
 * school (optional), plan_date (the day it was made), last_review_date
 * (optional, not before plan_date), transfer_year and transfer_phase
 * (optional). "date" is set to the last review, else the plan date: the
 * annual review counts from it. */
cJSON *intake_plan_parse(const cJSON *body, sp_date today, cJSON **errors);

/* A stable key for "the same child": SHA-256 of the UPN if given, else of the
 * normalised name and date of birth. Hashed so no personal data lands in a
 * Redis key. out gets 64 hex digits and a NUL. */
void intake_request_child_key(const cJSON *request, char *out, size_t size);

/* SHA-256 (hex) of a canonical print of request: two submissions with the same
 * idempotency key must carry the same request. */
void intake_request_fingerprint(const cJSON *request, char *out, size_t size);

#endif
