/* route.c - the routing table and the roles table. See route.h.
 *
 * Only the rows are policy; everything below them is a loop over rows.
 * docs/notifications.md lists every row in words: keep the two together. */
#include <stdio.h>
#include <string.h>
#include "dates.h"
#include "label.h"
#include "route.h"

/* ---- the tables ------------------------------------------------------------ */

/* Shorthand for the placeholders most rows supply. */
#define CASE(name, field) {name, NOTIFY_FROM_CASE, field, NOTIFY_AS_TEXT, 0, 0}
#define CASE_DATE(name, field) {name, NOTIFY_FROM_CASE, field, NOTIFY_AS_DATE_LONG, 0, 0}
#define EVENT(name, field) {name, NOTIFY_FROM_EVENT, field, NOTIFY_AS_TEXT, 0, 0}
#define EVENT_DATE(name, field) {name, NOTIFY_FROM_EVENT, field, NOTIFY_AS_DATE_LONG, 0, 0}
#define EVENT_DATE_PLUS(name, field, months, days)                                      \
    {name, NOTIFY_FROM_EVENT, field, NOTIFY_AS_DATE_LONG, months, days}
/* The last day to appeal a decision in a letter dated data.date, when no
 * clock tells it: 2 months from the date of the letter (Tribunal Procedure
 * (HESC) Rules 2008 r.20; months clamp to the month's end). The template
 * says that 1 month from a mediation certificate applies if that is later. */
#define APPEAL_BY EVENT_DATE_PLUS("appeal_last_date", "date", 2, 0)
#define PARENT_AND_CHILD CASE("parent_name", "contact_name"), CASE("child_name", "child_name")
/* Professionals need to know which child: names and date of birth. */
#define CHILD_IN_FULL                                                                   \
    CASE("child_name", "child_name"), CASE("child_family_name", "child_family_name"),   \
        CASE_DATE("child_date_of_birth", "child_date_of_birth")
#define CLOCK_IS(c) {"clock", NOTIFY_IS, c}
/* The parent's own advice and the child's views are asked of the parent, in
 * the parent's letter (advice_requested): not with the professionals'. */
#define NOT_ASKED_OF_PARENT {"qualifier", NOTIFY_IS_NOT, "parent|child_views"}
#define ALWAYS {{NULL, NOTIFY_IS, NULL}}
/* What caseworkers see of every deadline event. */
#define CASEWORKER_VARS                                                                 \
    CASE("child_name", "child_name"), CASE("child_family_name", "child_family_name"),   \
        EVENT("case_id", "case_id"), {"step", NOTIFY_FROM_EVENT, "clock", NOTIFY_AS_CLOCK, 0, 0}, \
        EVENT_DATE("due_date", "due_date")

const notify_route notify_routes[] = {
    /* ---- the parent or young person --------------------------------------- */
    /* On receipt of a request (reg 5(1)): the decision_to_assess clock starts
     * on the day the request was received and is due when the LA must say. */
    {"deadline.started", {CLOCK_IS("decision_to_assess")}, "parent", "request_received", 0,
     {PARENT_AND_CHILD, EVENT_DATE("received_date", "started_on"),
      EVENT_DATE("decision_date", "due_date")}},
    /* A decision to assess starts final_plan (20 weeks, reg 13(2)) and
     * no_plan_notice (16 weeks, reg 10(1)), both counted from the request. */
    {"deadline.started", {CLOCK_IS("final_plan")}, "parent", "decision_to_assess", 0,
     {PARENT_AND_CHILD, EVENT_DATE("received_date", "started_on"),
      CASE_DATE("no_plan_date", "no_plan_date"), EVENT_DATE("final_plan_date", "due_date")}},
    /* A "no" gives the reasons, the right of appeal, the mediation and appeal
     * dates (the appeal_window and mediation_window clocks' due dates, reg
     * 5(3), reg 33) and the offer of SENDIASS and an independent supporter. */
    {"decision.not_assess", ALWAYS, "parent", "decision_not_to_assess", 0,
     {PARENT_AND_CHILD, EVENT_DATE("decision_date", "date"),
      {"reasons", NOTIFY_FROM_EVENT, "reasons", NOTIFY_AS_PARAGRAPH, 0, 0},
      CASE_DATE("mediation_last_date", "mediation_last_date"),
      CASE_DATE("appeal_last_date", "appeal_last_date")}},
    /* Whom the LA asked for advice (reg 6): one letter for all advisers asked
     * on one date, and the parent's own advice and the child's views. */
    {"advice.requested", ALWAYS, "parent", "advice_requested", 1,
     {PARENT_AND_CHILD, EVENT_DATE("requested_date", "date"),
      {"advisers", NOTIFY_FROM_CASE, "advisers_asked", NOTIFY_AS_ADVISER_LIST, 0, 0},
      CASE_DATE("due_date", "advice_due_date")}},
    /* No plan after the assessment (reg 10): the same rights as a "no". */
    {"decision.not_issue_plan", ALWAYS, "parent", "decision_not_to_issue", 0,
     {PARENT_AND_CHILD, EVENT_DATE("decision_date", "date"),
      {"reasons", NOTIFY_FROM_EVENT, "reasons", NOTIFY_AS_PARAGRAPH, 0, 0},
      CASE_DATE("mediation_last_date", "mediation_last_date"),
      CASE_DATE("appeal_last_date", "appeal_last_date")}},
    /* The draft plan and the parent's 15 days (reg 13(1)): draft_response. */
    {"deadline.started", {CLOCK_IS("draft_response")}, "parent", "draft_plan_served", 0,
     {PARENT_AND_CHILD, EVENT_DATE("served_date", "started_on"),
      EVENT_DATE("last_date", "due_date")}},
    /* The final plan, and the date of its first annual review. */
    {"final_plan.issued", ALWAYS, "parent", "final_plan_issued", 0,
     {PARENT_AND_CHILD, EVENT_DATE("issued_date", "date"),
      CASE_DATE("review_date", "annual_review_date"), APPEAL_BY}},
    /* The annual review meeting (reg 20), and the decision after it. */
    {"review.scheduled", ALWAYS, "parent", "review_invitation", 0,
     {PARENT_AND_CHILD, EVENT_DATE("meeting_date", "meeting_date")}},
    /* Keeping the plan unchanged and ceasing it can be appealed; an
     * amendment is appealed when the amended plan comes. */
    {"review.decision", {{"outcome", NOTIFY_IS, "maintain"}}, "parent",
     "review_decision_maintain", 0,
     {PARENT_AND_CHILD, EVENT_DATE("decision_date", "date"), APPEAL_BY}},
    {"review.decision", {{"outcome", NOTIFY_IS, "amend"}}, "parent", "review_decision_amend",
     0, {PARENT_AND_CHILD, EVENT_DATE("decision_date", "date")}},
    {"review.decision", {{"outcome", NOTIFY_IS, "cease"}}, "parent", "review_decision_cease",
     0, {PARENT_AND_CHILD, EVENT_DATE("decision_date", "date"), APPEAL_BY}},
    /* Amending a plan (reg 22): amendment_notice.sent starts amended_plan,
     * due 8 weeks after the notice; the parent has at least 15 days,
     * beginning with the day of the notice, to reply (as for a draft). */
    {"deadline.started", {CLOCK_IS("amended_plan")}, "parent", "amendment_notice", 0,
     {PARENT_AND_CHILD, EVENT_DATE("notice_date", "started_on"),
      EVENT_DATE_PLUS("reply_by", "started_on", 0, 14),
      EVENT_DATE("amended_plan_date", "due_date")}},
    {"amended_plan.issued", ALWAYS, "parent", "amended_plan_issued", 0,
     {PARENT_AND_CHILD, EVENT_DATE("issued_date", "date"), APPEAL_BY}},
    /* A move to a new phase (reg 18): the amended plan naming the next
     * school or college is due 15 February of the transfer year (31 March
     * from secondary to post-16); timers carries the date. */
    {"deadline.started", {CLOCK_IS("phase_transfer")}, "parent", "phase_transfer", 0,
     {PARENT_AND_CHILD, EVENT_DATE("plan_by", "due_date")}},
    /* The end of a case: a withdrawn request; a closed case. Ceasing to
     * maintain a plan can be appealed (reg 32); a move away or another
     * reason cannot. */
    {"request.withdrawn", ALWAYS, "parent", "request_withdrawn", 0,
     {PARENT_AND_CHILD, EVENT_DATE("withdrawn_date", "date")}},
    {"case.closed", {{"reason", NOTIFY_IS, "ceased"}}, "parent", "case_closed_ceased", 0,
     {PARENT_AND_CHILD, EVENT_DATE("closed_date", "date"), APPEAL_BY}},
    {"case.closed", {{"reason", NOTIFY_IS_NOT, "ceased"}}, "parent", "case_closed", 0,
     {PARENT_AND_CHILD, EVENT_DATE("closed_date", "date")}},
    /* A mediation certificate (regs 34-39) about an appealable decision:
     * the last day to appeal is the later of the decision's 2 months and
     * the certificate's 1 month (HESC Rules r.20). */
    {"mediation_certificate.issued", ALWAYS, "parent", "mediation_certificate", 0,
     {PARENT_AND_CHILD, EVENT_DATE("certificate_date", "date"),
      EVENT_DATE("decision_date", "decision_date"),
      {"decision", NOTIFY_FROM_EVENT, "about", NOTIFY_AS_DECISION, 0, 0},
      {"appeal_last_date", NOTIFY_FROM_EVENT, "date", NOTIFY_AS_APPEAL_AFTER_MEDIATION, 1,
       0}}},
    /* SEN Support: a reminder of the agreed review (CoP 6.65), at the first
     * approaching point only: one reminder, not one a week. */
    {"deadline.approaching", {CLOCK_IS("sen_support_review"), {"seq", NOTIFY_IS, "0"}},
     "parent", "sen_support_review_reminder", 0,
     {PARENT_AND_CHILD, CASE("school_name", "school_name"),
      EVENT_DATE("review_date", "due_date")}},

    /* ---- the school's SENCO and the other advisers ------------------------- */
    /* A request for advice, due 6 weeks on (reg 8(1)): the advice clock. */
    {"deadline.started", {CLOCK_IS("advice"), NOT_ASKED_OF_PARENT}, "adviser",
     "advice_request", 0,
     {CHILD_IN_FULL, {"advice", NOTIFY_FROM_EVENT, "qualifier", NOTIFY_AS_ADVICE, 0, 0},
      EVENT_DATE("requested_date", "started_on"), EVENT_DATE("due_date", "due_date")}},
    {"deadline.approaching", {CLOCK_IS("advice"), NOT_ASKED_OF_PARENT}, "adviser",
     "advice_reminder", 0,
     {CHILD_IN_FULL, {"advice", NOTIFY_FROM_EVENT, "qualifier", NOTIFY_AS_ADVICE, 0, 0},
      EVENT_DATE("requested_date", "started_on"), EVENT_DATE("due_date", "due_date"),
      EVENT("working_days_left", "working_days_left")}},
    {"deadline.overdue", {CLOCK_IS("advice"), NOT_ASKED_OF_PARENT}, "adviser",
     "advice_overdue", 0,
     {CHILD_IN_FULL, {"advice", NOTIFY_FROM_EVENT, "qualifier", NOTIFY_AS_ADVICE, 0, 0},
      EVENT_DATE("requested_date", "started_on"), EVENT_DATE("due_date", "due_date"),
      EVENT("days_overdue", "days_overdue")}},
    /* Consultation on naming the school (CoP 9.83), started by
     * school.consulted: the clock carries the 15-day reply date. Sent only
     * when notify knows that school's SENCO (today: the case's own school). */
    {"deadline.started", {CLOCK_IS("school_consultation")}, "consulted_school",
     "school_consultation", 0,
     {CASE("school_name", "school_name"), CHILD_IN_FULL,
      EVENT_DATE("consulted_date", "started_on"), EVENT_DATE("reply_by", "due_date")}},
    /* The review report, due 2 weeks after the meeting (reg 20). */
    {"deadline.approaching", {CLOCK_IS("review_report")}, "school", "review_report_due", 0,
     {CASE("school_name", "school_name"), CHILD_IN_FULL,
      EVENT_DATE("meeting_date", "started_on"), EVENT_DATE("due_date", "due_date")}},

    /* ---- the caseworkers' mailbox (notify.caseworker_email; empty: off) ------- */
    {"deadline.approaching", ALWAYS, "caseworker", "caseworker_deadline_approaching", 0,
     {CASEWORKER_VARS, EVENT("working_days_left", "working_days_left")}},
    /* The informational clocks' "due" is the parent's last day, not a duty. */
    {"deadline.due", {{"clock", NOTIFY_IS_NOT, "appeal_window|mediation_window"}},
     "caseworker", "caseworker_deadline_due", 0, {CASEWORKER_VARS}},
    {"deadline.overdue", ALWAYS, "caseworker", "caseworker_deadline_overdue", 0,
     {CASEWORKER_VARS, EVENT("days_overdue", "days_overdue")}},
};
const size_t notify_routes_count = sizeof(notify_routes) / sizeof(notify_routes[0]);

/* Where each role's address comes from: all contact fields, whose own source
 * (the case, a fact, a setting) is in contact.c. */
static const notify_role notify_roles[] = {
    /* the case's contact: the parent, or the young person */
    {"parent", "contact_name", "contact_email", "channel", "postal_address"},
    /* the case's school: its SENCO */
    {"school", "school_name", "senco_email", NULL, NULL},
    /* the adviser a deadline of the advice clock is about (fact) */
    {"adviser", NULL, "adviser_email", NULL, NULL},
    /* the school consulted on being named, if notify knows its SENCO (fact) */
    {"consulted_school", "school_name", "consulted_senco_email", NULL, NULL},
    /* the caseworkers' team mailbox (setting) */
    {"caseworker", NULL, "caseworker_email", NULL, NULL},
};

static const notify_role *role_find(const char *name) {
    for (size_t i = 0; i < sizeof(notify_roles) / sizeof(notify_roles[0]); i++)
        if (strcmp(notify_roles[i].name, name) == 0) return &notify_roles[i];
    return NULL;
}

static size_t route_nvars(const notify_route *r) {
    size_t n = 0;
    while (n < NOTIFY_ROUTE_VARS_MAX && r->vars[n].name) n++;
    return n;
}

/* The text of a data field: a string as it is, an integer as decimal digits
 * (written into buf). NULL if absent or another type. */
static const char *event_text(const sp_event *ev, const char *field, char *buf,
                              size_t size) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(ev->data, field);
    if (cJSON_IsString(j)) return j->valuestring;
    if (!cJSON_IsNumber(j) || j->valuedouble != (double)(long long)j->valuedouble)
        return NULL;
    snprintf(buf, size, "%lld", (long long)j->valuedouble);
    return buf;
}

/* ---- start-up checks ------------------------------------------------------- */

/* The fields a row reads from the contact must exist in the projection. */
static int route_check_fields(const notify_route *r, char *errstr, size_t size) {
    const notify_role *role = role_find(r->role);
    const char *need[4 + NOTIFY_ROUTE_VARS_MAX];
    size_t n = 0;
    if (!role) {
        snprintf(errstr, size, "unknown role '%s'", r->role);
        return -1;
    }
    if (role->name_field) need[n++] = role->name_field;
    need[n++] = role->email_field;
    if (role->channel_field) need[n++] = role->channel_field;
    if (role->address_field) need[n++] = role->address_field;
    for (size_t i = 0; i < route_nvars(r); i++)
        if (r->vars[i].from == NOTIFY_FROM_CASE) need[n++] = r->vars[i].field;
    for (size_t i = 0; i < n; i++)
        if (notify_contact_field_index(need[i]) < 0) {
            snprintf(errstr, size, "no contact field '%s'", need[i]);
            return -1;
        }
    return 0;
}

/* Checks row i and finds its template. Returns 0, or -1 with errstr. */
static int route_bind(size_t i, const sp_templates *set, const sp_template **tpl,
                      char *errstr, size_t size) {
    const notify_route *r = &notify_routes[i];
    const char *names[NOTIFY_ROUTE_VARS_MAX];
    size_t n = route_nvars(r);
    char err[256];
    for (size_t j = 0; j < n; j++) names[j] = r->vars[j].name;
    if (route_check_fields(r, err, sizeof(err)) == 0) {
        if (!(*tpl = sp_templates_find(set, r->template_name)))
            snprintf(err, sizeof(err), "no template file %s.txt", r->template_name);
        else if (sp_template_check(*tpl, names, n, err, sizeof(err)) == 0)
            return 0;
    }
    snprintf(errstr, size, "route %zu (%s -> %s, %s): %s", i, r->event_type, r->role,
             r->template_name, err);
    return -1;
}

int notify_routes_bind(const sp_templates *set, const sp_template **templates,
                       char *errstr, size_t size) {
    for (size_t i = 0; i < notify_routes_count; i++)
        if (route_bind(i, set, &templates[i], errstr, size)) return -1;
    return 0;
}

/* ---- per event ------------------------------------------------------------- */

/* 1 if v is one of the '|'-separated values. */
static int list_has(const char *values, const char *v) {
    size_t len = strlen(v);
    for (const char *p = values; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
        if (strncmp(p, v, len) == 0 && (p[len] == '|' || p[len] == '\0')) return 1;
    return 0;
}

static int when_holds(const notify_when *w, const sp_event *ev) {
    char buf[32];
    if (!w->field) return 1;
    const char *v = event_text(ev, w->field, buf, sizeof(buf));
    int in = v && list_has(w->values, v);
    return w->op == NOTIFY_IS ? in : !in;
}

int notify_route_matches(const notify_route *r, const sp_event *ev) {
    if (strcmp(r->event_type, ev->type) != 0) return 0;
    for (size_t i = 0; i < NOTIFY_WHEN_MAX; i++)
        if (!when_holds(&r->when[i], ev)) return 0;
    return 1;
}

int notify_routes_any(const sp_event *ev) {
    for (size_t i = 0; i < notify_routes_count; i++)
        if (notify_route_matches(&notify_routes[i], ev)) return 1;
    return 0;
}

const char *notify_route_email_field(const notify_route *r) {
    const notify_role *role = role_find(r->role);
    return role ? role->email_field : NULL;
}

int notify_route_needs(const notify_route *r, const sp_event *ev,
                       notify_fact_needs *needs, char *errstr, size_t size) {
    const notify_role *role = role_find(r->role);
    if (!role) {
        snprintf(errstr, size, "unknown role '%s'", r->role);
        return -1;
    }
    if (notify_contact_need(needs, role->email_field, ev, errstr, size)) return -1;
    for (size_t i = 0; i < route_nvars(r); i++)
        if (r->vars[i].from == NOTIFY_FROM_CASE &&
            notify_contact_need(needs, r->vars[i].field, ev, errstr, size))
            return -1;
    return 0;
}

int notify_route_check_event(const notify_route *r, const sp_event *ev,
                             char *errstr, size_t size) {
    char buf[NOTIFY_VALUE_MAX];
    notify_fact_needs needs = {0};
    sp_date d;
    for (size_t i = 0; i < route_nvars(r); i++) {
        const notify_var *v = &r->vars[i];
        if (v->from != NOTIFY_FROM_EVENT) continue;
        const char *raw = event_text(ev, v->field, buf, sizeof(buf));
        int dated = v->as == NOTIFY_AS_DATE_LONG || v->as == NOTIFY_AS_APPEAL_AFTER_MEDIATION;
        if (!raw || (dated && sp_date_parse(raw, &d))) {
            snprintf(errstr, size, "data.%s is missing or malformed (%s needs it)",
                     v->field, r->template_name);
            return -1;
        }
    }
    return notify_route_needs(r, ev, &needs, errstr, size);
}

/* Writes text wrapped to lines of at most width bytes, breaking at spaces
 * (a word longer than a line is broken where it must be, between UTF-8
 * sequences); the text's own line breaks are kept, carriage returns dropped. */
static void paragraph_wrap(const char *text, char *buf, size_t size, size_t width) {
    size_t o = 0, line = 0;
    for (const char *p = text; *p && o + 1 < size;) {
        if (*p == '\n') {
            buf[o++] = '\n';
            line = 0, p++;
            continue;
        }
        if (*p == ' ' || *p == '\r' || *p == '\t') {
            p++;
            continue;
        }
        size_t word = strcspn(p, " \n\r\t");
        if (word > width) /* too long for any line: take what fits */
            for (word = width; word > 1 && ((unsigned char)p[word] & 0xC0) == 0x80; word--)
                ;
        if (line && line + 1 + word > width)
            buf[o++] = '\n', line = 0;
        else if (line)
            buf[o++] = ' ', line++;
        if (o + word + 1 > size) break; /* cut short: keep what fits */
        memcpy(buf + o, p, word);
        o += word, line += word, p += word;
    }
    buf[o] = '\0';
}

/* Formats one value into buf. Returns buf, or NULL if the format does not
 * fit the value. */
static const char *value_format(const notify_var *v, const char *raw,
                                const sp_event *ev, char *buf, size_t size) {
    sp_date d;
    switch (v->as) {
    case NOTIFY_AS_TEXT: snprintf(buf, size, "%s", raw); return buf;
    case NOTIFY_AS_DATE_LONG:
        if (sp_date_parse(raw, &d)) return NULL;
        d = sp_date_add_days(sp_date_add_months(d, v->add_months), v->add_days);
        return d == SP_DATE_INVALID ? NULL : sp_date_long(d, buf, size);
    case NOTIFY_AS_PARAGRAPH: paragraph_wrap(raw, buf, size, 72); return buf;
    case NOTIFY_AS_ADVICE: return notify_label_advice(raw, buf, size);
    case NOTIFY_AS_ADVISER_LIST: return notify_label_adviser_list(raw, buf, size);
    case NOTIFY_AS_CLOCK:
        return notify_label_clock(raw, sp_event_str(ev, "qualifier"), buf, size);
    case NOTIFY_AS_DECISION: return notify_label_decision(raw, buf, size);
    case NOTIFY_AS_APPEAL_AFTER_MEDIATION: {
        sp_date decided;
        const char *from = sp_event_str(ev, "decision_date");
        if (sp_date_parse(raw, &d) || !from || sp_date_parse(from, &decided)) return NULL;
        d = sp_date_add_months(d, v->add_months);
        decided = sp_date_add_months(decided, 2);
        if (d == SP_DATE_INVALID || decided == SP_DATE_INVALID) return NULL;
        return sp_date_long(decided > d ? decided : d, buf, size);
    }
    }
    return NULL;
}

/* Copies s to dst, breaking every "((" into "( (": template.h refuses a
 * value holding "((" (it could pass for a placeholder), and a parent's name
 * or a caseworker's reasons should not stop a letter. Returns the bytes
 * written, or 0 if they do not fit. */
static size_t value_defuse(char *dst, size_t size, const char *s) {
    size_t o = 0;
    for (; *s; s++) {
        if (o + 2 >= size) return 0;
        if (*s == '(' && o && dst[o - 1] == '(') dst[o++] = ' ';
        dst[o++] = *s;
    }
    dst[o] = '\0';
    return o + 1;
}

int notify_route_values(const notify_route *r, const sp_event *ev,
                        const notify_contact *c, notify_values *out,
                        char *errstr, size_t size) {
    char tmp[NOTIFY_VALUES_BUF], num[32];
    size_t used = 0;
    out->n = 0;
    for (size_t i = 0; i < route_nvars(r); i++) {
        const notify_var *v = &r->vars[i];
        const char *raw = v->from == NOTIFY_FROM_EVENT
                              ? event_text(ev, v->field, num, sizeof(num))
                              : notify_contact_get(c, v->field);
        const char *val = raw ? value_format(v, raw, ev, tmp, sizeof(tmp)) : NULL;
        size_t n = val ? value_defuse(out->buf + used, sizeof(out->buf) - used, val) : 0;
        if (!n) {
            snprintf(errstr, size, "%s.%s is missing, malformed or too long (%s needs it)",
                     v->from == NOTIFY_FROM_EVENT ? "data" : "contact", v->field,
                     r->template_name);
            return -1;
        }
        out->vars[out->n].name = v->name;
        out->vars[out->n++].value = out->buf + used;
        used += n;
    }
    return 0;
}

int notify_route_recipient(const notify_route *r, const notify_contact *c,
                           notify_recipient *out) {
    const notify_role *role = role_find(r->role);
    const char *channel, *name;
    if (!role) return -1;
    channel = role->channel_field ? notify_contact_get(c, role->channel_field) : NULL;
    name = role->name_field ? notify_contact_get(c, role->name_field) : NULL;
    out->role = role->name;
    out->name = name ? name : "";
    out->email = notify_contact_get(c, role->email_field);
    out->address = NULL;
    /* Post when asked for, and as the way left when there is no email. */
    if (role->address_field && ((channel && !strcmp(channel, "post")) || !out->email))
        out->address = notify_contact_get(c, role->address_field);
    return out->email || out->address ? 0 : -1;
}
