/* rules.h - the statutory clocks, as a table.
 *
 * Each row says which event starts a clock, from which date in that event it
 * counts, how far, and which events stop it. The table is data so a SEND
 * manager can read it against the regulations (docs/clocks.md is written from
 * it) and so local milestones can be added without touching code. */
#ifndef TIMERS_RULES_H
#define TIMERS_RULES_H

#include "dates.h"

typedef enum {
    TIMERS_UNIT_DAYS,
    TIMERS_UNIT_WEEKS,
    TIMERS_UNIT_MONTHS,
    TIMERS_UNIT_WORKING_DAYS
} timers_unit;

#define TIMERS_MAX_STOPS 4

typedef struct timers_rule {
    const char *clock;      /* "decision_to_assess" */
    const char *start_on;   /* event type that starts it */
    const char *base_field; /* data field with the date counted from */
    int amount;
    timers_unit unit;
    /* 1 when the start day is day 1 ("beginning with the day served"), so
     * the last day is base + amount - 1. */
    int counts_start_day;
    const char *stop_on[TIMERS_MAX_STOPS]; /* event types that stop it */
    const char *source;     /* legal source, for people */
} timers_rule;

extern const timers_rule timers_rules[];
extern const int timers_rules_count;

/* The rule for clock name, or NULL. */
const timers_rule *timers_rule_find(const char *clock);

/* Settings that change how due dates are counted. */
typedef struct timers_counting {
    /* "within N weeks of receiving": 0 (default) = receipt not counted, due =
     * receipt + 7N; 1 = receipt is day 1, due one day earlier. */
    int receipt_is_day_one;
} timers_counting;

/* The last day on which the step is still on time. */
sp_date timers_rule_due(const timers_rule *r, sp_date base, const timers_counting *c);

#endif
