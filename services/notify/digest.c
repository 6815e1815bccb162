/* digest.c - the caseworkers' daily digest. See digest.h.
 *
 * A run is one record walking through callbacks: read the kept clocks,
 * read their cases, then for each team in turn reserve the day's key,
 * render, send, publish the outcome and mark. Teams go one at a time, so at most one digest is
 * in the crash window. A run that could not settle every team (Redis down,
 * a provider saying "later") leaves the day open and is tried again after a
 * backoff; teams already settled are skipped by their keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "agenda.h"
#include "clocks.h"
#include "digest.h"
#include "log.h"
#include "message.h"
#include "outcome.h"
#include "team.h"

#define DIGEST_POLL_MS 10000
#define DIGEST_LEASE_EXTRA_S 30
#define DIGEST_TEMPLATE "caseworker_digest"

/* The placeholders the digest supplies, in this order. */
static const char *const digest_vars[] = {
    "team",          "date",      "overdue",           "due",         "approaching",
    "overdue_count", "due_count", "approaching_count", "horizon_days", "late"};
#define DIGEST_NVARS (sizeof(digest_vars) / sizeof(digest_vars[0]))

struct notify_digest {
    notify_state *st;
    const sp_template *tpl;
    uv_timer_t timer;
    int minutes; /* notify.digest.time, minutes after local midnight */
    int running, stopped;
    sp_date done;       /* the last day every team was settled */
    int64_t not_before; /* real ms: after a failed run, wait until then */
    int64_t backoff_ms;
    int *attempts;      /* per team: attempts at day's digest (outcome events) */
    /* the run */
    sp_date day;        /* the digest's day: its key, its outcome's "day" */
    sp_date as_of;      /* the day its lists are written for: today */
    int catch_up;       /* day is a missed day, sent late (as_of is later) */
    char day_iso[11];
    int failed;
    char mark[200];     /* the team's mark, written once its outcome is out */
    notify_agenda_item *items;
    size_t nitems;
    char **children; /* "given family" per item's case, owned */
    size_t team;     /* the next team to settle */
    notify_job job;
};

/* The digest's keys (clocks.h) are one per deployment, not per case: a
 * team's digest is reserved once a day, so they stay on redis.host, whatever
 * redis.shards says. */
static sp_redis *digest_redis(const notify_digest *d) {
    return d->st->s->redis; /* redis.host: notify:clocks, notify:digest:* */
}

/* ---- settings ------------------------------------------------------------------- */

static int time_parse(const char *s, int *minutes) {
    int h, m;
    char end;
    if (!s || sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || strlen(s) != 5 || h < 0 ||
        h > 23 || m < 0 || m > 59)
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

static int digest_check(notify_digest *d, char *errstr, size_t size) {
    notify_state *st = d->st;
    char err[256];
    if (time_parse(st->conf->digest_time, &d->minutes)) {
        snprintf(errstr, size, "notify.digest.time must be HH:MM (24-hour, London time)");
        return -1;
    }
    if (!st->conf->digest_enabled) return 0;
    if (!st->teams.count) {
        snprintf(errstr, size,
                 "notify.digest.enabled needs a mailbox: notify.team.<name> "
                 "or notify.caseworker_email");
        return -1;
    }
    if (!(d->tpl = sp_templates_find(&st->templates, DIGEST_TEMPLATE)) ||
        sp_template_check(d->tpl, digest_vars, DIGEST_NVARS, err, sizeof(err))) {
        snprintf(errstr, size, "the digest's template %s.txt: %s", DIGEST_TEMPLATE,
                 d->tpl ? err : "missing");
        return -1;
    }
    notify_job probe = {.template_name = DIGEST_TEMPLATE, .to_email = "a@b.example"};
    if (notify_channel_check(&st->channel, &probe, err, sizeof(err))) {
        snprintf(errstr, size, "the digest cannot go on this channel: %s", err);
        return -1;
    }
    return 0;
}

/* ---- the end of a run ----------------------------------------------------------- */

static void run_reset(notify_digest *d) {
    for (size_t i = 0; d->children && i < d->nitems; i++) free(d->children[i]);
    free(d->children);
    free(d->items);
    d->children = NULL;
    d->items = NULL;
    d->nitems = d->team = 0;
    notify_job_free(&d->job);
    memset(&d->job, 0, sizeof(d->job));
}

/* The wait before the next run after a failed one. */
static int64_t next_backoff(const notify_digest *d) {
    int64_t base = d->st->conf->retry_base_ms, max = d->st->conf->retry_max_ms;
    int64_t b = d->backoff_ms ? d->backoff_ms * 2 : base;
    return b > max ? max : b;
}

static void run_end(notify_digest *d, const char *why) {
    if (why) d->failed = 1;
    if (!d->failed) {
        d->done = d->day;
        d->backoff_ms = 0;
    } else {
        d->backoff_ms = next_backoff(d);
        d->not_before = sp_clock_now_ms(NULL) + d->backoff_ms;
        sp_warn("notify: digest of %s not finished, tried again in %lld ms%s%s",
                d->day_iso, (long long)d->backoff_ms, why ? ": " : "", why ? why : "");
    }
    run_reset(d);
    d->running = 0;
}

/* ---- one team ------------------------------------------------------------------- */

static void team_next(notify_digest *d);

static const char *team_name(const notify_digest *d) {
    return d->st->teams.items[d->team].name;
}

static void team_settled(int err, void *opaque) {
    notify_digest *d = opaque;
    if (err) {
        run_end(d, "redis: cannot mark the digest");
        return;
    }
    notify_job_free(&d->job);
    memset(&d->job, 0, sizeof(d->job));
    d->team++;
    team_next(d);
}

/* d->mark ("" deletes the key: try again later). */
static void team_mark(notify_digest *d) {
    if (notify_clocks_digest_mark(digest_redis(d), team_name(d), d->day_iso,
                                  d->mark[0] ? d->mark : NULL, team_settled, d))
        run_end(d, "redis not connected");
}

/* The outcome is out (or lost: logged): now the mark. Marking after the
 * outcome means a crash in between sends the digest again with the same
 * outcome id, rather than losing the outcome of one that went. */
static void team_reported(rd_kafka_resp_err_t err, void *opaque) {
    notify_digest *d = opaque;
    if (err)
        sp_error("notify: the outcome of the digest of %s to team %s is lost: %s",
                 d->day_iso, team_name(d), rd_kafka_err2str(err));
    team_mark(d);
}

/* Publishes attempt's outcome o (detail: the provider id or the reason),
 * then marks the day with value (NULL: deletes the reservation). */
static void team_report(notify_digest *d, notify_outcome o, const char *detail,
                        const char *value) {
    char errstr[256];
    int64_t next_ms = sp_clock_now_ms(NULL) + next_backoff(d);
    snprintf(d->mark, sizeof(d->mark), "%s", value ? value : "");
    if (notify_outcome_publish_digest(d->st, &d->job, team_name(d), d->day_iso,
                                      d->catch_up,
                                      notify_channel_label(&d->st->channel, &d->job), o,
                                      detail, next_ms, team_reported, d, errstr,
                                      sizeof(errstr))) {
        sp_error("notify: the outcome of the digest of %s to team %s is lost: %s",
                 d->day_iso, team_name(d), errstr);
        team_mark(d);
    }
}

static void team_sent(notify_send_outcome res, const char *provider_id,
                      const char *reason, void *opaque) {
    notify_digest *d = opaque;
    char value[200];
    switch (res) {
    case NOTIFY_SEND_SENT:
        sp_metric_inc(d->st->m_sent);
        sp_metric_inc(d->st->m_digests);
        sp_info("notify: digest of %s sent to team %s as %s%s", d->day_iso, team_name(d),
                provider_id, d->catch_up ? " (a missed day, caught up)" : "");
        snprintf(value, sizeof(value), "sent %s", provider_id);
        team_report(d, NOTIFY_OUTCOME_SENT, provider_id, value);
        return;
    case NOTIFY_SEND_RETRY:
        sp_metric_inc(d->st->m_failed);
        sp_warn("notify: digest of %s to team %s: %s; tried again later", d->day_iso,
                team_name(d), reason);
        d->failed = 1;
        team_report(d, NOTIFY_OUTCOME_FAILED, reason, NULL);
        return;
    case NOTIFY_SEND_REFUSED:
        sp_metric_inc(d->st->m_dead);
        sp_error("notify: digest of %s to team %s refused: %s", d->day_iso, team_name(d),
                 reason);
        team_report(d, NOTIFY_OUTCOME_REFUSED, reason, "refused");
        return;
    }
}

/* The job's key: sha256("digest|<team>|<day>"), as deliver.c keys a send,
 * so file names, Message-IDs and Notify references work alike. */
static void job_key(notify_digest *d) {
    unsigned char md[32];
    unsigned int n = 0;
    char in[256];
    int len = snprintf(in, sizeof(in), "digest|%s|%s", team_name(d), d->day_iso);
    EVP_Digest(in, (size_t)len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++) snprintf(d->job.key + 2 * i, 3, "%02x", md[i]);
}

/* The values of the template's placeholders into vars (strings in text,
 * counts in nums). */
static void job_values(notify_digest *d, const notify_agenda_text *t,
                       sp_template_var *vars, char date[32], char nums[4][24],
                       char late[256]) {
    const char *vals[DIGEST_NVARS];
    char missed[32];
    sp_date_long(d->as_of, date, 32);
    late[0] = '\0';
    if (d->catch_up)
        snprintf(late, 256,
                 "\n\nThis digest comes late: the one due on %s at %s was not sent, "
                 "because sendpath's notify service was not running. It lists the "
                 "deadlines as they stand today.",
                 sp_date_long(d->day, missed, sizeof(missed)), d->st->conf->digest_time);
    for (int k = 0; k < 3; k++) snprintf(nums[k], 24, "%zu", t->count[k]);
    snprintf(nums[3], 24, "%lld", d->st->conf->digest_horizon_days);
    vals[0] = team_name(d), vals[1] = date;
    vals[2] = t->list[0], vals[3] = t->list[1], vals[4] = t->list[2];
    vals[5] = nums[0], vals[6] = nums[1], vals[7] = nums[2], vals[8] = nums[3];
    vals[9] = late;
    for (size_t i = 0; i < DIGEST_NVARS; i++)
        vars[i] = (sp_template_var){digest_vars[i], vals[i]};
}

static int job_message(notify_digest *d, sp_template_var *vars, char *errstr,
                       size_t size) {
    notify_state *st = d->st;
    char *subject = NULL, *body = NULL, mid[64];
    int rc = -1;
    if (sp_template_render(d->tpl, vars, DIGEST_NVARS, &subject, &body, errstr, size))
        return -1;
    notify_message m = {.from = st->conf->from,
                        .reply_to = st->conf->reply_to,
                        .to_name = "",
                        .to_email = d->job.to_email,
                        .subject = subject,
                        .body = body,
                        .message_id = notify_job_message_id(&d->job, mid, sizeof(mid)),
                        .date_ms = sp_service_now(st->s),
                        .case_id = "",
                        .event_id = d->job.event_id,
                        .template_name = DIGEST_TEMPLATE};
    d->job.message = notify_message_build(&m, &d->job.message_len, errstr, size);
    rc = d->job.message ? 0 : -1;
    free(subject);
    free(body);
    return rc;
}

/* Builds the team's job. Returns 0, or -1 with errstr. */
static int job_build(notify_digest *d, char *errstr, size_t size) {
    const notify_team *team = &d->st->teams.items[d->team];
    notify_agenda_text t;
    sp_template_var vars[DIGEST_NVARS];
    char date[32], nums[4][24], name[96], event_id[160], late[256];
    int rc = -1;
    job_key(d);
    d->job.attempt = ++d->attempts[d->team];
    if (notify_agenda_write(d->items, d->nitems, team->name, d->as_of,
                            (int)d->st->conf->digest_horizon_days, &t)) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    snprintf(name, sizeof(name), "%lld.N%.*s.sendpath",
             (long long)(sp_service_now(d->st->s) / 1000), NOTIFY_JOB_ID_HEX, d->job.key);
    snprintf(event_id, sizeof(event_id), "digest/%s/%s", team->name, d->day_iso);
    d->job.case_id = strdup("");
    d->job.event_id = strdup(event_id);
    d->job.template_name = strdup(DIGEST_TEMPLATE);
    d->job.role = strdup("caseworker");
    d->job.name = strdup(name);
    d->job.to_email = strdup(team->mailbox);
    job_values(d, &t, vars, date, nums, late);
    if (!d->job.case_id || !d->job.event_id || !d->job.template_name || !d->job.role ||
        !d->job.name || !d->job.to_email ||
        !(d->job.personalisation = cJSON_CreateObject()))
        snprintf(errstr, size, "out of memory");
    else {
        for (size_t i = 0; i < DIGEST_NVARS; i++)
            cJSON_AddStringToObject(d->job.personalisation, vars[i].name, vars[i].value);
        rc = job_message(d, vars, errstr, size);
    }
    notify_agenda_text_free(&t);
    return rc;
}

static void team_reserved(int err, int taken, void *opaque) {
    notify_digest *d = opaque;
    char errstr[256];
    if (err) {
        run_end(d, "redis: cannot reserve the digest");
        return;
    }
    if (!taken) { /* sent, refused, or being sent by someone else */
        d->team++;
        team_next(d);
        return;
    }
    if (job_build(d, errstr, sizeof(errstr))) {
        sp_error("notify: digest of %s to team %s cannot be written: %s", d->day_iso,
                 team_name(d), errstr);
        sp_metric_inc(d->st->m_dead);
        team_report(d, NOTIFY_OUTCOME_REFUSED, errstr, "refused");
        return;
    }
    if (notify_channel_send(&d->st->channel, &d->job, team_sent, d, errstr,
                            sizeof(errstr))) {
        sp_warn("notify: digest to team %s: %s", team_name(d), errstr);
        sp_metric_inc(d->st->m_failed);
        d->failed = 1;
        team_report(d, NOTIFY_OUTCOME_FAILED, errstr, NULL);
    }
}

static void team_next(notify_digest *d) {
    notify_state *st = d->st;
    long long lease = st->conf->send_timeout_ms / 1000 + DIGEST_LEASE_EXTRA_S;
    if (d->team == st->teams.count) {
        run_end(d, NULL);
        return;
    }
    if (notify_clocks_digest_reserve(digest_redis(d), team_name(d), d->day_iso, lease,
                                     d->catch_up, team_reserved, d))
        run_end(d, "redis not connected");
}

/* ---- the cases ------------------------------------------------------------------ */

/* "given family", with any "((" broken: a template refuses such values. */
static char *child_name(const char *given, const char *family) {
    size_t n = strlen(given) + strlen(family) + 2, o = 0;
    char *s = malloc(2 * n);
    if (!s) return NULL;
    for (const char *parts[2] = {given, family}, **p = parts; p < parts + 2; p++) {
        if (p > parts) s[o++] = ' ';
        for (const char *c = *p; *c; c++) {
            if (*c == '(' && o && s[o - 1] == '(') s[o++] = ' ';
            s[o++] = *c;
        }
    }
    s[o] = '\0';
    return s;
}

/* fields: per distinct case (in the order of cases_ask), URN, given, family. */
static void cases_read(int err, char **fields, size_t n, void *opaque) {
    notify_digest *d = opaque;
    size_t c = 0;
    if (err) {
        run_end(d, "redis: cannot read the cases");
        return;
    }
    /* items are sorted by case: the k-th distinct case is fields[3k..]. */
    for (size_t i = 0; i < d->nitems; i++) {
        if (i && strcmp(d->items[i].case_id, d->items[i - 1].case_id)) c++;
        char **f = c < n ? fields + 3 * c : NULL;
        const notify_team *t = notify_teams_for_school(&d->st->teams, f ? f[0] : NULL);
        d->items[i].team = t ? t->name : NULL;
        if (f && f[1] && f[2]) d->children[i] = child_name(f[1], f[2]);
        d->items[i].child = d->children[i];
    }
    notify_clocks_lines_free(fields, 3 * n);
    team_next(d);
}

static int by_case(const void *a, const void *b) {
    return strcmp(((const notify_agenda_item *)a)->case_id,
                  ((const notify_agenda_item *)b)->case_id);
}

/* Asks for the cases of the items, each once. */
static void cases_ask(notify_digest *d) {
    const char **ids = malloc((d->nitems + 1) * sizeof(*ids));
    size_t n = 0;
    if (!ids || !(d->children = calloc(d->nitems + 1, sizeof(*d->children)))) {
        free(ids);
        run_end(d, "out of memory");
        return;
    }
    if (d->nitems) qsort(d->items, d->nitems, sizeof(*d->items), by_case);
    for (size_t i = 0; i < d->nitems; i++)
        if (!i || strcmp(d->items[i].case_id, d->items[i - 1].case_id))
            ids[n++] = d->items[i].case_id;
    int rc = notify_clocks_cases(d->st->s, ids, n, cases_read, d);
    free(ids);
    if (rc) run_end(d, "redis not connected");
}

/* The kept lines, parsed; clocks not due within the horizon are left out
 * here, before their cases are read. */
static void clocks_read(int err, char **lines, size_t n, void *opaque) {
    notify_digest *d = opaque;
    if (err || !(d->items = calloc(n + 1, sizeof(*d->items)))) {
        notify_clocks_lines_free(lines, n);
        run_end(d, err ? "redis: cannot read the clocks" : "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        notify_agenda_item *it = &d->items[d->nitems];
        if (notify_agenda_parse(lines[i], it) == 0 &&
            notify_agenda_kind_of(it, d->as_of, (int)d->st->conf->digest_horizon_days) !=
                NOTIFY_AGENDA_LATER)
            d->nitems++;
    }
    notify_clocks_lines_free(lines, n);
    cases_ask(d);
}

/* ---- when ----------------------------------------------------------------------- */

/* The day whose digest is due now: from notify.digest.time, today's;
 * before it, yesterday's, which is only sent as a catch-up, to a team whose
 * last digest is older (the service was down or behind at yesterday's
 * time). Several days missed make one catch-up, of the latest: it lists
 * the deadlines as they stand today, which is what a caseworker needs. */
static sp_date due_day(const notify_digest *d, int64_t now, sp_date *today,
                       int *catch_up) {
    *today = sp_date_from_ms(now);
    if (*today == SP_DATE_INVALID) return SP_DATE_INVALID;
    *catch_up = now - sp_date_start_ms(*today) < (int64_t)d->minutes * 60000;
    return *catch_up ? sp_date_add_days(*today, -1) : *today;
}

static void digest_look(notify_digest *d) {
    sp_date today, day;
    int catch_up = 0;
    if (d->running || d->stopped || !d->st->conf->digest_enabled) return;
    day = due_day(d, sp_service_now(d->st->s), &today, &catch_up);
    if (day == SP_DATE_INVALID || day == d->done ||
        sp_clock_now_ms(NULL) < d->not_before || !sp_redis_ready(digest_redis(d)))
        return;
    if (day != d->day) { /* a new day */
        d->backoff_ms = 0, d->not_before = 0;
        memset(d->attempts, 0, d->st->teams.count * sizeof(*d->attempts));
    }
    d->day = day;
    d->as_of = today;
    d->catch_up = catch_up;
    sp_date_iso(day, d->day_iso, sizeof(d->day_iso));
    d->running = 1;
    d->failed = 0;
    if (notify_clocks_read(digest_redis(d), clocks_read, d))
        run_end(d, "redis not connected");
}

static void digest_tick(uv_timer_t *t) { digest_look(t->data); }

void notify_digest_poke(notify_digest *d) {
    if (d) digest_look(d);
}

/* ---- tracking ------------------------------------------------------------------- */

int notify_digest_tracks(const notify_digest *d, const sp_event *ev) {
    char line[NOTIFY_AGENDA_LINE_MAX];
    return d && d->st->conf->digest_enabled &&
           notify_agenda_from_event(ev, line, sizeof(line)) != NOTIFY_AGENDA_IGNORE;
}

int notify_digest_track(notify_digest *d, const sp_event *ev,
                        void (*cb)(int err, void *opaque), void *opaque) {
    char line[NOTIFY_AGENDA_LINE_MAX];
    notify_agenda_op op = notify_agenda_from_event(ev, line, sizeof(line));
    return notify_clocks_track(digest_redis(d), op, sp_event_str(ev, "clock_id"), line,
                               cb, opaque);
}

/* ---- life ----------------------------------------------------------------------- */

notify_digest *notify_digest_new(notify_state *st, char *errstr, size_t size) {
    notify_digest *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    d->st = st;
    d->done = d->day = SP_DATE_INVALID;
    if (!(d->attempts = calloc(st->teams.count + 1, sizeof(*d->attempts)))) {
        snprintf(errstr, size, "out of memory");
        free(d);
        return NULL;
    }
    if (digest_check(d, errstr, size)) {
        free(d->attempts);
        free(d);
        return NULL;
    }
    if (uv_timer_init(st->s->loop, &d->timer)) {
        snprintf(errstr, size, "cannot start the digest's timer");
        free(d->attempts);
        free(d);
        return NULL;
    }
    d->timer.data = d;
    if (st->conf->digest_enabled)
        uv_timer_start(&d->timer, digest_tick, DIGEST_POLL_MS, DIGEST_POLL_MS);
    return d;
}

void notify_digest_stop(notify_digest *d) {
    if (!d) return;
    d->stopped = 1;
    uv_timer_stop(&d->timer);
}

int notify_digest_busy(const notify_digest *d) { return d && d->running; }

static void digest_closed(uv_handle_t *h) {
    notify_digest *d = h->data;
    run_reset(d);
    free(d->attempts);
    free(d);
}

void notify_digest_close(notify_digest *d) {
    if (!d) return;
    d->stopped = 1;
    uv_close((uv_handle_t *)&d->timer, digest_closed);
}
