/* smtp.c - the smtp channel: the message message.c built, to an SMTP server,
 * by libcurl on the thread pool (transfer.c).
 *
 * Settings: notify.smtp.url (smtp:// or smtps://host:port), notify.smtp.
 * starttls (yes: require STARTTLS on smtp://, CURLUSESSL_ALL: libcurl then
 * refuses to go on in the clear), optional notify.smtp.username and
 * .password, and notify.smtp.ca_file for a council's own CA. The server's
 * certificate and name are always verified. The envelope sender is
 * notify.from's address; the recipient is the job's address.
 *
 * Header injection: the text was built by message.c, which refuses CR, LF and
 * control characters in every header and address. The envelope addresses go
 * into SMTP commands (MAIL FROM, RCPT TO), where a CR or LF would inject a
 * command, so they pass the same check again here (notify_message_address)
 * before libcurl sees them: the From at start-up, each recipient per send.
 *
 * On the wire a message has CRLF line ends; message.c writes LF (what a
 * Maildir holds), so the text is converted here. libcurl dot-stuffs lines
 * that start with '.'.
 *
 * Outcomes: the server took the message (250 to the end of DATA): sent, with
 * the Message-ID as provider id (a server's queue id is not exposed by
 * libcurl). A 5xx reply at any step (a refused recipient, a failed login):
 * refused. A 4xx reply, a connection or TLS failure, a timeout: retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "transfer.h"

#define SMTP_ADDR_MAX 256

typedef struct smtp_channel {
    char from[SMTP_ADDR_MAX + 2]; /* "<addr>" */
} smtp_channel;

typedef struct smtp_send {
    char message_id[64];
    notify_send_cb cb;
    void *opaque;
} smtp_send;

static int smtp_init(notify_channel *ch, char *errstr, size_t size) {
    const notify_conf *conf = ch->st->conf;
    char addr[SMTP_ADDR_MAX];
    smtp_channel *sc;
    if (!conf->smtp_url || (strncmp(conf->smtp_url, "smtp://", 7) != 0 &&
                            strncmp(conf->smtp_url, "smtps://", 8) != 0)) {
        snprintf(errstr, size, "notify.smtp.url must be smtp://host:port or "
                               "smtps://host:port for notify.channel = smtp");
        return -1;
    }
    if (notify_message_address(conf->from, addr, sizeof(addr))) {
        snprintf(errstr, size, "notify.from has no usable address");
        return -1;
    }
    if (notify_transfer_global_init(errstr, size)) return -1;
    if (!(sc = calloc(1, sizeof(*sc)))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    snprintf(sc->from, sizeof(sc->from), "<%s>", addr);
    ch->priv = sc;
    sp_info("notify: smtp channel to %s%s", conf->smtp_url,
            conf->smtp_starttls ? " (STARTTLS required)" : "");
    return 0;
}

static void smtp_free(notify_channel *ch) {
    free(ch->priv);
    notify_transfer_global_cleanup();
}

/* The text with every LF as CRLF. Returns a new buffer, or NULL. */
static char *crlf_text(const char *text, size_t len, size_t *out_len) {
    size_t n = 0, lf = 0;
    for (size_t i = 0; i < len; i++) lf += text[i] == '\n';
    char *out = malloc(len + lf + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') out[n++] = '\r';
        out[n++] = text[i];
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static void smtp_done(const notify_transfer *t, void *opaque) {
    smtp_send *ss = opaque;
    char reason[CURL_ERROR_SIZE + 32];
    snprintf(reason, sizeof(reason), "smtp %ld: %s", t->status, t->error);
    if (t->code == CURLE_OK)
        ss->cb(NOTIFY_SEND_SENT, ss->message_id, NULL, ss->opaque);
    else if (t->status >= 500 && t->status <= 599)
        ss->cb(NOTIFY_SEND_REFUSED, NULL, reason, ss->opaque);
    else
        ss->cb(NOTIFY_SEND_RETRY, NULL, reason, ss->opaque);
    free(ss);
}

/* The recipient goes into RCPT TO: the header checks again. */
static int smtp_check(notify_channel *ch, const notify_job *job, char *errstr,
                      size_t size) {
    char to[SMTP_ADDR_MAX];
    if (!job->message || !job->to_email ||
        notify_message_address(job->to_email, to, sizeof(to))) {
        snprintf(errstr, size, "smtp: no message, or the recipient's address holds "
                               "CR, LF or a control character, or is not an address");
        return -1;
    }
    return 0;
}

/* Sets up t for job: URL, TLS, login, envelope, body. Returns 0 or -1. */
static int smtp_prepare(notify_channel *ch, notify_transfer *t, const notify_job *job,
                        char *errstr, size_t size) {
    const notify_conf *conf = ch->st->conf;
    const smtp_channel *sc = ch->priv;
    char to[SMTP_ADDR_MAX], rcpt[SMTP_ADDR_MAX + 2];
    if (smtp_check(ch, job, errstr, size)) return -1;
    notify_message_address(job->to_email, to, sizeof(to));
    snprintf(rcpt, sizeof(rcpt), "<%s>", to);
    if (!(t->list[0] = curl_slist_append(NULL, rcpt)) ||
        !(t->upload = crlf_text(job->message, job->message_len, &t->upload_len))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, conf->smtp_url);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_FROM, sc->from);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, t->list[0]);
    if (conf->smtp_starttls)
        curl_easy_setopt(t->easy, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (conf->smtp_ca_file && *conf->smtp_ca_file)
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, conf->smtp_ca_file);
    if (conf->smtp_username && *conf->smtp_username) {
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, conf->smtp_username);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD,
                         conf->smtp_password ? conf->smtp_password : "");
    }
    notify_transfer_upload(t);
    return 0;
}

static int smtp_send_job(notify_channel *ch, const notify_job *job, notify_send_cb cb,
                         void *opaque, char *errstr, size_t size) {
    notify_transfer *t = notify_transfer_new((long)ch->st->conf->send_timeout_ms, errstr,
                                             size);
    smtp_send *ss = calloc(1, sizeof(*ss));
    if (!t || !ss) {
        if (!ss) snprintf(errstr, size, "out of memory");
        goto fail;
    }
    if (smtp_prepare(ch, t, job, errstr, size)) goto fail;
    notify_job_message_id(job, ss->message_id, sizeof(ss->message_id));
    ss->cb = cb;
    ss->opaque = opaque;
    if (notify_transfer_run(t, ch->st->s->loop, smtp_done, ss, errstr, size)) goto fail;
    return 0;
fail:
    notify_transfer_free(t);
    free(ss);
    return -1;
}

const notify_channel_def notify_channel_smtp = {
    .name = "smtp",
    .local = 0,
    .init = smtp_init,
    .check = smtp_check,
    .send = smtp_send_job,
    .free = smtp_free,
};
