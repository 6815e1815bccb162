/* teams.h - which casework team looks after a school's children.
 *
 * Events say nothing of teams: an authority organises its SEND casework by
 * area, and the area follows the school. The table comes from the setting
 * ops.teams, "North=100001,100002;South=123456", read at start-up; a school
 * in no row belongs to ops.team_default. Teams are resolved when a list is
 * read, not when an event is applied, so changing the table needs a restart,
 * never a rebuild. */
#ifndef OPS_TEAMS_H
#define OPS_TEAMS_H

#include <stddef.h>

typedef struct ops_teams ops_teams;

/* Parses spec (may be NULL or empty: every school in the default team).
 * Returns a new table (free with ops_teams_free), or NULL with errstr. */
ops_teams *ops_teams_parse(const char *spec, const char *default_team, char *errstr,
                           size_t errstr_size);
void ops_teams_free(ops_teams *t);

/* The team of a school (urn may be NULL or ""). Borrowed from the table. */
const char *ops_teams_of(const ops_teams *t, const char *urn);
/* Team names in the order configured, then the default; n gets the count. */
const char *ops_teams_name(const ops_teams *t, size_t i);
size_t ops_teams_count(const ops_teams *t);
/* 1 if name is a configured team or the default. */
int ops_teams_known(const ops_teams *t, const char *name);

#endif
