/* dates.h - civil dates as the SEND regulations count them.
 *
 * A statutory due date is a calendar date in England, never an instant. This
 * module therefore works on proleptic Gregorian civil dates held as a day
 * number (days since 1970-01-01), which makes "add 42 days" an addition and
 * comparisons plain integer comparisons. Months are added to the same day of
 * the month, clamped to the month's end (31 Jan + 1 month = 28/29 Feb).
 *
 * Instants (Unix milliseconds) become dates only through sp_date_from_ms(),
 * which applies Europe/London time (GMT, or BST from 01:00 UTC on the last
 * Sunday of March to 01:00 UTC on the last Sunday of October) without reading
 * the system's tz database, so results do not depend on the host.
 *
 * Working days (Monday to Friday, not a bank holiday) need a holiday set; see
 * holidays.h. Nothing here allocates. */
#ifndef SP_DATES_H
#define SP_DATES_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t sp_date; /* days since 1970-01-01 (Thursday) */

/* Dates run from 0000-01-01 to 9999-12-31, what "YYYY-MM-DD" can spell. A
 * result that would leave that range is SP_DATE_INVALID, and every function
 * passes SP_DATE_INVALID through (as noted below), so a bad input cannot
 * become a plausible deadline. */
#define SP_DATE_INVALID INT32_MIN

/* y-m-d to day number. Returns SP_DATE_INVALID for an impossible date. */
sp_date sp_date_make(int y, int m, int d);
/* An invalid date splits to 0, 0, 0. */
void sp_date_split(sp_date d, int *y, int *m, int *day);
/* 0 = Monday ... 6 = Sunday (ISO order). */
int sp_date_weekday(sp_date d);
int sp_date_is_leap(int y);
int sp_date_days_in_month(int y, int m);

/* Parses exactly "YYYY-MM-DD". Returns 0, or -1 with d untouched. */
int sp_date_parse(const char *s, sp_date *d);
/* Writes "YYYY-MM-DD" and a NUL: buf needs 11 bytes. Returns buf. An invalid
 * date is written as "invalid" (here and in sp_date_long). */
char *sp_date_iso(sp_date d, char *buf, size_t size);
/* Writes "Monday 4 January 2027", the form letters use. buf needs 32 bytes.
 * Returns buf. */
char *sp_date_long(sp_date d, char *buf, size_t size);

/* Both return SP_DATE_INVALID if d is invalid or the result out of range. */
sp_date sp_date_add_days(sp_date d, int n);
/* Same day of month n months later (n may be negative), clamped to month end. */
sp_date sp_date_add_months(sp_date d, int n);

/* The civil date in Europe/London at the instant ms (Unix milliseconds), or
 * SP_DATE_INVALID outside years 0000-9999. */
sp_date sp_date_from_ms(int64_t ms);
/* The UTC offset in Europe/London at the instant ms: 0 or 3600 seconds. */
int sp_london_offset_s(int64_t ms);
/* The instant (Unix ms) of local midnight starting date d in Europe/London.
 * INT64_MIN for an invalid date. */
int64_t sp_date_start_ms(sp_date d);

/* Writes an RFC 3339 UTC timestamp with milliseconds, "2026-11-23T09:30:00.000Z".
 * buf needs 25 bytes. Returns buf. Outside years 0000-9999 writes "invalid". */
char *sp_time_rfc3339(int64_t ms, char *buf, size_t size);
/* Parses an RFC 3339 timestamp (Z or +hh:mm offset, optional fraction) to Unix
 * ms. Returns 0 or -1. 'T' and 'Z' may be lower case; digits past
 * milliseconds are truncated; a leap second (:60) is refused, as Unix time
 * cannot hold it. */
int sp_time_parse_rfc3339(const char *s, int64_t *ms);

#endif
