/* record.h - one armed clock as it is stored in Redis, and its fire schedule.
 *
 * A clock lives in a slot, "<case_id>:<clock>[:<qualifier>]" (the qualifier
 * tells apart clocks of one kind on one case: advice from each adviser, each
 * school consulted). A slot is reused when a clock restarts (the annual review
 * every year); each run is an instance, named by the slot and its start date,
 * "<slot>:<yyyymmdd>", and the instance name is the clock_id in events, so a
 * deadline event id "<clock_id>/<kind>/<seq>" is unique for ever and the
 * same fire always has the same id.
 *
 * The record is kept small on purpose: millions of clocks live in Redis
 * memory. It is one integer in decimal, ((start * 2^17 + due) * 2^12 + seq)
 * * 4 + flags with dates as days since 1970, which Redis keeps as an 8-byte
 * integer (13 bytes less than the text), then "|<reason>" if the clock has
 * an exception. A record that does not fit (dates past 2328, seq 4096 or
 * more), and every record written before November 2026, is text:
 * "<yyyymmdd start>|<yyyymmdd due>|<seq>|<flags>[|<reason>]". Decoding takes
 * either: text has an 8-digit first field, a packed value 10 or more.
 *
 * The schedule of a clock is a sequence of fire points numbered from 0: one
 * per "approaching" offset (working days before due, largest first), then
 * "due" (the due date), then "overdue" (the day after) repeated every
 * overdue_repeat_days while the clock stays open. seq is the next point to
 * fire. Informational clocks (appeal windows) have only "due". */
#ifndef TIMERS_RECORD_H
#define TIMERS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "dates.h"
#include "holidays.h"

#define TIMERS_FLAG_EXCEPTED 1u
#define TIMERS_FLAG_INFORMATIONAL 2u
#define TIMERS_REASON_MAX 40

typedef struct timers_record {
    sp_date start;
    sp_date due;
    int seq;
    unsigned flags;
    char reason[TIMERS_REASON_MAX]; /* exception reason code, "" if none */
} timers_record;

/* Writes the record text into buf. Returns its length, or -1 if too small. */
int timers_record_encode(const timers_record *r, char *buf, size_t size);
/* Parses record text. Returns 0, or -1 if it is not a record. */
int timers_record_decode(const char *text, size_t len, timers_record *r);

typedef enum {
    TIMERS_FIRE_APPROACHING,
    TIMERS_FIRE_DUE,
    TIMERS_FIRE_OVERDUE
} timers_fire_kind;

extern const char *const timers_fire_names[]; /* "approaching", "due", "overdue" */

/* How fire points are placed; from the service's config. */
typedef struct timers_schedule {
    int approaching[4];      /* working days before due, descending; */
    int n_approaching;       /* 0..4 */
    int overdue_repeat_days; /* >= 1 */
    int fire_hour;           /* local hour of day fires happen, 0..23 */
    const sp_holidays *holidays;
} timers_schedule;

typedef struct timers_fire_point {
    timers_fire_kind kind;
    sp_date date;   /* the business day this point is about */
    int64_t at_ms;  /* when it fires: fire_hour on that date, London time */
    int days_left;  /* working days to due (approaching) or calendar days
                       overdue (overdue); 0 for due */
} timers_fire_point;

/* Fire point number seq of a clock due on due. Always succeeds: the overdue
 * repeats never end while a clock is open. */
void timers_schedule_point(const timers_schedule *s, const timers_record *r, int seq,
                           timers_fire_point *out);
/* The first seq whose point is not before `from` (a clock armed late skips
 * approaching points already past, but never the due and overdue ones). */
int timers_schedule_first(const timers_schedule *s, const timers_record *r, sp_date from);

#endif
