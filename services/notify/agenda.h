/* agenda.h - the open statutory deadlines of a case, as the daily digest
 * lists them: what notify keeps of each clock, and the digest's lists.
 *
 * notify keeps one line of text per open clock (clocks.h stores it), made
 * from the clock's deadline events: started, approaching, due, overdue and
 * excepted write it (so a clock started before the digest was switched on
 * joins at its next fire), met and cancelled remove it. The informational
 * clocks (appeal_window, mediation_window: the parent's last days, not a
 * duty of the council) are not kept. The line is
 *
 *   <case_id>|<clock>|<qualifier or "">|<due YYYY-MM-DD>|<0 or 1: excepted>
 *
 * no personal data: the child's name is looked up when the digest is
 * written. A digest for the date D sorts each clock by its due date: overdue
 * (before D), due (D) and approaching (D+1 to D + horizon days); later ones
 * are left out. So the digest says where things stand on D, whether or not
 * an event fired that day. Everything here is pure: unit-tested in
 * tests/unit/test_agenda.c. */
#ifndef NOTIFY_AGENDA_H
#define NOTIFY_AGENDA_H

#include <stddef.h>
#include "dates.h"
#include "envelope.h"
#include "ids.h"

#define NOTIFY_AGENDA_LINE_MAX 256

typedef enum {
    NOTIFY_AGENDA_IGNORE, /* not a clock the digest lists */
    NOTIFY_AGENDA_KEEP,   /* write the line under data.clock_id */
    NOTIFY_AGENDA_DROP    /* the clock stopped: remove data.clock_id */
} notify_agenda_op;

/* What ev does to the kept clocks; for KEEP, the line is written into line
 * (NOTIFY_AGENDA_LINE_MAX bytes). A deadline event without the fields of
 * the contract is IGNORE. */
notify_agenda_op notify_agenda_from_event(const sp_event *ev, char *line, size_t size);

typedef enum {
    NOTIFY_AGENDA_OVERDUE,
    NOTIFY_AGENDA_DUE,
    NOTIFY_AGENDA_APPROACHING,
    NOTIFY_AGENDA_LATER
} notify_agenda_kind;

typedef struct notify_agenda_item {
    char case_id[SP_CASE_ID_LEN + 1];
    char clock[48];
    char qualifier[96];
    sp_date due;
    int excepted;
    const char *child; /* "Kofi Mensah", borrowed; NULL: not known yet */
    const char *team;  /* the team's name, borrowed; NULL: none */
} notify_agenda_item;

/* Reads a kept line. Returns 0, or -1 if it is not one. */
int notify_agenda_parse(const char *line, notify_agenda_item *out);
notify_agenda_kind notify_agenda_kind_of(const notify_agenda_item *it, sp_date today,
                                         int horizon_days);

/* The digest's lists for one team on one day: each a run of lines
 * "- <case> <child>: <step>, due <date>..." (or "- none"), and counts. */
typedef struct notify_agenda_text {
    char *list[3]; /* overdue, due, approaching: new strings, free with
                      notify_agenda_text_free */
    size_t count[3];
} notify_agenda_text;

/* Writes the lists from items[0..n) (sorted in place by due date, then
 * case). Items of other teams are skipped when team is not NULL. Returns 0,
 * or -1 (no memory). */
int notify_agenda_write(notify_agenda_item *items, size_t n, const char *team,
                        sp_date today, int horizon_days, notify_agenda_text *out);
void notify_agenda_text_free(notify_agenda_text *t);

#endif
