/* validate.h - checking JSON input field by field, collecting every error.
 *
 * Commands arrive as JSON over HTTP or Kafka. A caller wants every bad field
 * named at once, not the first one, so each check appends {field, reason} to
 * an error array and returns the value (or NULL / -1) so the caller can go on.
 * Fields are addressed by dotted paths ("child.date_of_birth"); the error names
 * the same path, which is what problem+json's errors[].field carries.
 *
 * Limits here (string lengths, array sizes) are the first line against
 * hostile input; the HTTP layer bounds the body size, and
 * sp_json_parse_limited() bounds a document's size and nesting before any of
 * it is parsed, for HTTP bodies and topic messages alike. */
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

/* Limits on a JSON document as received (an HTTP body, a Kafka message). */
typedef struct sp_json_limits {
    size_t max_bytes; /* 0: no limit */
    int max_depth;    /* arrays and objects within each other; 0: no limit of
                       * ours (cJSON still stops at 1000) */
} sp_json_limits;

typedef enum sp_json_refusal {
    SP_JSON_OK = 0,
    SP_JSON_TOO_BIG,  /* longer than max_bytes */
    SP_JSON_TOO_DEEP, /* nested deeper than max_depth */
    SP_JSON_INVALID   /* not JSON */
} sp_json_refusal;

/* Parses text (len bytes, need not be NUL-terminated) if it is within lim.
 * The size and depth are checked on the text first, in one pass without
 * allocating, so a hostile document costs no more than its length. Returns
 * a new value (free with cJSON_Delete), or NULL with *refusal saying why
 * (refusal may be NULL). */
cJSON *sp_json_parse_limited(const char *text, size_t len, const sp_json_limits *lim,
                             sp_json_refusal *refusal);
/* The deepest nesting of arrays and objects in text, counted outside
 * strings: "{}" is 1, "[[1]]" is 2, "1" is 0. Stops counting past stop_at
 * (returns stop_at + 1) so the scan ends early on a hostile document. */
int sp_json_text_depth(const char *text, size_t len, int stop_at);
/* 1 if text nests deeper than max (sp_json_text_depth > max), else 0; the
 * scan is skipped when text holds no more than max opening brackets at
 * all, as nearly every message does. */
int sp_json_too_deep(const char *text, size_t len, int max);
/* "is larger than 1048576 bytes", "nests deeper than 32 levels", "is not
 * valid JSON": the reason for r, written into buf, as an errors[].reason. */
const char *sp_json_refusal_reason(sp_json_refusal r, const sp_json_limits *lim,
                                   char *buf, size_t size);

/* 1 if s is a plausible single email address with no CR, LF or spaces. */
int sp_email_valid(const char *s);

#endif
