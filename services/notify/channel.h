/* channel.h - where an email goes: one small interface, one module per
 * channel, chosen by notify.channel.
 *
 *   outbox  channel.c  a Maildir under var.dir (outbox.c); nothing leaves
 *   smtp    smtp.c     an SMTP server, by libcurl (notify.smtp.*)
 *   notify  govuk.c    the GOV.UK Notify REST API (notify.notify.*)
 *
 * A channel only sends email. Letters for the post always go to the print
 * directory (outbox.c), whatever the channel, and a recipient with no email
 * address gets only a letter (the outcome's channel is then "print").
 *
 * A send ends in one of three outcomes: sent (with the provider's id for the
 * message), retry (it may work later: a 429, a 5xx, a timeout) or refused (it
 * never will: a 400, a 5xx SMTP reply). What happens next is deliver.c's and
 * retry.c's business, not the channel's: a channel never retries by itself,
 * so every attempt is counted and reported once. For a channel marked local
 * (the outbox), retry means our own trouble (the disk) and the consumer batch
 * is retried as for Redis; for the others it is the provider's, and the job
 * waits in its partition's retry queue with backoff while the batch goes on.
 *
 * Channels never block the loop: they run blocking calls on libuv's thread
 * pool (transfer.c for libcurl). */
#ifndef NOTIFY_CHANNEL_H
#define NOTIFY_CHANNEL_H

#include <stddef.h>
#include "job.h"

typedef struct notify_state notify_state;
typedef struct notify_channel notify_channel;

typedef enum {
    NOTIFY_SEND_SENT,    /* the provider took it */
    NOTIFY_SEND_RETRY,   /* try again later */
    NOTIFY_SEND_REFUSED  /* never: dead-letter it */
} notify_send_outcome;

/* provider_id: for SENT, the provider's id of the message; reason: for RETRY
 * and REFUSED, free of personal data. Both borrowed, valid during the call. */
typedef void (*notify_send_cb)(notify_send_outcome res, const char *provider_id,
                               const char *reason, void *opaque);

typedef struct notify_channel_def {
    const char *name; /* the notify.channel value, and the outcome's channel */
    int local;        /* 1: RETRY is our own trouble; retry the batch */
    /* Reads the channel's settings from ch->st->conf, checks them, allocates
     * ch->priv. Returns 0, or -1 with errstr (the service does not start). */
    int (*init)(notify_channel *ch, char *errstr, size_t errstr_size);
    /* Checks that job can be sent on this channel at all (before anything is
     * reserved: a job that fails is refused with its event). NULL: any job.
     * Returns 0, or -1 with errstr. */
    int (*check)(notify_channel *ch, const notify_job *job, char *errstr,
                 size_t errstr_size);
    /* Starts sending job's email (job->to_email is set). job is borrowed
     * until cb. Returns 0 (cb will be called exactly once, later, on the
     * loop) or -1 with errstr (cb will not be called). */
    int (*send)(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                void *opaque, char *errstr, size_t errstr_size);
    /* Frees ch->priv; called when no send is in flight. */
    void (*free)(notify_channel *ch);
} notify_channel_def;

struct notify_channel {
    const notify_channel_def *def;
    notify_state *st; /* borrowed: settings, loop, outbox */
    void *priv;
    size_t inflight;  /* sends started and not yet called back */
};

/* The channels, in the order of notify_channel_names (the config's enum). */
extern const notify_channel_def notify_channel_outbox, notify_channel_smtp,
    notify_channel_govuk;
extern const char *const notify_channel_names[]; /* NULL-terminated */

/* Sets ch up as channel number index of the table. Returns 0, or -1 with
 * errstr. */
int notify_channel_open(notify_channel *ch, notify_state *st, int index,
                        char *errstr, size_t errstr_size);
/* def->check, if the channel has one. */
int notify_channel_check(notify_channel *ch, const notify_job *job, char *errstr,
                         size_t errstr_size);
/* def->send, counting sends in flight (shutdown waits for them). */
int notify_channel_send(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                        void *opaque, char *errstr, size_t errstr_size);
void notify_channel_close(notify_channel *ch);
/* The outcome name of a job sent on ch: ch's name, or "print" when the job
 * has no email. */
const char *notify_channel_label(const notify_channel *ch, const notify_job *job);

#endif
