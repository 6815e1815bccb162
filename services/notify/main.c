/* main.c - sendpath-notify: the letters and emails people expect.
 *
 * Reads case events, evidence events and deadline events, keeps what it
 * needs to address a case's letters and fill them (contact.c, fact.c,
 * cases.c), and turns events into messages by
 * the routing table (route.c) and the templates in notify.templates_dir.
 * Emails go to the channel notify.channel names (channel.h): the outbox (a
 * Maildir under var.dir, the default), an SMTP server, or GOV.UK Notify;
 * letters go to the print directory. Sends that fail for a while wait in
 * the retry queue (retry.c); every attempt's outcome is reported on the
 * notification-outcomes topic.
 *
 * Keys are routed by partition (redis.shards, docs/scaling.md): a case's
 * keys, its sends' marks and its partition's retry queue are on the
 * partition's server; the digest's team-wide keys stay on redis.host.
 *
 * Start-up refuses to run with a template its route cannot fill, a From or
 * Reply-To address that could not be a header, or a channel whose settings
 * are incomplete (no Notify template id for a route's template, say): such
 * faults are found before the first message, not by a parent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "digest.h"
#include "erase.h"
#include "gauge.h"
#include "fact.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "retry.h"
#include "route.h"
#include "validate.h"

static const int notify_consume[] = {SP_TOPIC_CASE_EVENTS, SP_TOPIC_DEADLINES,
                                     SP_TOPIC_EVIDENCE, -1};

#define N(f) offsetof(notify_conf, f)
static const sp_conf_def notify_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8104", 0, 65535,
     NULL, "HTTP port of notify (health, readiness, metrics)"},
    {"templates_dir", SP_CONF_STRING, N(templates_dir), "templates", 0, 0, NULL,
     "Directory of message templates, one <name>.txt per template"},
    {"from", SP_CONF_STRING, N(from), "SEND Team <send@council.example>", 0, 0, NULL,
     "From header of every email, and the SMTP envelope sender"},
    {"reply_to", SP_CONF_STRING, N(reply_to), NULL, 0, 0, NULL,
     "Reply-To header of every email (\"Name <address>\" or an address); empty: none"},
    {"channel", SP_CONF_ENUM, N(channel), "outbox", 0, 0, notify_channel_names,
     "Where emails go: outbox (a Maildir under var.dir), smtp (notify.smtp.*) or "
     "notify (GOV.UK Notify, notify.notify.*); letters always go to the print directory"},
    {"outbox.sync", SP_CONF_ENUM, N(outbox_sync), "syncfs", 0, 0, notify_outbox_sync_names,
     "How the outbox makes a group of files durable before renaming them into new/: "
     "syncfs (one syncfs of the file system a group; best when the outbox has a file "
     "system of its own) or fsync (one fsync a file; Linux before 5.8 always uses it)"},
    {"batch.cases", SP_CONF_INT, N(batch_cases), "256", 1, 4096, NULL,
     "Cases of one consumer batch handled side by side (each case's events stay in "
     "order); also the most deliveries in flight at once"},
    {"sent.ttl_s", SP_CONF_INT, N(sent_ttl_s), "63072000", 3600, 3153600000LL, NULL,
     "How long a sent message is remembered, so a replayed event does not send "
     "it again (s); keep it longer than the topics' retention"},
    {"send.timeout_ms", SP_CONF_INT, N(send_timeout_ms), "30000", 100, 600000, NULL,
     "Longest one send to an SMTP server or to Notify may take, connecting included"},
    {"retry.base_ms", SP_CONF_INT, N(retry_base_ms), "500", 1, 3600000, NULL,
     "Wait before the second attempt of a send that may work later; each next "
     "attempt waits twice as long (half of it random)"},
    {"retry.max_ms", SP_CONF_INT, N(retry_max_ms), "60000", 1, 86400000, NULL,
     "Longest wait between two attempts"},
    {"retry.attempts", SP_CONF_INT, N(retry_attempts), "8", 1, 1000, NULL,
     "Attempts of one send, the first included; after the last fails the event "
     "is dead-lettered"},
    {"rate_per_minute", SP_CONF_INT, N(rate_per_minute), "3000", 60, 1000000, NULL,
     "Most sends to GOV.UK Notify in any minute (Notify allows 3,000)"},
    {"smtp.url", SP_CONF_STRING, N(smtp_url), NULL, 0, 0, NULL,
     "SMTP server for channel smtp: smtp://host:port or smtps://host:port"},
    {"smtp.starttls", SP_CONF_BOOL, N(smtp_starttls), "no", 0, 0, NULL,
     "Require STARTTLS on an smtp:// server (yes: never send in the clear)"},
    {"smtp.username", SP_CONF_STRING, N(smtp_username), NULL, 0, 0, NULL,
     "SMTP login (empty: none)"},
    {"smtp.password", SP_CONF_STRING, N(smtp_password), NULL, 0, 0, NULL,
     "SMTP password"},
    {"smtp.ca_file", SP_CONF_STRING, N(smtp_ca_file), NULL, 0, 0, NULL,
     "PEM file of the CA(s) to trust for the SMTP server's certificate (empty: the "
     "system's)"},
    {"notify.base_url", SP_CONF_STRING, N(govuk_base_url),
     "https://api.notifications.service.gov.uk", 0, 0, NULL,
     "GOV.UK Notify API for channel notify"},
    {"notify.api_key", SP_CONF_STRING, N(govuk_api_key), NULL, 0, 0, NULL,
     "GOV.UK Notify API key, {name}-{service id}-{secret}; keep it in the "
     "environment (SENDPATH_NOTIFY_NOTIFY_API_KEY), not in a file"},
    {"notify.email_reply_to_id", SP_CONF_STRING, N(govuk_reply_to_id), NULL, 0, 0, NULL,
     "GOV.UK Notify reply-to address id (empty: the service's default)"},
    {"notify.template.", SP_CONF_MAP, N(govuk_templates), NULL, 0, 0, NULL,
     "GOV.UK Notify template id of each template name (every route's template "
     "needs one for channel notify)"},
    {"caseworker_email", SP_CONF_STRING, N(caseworker_email), "", 0, 0, NULL,
     "The caseworkers' mailbox when there is one team (no notify.team.*): the alerts "
     "and the digest of every case; empty: none"},
    {"caseworker.alerts", SP_CONF_BOOL, N(caseworker_alerts), "yes", 0, 0, NULL,
     "An email to the case's team for every approaching, due and overdue statutory "
     "deadline (no: the daily digest only)"},
    {"team.", SP_CONF_MAP, N(teams), NULL, 0, 0, NULL,
     "A caseworkers' team and its mailbox: notify.team.<name> = <address>; each case "
     "goes to one team, by its school (notify.schools.<name>)"},
    {"schools.", SP_CONF_MAP, N(team_schools), NULL, 0, 0, NULL,
     "The schools (URNs, comma-separated) whose cases go to team <name>"},
    {"default_team", SP_CONF_STRING, N(default_team), NULL, 0, 0, NULL,
     "The team of cases whose school no notify.schools.* lists (needed with "
     "notify.team.*)"},
    {"digest.enabled", SP_CONF_BOOL, N(digest_enabled), "no", 0, 0, NULL,
     "One email a day to each team listing its cases' overdue, due and approaching "
     "statutory deadlines"},
    {"digest.time", SP_CONF_STRING, N(digest_time), "07:30", 0, 0, NULL,
     "When the daily digest goes, HH:MM London time (after timers' 07:00 fires)"},
    {"digest.horizon_days", SP_CONF_INT, N(digest_horizon_days), "14", 1, 366, NULL,
     "The digest lists as approaching the deadlines due within this many days"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef N

static int notify_metrics(notify_state *st) {
    sp_metrics *m = st->s->metrics;
    st->m_sent = sp_metrics_counter(m, "sendpath_notify_sent_total",
                                    "Messages handed to their channel", NULL);
    st->m_failed = sp_metrics_counter(m, "sendpath_notify_failed_total",
                                      "Send attempts that failed and will be retried",
                                      NULL);
    st->m_dead = sp_metrics_counter(m, "sendpath_notify_dead_lettered_total",
                                    "Sends given up: refused, or out of attempts", NULL);
    st->m_repeats = sp_metrics_counter(m, "sendpath_notify_repeats_total",
                                       "Deliveries skipped: already sent", NULL);
    st->m_stashed = sp_metrics_counter(m, "sendpath_notify_waiting_total",
                                       "Events that waited for their case's contact "
                                       "or a fact from another event", NULL);
    st->m_unreachable = sp_metrics_counter(m, "sendpath_notify_unreachable_total",
                                           "Messages not sent: no address for the "
                                           "recipient", NULL);
    st->m_digests = sp_metrics_counter(m, "sendpath_notify_digests_sent_total",
                                       "Daily digests handed to their channel (one per "
                                       "team per day)", NULL);
    return st->m_digests && st->m_sent && st->m_repeats && st->m_stashed &&
                   st->m_unreachable && st->m_failed && st->m_dead
               ? 0
               : -1;
}

/* Rows writing to the caseworkers are off when there is no team (no
 * notify.team.* and no notify.caseworker_email) or notify.caseworker.alerts
 * is no: their events are then not even looked up. */
static int notify_routes_switch(notify_state *st, char *errstr, size_t size) {
    const notify_conf *c = st->conf;
    int alerts = c->caseworker_alerts;
    if (notify_teams_load(&st->teams, &c->teams, &c->team_schools, c->default_team,
                          c->caseworker_email, errstr, size))
        return -1;
    if (!(st->route_on = calloc(notify_routes_count, 1))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < notify_routes_count; i++)
        st->route_on[i] = (alerts && st->teams.count) ||
                          strcmp(notify_route_email_field(&notify_routes[i]),
                                 "caseworker_email") != 0;
    return 0;
}

static int notify_templates(notify_state *st, char *errstr, size_t size) {
    if (sp_templates_load_dir(&st->templates, st->conf->templates_dir, errstr, size))
        return -1;
    st->route_templates = calloc(notify_routes_count, sizeof(*st->route_templates));
    if (!st->route_templates) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    if (notify_facts_check(errstr, size) ||
        notify_routes_bind(&st->templates, st->route_templates, errstr, size) ||
        notify_routes_switch(st, errstr, size))
        return -1;
    sp_info("notify: %zu template(s) from %s, %zu route(s)", st->templates.count,
            st->conf->templates_dir, notify_routes_count);
    return 0;
}

static int notify_reply_to_check(const char *reply_to, char *errstr, size_t size) {
    char addr[256];
    if (!reply_to || !*reply_to || notify_message_address(reply_to, addr, sizeof(addr)) == 0)
        return 0;
    snprintf(errstr, size, "notify.reply_to must be \"Name <address>\" or an address, "
                           "ASCII, without CR or LF");
    return -1;
}

static int notify_init(sp_service *s, char *errstr, size_t size) {
    notify_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    s->priv = st;
    st->s = s;
    st->conf = s->conf;
    if (notify_message_from_check(st->conf->from, errstr, size) ||
        notify_reply_to_check(st->conf->reply_to, errstr, size) ||
        notify_templates(st, errstr, size) ||
        notify_outbox_open(&st->outbox, s->loop, s->common->var_dir, st->conf->outbox_sync,
                           errstr, size) ||
        notify_channel_open(&st->channel, st, st->conf->channel, errstr, size))
        return -1;
    if (notify_metrics(st) || !(st->batch = notify_batch_new(st, (size_t)st->conf->batch_cases)) ||
        !(st->retry = notify_retry_new(st))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    if (!(st->gauge = notify_gauge_new(st))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    return (st->digest = notify_digest_new(st, errstr, size)) ? 0 : -1;
}

static void notify_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    notify_state *st = s->priv;
    notify_batch_run(st->batch, msgs, n);
}

/* Shutdown: no new retries or digests; those in flight finish. */
static void notify_stop(sp_service *s) {
    notify_state *st = s->priv;
    if (st && st->retry) notify_retry_stop(st->retry);
    if (st) notify_digest_stop(st->digest);
    if (st) notify_gauge_stop(st->gauge);
}

static int notify_busy(sp_service *s) {
    notify_state *st = s->priv;
    return st && ((st->retry && notify_retry_busy(st->retry)) ||
                  notify_digest_busy(st->digest) || st->channel.inflight);
}

/* The retry queues follow the partitions of the case-events topic
 * (retry.h): each is worked by the instance that holds its partition. */
static void notify_rebalance(sp_service *s, int assigned,
                             const rd_kafka_topic_partition_list_t *parts) {
    notify_state *st = s->priv;
    if (!st || !st->retry) return;
    for (int i = 0; i < parts->cnt; i++)
        if (strcmp(parts->elems[i].topic, sp_service_topic(s, SP_TOPIC_CASE_EVENTS)) == 0)
            notify_retry_assign(st->retry, parts->elems[i].partition, assigned);
}

/* Manual time moved (tests): the digest may be due now. */
static void notify_on_clock(sp_service *s) {
    notify_state *st = s->priv;
    if (st) notify_digest_poke(st->digest);
}

static void notify_fini(sp_service *s) {
    notify_state *st = s->priv;
    if (!st) return;
    notify_retry_close(st->retry);
    notify_digest_close(st->digest);
    notify_gauge_close(st->gauge);
    notify_teams_free(&st->teams);
    notify_channel_close(&st->channel);
    notify_batch_free(st->batch);
    notify_outbox_close(&st->outbox);
    free(st->route_templates);
    free(st->route_on);
    sp_templates_free(&st->templates);
    free(st);
    s->priv = NULL;
}

static const sp_service_def notify_def = {
    .name = "notify",
    .conf_size = sizeof(notify_conf),
    .conf_table = notify_conf_table,
    .consume = notify_consume,
    /* The case's keys on its partition's server; the digest's on redis.host. */
    .redis_by_partition = 1,
    .init = notify_init,
    .on_batch = notify_on_batch,
    .on_rebalance = notify_rebalance,
    .on_clock = notify_on_clock,
    .stop = notify_stop,
    .busy = notify_busy,
    .fini = notify_fini,
    .erase = notify_erase,
};

int main(int argc, char **argv) { return sp_service_main(&notify_def, argc, argv); }
