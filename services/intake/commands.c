/* commands.c - the casework command table and its field checks. See
 * commands.h. Sources: the SEND Regulations 2014 for the steps, the Code of
 * Practice chapter 9 for the order they happen in. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "validate.h"

static const char *const clocks[] = {
    "decision_to_assess", "advice", "no_plan_notice", "final_plan", "draft_response",
    "school_consultation", "annual_review", "review_report", "review_decision",
    "amended_plan", "phase_transfer", "sen_support_review", NULL};
/* Regs 5(4), 8(2), 10(4), 13(3): why a time limit could not be met. */
static const char *const exception_reasons[] = {
    "school_closure", "early_years_closure", "exceptional_personal_circumstances",
    "absence_from_area", "missed_appointment", NULL};
static const char *const close_reasons[] = {"moved_away", "ceased", "other", NULL};
static const char *const review_outcomes[] = {"maintain", "amend", "cease", NULL};
static const char *const phases[] = {"primary_to_secondary", "secondary_to_post16",
                                     "early_years_to_school", "other", NULL};
/* The decisions a parent may appeal (and go to mediation about), by the
 * event that told them, and the states a case is in after each: a
 * certificate about one the case has not had is refused. */
static const char *const appealable[] = {
    "decision.not_assess", "decision.not_issue_plan", "final_plan.issued",
    "amended_plan.issued", "review.decision", "case.closed", NULL};
static const char *const appealable_states[] = {
    ",not_assessing,closed,", ",not_issuing,closed,", ",plan,closed,", ",plan,closed,",
    ",plan,closed,", ",closed,", NULL};

/* Rules between a command's fields and the case, beside the table so its
 * rows stay as they are: a choice allowed only in some states (parallel to
 * the field's choices), and a date not after another. */
static const struct {
    const char *command, *field;
    const char *const *states;
} choice_states[] = {{"mediation_certificate", "about", appealable_states}};
static const struct {
    const char *command, *field, *not_after;
} date_orders[] = {{"mediation_certificate", "decision_date", "date"}};

#define DATE {"date", INTAKE_F_DATE, 1, NULL, NULL, 0, NULL}
#define OPEN ",received,assessing,issuing,draft_served,plan,"

const intake_command intake_commands[] = {
    {"decision_to_assess", "decision-to-assess",
     {DATE, {"assess", INTAKE_F_BOOL, 1, NULL, NULL, 0, NULL},
      {"reasons", INTAKE_F_STRING, 0, "assess", NULL, 4000, NULL}},
     ",received,", "decision.assess", "assessing", "assess", "decision.not_assess",
     "not_assessing", 0},
    /* Reg 6 advice came back. Evidence records it from advice.returned, with
     * the same checks as a return POSTed to it (the adviser was asked, not
     * dated before the request); intake only knows the name's shape, as
     * authorities add advisers of their own in evidence's config. */
    {"advice_received", "advice-returns",
     {DATE, {"adviser", INTAKE_F_NAME, 1, NULL, NULL, 32, NULL},
      {"document_ref", INTAKE_F_STRING, 1, NULL, NULL, 200, NULL},
      {"author", INTAKE_F_STRING, 1, NULL, NULL, 200, NULL}},
     ",assessing,issuing,draft_served,", "advice.returned", NULL, NULL, NULL, NULL, 0},
    {"decision_to_issue", "decision-to-issue",
     {DATE, {"issue", INTAKE_F_BOOL, 1, NULL, NULL, 0, NULL},
      {"reasons", INTAKE_F_STRING, 0, "issue", NULL, 4000, NULL}},
     ",assessing,", "decision.issue_plan", "issuing", "issue", "decision.not_issue_plan",
     "not_issuing", 0},
    {"draft_plan", "draft-plan", {DATE}, ",issuing,draft_served,", "draft_plan.served",
     "draft_served", NULL, NULL, NULL, 0},
    {"representations", "representations",
     {DATE, {"school_requested", INTAKE_F_STRING, 0, NULL, NULL, 200, NULL},
      {"meeting_requested", INTAKE_F_BOOL, 0, NULL, NULL, 0, NULL}},
     ",draft_served,", "representations.received", NULL, NULL, NULL, NULL, 0},
    {"school_consulted", "school-consultations",
     {DATE, {"school_urn", INTAKE_F_URN, 1, NULL, NULL, 6, NULL},
      {"school_name", INTAKE_F_STRING, 0, NULL, NULL, 200, NULL}},
     ",issuing,draft_served,plan,", "school.consulted", NULL, NULL, NULL, NULL, 0},
    {"school_response", "school-responses",
     {DATE, {"school_urn", INTAKE_F_URN, 1, NULL, NULL, 6, NULL},
      {"agrees", INTAKE_F_BOOL, 1, NULL, NULL, 0, NULL}},
     ",issuing,draft_served,plan,", "school.responded", NULL, NULL, NULL, NULL, 0},
    {"final_plan", "final-plan",
     {DATE, {"transfer_year", INTAKE_F_YEAR, 0, NULL, NULL, 0, NULL},
      {"transfer_phase", INTAKE_F_ENUM, 0, NULL, NULL, 0, phases}},
     ",draft_served,", "final_plan.issued", "plan", NULL, NULL, NULL, 0},
    {"exception", "exceptions",
     {DATE, {"clock", INTAKE_F_ENUM, 1, NULL, NULL, 0, clocks},
      {"reason", INTAKE_F_ENUM, 1, NULL, NULL, 0, exception_reasons},
      {"qualifier", INTAKE_F_STRING, 0, NULL, NULL, 64, NULL}},
     OPEN, "exception.recorded", NULL, NULL, NULL, NULL, 0},
    {"withdraw", "withdraw", {DATE, {"reason", INTAKE_F_STRING, 0, NULL, NULL, 500, NULL}},
     ",received,assessing,issuing,draft_served,", "request.withdrawn", "withdrawn", NULL,
     NULL, NULL, 1},
    {"close", "close", {DATE, {"reason", INTAKE_F_ENUM, 1, NULL, NULL, 0, close_reasons}},
     ",received,assessing,not_assessing,issuing,not_issuing,draft_served,plan,"
     "sen_support,", "case.closed", "closed", NULL, NULL, NULL, 1},
    {"review_scheduled", "reviews/scheduled",
     {DATE, {"meeting_date", INTAKE_F_ANY_DATE, 1, NULL, NULL, 0, NULL}},
     ",plan,", "review.scheduled", NULL, NULL, NULL, NULL, 0},
    {"review_held", "reviews/held", {DATE}, ",plan,", "review.held", NULL, NULL, NULL, NULL, 0},
    {"review_report", "reviews/report", {DATE}, ",plan,", "review_report.received", NULL,
     NULL, NULL, NULL, 0},
    {"review_decision", "reviews/decision",
     {DATE, {"outcome", INTAKE_F_ENUM, 1, NULL, NULL, 0, review_outcomes},
      {"transfer_year", INTAKE_F_YEAR, 0, NULL, NULL, 0, NULL},
      {"transfer_phase", INTAKE_F_ENUM, 0, NULL, NULL, 0, phases}},
     ",plan,", "review.decision", NULL, NULL, NULL, NULL, 0},
    {"amendment_notice", "amendment-notice", {DATE}, ",plan,", "amendment_notice.sent", NULL,
     NULL, NULL, NULL, 0},
    {"amended_plan", "amended-plan",
     {DATE, {"transfer_year", INTAKE_F_YEAR, 0, NULL, NULL, 0, NULL}},
     ",plan,", "amended_plan.issued", NULL, NULL, NULL, NULL, 0},
    {"sen_support_review", "sen-support-review",
     {DATE, {"next_review_date", INTAKE_F_ANY_DATE, 0, "escalate", NULL, 0, NULL},
      {"escalate", INTAKE_F_BOOL, 1, NULL, NULL, 0, NULL},
      {"consent_to_share", INTAKE_F_BOOL, 0, NULL, "escalate", 0, NULL},
      {"notes", INTAKE_F_STRING, 0, NULL, NULL, 2000, NULL}},
     ",sen_support,", "sen_support.escalated", "sen_support", "escalate",
     "sen_support.review_held", "sen_support", 0},
    /* Regs 34-39 and Tribunal (HESC) Rules r.20: after mediation, the
     * certificate gives 1 month from its date (the command's date) to
     * appeal, if later than 2 months from the decision letter's date. */
    {"mediation_certificate", "mediation-certificate",
     {DATE,
      {"about", INTAKE_F_ENUM, 1, NULL, NULL, 0, appealable},
      {"decision_date", INTAKE_F_DATE, 1, NULL, NULL, 0, NULL}},
     ",not_assessing,not_issuing,plan,closed,", "mediation_certificate.issued", NULL,
     NULL, NULL, NULL, 0},
};
const int intake_commands_count = sizeof(intake_commands) / sizeof(intake_commands[0]);

const intake_command *intake_command_by_name(const char *name) {
    for (int i = 0; i < intake_commands_count; i++)
        if (strcmp(intake_commands[i].name, name) == 0) return &intake_commands[i];
    return NULL;
}

const intake_command *intake_command_by_path(const char *path) {
    for (int i = 0; i < intake_commands_count; i++)
        if (strcmp(intake_commands[i].path, path) == 0) return &intake_commands[i];
    return NULL;
}

/* Is the field required for this body? */
static int required(const intake_field *f, const cJSON *body) {
    if (f->required) return 1;
    if (f->required_if)
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, f->required_if));
    if (!f->required_unless) return 0;
    return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, f->required_unless));
}

/* What an INTAKE_F_NAME may hold after its first letter. */
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

static void parse_field(sp_valid *v, const intake_field *f, const cJSON *body,
                        sp_date today, cJSON *out) {
    int req = required(f, body);
    char buf[16];
    const char *s;
    switch (f->kind) {
    case INTAKE_F_DATE:
    case INTAKE_F_ANY_DATE: {
        sp_date lo = sp_date_add_months(today, -120), hi = f->kind == INTAKE_F_DATE
                                                              ? today
                                                              : sp_date_add_months(today, 120);
        sp_date d = sp_valid_date(v, body, f->name, req, lo, hi);
        if (d != SP_DATE_INVALID) cJSON_AddStringToObject(out, f->name, sp_date_iso(d, buf, 16));
        return;
    }
    case INTAKE_F_BOOL: {
        int b = sp_valid_bool(v, body, f->name, req);
        if (b >= 0) cJSON_AddBoolToObject(out, f->name, b);
        return;
    }
    case INTAKE_F_ENUM:
        if ((s = sp_valid_enum(v, body, f->name, req, f->choices)))
            cJSON_AddStringToObject(out, f->name, s);
        return;
    case INTAKE_F_URN:
        s = sp_valid_string(v, body, f->name, req, 8);
        if (s && (strlen(s) != 6 || strspn(s, "0123456789") != 6))
            sp_valid_error(v, f->name, "must be a 6-digit URN");
        else if (s)
            cJSON_AddStringToObject(out, f->name, s);
        return;
    case INTAKE_F_YEAR: {
        cJSON *y = cJSON_GetObjectItemCaseSensitive(body, f->name);
        if (!y && !req) return;
        if (!cJSON_IsNumber(y) || y->valuedouble != (double)y->valueint || y->valueint < 2014 ||
            y->valueint > 2100)
            sp_valid_error(v, f->name, "must be a year from 2014 to 2100");
        else
            cJSON_AddNumberToObject(out, f->name, y->valueint);
        return;
    }
    case INTAKE_F_NAME:
        s = sp_valid_string(v, body, f->name, req, f->max_len);
        if (s && (*s < 'a' || *s > 'z' || strspn(s, NAME_CHARS) != strlen(s)))
            sp_valid_error(v, f->name, "must be a-z, 0-9 and _, starting with a letter");
        else if (s)
            cJSON_AddStringToObject(out, f->name, s);
        return;
    case INTAKE_F_STRING:
        if ((s = sp_valid_string(v, body, f->name, req, f->max_len)))
            cJSON_AddStringToObject(out, f->name, s);
        return;
    }
}

cJSON *intake_command_parse(const intake_command *c, const cJSON *body, sp_date today,
                            cJSON **errors) {
    sp_valid v;
    cJSON *out = cJSON_CreateObject();
    sp_valid_init(&v);
    if (!cJSON_IsObject(body)) sp_valid_error(&v, "(body)", "must be a JSON object");
    for (int i = 0; cJSON_IsObject(body) && i < INTAKE_MAX_FIELDS && c->fields[i].name; i++)
        parse_field(&v, &c->fields[i], body, today, out);
    for (size_t i = 0; i < sizeof(date_orders) / sizeof(date_orders[0]); i++) {
        const char *a = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(out, date_orders[i].field));
        const char *b = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(out, date_orders[i].not_after));
        if (strcmp(date_orders[i].command, c->name) || !a || !b) continue;
        if (strcmp(a, b) > 0) { /* ISO dates sort as strings */
            char why[96];
            snprintf(why, sizeof(why), "must not be after %s", date_orders[i].not_after);
            sp_valid_error(&v, date_orders[i].field, why);
        }
    }
    if ((*errors = sp_valid_take(&v)) != NULL) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

const char *intake_command_state_refusal(const intake_command *c, const cJSON *data,
                                         const char *state) {
    char wrapped[40];
    snprintf(wrapped, sizeof(wrapped), ",%s,", state);
    if (!strstr(c->from_states, wrapped)) return NULL; /* the state's own 409 */
    for (size_t i = 0; i < sizeof(choice_states) / sizeof(choice_states[0]); i++) {
        const char *name = choice_states[i].field, *v;
        const intake_field *f = NULL;
        if (strcmp(choice_states[i].command, c->name)) continue;
        for (int k = 0; !f && k < INTAKE_MAX_FIELDS && c->fields[k].name; k++)
            if (!strcmp(c->fields[k].name, name)) f = &c->fields[k];
        v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, name));
        for (int k = 0; f && v && f->choices[k]; k++)
            if (!strcmp(v, f->choices[k]) && !strstr(choice_states[i].states[k], wrapped))
                return name;
    }
    return NULL;
}

const char *intake_command_event(const intake_command *c, const cJSON *data,
                                 const char **next_state) {
    if (c->switch_field &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(data, c->switch_field))) {
        *next_state = c->next_if_false;
        return c->event_if_false;
    }
    *next_state = c->next_state;
    return c->event;
}
