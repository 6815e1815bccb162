/* main.c - sendpath-notify: the letters and emails people expect.
 *
 * Reads case events and deadline events, keeps what it needs to address a
 * case's letters (contact.c, store.c), and turns events into messages by
 * the routing table (route.c) and the templates in notify.templates_dir.
 * Messages go to the outbox channel (outbox.c): a Maildir and a print
 * directory under var.dir; every message sent is reported on the
 * notification-outcomes topic.
 *
 * Start-up refuses to run with a template its route cannot fill or a From
 * address that could not be a header: such faults are found before the first
 * message, not by a parent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "log.h"
#include "message.h"
#include "notify.h"
#include "route.h"

static const char *const notify_channels[] = {"outbox", NULL};
static const int notify_consume[] = {SP_TOPIC_CASE_EVENTS, SP_TOPIC_DEADLINES, -1};

#define N(f) offsetof(notify_conf, f)
static const sp_conf_def notify_conf_table[] = {
    {"http.port", SP_CONF_INT, offsetof(sp_common_conf, http_port), "8104", 0, 65535,
     NULL, "HTTP port of notify (health, readiness, metrics)"},
    {"templates_dir", SP_CONF_STRING, N(templates_dir), "templates", 0, 0, NULL,
     "Directory of message templates, one <name>.txt per template"},
    {"from", SP_CONF_STRING, N(from), "SEND Team <send@council.example>", 0, 0, NULL,
     "From header of every email"},
    {"channel", SP_CONF_ENUM, N(channel), "outbox", 0, 0, notify_channels,
     "Where messages go: outbox (a Maildir and a print directory under var.dir)"},
    {"sent.ttl_s", SP_CONF_INT, N(sent_ttl_s), "63072000", 3600, 3153600000LL, NULL,
     "How long a sent message is remembered, so a replayed event does not send "
     "it again (s); keep it longer than the topics' retention"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef N

static int notify_metrics(notify_state *st) {
    sp_metrics *m = st->s->metrics;
    st->m_sent = sp_metrics_counter(m, "sendpath_notify_sent_total",
                                    "Messages written to the outbox", NULL);
    st->m_repeats = sp_metrics_counter(m, "sendpath_notify_repeats_total",
                                       "Deliveries skipped: already sent", NULL);
    st->m_stashed = sp_metrics_counter(m, "sendpath_notify_waiting_total",
                                       "Events stashed until their case's contact "
                                       "was known", NULL);
    st->m_unreachable = sp_metrics_counter(m, "sendpath_notify_unreachable_total",
                                           "Messages not sent: no address for the "
                                           "recipient", NULL);
    return st->m_sent && st->m_repeats && st->m_stashed && st->m_unreachable ? 0 : -1;
}

static int notify_templates(notify_state *st, char *errstr, size_t size) {
    if (sp_templates_load_dir(&st->templates, st->conf->templates_dir, errstr, size))
        return -1;
    st->route_templates = calloc(notify_routes_count, sizeof(*st->route_templates));
    if (!st->route_templates) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    if (notify_routes_bind(&st->templates, st->route_templates, errstr, size)) return -1;
    sp_info("notify: %zu template(s) from %s, %zu route(s)", st->templates.count,
            st->conf->templates_dir, notify_routes_count);
    return 0;
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
        notify_templates(st, errstr, size) ||
        notify_outbox_open(&st->outbox, s->loop, s->common->var_dir, errstr, size))
        return -1;
    if (notify_metrics(st) || !(st->batch = notify_batch_new(st))) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    return 0;
}

static void notify_on_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n) {
    notify_state *st = s->priv;
    notify_batch_run(st->batch, msgs, n);
}

static void notify_fini(sp_service *s) {
    notify_state *st = s->priv;
    if (!st) return;
    notify_batch_free(st->batch);
    notify_outbox_close(&st->outbox);
    free(st->route_templates);
    sp_templates_free(&st->templates);
    free(st);
    s->priv = NULL;
}

static const sp_service_def notify_def = {
    .name = "notify",
    .conf_size = sizeof(notify_conf),
    .conf_table = notify_conf_table,
    .consume = notify_consume,
    .init = notify_init,
    .on_batch = notify_on_batch,
    .fini = notify_fini,
};

int main(int argc, char **argv) { return sp_service_main(&notify_def, argc, argv); }
