/* notify.h - the notify service's configuration and state, shared by its
 * modules: one notify_state per process, reached through sp_service.priv
 * (never a global).
 *
 * Modules:
 *   main.c     config table, start-up and shut-down
 *   batch.c    a consumer batch, message by message: project, stash, route
 *   deliver.c  one message to one recipient, exactly once
 *   route.c    the routing and roles tables
 *   contact.c  the contact projection's fields
 *   store.c    notify's Redis keys
 *   message.c  RFC 5322 messages and printable letters
 *   outbox.c   the Maildir and print directories
 * and common/template.c for the templates. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "outbox.h"
#include "service.h"
#include "template.h"

typedef struct notify_conf {
    sp_common_conf common; /* first: the common rows' offsets apply */
    char *templates_dir;
    char *from;
    int channel; /* index into notify_channels */
    long long sent_ttl_s;
} notify_conf;

typedef struct notify_batch notify_batch;

typedef struct notify_state {
    sp_service *s;
    notify_conf *conf;
    sp_templates templates;
    const sp_template **route_templates; /* [notify_routes_count], row order */
    notify_outbox outbox;
    notify_batch *batch;
    sp_metric *m_sent, *m_repeats, *m_stashed, *m_unreachable;
} notify_state;

#endif
