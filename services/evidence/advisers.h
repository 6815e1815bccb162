/* advisers.h - whom the evidence service asks for advice, as a table.
 *
 * Reg 6(1) of the SEND Regulations 2014 names the advice an EHC needs
 * assessment must seek; each kind is a row here (its name, where the request
 * goes, its legal source), like timers' clock table. The name is what
 * advice.requested carries as data.adviser, and timers uses it as the
 * qualifier of the "advice" clock, so one case has one clock per adviser.
 *
 * Where a request goes is data too: to the parent contact of the request
 * (parent advice, the child's views), to the school's SENCO or else the
 * authority's team (educational advice), or to a team address from config
 * (health, educational psychology, social care, and the "other persons" of
 * reg 6(1)(f) an authority adds in config). Which rows are requested is a
 * config list, checked at start-up against the table.
 *
 * Pure logic: no I/O, no allocation; the registry is a value the caller owns
 * (the service keeps one in its state). Names and team addresses are copied
 * into it. */
#ifndef EVIDENCE_ADVISERS_H
#define EVIDENCE_ADVISERS_H

#include <stddef.h>

#define EVIDENCE_ADVISER_NAME_MAX 32 /* characters, without the NUL */
#define EVIDENCE_EMAIL_MAX 254
#define EVIDENCE_MAX_ADVISERS 24

typedef enum {
    EVIDENCE_TO_PARENT, /* the contact of the request (parent or young person) */
    EVIDENCE_TO_SCHOOL, /* the school's SENCO; the team when the case has none */
    EVIDENCE_TO_TEAM    /* the team address from config */
} evidence_route;

typedef struct evidence_adviser {
    char name[EVIDENCE_ADVISER_NAME_MAX + 1];
    evidence_route route;
    char team[EVIDENCE_EMAIL_MAX + 1]; /* "" when not set */
    const char *source;                /* legal source (static) */
    const char *summary;               /* in words (static) */
} evidence_adviser;

typedef struct evidence_advisers {
    evidence_adviser all[EVIDENCE_MAX_ADVISERS]; /* built-in rows, then extras */
    int count;
    int selected[EVIDENCE_MAX_ADVISERS]; /* indexes into all, in request order */
    int nselected;
} evidence_advisers;

/* The default selection: every built-in row, in table order. */
extern const char evidence_advisers_default[];

/* What the case told us about whom to write to. Borrowed; NULL or "" when
 * unknown (the contact chose post, the child has no school). */
typedef struct evidence_contact {
    const char *parent_email;
    const char *senco_email;
} evidence_contact;

/* Where one request goes. role is "parent", "senco" or "team" (static);
 * email is borrowed from the contact or the registry, NULL when unknown. */
typedef struct evidence_recipient {
    const char *role;
    const char *email;
} evidence_recipient;

/* Fills a with the built-in rows (no team addresses, nothing selected). */
void evidence_advisers_init(evidence_advisers *a);
/* Sets the team address of adviser name. Returns 0, or -1 with errstr (no
 * such adviser, not an email address). */
int evidence_advisers_set_team(evidence_advisers *a, const char *name, const char *email,
                               char *errstr, size_t errstr_size);
/* Adds reg 6(1)(f) advisers from config: "name=email[,name=email...]", each
 * asked at its team address. "" adds none. Returns 0, or -1 with errstr
 * naming the bad entry (malformed, a bad name or address, a duplicate, the
 * table full). */
int evidence_advisers_add_extra(evidence_advisers *a, const char *spec, char *errstr,
                                size_t errstr_size);
/* Selects the advisers to request: "name[,name...]", spaces allowed around
 * names. Every name must be in the table and listed once, and one routed to
 * a team (or to a school, for cases without one) must have its address.
 * Returns 0, or -1 with errstr; on -1 the selection is unchanged. */
int evidence_advisers_select(evidence_advisers *a, const char *spec, char *errstr,
                             size_t errstr_size);
/* The row named name, or NULL. Borrowed from a. */
const evidence_adviser *evidence_advisers_find(const evidence_advisers *a, const char *name);
/* 1 if the row at index i is selected. */
int evidence_advisers_is_selected(const evidence_advisers *a, int i);
/* 1 if name could name an adviser: 1 to 32 of [a-z0-9_], starting with a
 * letter (it becomes part of event ids and timers' clock slots). */
int evidence_adviser_name_valid(const char *name);
/* Where a request to ad for a case with contact c goes. */
void evidence_adviser_recipient(const evidence_adviser *ad, const evidence_contact *c,
                                evidence_recipient *out);

#endif
