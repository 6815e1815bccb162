/* deliver.h - one message (a route row, for one event) to one recipient,
 * exactly once.
 *
 * The message is rendered and checked first, so an event that cannot make a
 * good message (a CR or LF headed for a header, a value missing) is refused
 * before anything is reserved or written. Then, keyed by
 * sha256(event id | recipient role | template):
 *
 *   1. SET notify:sent:<key> sending NX     reserve
 *   2. write the file(s) to the outbox      tmp/ then rename into new/
 *   3. SET notify:sent:<key> sent           mark
 *   4. publish notification.sent            and wait for the broker's ack
 *
 * On a redelivered event: "sent" skips 2 and 3 but publishes 4 again (same
 * event id, so consumers drop the repeat; this covers a crash between 3 and
 * the ack). "sending" means a crash between 1 and 3: the message may or may
 * not be in the Maildir, so it is written again under the same deterministic
 * file name, which rename(2) replaces, so there is still one file (and if a
 * reader already moved it to cur/, it is not written again). The only
 * window left is a reader that took the message from new/ and deleted it
 * between our first write and the crash; it can see the message twice. The
 * window is the time from a rename to the next Redis reply: milliseconds.
 *
 * Nothing is lost either: the consumer stores the batch's offsets only after
 * step 4 is acknowledged, so a crash anywhere before that redelivers the
 * event and the steps above resume from what Redis says.
 */
#ifndef NOTIFY_DELIVER_H
#define NOTIFY_DELIVER_H

#include "contact.h"
#include "envelope.h"
#include "notify.h"
#include "route.h"

typedef enum {
    NOTIFY_DELIVER_DONE,    /* sent now, sent before, or nobody to send to */
    NOTIFY_DELIVER_REFUSED, /* the event cannot make this message */
    NOTIFY_DELIVER_RETRY    /* Redis, the disk or the broker failed */
} notify_deliver_result;

/* reason: for REFUSED and RETRY, borrowed, free of personal data. */
typedef void (*notify_deliver_cb)(notify_deliver_result res, const char *reason,
                                  void *opaque);

/* Sends row (index into notify_routes) for ev to its recipient in c. ev and
 * c are borrowed until cb. cb is called exactly once: before this returns
 * when the message is refused or has no recipient, later otherwise. */
void notify_deliver(notify_state *st, size_t row, const sp_event *ev,
                    const notify_contact *c, notify_deliver_cb cb, void *opaque);

#endif
