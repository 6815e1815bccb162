/* team.c - the caseworkers' teams from the settings. See team.h.
 *
 * A council has a handful of teams and a few hundred schools: a case's team
 * is found by scanning the lists, with no index to keep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "team.h"
#include "validate.h"

/* 1 if urn is one of the comma-separated entries of list (spaces around an
 * entry are allowed). */
static int list_has(const char *list, const char *urn) {
    size_t len = strlen(urn);
    for (const char *p = list; p && *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && p[m - 1] == ' ') m--;
        if (m == len && strncmp(p, urn, len) == 0) return 1;
        p = p[n] ? p + n + 1 : NULL;
    }
    return 0;
}

static long team_index(const notify_teams *t, const char *name) {
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->items[i].name, name) == 0) return (long)i;
    return -1;
}

/* No URN may be claimed by two teams: the case would have two. */
static int schools_check(const notify_teams *t, char *errstr, size_t size) {
    for (size_t i = 0; i < t->count; i++)
        for (const char *p = t->items[i].schools; p && *p;) {
            char urn[64];
            size_t n = strcspn(p, ",");
            snprintf(urn, sizeof(urn), "%.*s", (int)(n < 63 ? n : 63), p);
            char *u = urn + strspn(urn, " ");
            for (size_t k = strlen(u); k && u[k - 1] == ' '; k--) u[k - 1] = '\0';
            for (size_t j = i + 1; *u && j < t->count; j++)
                if (t->items[j].schools && list_has(t->items[j].schools, u)) {
                    snprintf(errstr, size,
                             "school %s is in notify.schools.%s and "
                             "notify.schools.%s",
                             u, t->items[i].name, t->items[j].name);
                    return -1;
                }
            p = p[n] ? p + n + 1 : NULL;
        }
    return 0;
}

static int teams_from_maps(notify_teams *t, const sp_conf_kvs *mailboxes,
                           const sp_conf_kvs *schools, const char *default_team,
                           char *errstr, size_t size) {
    long fb;
    if (!(t->items = calloc(mailboxes->count, sizeof(*t->items)))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < mailboxes->count; i++) {
        const sp_conf_kv *kv = &mailboxes->items[i];
        if (!sp_email_valid(kv->value)) {
            snprintf(errstr, size, "notify.team.%s is not an email address", kv->key);
            return -1;
        }
        t->items[t->count++] = (notify_team){kv->key, kv->value, NULL};
    }
    for (size_t i = 0; schools && i < schools->count; i++) {
        long k = team_index(t, schools->items[i].key);
        if (k < 0) {
            snprintf(errstr, size, "notify.schools.%s names no notify.team.%s",
                     schools->items[i].key, schools->items[i].key);
            return -1;
        }
        t->items[k].schools = schools->items[i].value;
    }
    if (!default_team || !*default_team || (fb = team_index(t, default_team)) < 0) {
        snprintf(errstr, size,
                 "notify.default_team must name one of the notify.team.* "
                 "teams (the team of cases whose school no team lists)");
        return -1;
    }
    t->fallback = (size_t)fb;
    return schools_check(t, errstr, size);
}

int notify_teams_load(notify_teams *t, const sp_conf_kvs *mailboxes,
                      const sp_conf_kvs *schools, const char *default_team,
                      const char *caseworker_email, char *errstr, size_t size) {
    memset(t, 0, sizeof(*t));
    if (mailboxes && mailboxes->count) {
        if (teams_from_maps(t, mailboxes, schools, default_team, errstr, size) == 0)
            return 0;
        notify_teams_free(t);
        return -1;
    }
    if (schools && schools->count) {
        snprintf(errstr, size, "notify.schools.%s without any notify.team.*",
                 schools->items[0].key);
        return -1;
    }
    if (!caseworker_email || !*caseworker_email) return 0; /* no teams */
    if (!sp_email_valid(caseworker_email)) {
        snprintf(errstr, size, "notify.caseworker_email is not an email address");
        return -1;
    }
    if (!(t->items = calloc(1, sizeof(*t->items)))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    t->items[0] = (notify_team){"caseworkers", caseworker_email, NULL};
    t->count = 1;
    return 0;
}

const notify_team *notify_teams_for_school(const notify_teams *t, const char *urn) {
    if (!t->count) return NULL;
    for (size_t i = 0; urn && *urn && i < t->count; i++)
        if (t->items[i].schools && list_has(t->items[i].schools, urn))
            return &t->items[i];
    return &t->items[t->fallback];
}

void notify_teams_free(notify_teams *t) {
    free(t->items);
    memset(t, 0, sizeof(*t));
}
