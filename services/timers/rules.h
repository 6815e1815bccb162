/* rules.h - the statutory clocks, as a table.
 *
 * Each row says which events start a clock, from which date in the event it
 * counts and how far, and which events stop it (met) or end it (cancelled).
 * The table is data so a SEND manager can read it against the regulations
 * (docs/clocks.md follows it row by row) and so an authority can add local
 * milestones ("panel decision by week 5") in config without touching code.
 *
 * Dates come from the event's data: "date" is the business date every case
 * event carries (the day the thing happened, not the day it was recorded), so
 * an event that arrives late is counted from when it happened. */
#ifndef TIMERS_RULES_H
#define TIMERS_RULES_H

#include "dates.h"
#include "holidays.h"

typedef enum {
    TIMERS_UNIT_DAYS,
    TIMERS_UNIT_WEEKS,
    TIMERS_UNIT_MONTHS,
    TIMERS_UNIT_WORKING_DAYS,
    TIMERS_UNIT_DATE_FIELD,     /* due is a date in the event (agreed review) */
    TIMERS_UNIT_PHASE_TRANSFER  /* 15 Feb (31 Mar post-16) of data.transfer_year */
} timers_unit;

#define TIMERS_RULE_INFORMATIONAL 1u /* tells a date; no approaching/overdue */
#define TIMERS_MAX_EVENTS 4

typedef struct timers_rule {
    char clock[48];
    const char *start_on[TIMERS_MAX_EVENTS];
    const char *base_field; /* the date counted from; NULL = "date" */
    int amount;
    timers_unit unit;
    int counts_start_day; /* the start day is day 1: last day one earlier */
    int under5_amount;    /* MONTHS rules: amount when the child is under 5 */
    const char *qualifier_field; /* tells apart clocks of one kind on a case */
    const char *due_field;       /* TIMERS_UNIT_DATE_FIELD: the due date */
    const char *met_on[TIMERS_MAX_EVENTS];
    const char *cancel_on[TIMERS_MAX_EVENTS]; /* besides timers_case_cancels */
    unsigned flags;
    const char *source;  /* legal source */
    const char *summary; /* in words, for docs and the dashboard */
} timers_rule;

/* Events that end every open clock of a case. */
extern const char *const timers_case_cancels[];

#define TIMERS_MAX_RULES 64

typedef struct timers_ruleset {
    timers_rule rules[TIMERS_MAX_RULES];
    int count;
    char strings[4096]; /* storage for names parsed from config */
    size_t used;
} timers_ruleset;

/* Fills set with the built-in statutory rules. */
void timers_rules_init(timers_ruleset *set);
/* Adds local milestones from a config string: rows separated by ';', each
 *   name=START_EVENT+AMOUNT{d,w,m,wd}/STOP_EVENT[,STOP_EVENT...]
 * e.g. "panel_decision=request.received+5w/decision.assess,decision.not_assess".
 * Returns 0, or -1 with errstr naming the bad row. */
int timers_rules_add_milestones(timers_ruleset *set, const char *spec, char *errstr,
                                size_t errstr_size);
const timers_rule *timers_rules_find(const timers_ruleset *set, const char *clock);
int timers_rule_starts_on(const timers_rule *r, const char *type);
int timers_rule_met_on(const timers_rule *r, const char *type);
int timers_rule_cancel_on(const timers_rule *r, const char *type);
int timers_is_case_cancel(const char *type);

/* Settings that change how due dates are counted. */
typedef struct timers_counting {
    /* "within N weeks of receiving": 0 (default) = receipt not counted, due =
     * receipt + 7N; 1 = receipt is day 1, due one day earlier. */
    int receipt_is_day_one;
    const sp_holidays *holidays; /* for working-day rules; may be NULL */
} timers_counting;

/* What a start event gives a rule to count from. */
typedef struct timers_start_input {
    sp_date base;          /* the rule's base date */
    sp_date due_field;     /* TIMERS_UNIT_DATE_FIELD */
    sp_date child_dob;     /* SP_DATE_INVALID if unknown */
    int transfer_year;     /* TIMERS_UNIT_PHASE_TRANSFER */
    int post16;
} timers_start_input;

/* The last day on which the step is still on time, or SP_DATE_INVALID when
 * the input lacks what the rule needs. */
sp_date timers_rule_due(const timers_rule *r, const timers_start_input *in,
                        const timers_counting *c);

#endif
