/* deadlines.h - the open deadlines: loading, classifying, listing.
 *
 * Every open clock an authority must meet is one field of its shard's
 * ops:dl:{s<p>} (one per partition, on the partition's server). A list is
 * one HGETALL of each shard's, one HMGET of the shard's ops:who:{s<p>} for
 * the cases on it, all pipelined over every server; then the rows of every
 * shard are filtered, sorted and paged in C together, so paging and totals
 * are the same as with one server. That is a few milliseconds for the tens of thousands of
 * open clocks of the largest authority, and keeps the writes (one HSET or
 * HDEL per clock event) as cheap as they can be, which matters more: a
 * rebuild replays every event ever published.
 *
 * A deadline's state is worked out from its due date and today, never stored,
 * so it is right the moment the date turns, whatever timers has sent:
 *   overdue      the due date has passed
 *   approaching  due within ops.approaching_working_days working days (today
 *                included: a deadline due today is approaching)
 *   open         neither
 * The three do not overlap; an open deadline is in exactly one. */
#ifndef OPS_DEADLINES_H
#define OPS_DEADLINES_H

#include "dates.h"
#include "batch.h"
#include "ops.h"

typedef enum { OPS_DL_OPEN, OPS_DL_APPROACHING, OPS_DL_OVERDUE, OPS_DL__COUNT } ops_dl_state;

extern const char *const ops_dl_state_names[]; /* "open", "approaching", "overdue" */

typedef struct ops_deadline {
    char case_id[32];
    char clock[48];
    char clock_id[160];
    sp_date due, started;
    int excepted;
    ops_dl_state state;
    int days_overdue;      /* when overdue */
    int working_days_left; /* otherwise */
    char school_urn[8];    /* after the join; "" if unknown */
    char initials[24];
    const char *team;      /* borrowed from the team table */
} ops_deadline;

/* Classifies one deadline as of today. */
void ops_deadline_classify(ops_deadline *d, sp_date today, const sp_holidays *h,
                           int approaching_wd);

/* rows (n of them, owned by the loader and freed after the call) or NULL on
 * a Redis failure. */
typedef void (*ops_deadlines_cb)(sp_service *s, ops_deadline *rows, size_t n, void *priv);

/* Loads and classifies every open deadline; with join, also each one's
 * school, team and child's initials. cb is called exactly once, on success
 * or failure, never from inside this call. Returns 0, or -1 (Redis not
 * connected; cb not called). */
int ops_deadlines_load(sp_service *s, int join, ops_deadlines_cb cb, void *priv);

/* Adds GET /v1/deadlines and GET /v1/teams. */
void ops_deadlines_register(sp_service *s);

#endif
