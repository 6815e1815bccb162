/* channel.c - the channel table, the bookkeeping every send shares, and the
 * outbox channel. See channel.h.
 *
 * The outbox channel is a few lines over outbox.c, which owns the Maildir:
 * the message is written under the job's deterministic file name, so a
 * repeated attempt replaces the file instead of adding one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "notify.h"

static const notify_channel_def *const channel_table[] = {
    &notify_channel_outbox, &notify_channel_smtp, &notify_channel_govuk};
const char *const notify_channel_names[] = {"outbox", "smtp", "notify", NULL};

#define CHANNEL_COUNT (sizeof(channel_table) / sizeof(channel_table[0]))

/* ---- counting sends in flight ---------------------------------------------- */

typedef struct channel_send {
    notify_channel *ch;
    notify_send_cb cb;
    void *opaque;
} channel_send;

static void channel_sent(notify_send_outcome res, const char *provider_id,
                         const char *reason, void *opaque) {
    channel_send *cs = opaque;
    cs->ch->inflight--;
    cs->cb(res, provider_id, reason, cs->opaque);
    free(cs);
}

int notify_channel_send(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                        void *opaque, char *errstr, size_t size) {
    channel_send *cs = malloc(sizeof(*cs));
    if (!cs) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    *cs = (channel_send){ch, cb, opaque};
    if (ch->def->send(ch, job, channel_sent, cs, errstr, size)) {
        free(cs);
        return -1;
    }
    ch->inflight++;
    return 0;
}

int notify_channel_check(notify_channel *ch, const notify_job *job, char *errstr,
                         size_t size) {
    return ch->def->check ? ch->def->check(ch, job, errstr, size) : 0;
}

int notify_channel_open(notify_channel *ch, notify_state *st, int index, char *errstr,
                        size_t size) {
    memset(ch, 0, sizeof(*ch));
    if (index < 0 || (size_t)index >= CHANNEL_COUNT ||
        strcmp(channel_table[index]->name, notify_channel_names[index]) != 0) {
        snprintf(errstr, size, "no channel number %d", index);
        return -1;
    }
    ch->def = channel_table[index];
    ch->st = st;
    return ch->def->init(ch, errstr, size);
}

void notify_channel_close(notify_channel *ch) {
    if (ch->def && ch->def->free) ch->def->free(ch);
    ch->priv = NULL;
}

const char *notify_channel_label(const notify_channel *ch, const notify_job *job) {
    return job->to_email ? ch->def->name : "print";
}

/* ---- the outbox channel ------------------------------------------------------ */

typedef struct outbox_send {
    const notify_job *job;
    notify_send_cb cb;
    void *opaque;
} outbox_send;

static int outbox_init(notify_channel *ch, char *errstr, size_t size) {
    return 0; /* the outbox itself is opened by main.c: letters need it too */
}

static void outbox_written(int err, const char *errmsg, void *opaque) {
    outbox_send *os = opaque;
    if (err)
        os->cb(NOTIFY_SEND_RETRY, NULL, errmsg, os->opaque);
    else
        os->cb(NOTIFY_SEND_SENT, os->job->name, NULL, os->opaque);
    free(os);
}

static int outbox_send_job(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                           void *opaque, char *errstr, size_t size) {
    outbox_send *os = malloc(sizeof(*os));
    notify_outbox_item item = {.name = job->name, .message = job->message,
                               .message_len = job->message_len,
                               .recovering = job->recovering};
    if (!os) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    *os = (outbox_send){job, cb, opaque};
    if (notify_outbox_write(&ch->st->outbox, &item, outbox_written, os, errstr, size)) {
        free(os);
        return -1;
    }
    return 0;
}

const notify_channel_def notify_channel_outbox = {
    .name = "outbox",
    .local = 1,
    .init = outbox_init,
    .send = outbox_send_job,
    .free = NULL,
};
