/* notify.h - the notify service's configuration and state, shared by its
 * modules: one notify_state per process, reached through sp_service.priv
 * (never a global).
 *
 * Modules:
 *   main.c     config table, start-up and shut-down
 *   batch.c    a consumer batch, cases side by side: project, stash, route
 *   deliver.c  one message to one recipient, exactly once
 *   job.c      a send as a record (that can wait in Redis)
 *   channel.c  the channels' table and interface; the outbox channel
 *   smtp.c     the smtp channel (libcurl)
 *   govuk.c    the notify channel: GOV.UK Notify's API (with bucket.c, the
 *              rate limit, and common/jwt.c, its tokens)
 *   transfer.c libcurl on the thread pool
 *   retry.c    the retry queue: backoff, re-sends, dead letters
 *   queue.c    the retry queues' Redis keys (notify:retry:{s<p>})
 *   outcome.c  outcome events and dead letters
 *   route.c    the routing and roles tables
 *   contact.c  the fields a message reads: the contact, facts, settings
 *   fact.c     what one event tells for the messages of another
 *   label.c    plain-English words for advisers and clocks
 *   cases.c    notify's Redis keys about cases (contact, facts, waiting)
 *   store.c    notify's Redis keys about deliveries
 *   message.c  RFC 5322 messages and printable letters
 *   outbox.c   the Maildir and print directories
 *   team.c     the caseworkers' teams and their mailboxes
 *   gauge.c    the gauges read from Redis (queue depths)
 *   digest.c   the caseworkers' daily digest (with agenda.c, its lists,
 *              and clocks.c, its Redis keys)
 * and common/template.c for the templates. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "channel.h"
#include "outbox.h"
#include "service.h"
#include "team.h"
#include "template.h"

typedef struct notify_conf {
    sp_common_conf common; /* first: the common rows' offsets apply */
    char *templates_dir;
    char *from;
    char *reply_to;
    int channel; /* index into notify_channel_names */
    int outbox_sync; /* index into notify_outbox_sync_names */
    long long batch_cases;
    long long sent_ttl_s;
    char *caseworker_email; /* the caseworkers' mailbox; "": no alerts */
    int caseworker_alerts;  /* per-event alerts to the caseworkers */
    sp_conf_kvs teams;      /* team name -> mailbox (team.h) */
    sp_conf_kvs team_schools; /* team name -> school URNs */
    char *default_team;
    int digest_enabled;
    char *digest_time;      /* "HH:MM", London */
    long long digest_horizon_days;
    long long send_timeout_ms;
    long long retry_base_ms, retry_max_ms, retry_attempts;
    long long rate_per_minute;
    char *smtp_url;
    int smtp_starttls;
    char *smtp_username, *smtp_password, *smtp_ca_file;
    char *govuk_base_url, *govuk_api_key, *govuk_reply_to_id;
    sp_conf_kvs govuk_templates; /* template name -> Notify template id */
} notify_conf;

typedef struct notify_batch notify_batch;
typedef struct notify_retry notify_retry;
typedef struct notify_digest notify_digest;

struct notify_state {
    sp_service *s;
    notify_conf *conf;
    sp_templates templates;
    const sp_template **route_templates; /* [notify_routes_count], row order */
    unsigned char *route_on;             /* [notify_routes_count]: 0 = switched off */
    notify_outbox outbox;
    notify_channel channel;
    notify_retry *retry;
    notify_batch *batch;
    notify_teams teams;
    notify_digest *digest;
    struct notify_gauge *gauge;
    sp_metric *m_digests;
    sp_metric *m_sent, *m_repeats, *m_stashed, *m_unreachable, *m_failed, *m_dead;
};

#endif
