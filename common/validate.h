/* validate.h - checking JSON input field by field, collecting every error.
 *
 * Commands arrive as JSON over HTTP or Kafka. A caller wants every bad field
 * named at once, not the first one, so each check appends {field, reason} to
 * an error array and returns the value (or NULL / -1) so the caller can go on.
 * Fields are addressed by dotted paths ("child.date_of_birth"); the error names
 * the same path, which is what problem+json's errors[].field carries.
 *
 * Limits here (string lengths, array sizes) are the first line against
 * hostile input; the HTTP layer bounds the body size. */
#ifndef SP_VALIDATE_H
#define SP_VALIDATE_H

#include <cJSON.h>
#include "dates.h"

typedef struct sp_valid {
    cJSON *errors; /* array of {field, reason}; owned */
} sp_valid;

void sp_valid_init(sp_valid *v);
/* Returns the error array (ownership passes to the caller) or NULL if none. */
cJSON *sp_valid_take(sp_valid *v);
void sp_valid_free(sp_valid *v);
int sp_valid_ok(const sp_valid *v);
void sp_valid_error(sp_valid *v, const char *field, const char *reason);

/* Looks up a dotted path ("a.b.c") in obj; NULL if any step is missing. */
cJSON *sp_json_path(const cJSON *obj, const char *path);

/* Each returns the value, or NULL/-1 after recording an error (or, for an
 * optional field that is absent, NULL/-1 without an error). */
const char *sp_valid_string(sp_valid *v, const cJSON *obj, const char *path,
                            int required, size_t max_len);
const char *sp_valid_email(sp_valid *v, const cJSON *obj, const char *path,
                           int required);
const char *sp_valid_enum(sp_valid *v, const cJSON *obj, const char *path,
                          int required, const char *const *choices);
/* A "YYYY-MM-DD" date within [min, max]. Returns SP_DATE_INVALID on error or
 * absence. */
sp_date sp_valid_date(sp_valid *v, const cJSON *obj, const char *path,
                      int required, sp_date min, sp_date max);
/* Returns 0/1, or -1 on error or absence. */
int sp_valid_bool(sp_valid *v, const cJSON *obj, const char *path, int required);
/* An object at path; records an error if required and absent or not one. */
const cJSON *sp_valid_object(sp_valid *v, const cJSON *obj, const char *path,
                             int required);

/* 1 if s is a plausible single email address with no CR, LF or spaces. */
int sp_email_valid(const char *s);

#endif
