/* commands.h - every casework command intake accepts, as a table.
 *
 * A row names the command (its "command" value on the commands topic and its
 * path under POST /v1/cases/{id}/), its fields with their rules, the case
 * states it is allowed in, the state it moves the case to, and the event it
 * publishes. The state machine is thus readable in one place: a command that
 * does not fit the case's state is refused with 409 and publishes nothing.
 *
 * Creating commands (a request for assessment, a SEN Support plan) are in
 * request.h; they make a case rather than act on one. */
#ifndef INTAKE_COMMANDS_H
#define INTAKE_COMMANDS_H

#include <cJSON.h>
#include "dates.h"

typedef enum {
    INTAKE_F_DATE,      /* YYYY-MM-DD, not after today */
    INTAKE_F_ANY_DATE,  /* YYYY-MM-DD, within ten years either side */
    INTAKE_F_BOOL,
    INTAKE_F_STRING,
    INTAKE_F_ENUM,
    INTAKE_F_URN,       /* six digits */
    INTAKE_F_NAME,      /* a name another service keys on (an adviser): a-z first,
                         * then a-z, 0-9 and _; up to max_len */
    INTAKE_F_YEAR
} intake_field_kind;

typedef struct intake_field {
    const char *name;
    intake_field_kind kind;
    int required;
    /* Required only when this boolean field is false ("reasons" when a
     * decision is no). */
    const char *required_unless;
    /* Required only when this boolean field is true. */
    const char *required_if;
    size_t max_len;
    const char *const *choices;
} intake_field;

#define INTAKE_MAX_FIELDS 8

/* A command whose event depends on a boolean field ("assess": true or false)
 * names the field and the event and next state for false. */
typedef struct intake_command {
    const char *name;
    const char *path;
    intake_field fields[INTAKE_MAX_FIELDS];
    const char *from_states; /* ",received,assessing," */
    const char *event;
    const char *next_state;  /* NULL: unchanged */
    const char *switch_field;
    const char *event_if_false;
    const char *next_if_false;
    int releases_child; /* the child may be the subject of a new request */
} intake_command;

extern const intake_command intake_commands[];
extern const int intake_commands_count;

const intake_command *intake_command_by_name(const char *name);
const intake_command *intake_command_by_path(const char *path);

/* Checks body against the command's fields. Returns the event data (a new
 * object with the fields, normalised) or NULL with *errors set. */
cJSON *intake_command_parse(const intake_command *c, const cJSON *body, sp_date today,
                            cJSON **errors);
/* The field whose value the case's state does not allow (the decision a
 * mediation certificate is about must be one the case has had), or NULL:
 * refused with 409 naming it. */
const char *intake_command_state_refusal(const intake_command *c, const cJSON *data,
                                         const char *state);
/* The event type and next state this body selects. */
const char *intake_command_event(const intake_command *c, const cJSON *data,
                                 const char **next_state);

#endif
