/* agenda.c - the kept clock lines and the digest's lists. See agenda.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agenda.h"
#include "label.h"

/* The parent's windows: a date to tell, not a step the council must take. */
static int informational(const sp_event *ev, const char *clock) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(ev->data, "informational");
    return cJSON_IsTrue(j) || !strcmp(clock, "appeal_window") ||
           !strcmp(clock, "mediation_window");
}

static int kept_type(const char *type) {
    static const char *const keep[] = {"deadline.started", "deadline.approaching",
                                       "deadline.due", "deadline.overdue",
                                       "deadline.excepted"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (!strcmp(type, keep[i])) return 1;
    return 0;
}

notify_agenda_op notify_agenda_from_event(const sp_event *ev, char *line, size_t size) {
    const char *case_id = sp_event_str(ev, "case_id"), *clock = sp_event_str(ev, "clock");
    const char *q = sp_event_str(ev, "qualifier"), *due = sp_event_str(ev, "due_date");
    const cJSON *exc = cJSON_GetObjectItemCaseSensitive(ev->data, "excepted");
    sp_date d;
    if (strncmp(ev->type, "deadline.", 9) != 0 || !case_id || !clock ||
        !sp_event_str(ev, "clock_id") || informational(ev, clock))
        return NOTIFY_AGENDA_IGNORE;
    if (!strcmp(ev->type, "deadline.met") || !strcmp(ev->type, "deadline.cancelled"))
        return NOTIFY_AGENDA_DROP;
    if (!kept_type(ev->type) || !due || sp_date_parse(due, &d) ||
        strlen(case_id) > SP_CASE_ID_LEN || strlen(clock) >= 48 || strchr(clock, '|') ||
        (q && (strlen(q) >= 96 || strchr(q, '|'))))
        return NOTIFY_AGENDA_IGNORE;
    int w = snprintf(line, size, "%s|%s|%s|%s|%d", case_id, clock, q ? q : "", due,
                     cJSON_IsTrue(exc) ? 1 : 0);
    return w > 0 && (size_t)w < size ? NOTIFY_AGENDA_KEEP : NOTIFY_AGENDA_IGNORE;
}

/* Copies the '|'-field at *p into dst (size bytes) and moves *p past it.
 * Returns 0, or -1 if there is none or it does not fit. */
static int field_take(const char **p, char *dst, size_t size) {
    if (!*p) return -1;
    size_t n = strcspn(*p, "|");
    if (n >= size) return -1;
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *p = (*p)[n] == '|' ? *p + n + 1 : NULL;
    return 0;
}

int notify_agenda_parse(const char *line, notify_agenda_item *out) {
    const char *p = line;
    char due[16], exc[4];
    memset(out, 0, sizeof(*out));
    if (field_take(&p, out->case_id, sizeof(out->case_id)) ||
        field_take(&p, out->clock, sizeof(out->clock)) ||
        field_take(&p, out->qualifier, sizeof(out->qualifier)) ||
        field_take(&p, due, sizeof(due)) || field_take(&p, exc, sizeof(exc)) || p ||
        sp_date_parse(due, &out->due) || !*out->case_id || !*out->clock)
        return -1;
    out->excepted = exc[0] == '1';
    return 0;
}

notify_agenda_kind notify_agenda_kind_of(const notify_agenda_item *it, sp_date today,
                                         int horizon_days) {
    if (it->due < today) return NOTIFY_AGENDA_OVERDUE;
    if (it->due == today) return NOTIFY_AGENDA_DUE;
    if (it->due - today <= horizon_days) return NOTIFY_AGENDA_APPROACHING;
    return NOTIFY_AGENDA_LATER;
}

static int item_order(const void *a, const void *b) {
    const notify_agenda_item *x = a, *y = b;
    if (x->due != y->due) return x->due < y->due ? -1 : 1;
    int c = strcmp(x->case_id, y->case_id);
    return c ? c : strcmp(x->clock, y->clock);
}

/* A growing text. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static int text_add(text_buf *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) return -1;
        t->s = p, t->cap = cap;
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
    return 0;
}

/* One line: "- <case> <child>: <step>, due <date>, <how late or soon>". */
static void item_line(const notify_agenda_item *it, notify_agenda_kind k, sp_date today,
                      char *buf, size_t size) {
    char step[160], date[32], when[48] = "";
    notify_label_clock(it->clock, *it->qualifier ? it->qualifier : NULL, step,
                       sizeof(step));
    sp_date_long(it->due, date, sizeof(date));
    int days = k == NOTIFY_AGENDA_OVERDUE ? today - it->due : it->due - today;
    if (k == NOTIFY_AGENDA_OVERDUE)
        snprintf(when, sizeof(when), ", %d day%s overdue", days, days == 1 ? "" : "s");
    else if (k == NOTIFY_AGENDA_APPROACHING)
        snprintf(when, sizeof(when), ", in %d day%s", days, days == 1 ? "" : "s");
    snprintf(buf, size, "- %s %s: %s, due %s%s%s\n", it->case_id,
             it->child ? it->child : "(child not known yet)", step, date, when,
             it->excepted ? " (exception recorded)" : "");
}

int notify_agenda_write(notify_agenda_item *items, size_t n, const char *team,
                        sp_date today, int horizon_days, notify_agenda_text *out) {
    text_buf t[3] = {{0}};
    char line[512];
    memset(out, 0, sizeof(*out));
    if (n) qsort(items, n, sizeof(*items), item_order);
    for (size_t i = 0; i < n; i++) {
        notify_agenda_kind k = notify_agenda_kind_of(&items[i], today, horizon_days);
        if (k == NOTIFY_AGENDA_LATER ||
            (team && (!items[i].team || strcmp(items[i].team, team))))
            continue;
        item_line(&items[i], k, today, line, sizeof(line));
        if (text_add(&t[k], line)) goto oom;
        out->count[k]++;
    }
    for (int k = 0; k < 3; k++) {
        if (!out->count[k] && text_add(&t[k], "- none\n")) goto oom;
        t[k].s[--t[k].len] = '\0'; /* the template ends the line */
        out->list[k] = t[k].s;
    }
    return 0;
oom:
    for (int k = 0; k < 3; k++) free(t[k].s);
    memset(out, 0, sizeof(*out));
    return -1;
}

void notify_agenda_text_free(notify_agenda_text *t) {
    for (int k = 0; k < 3; k++) free(t->list[k]);
    memset(t, 0, sizeof(*t));
}
