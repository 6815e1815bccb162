/* team.h - the caseworkers' teams: who gets the alerts and the daily
 * digest of a case.
 *
 * A council splits its SEND casework into teams (by area, by phase); each
 * has a mailbox. notify learns nothing about teams from events: the cases'
 * schools are the only thing that says where a child is, so teams are
 * settings, read once at start-up:
 *
 *   notify.team.<name> = <mailbox>            one row per team
 *   notify.schools.<name> = URN,URN,...       the schools it covers
 *   notify.default_team = <name>              every other case
 *
 * A case belongs to the team whose schools list its school's URN, else to
 * the default team. With no notify.team.* at all, notify.caseworker_email
 * is one team, "caseworkers", with every case (and with that empty too,
 * there are no teams: no alerts and no digest).
 *
 * Team names are map keys (config.h): lower case, digits and '_'. They
 * appear in Redis keys (notify:digest:<team>:<date>) and logs: never put
 * personal data in one. */
#ifndef NOTIFY_TEAM_H
#define NOTIFY_TEAM_H

#include <stddef.h>
#include "config.h"

typedef struct notify_team {
    const char *name;    /* borrowed from the config */
    const char *mailbox; /* borrowed from the config */
    const char *schools; /* comma-separated URNs; NULL or "": none */
} notify_team;

typedef struct notify_teams {
    notify_team *items; /* owned */
    size_t count;
    size_t fallback; /* index of the team of every case no list claims */
} notify_teams;

/* Builds teams from the settings (all borrowed, and must outlive teams):
 * the team.* and schools.* maps, default_team and caseworker_email.
 * Checks every mailbox, that every schools entry and default_team name
 * a team, and that no URN is in two lists. Returns 0 (teams->count may be
 * 0), or -1 with errstr. */
int notify_teams_load(notify_teams *teams, const sp_conf_kvs *mailboxes,
                      const sp_conf_kvs *schools, const char *default_team,
                      const char *caseworker_email, char *errstr, size_t errstr_size);
/* The team of a case whose school has this URN (NULL or "": none), or NULL
 * when there are no teams. Borrowed from teams. */
const notify_team *notify_teams_for_school(const notify_teams *teams, const char *urn);
void notify_teams_free(notify_teams *teams);

#endif
