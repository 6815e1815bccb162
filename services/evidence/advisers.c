/* advisers.c - the adviser table and its config. See advisers.h.
 *
 * Sources: SEND Regulations 2014 reg 6(1) (the advice to seek), reg 7 and
 * CFA 2014 s.19(a) (the child's views, wishes and feelings). The school's
 * SENCO gives the educational advice here; reg 6(1)(b) names the head of the
 * setting, who in practice delegates it to the SENCO. */
#include <stdio.h>
#include <string.h>
#include "advisers.h"
#include "validate.h"

typedef struct builtin_adviser {
    const char *name;
    evidence_route route;
    const char *source;
    const char *summary;
} builtin_adviser;

static const builtin_adviser builtin_advisers[] = {
    {"parent", EVIDENCE_TO_PARENT, "reg 6(1)(a)",
     "Advice and information from the child's parent or the young person"},
    {"educational", EVIDENCE_TO_SCHOOL, "reg 6(1)(b)",
     "Educational advice from the school's SENCO, or from the authority's team "
     "when the child has no school"},
    {"medical", EVIDENCE_TO_TEAM, "reg 6(1)(c)",
     "Medical advice from a health care professional named by the ICB"},
    {"psychological", EVIDENCE_TO_TEAM, "reg 6(1)(d)",
     "Psychological advice from an educational psychologist"},
    {"social_care", EVIDENCE_TO_TEAM, "reg 6(1)(e)",
     "Advice and information in relation to social care"},
    {"child_views", EVIDENCE_TO_PARENT, "reg 7(a); CFA 2014 s.19(a)",
     "The child's views, wishes and feelings (a one-page profile), asked of the parent"},
};

#define BUILTIN_COUNT ((int)(sizeof(builtin_advisers) / sizeof(builtin_advisers[0])))

const char evidence_advisers_default[] =
    "parent,educational,medical,psychological,social_care,child_views";

void evidence_advisers_init(evidence_advisers *a) {
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < BUILTIN_COUNT; i++) {
        evidence_adviser *ad = &a->all[i];
        snprintf(ad->name, sizeof(ad->name), "%s", builtin_advisers[i].name);
        ad->route = builtin_advisers[i].route;
        ad->source = builtin_advisers[i].source;
        ad->summary = builtin_advisers[i].summary;
    }
    a->count = BUILTIN_COUNT;
}

int evidence_adviser_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > EVIDENCE_ADVISER_NAME_MAX || name[0] < 'a' || name[0] > 'z') return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int find_index(const evidence_advisers *a, const char *name) {
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->all[i].name, name) == 0) return i;
    return -1;
}

const evidence_adviser *evidence_advisers_find(const evidence_advisers *a, const char *name) {
    int i = find_index(a, name);
    return i < 0 ? NULL : &a->all[i];
}

int evidence_advisers_is_selected(const evidence_advisers *a, int i) {
    for (int k = 0; k < a->nselected; k++)
        if (a->selected[k] == i) return 1;
    return 0;
}

int evidence_advisers_set_team(evidence_advisers *a, const char *name, const char *email,
                               char *errstr, size_t size) {
    int i = find_index(a, name);
    if (i < 0) {
        snprintf(errstr, size, "evidence.team.%s: no adviser '%s'", name, name);
        return -1;
    }
    if (!email || !*email) {
        a->all[i].team[0] = '\0';
        return 0;
    }
    if (!sp_email_valid(email)) {
        snprintf(errstr, size, "evidence.team.%s: '%s' is not an email address", name, email);
        return -1;
    }
    snprintf(a->all[i].team, sizeof(a->all[i].team), "%s", email);
    return 0;
}

/* Trims spaces at both ends of s in place; returns the trimmed start. */
static char *trim(char *s) {
    char *end = s + strlen(s);
    while (*s == ' ' || *s == '\t') s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
    return s;
}

/* Adds one "name=email" entry (modified in place). */
static int add_extra_one(evidence_advisers *a, char *entry, char *errstr, size_t size) {
    char *eq = strchr(entry, '='), *name, *email;
    if (!eq) {
        snprintf(errstr, size, "evidence.advisers.extra: cannot read '%s' (want "
                 "name=email[,name=email])", trim(entry));
        return -1;
    }
    *eq = '\0';
    name = trim(entry), email = trim(eq + 1);
    if (!evidence_adviser_name_valid(name)) {
        snprintf(errstr, size, "evidence.advisers.extra: '%s' is not an adviser name "
                 "(1 to %d of a-z, 0-9, _, starting with a letter)", name,
                 EVIDENCE_ADVISER_NAME_MAX);
        return -1;
    }
    if (find_index(a, name) >= 0) {
        snprintf(errstr, size, "evidence.advisers.extra: adviser '%s' already exists", name);
        return -1;
    }
    if (!sp_email_valid(email)) {
        snprintf(errstr, size, "evidence.advisers.extra: '%s' is not an email address for "
                 "'%s'", email, name);
        return -1;
    }
    if (a->count == EVIDENCE_MAX_ADVISERS) {
        snprintf(errstr, size, "evidence.advisers.extra: more than %d advisers",
                 EVIDENCE_MAX_ADVISERS);
        return -1;
    }
    evidence_adviser *ad = &a->all[a->count++];
    snprintf(ad->name, sizeof(ad->name), "%s", name);
    snprintf(ad->team, sizeof(ad->team), "%s", email);
    ad->route = EVIDENCE_TO_TEAM;
    ad->source = "reg 6(1)(f)";
    ad->summary = "Advice from another person the authority thinks appropriate (config)";
    return 0;
}

int evidence_advisers_add_extra(evidence_advisers *a, const char *spec, char *errstr,
                                size_t size) {
    char buf[4096], *save = NULL;
    if (!spec || spec[strspn(spec, " \t")] == '\0') return 0;
    if (strlen(spec) >= sizeof(buf)) {
        snprintf(errstr, size, "evidence.advisers.extra: longer than %zu characters",
                 sizeof(buf) - 1);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*trim(t) && add_extra_one(a, trim(t), errstr, size)) return -1;
    return 0;
}

/* Checks that a selected row can be addressed: a team route needs its
 * address; the school route needs one for cases without a school. */
static int check_routable(const evidence_adviser *ad, char *errstr, size_t size) {
    if (ad->route == EVIDENCE_TO_PARENT || ad->team[0]) return 0;
    snprintf(errstr, size, "evidence.advisers: '%s' is selected but evidence.team.%s "
             "(its team address) is not set", ad->name, ad->name);
    return -1;
}

int evidence_advisers_select(evidence_advisers *a, const char *spec, char *errstr,
                             size_t size) {
    char buf[4096], *save = NULL;
    int picked[EVIDENCE_MAX_ADVISERS], n = 0;
    snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *name = trim(t);
        int i = find_index(a, name);
        if (!*name) continue; /* "a,,b" and a trailing comma */
        if (i < 0) {
            snprintf(errstr, size, "evidence.advisers: unknown adviser '%s' (add it to "
                     "evidence.advisers.extra as name=email)", name);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            if (picked[k] != i) continue;
            snprintf(errstr, size, "evidence.advisers: '%s' is listed twice", name);
            return -1;
        }
        if (check_routable(&a->all[i], errstr, size)) return -1;
        picked[n++] = i;
    }
    if (n == 0) {
        snprintf(errstr, size, "evidence.advisers: no adviser selected");
        return -1;
    }
    memcpy(a->selected, picked, (size_t)n * sizeof(picked[0]));
    a->nselected = n;
    return 0;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

void evidence_adviser_recipient(const evidence_adviser *ad, const evidence_contact *c,
                                evidence_recipient *out) {
    const char *senco = c ? nonempty(c->senco_email) : NULL;
    switch (ad->route) {
    case EVIDENCE_TO_PARENT:
        out->role = "parent";
        out->email = c ? nonempty(c->parent_email) : NULL;
        return;
    case EVIDENCE_TO_SCHOOL:
        out->role = senco ? "senco" : "team";
        out->email = senco ? senco : nonempty(ad->team);
        return;
    case EVIDENCE_TO_TEAM:
        out->role = "team";
        out->email = nonempty(ad->team);
        return;
    }
}
