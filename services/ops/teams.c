/* teams.c - the school -> team table. See teams.h.
 *
 * A few dozen schools per team, a handful of teams: a sorted array of URNs
 * searched by bsearch is all it needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "teams.h"

typedef struct team_school {
    char urn[8];
    int team;
} team_school;

struct ops_teams {
    char **names; /* configured teams, then the default */
    size_t nnames;
    team_school *schools;
    size_t nschools;
};

static int school_cmp(const void *a, const void *b) {
    return strcmp(((const team_school *)a)->urn, ((const team_school *)b)->urn);
}

static int urn_valid(const char *s) {
    size_t n = strlen(s);
    if (n != 6) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int teams_add_name(ops_teams *t, const char *name) {
    char **names = realloc(t->names, (t->nnames + 1) * sizeof(*names));
    if (!names) return -1;
    t->names = names;
    if (!(t->names[t->nnames] = strdup(name))) return -1;
    return (int)t->nnames++;
}

static int teams_add_school(ops_teams *t, const char *urn, int team) {
    team_school *s = realloc(t->schools, (t->nschools + 1) * sizeof(*s));
    if (!s) return -1;
    t->schools = s;
    snprintf(s[t->nschools].urn, sizeof(s[0].urn), "%s", urn);
    s[t->nschools++].team = team;
    return 0;
}

/* One "Team=urn,urn" row. */
static int teams_parse_row(ops_teams *t, char *row, char *errstr, size_t size) {
    char *eq = strchr(row, '='), *save = NULL;
    int team;
    if (!eq || eq == row) {
        snprintf(errstr, size, "ops.teams: '%s' is not Team=URN,URN", row);
        return -1;
    }
    *eq = '\0';
    if (ops_teams_known(t, row)) {
        snprintf(errstr, size, "ops.teams: team '%s' appears twice", row);
        return -1;
    }
    if ((team = teams_add_name(t, row)) < 0) goto oom;
    for (char *u = strtok_r(eq + 1, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ') u++;
        if (!urn_valid(u)) {
            snprintf(errstr, size, "ops.teams: '%s' (team %s) is not a 6-digit URN", u, row);
            return -1;
        }
        if (teams_add_school(t, u, team)) goto oom;
    }
    return 0;
oom:
    snprintf(errstr, size, "ops.teams: out of memory");
    return -1;
}

ops_teams *ops_teams_parse(const char *spec, const char *default_team, char *errstr,
                           size_t size) {
    ops_teams *t = calloc(1, sizeof(*t));
    char *copy = strdup(spec ? spec : ""), *save = NULL;
    errstr[0] = '\0';
    if (!t || !copy) goto fail;
    for (char *row = strtok_r(copy, ";", &save); row; row = strtok_r(NULL, ";", &save)) {
        while (*row == ' ') row++;
        if (*row && teams_parse_row(t, row, errstr, size)) goto fail;
    }
    if (t->nschools) /* qsort's base must not be NULL, even for 0 items */
        qsort(t->schools, t->nschools, sizeof(*t->schools), school_cmp);
    for (size_t i = 1; i < t->nschools; i++)
        if (!strcmp(t->schools[i].urn, t->schools[i - 1].urn)) {
            snprintf(errstr, size, "ops.teams: school %s is in two teams", t->schools[i].urn);
            goto fail;
        }
    if (!ops_teams_known(t, default_team) && teams_add_name(t, default_team) < 0) goto fail;
    free(copy);
    return t;
fail:
    if (errstr[0] == '\0') snprintf(errstr, size, "ops.teams: out of memory");
    free(copy);
    ops_teams_free(t);
    return NULL;
}

void ops_teams_free(ops_teams *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nnames; i++) free(t->names[i]);
    free(t->names);
    free(t->schools);
    free(t);
}

const char *ops_teams_of(const ops_teams *t, const char *urn) {
    team_school key = {{0}, 0}, *hit;
    if (urn && *urn && t->nschools) {
        snprintf(key.urn, sizeof(key.urn), "%s", urn);
        hit = bsearch(&key, t->schools, t->nschools, sizeof(key), school_cmp);
        if (hit) return t->names[hit->team];
    }
    return t->nnames ? t->names[t->nnames - 1] : "";
}

const char *ops_teams_name(const ops_teams *t, size_t i) {
    return i < t->nnames ? t->names[i] : NULL;
}

size_t ops_teams_count(const ops_teams *t) { return t->nnames; }

int ops_teams_known(const ops_teams *t, const char *name) {
    for (size_t i = 0; i < t->nnames; i++)
        if (!strcmp(t->names[i], name)) return 1;
    return 0;
}
