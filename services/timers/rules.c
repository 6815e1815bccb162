/* rules.c - the clock table and due-date arithmetic. See rules.h. */
#include <string.h>
#include "holidays.h"
#include "rules.h"

const timers_rule timers_rules[] = {
    {"decision_to_assess", "request.received", "received_date", 6, TIMERS_UNIT_WEEKS, 0,
     {"decision.assess", "decision.not_assess", "request.withdrawn", "case.closed"},
     "SEND Regulations 2014 reg 5(1), 5(3)"},
};
const int timers_rules_count = sizeof(timers_rules) / sizeof(timers_rules[0]);

const timers_rule *timers_rule_find(const char *clock) {
    for (int i = 0; i < timers_rules_count; i++)
        if (strcmp(timers_rules[i].clock, clock) == 0) return &timers_rules[i];
    return NULL;
}

sp_date timers_rule_due(const timers_rule *r, sp_date base, const timers_counting *c) {
    sp_date due = base;
    int day_one = r->counts_start_day;
    switch (r->unit) {
    case TIMERS_UNIT_DAYS:
        due = sp_date_add_days(base, r->amount);
        break;
    case TIMERS_UNIT_WEEKS:
        due = sp_date_add_days(base, 7 * r->amount);
        day_one = day_one || (c && c->receipt_is_day_one);
        break;
    case TIMERS_UNIT_MONTHS:
        due = sp_date_add_months(base, r->amount);
        break;
    case TIMERS_UNIT_WORKING_DAYS:
        return sp_add_working_days(NULL, base, r->amount);
    }
    return day_one ? sp_date_add_days(due, -1) : due;
}
