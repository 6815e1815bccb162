/* rules.c - the clock table and due-date arithmetic. See rules.h.
 *
 * Each row's source names the regulation (SEND Regulations 2014, "reg") or
 * the Code of Practice (CoP) where the limit is guidance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "holidays.h"
#include "rules.h"

const char *const timers_case_cancels[] = {"request.withdrawn", "case.closed", NULL};

static const timers_rule builtin_rules[] = {
    {"decision_to_assess", {"request.received"}, NULL, 6, TIMERS_UNIT_WEEKS, 0, 0, NULL,
     NULL, {"decision.assess", "decision.not_assess"}, {NULL}, 0, "reg 5(1), 5(3)",
     "Decide whether to assess, and tell the parent, within 6 weeks of the request"},
    {"advice", {"advice.requested"}, NULL, 6, TIMERS_UNIT_WEEKS, 0, 0, "adviser", NULL,
     {"advice.received"}, {NULL}, 0, "reg 8(1)",
     "Advice from each adviser within 6 weeks of the day they received the request"},
    {"no_plan_notice", {"decision.assess"}, "request_received_date", 16, TIMERS_UNIT_WEEKS,
     0, 0, NULL, NULL, {"decision.issue_plan", "decision.not_issue_plan"}, {NULL}, 0, "reg 10(1)",
     "Decide whether to issue a plan within 16 weeks of the request"},
    {"final_plan", {"decision.assess"}, "request_received_date", 20, TIMERS_UNIT_WEEKS, 0,
     0, NULL, NULL, {"final_plan.issued"}, {"decision.not_issue_plan"}, 0, "reg 13(2)",
     "Issue the final EHC plan within 20 weeks of the request"},
    {"draft_response", {"draft_plan.served"}, NULL, 15, TIMERS_UNIT_DAYS, 1, 0, NULL, NULL,
     {"representations.received", "final_plan.issued"}, {NULL}, 0, "reg 13(1)",
     "The parent has at least 15 days, starting with the day the draft is served"},
    {"school_consultation", {"school.consulted"}, NULL, 15, TIMERS_UNIT_DAYS, 0, 0,
     "school_urn", NULL, {"school.responded"}, {"final_plan.issued"}, 0, "CoP 9.83",
     "A school consulted on being named should respond within 15 days"},
    {"annual_review", {"final_plan.issued", "review.held", "plan.imported"}, NULL, 12,
     TIMERS_UNIT_MONTHS,
     1, 6, NULL, NULL, {"review.held"}, {NULL}, 0, "CFA 2014 s.44(1); CoP 9.166, 9.178",
     "Review the plan within 12 months of it being made, then of the last review "
     "(6 months for a child under 5)"},
    {"review_report", {"review.held"}, NULL, 2, TIMERS_UNIT_WEEKS, 0, 0, NULL, NULL,
     {"review_report.received"}, {NULL}, 0, "reg 20(8)",
     "The review report within 2 weeks of the review meeting"},
    {"review_decision", {"review.held"}, NULL, 4, TIMERS_UNIT_WEEKS, 0, 0, NULL, NULL,
     {"review.decision"}, {NULL}, 0, "reg 20(10); CoP 9.176",
     "Decide to maintain, amend or cease within 4 weeks of the review meeting"},
    {"amended_plan", {"amendment_notice.sent"}, NULL, 8, TIMERS_UNIT_WEEKS, 0, 0, NULL,
     NULL, {"amended_plan.issued"}, {NULL}, 0, "reg 22(3)",
     "Issue the amended plan within 8 weeks of the amendment notice"},
    {"phase_transfer", {"final_plan.issued", "review.decision", "plan.imported"}, NULL, 0,
     TIMERS_UNIT_PHASE_TRANSFER, 0, 0, NULL, NULL, {"amended_plan.issued"}, {NULL}, 0,
     "reg 18",
     "Review and amend the plan by 15 February of the transfer year (31 March for "
     "post-16)"},
    {"sen_support_review", {"sen_support.registered", "sen_support.review_held"}, NULL,
     0, TIMERS_UNIT_DATE_FIELD, 0, 0, NULL, "next_review_date",
     {"sen_support.review_held"}, {"sen_support.escalated"}, 0, "CoP 6.65-6.66",
     "The school reviews SEN Support on the date agreed with the parent"},
    {"appeal_window", {"decision.not_assess", "decision.not_issue_plan"}, NULL, 2,
     TIMERS_UNIT_MONTHS, 0, 0, NULL, NULL, {NULL}, {NULL}, TIMERS_RULE_INFORMATIONAL,
     "Tribunal Procedure (HESC) Rules 2008 r.20",
     "The parent may appeal within 2 months of the decision letter"},
    {"mediation_window", {"decision.not_assess", "decision.not_issue_plan"}, NULL, 2,
     TIMERS_UNIT_MONTHS, 0, 0, NULL, NULL, {NULL}, {NULL}, TIMERS_RULE_INFORMATIONAL,
     "reg 33",
     "The parent may contact a mediation adviser within 2 months of the decision"},
};

void timers_rules_init(timers_ruleset *set) {
    memset(set, 0, sizeof(*set));
    set->count = (int)(sizeof(builtin_rules) / sizeof(builtin_rules[0]));
    memcpy(set->rules, builtin_rules, sizeof(builtin_rules));
}

/* Copies s into the set's string storage; NULL when full. */
static const char *set_strdup(timers_ruleset *set, const char *s, size_t n) {
    if (set->used + n + 1 > sizeof(set->strings)) return NULL;
    char *p = set->strings + set->used;
    memcpy(p, s, n);
    p[n] = '\0';
    set->used += n + 1;
    return p;
}

static int parse_amount(const char *s, int *amount, timers_unit *unit) {
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || n <= 0 || n > 520) return -1;
    *amount = (int)n;
    if (!strcmp(end, "d")) *unit = TIMERS_UNIT_DAYS;
    else if (!strcmp(end, "w")) *unit = TIMERS_UNIT_WEEKS;
    else if (!strcmp(end, "m")) *unit = TIMERS_UNIT_MONTHS;
    else if (!strcmp(end, "wd")) *unit = TIMERS_UNIT_WORKING_DAYS;
    else return -1;
    return 0;
}

/* Parses one "name=start+5w/stop1,stop2" row into r. */
static int parse_milestone(timers_ruleset *set, char *row, timers_rule *r) {
    char *eq = strchr(row, '='), *plus, *slash, *save = NULL;
    int n = 0;
    if (!eq || !(plus = strchr(eq, '+')) || !(slash = strchr(plus, '/'))) return -1;
    *eq = *plus = *slash = '\0';
    if (!*row || strlen(row) >= sizeof(r->clock) || !eq[1]) return -1;
    snprintf(r->clock, sizeof(r->clock), "%s", row);
    if (parse_amount(plus + 1, &r->amount, &r->unit)) return -1;
    if (!(r->start_on[0] = set_strdup(set, eq + 1, strlen(eq + 1)))) return -1;
    for (char *t = strtok_r(slash + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == TIMERS_MAX_EVENTS || !(r->met_on[n++] = set_strdup(set, t, strlen(t))))
            return -1;
    }
    r->source = "local milestone (config)";
    r->summary = r->clock;
    return n > 0 ? 0 : -1;
}

int timers_rules_add_milestones(timers_ruleset *set, const char *spec, char *errstr,
                                size_t size) {
    char buf[2048], *save = NULL;
    if (!spec || !*spec) return 0;
    if (strlen(spec) >= sizeof(buf)) {
        snprintf(errstr, size, "timers.milestones: longer than %zu characters", sizeof(buf) - 1);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *row = strtok_r(buf, ";", &save); row; row = strtok_r(NULL, ";", &save)) {
        char copy[512];
        timers_rule r = {0};
        snprintf(copy, sizeof(copy), "%s", row);
        if (set->count == TIMERS_MAX_RULES || parse_milestone(set, row, &r)) {
            snprintf(errstr, size, "timers.milestones: cannot read '%s' (want "
                     "name=start.event+5w/stop.event[,stop.event])", copy);
            return -1;
        }
        if (timers_rules_find(set, r.clock)) {
            snprintf(errstr, size, "timers.milestones: clock '%s' already exists", r.clock);
            return -1;
        }
        set->rules[set->count++] = r;
    }
    return 0;
}

const timers_rule *timers_rules_find(const timers_ruleset *set, const char *clock) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->rules[i].clock, clock) == 0) return &set->rules[i];
    return NULL;
}

static int in_list(const char *const *list, const char *type) {
    for (int i = 0; i < TIMERS_MAX_EVENTS && list[i]; i++)
        if (strcmp(list[i], type) == 0) return 1;
    return 0;
}

int timers_rule_starts_on(const timers_rule *r, const char *type) {
    return in_list(r->start_on, type);
}

int timers_rule_met_on(const timers_rule *r, const char *type) {
    return in_list(r->met_on, type);
}

int timers_rule_cancel_on(const timers_rule *r, const char *type) {
    return in_list(r->cancel_on, type);
}

int timers_is_case_cancel(const char *type) {
    for (int i = 0; timers_case_cancels[i]; i++)
        if (strcmp(timers_case_cancels[i], type) == 0) return 1;
    return 0;
}

static int under_five(sp_date dob, sp_date on) {
    return dob != SP_DATE_INVALID && sp_date_add_months(dob, 60) > on;
}

sp_date timers_rule_due(const timers_rule *r, const timers_start_input *in,
                        const timers_counting *c) {
    sp_date due;
    int day_one = r->counts_start_day, amount = r->amount;
    switch (r->unit) {
    case TIMERS_UNIT_DAYS:
        due = sp_date_add_days(in->base, amount);
        break;
    case TIMERS_UNIT_WEEKS:
        due = sp_date_add_days(in->base, 7 * amount);
        day_one = day_one || (c && c->receipt_is_day_one);
        break;
    case TIMERS_UNIT_MONTHS: {
        int by, bm, bd, dy, dm, dd;
        if (r->under5_amount && under_five(in->child_dob, in->base)) amount = r->under5_amount;
        due = sp_date_add_months(in->base, amount);
        /* A period of months "starting with" a day ends the day before the
         * corresponding date, or, when the end month has no such date, on
         * that month's last day (29 Feb 2028 + 12 months -> 28 Feb 2029). */
        sp_date_split(in->base, &by, &bm, &bd);
        sp_date_split(due, &dy, &dm, &dd);
        if (day_one && dd < bd) day_one = 0;
        break;
    }
    case TIMERS_UNIT_WORKING_DAYS:
        return sp_add_working_days(c ? c->holidays : NULL, in->base, amount);
    case TIMERS_UNIT_DATE_FIELD:
        return in->due_field;
    case TIMERS_UNIT_PHASE_TRANSFER:
        if (in->transfer_year < 2014 || in->transfer_year > 2100) return SP_DATE_INVALID;
        return in->post16 ? sp_date_make(in->transfer_year, 3, 31)
                          : sp_date_make(in->transfer_year, 2, 15);
    default:
        return SP_DATE_INVALID;
    }
    if (in->base == SP_DATE_INVALID) return SP_DATE_INVALID;
    return day_one ? sp_date_add_days(due, -1) : due;
}
