/* holidays.h - bank holidays, and working days counted around them.
 *
 * The set is loaded from a file in the government's bank-holidays.json format
 * (root keys per division, each {division, events: [{title, date, notes,
 * bunting}]}), so an authority replaces the shipped file by config when the
 * government announces a new date. Only the "england-and-wales" division is
 * used: the SEND regulations are English law.
 *
 * The set is a sorted array of dates; lookups are binary searches. The caller
 * owns the set and frees it with sp_holidays_free(). */
#ifndef SP_HOLIDAYS_H
#define SP_HOLIDAYS_H

#include <stddef.h>
#include "dates.h"

typedef struct sp_holidays {
    sp_date *days; /* sorted, unique */
    size_t count;
    sp_date first, last; /* range the file covers (first and last event) */
} sp_holidays;

/* Parses the JSON text. Returns a new set, or NULL with errstr filled. */
sp_holidays *sp_holidays_parse(const char *json, size_t len, char *errstr,
                               size_t errstr_size);
/* Reads and parses the file at path. Returns a new set, or NULL with errstr. */
sp_holidays *sp_holidays_load(const char *path, char *errstr, size_t errstr_size);
void sp_holidays_free(sp_holidays *h);

int sp_holidays_contains(const sp_holidays *h, sp_date d);
/* Monday to Friday and not a bank holiday. h may be NULL (weekends only). */
int sp_is_working_day(const sp_holidays *h, sp_date d);
/* The date n working days after d (n > 0) or before d (n < 0); d itself is
 * not counted. n == 0 returns d. */
sp_date sp_add_working_days(const sp_holidays *h, sp_date d, int n);
/* The number of working days in (from, to]; negative if to < from. */
int sp_working_days_between(const sp_holidays *h, sp_date from, sp_date to);

#endif
