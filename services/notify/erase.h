/* erase.h - case.erased at notify: forget the family, keep no way to write
 * to them again.
 *
 * Dropped: the contact (notify:case), the joined facts (notify:facts), the
 * events waiting for either (notify:pending, and its entry in
 * notify:waiting:{s<p>}), the case's open clocks in the digest index
 * (notify:clocks, on redis.host), and any send of the case still in its
 * partition's retry queue (notify:retry:{s<p>}:<key>, whose job holds the
 * address), whose delivery key is set to "dead" so nothing sends it; then
 * the same on redis.host, for what an older notify kept there.
 *
 * Kept: the exactly-once marks notify:sent:<sha256> of sends already done.
 * They are keyed by a hash of (event id, recipient, template), hold only a
 * state and a provider id (a file name or message id made from that hash),
 * name neither the case nor the family, and expire after sent.ttl_s. They
 * are not what stops a replayed old event from writing to the erased
 * family: the runtime drops every event of an erased case before notify
 * reads it (common/screen.h), and with the contact gone there is no address
 * to write to in any case. Letters and emails already written to the
 * outbox or print folder are handed off, not kept here: see
 * docs/security.md. */
#ifndef NOTIFY_ERASE_H
#define NOTIFY_ERASE_H

#include "service.h"

/* The service's erase hook (service.h). */
int notify_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                 void *opaque);

#endif
