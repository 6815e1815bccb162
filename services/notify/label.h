/* label.h - the plain-English words for the codes events carry.
 *
 * Events name things by code: an adviser ("psychological"), a clock
 * ("no_plan_notice"). A letter must not: a parent reads "an educational
 * psychologist", a caseworker reads "Decide whether to issue a plan (reg
 * 10(1))". The words are two tables here, so a new adviser or clock is a row,
 * and a code nobody has described yet (an adviser or a local milestone an
 * authority configured) still reads as words: its underscores become spaces.
 *
 * Every function writes into the caller's buffer and returns it; a value
 * that does not fit is cut short, never overrun. Labels hold no "((" and no
 * line breaks except where a list asks for them. */
#ifndef NOTIFY_LABEL_H
#define NOTIFY_LABEL_H

#include <stddef.h>

/* "educational advice" for "educational". */
char *notify_label_advice(const char *adviser, char *buf, size_t size);
/* Who is asked, for a parent: "the school or nursery" for "educational". */
char *notify_label_adviser(const char *adviser, char *buf, size_t size);
/* 1 if the adviser's request goes to the parent (their own advice, the
 * child's views): parents are told of those in their own words, not listed
 * among the others. */
int notify_label_asks_parent(const char *adviser);
/* A comma-separated list of advisers as lines "- <who>: <advice>", skipping
 * those asked of the parent; "- nobody else" when none is left. */
char *notify_label_adviser_list(const char *advisers, char *buf, size_t size);
/* A clock for a caseworker: "Decide whether to assess (reg 5(1))"; with a
 * qualifier, the adviser or school it is about:
 * "Advice from an educational psychologist (reg 8(1))". */
char *notify_label_clock(const char *clock, const char *qualifier, char *buf,
                         size_t size);
/* An appealable decision, by the event type that recorded it, for a
 * parent: "our decision not to carry out an EHC needs assessment" for
 * "decision.not_assess". */
char *notify_label_decision(const char *type, char *buf, size_t size);

#endif
