/* deliver.h - one message (a route row, for one event) to one recipient,
 * exactly once, through the configured channel (channel.h).
 *
 * The message is rendered and checked first (message.c, and the channel's
 * own check), so an event that cannot make a good message (a CR or LF headed
 * for a header, a value missing, a template with no Notify id) is refused
 * before anything is reserved or sent. Then, keyed by
 * sha256(event id | recipient role | template):
 *
 *   1. SET notify:sent:<key> sending NX     reserve
 *   2. write the letter, if any             print directory (outbox.c)
 *   3. send the email, if any               the channel: outbox, smtp, notify
 *   4. SET notify:sent:<key> "sent 1 <id>"  mark
 *   5. publish notification.sent            and wait for the broker's ack
 *
 * On a redelivered event: "sent" skips 2 to 4 but publishes 5 again (same
 * event id, so consumers drop the repeat; this covers a crash between 4 and
 * the ack). "queued" or "dead": the retry queue owns the message (retry.h),
 * or it was dead-lettered; nothing is done. "sending" means a crash between
 * 1 and 4, and the message is sent again:
 *
 *   outbox  under the same deterministic file name, which rename(2)
 *           replaces, so there is still one file (and if a reader already
 *           moved it to cur/, it is not written again). A duplicate needs a
 *           reader that took the message from new/ and deleted it between
 *           our first write and the crash: a window of milliseconds, from a
 *           rename to the next Redis reply.
 *   smtp    there is no way to ask a server whether it has a message, so a
 *           crash after the server's 250 to DATA and before step 4's reply
 *           sends the message once more. The window is the rest of the SMTP
 *           session (QUIT), the thread pool's hand-back and one Redis round
 *           trip: about a millisecond on a LAN. Both copies carry the same
 *           Message-ID (<delivery id>@sendpath), so a mail client that
 *           drops repeated Message-IDs shows one.
 *   notify  the same window, from Notify's 201 to step 4's reply. Notify
 *           does not deduplicate, but both copies carry the same reference
 *           (the delivery id, no personal data), so an operator can find
 *           them in Notify's dashboard or by GET /v2/notifications?
 *           reference=<id>.
 *
 * At most notify.batch.cases + 1 messages are in that window at a time per
 * notify process (the batch runs that many cases side by side, one message
 * each; the retry queue one job at a time), so one crash re-sends at most
 * that many, and only messages whose key was still "sending" at the crash:
 * tests/integration/test_notify_smtp.py measures this with SIGKILL. With
 * the outbox, step 2 is grouped (outbox.h): the files of every delivery
 * that reached it meanwhile are written and fsynced together, and step 4
 * follows for each once its group is on disk; docs/notifications.md.
 *
 * A send that fails in a way that may pass (step 3 says retry) is not
 * retried here: the job goes to the retry queue (retry.h) and the batch goes
 * on. A send the provider refuses is dead-lettered there too, with its
 * reason. For the outbox channel a failure is our own disk, and the batch
 * is retried as for Redis.
 *
 * Nothing is lost either: the consumer stores the batch's offsets only after
 * step 5 (or the job's place in the retry queue) is acknowledged, so a
 * crash anywhere before that redelivers the event and the steps above
 * resume from what Redis says.
 */
#ifndef NOTIFY_DELIVER_H
#define NOTIFY_DELIVER_H

#include "contact.h"
#include "envelope.h"
#include "notify.h"
#include "route.h"

typedef enum {
    NOTIFY_DELIVER_DONE,    /* sent now, sent before, queued for a retry,
                               dead-lettered, or nobody to send to */
    NOTIFY_DELIVER_REFUSED, /* the event cannot make this message */
    NOTIFY_DELIVER_RETRY    /* Redis, the disk or the broker failed */
} notify_deliver_result;

/* reason: for REFUSED and RETRY, borrowed, free of personal data. */
typedef void (*notify_deliver_cb)(notify_deliver_result res, const char *reason,
                                  void *opaque);
/* The broker's verdict on the outcome event of a delivery that ended DONE
 * when the event was queued: err is 0 (acknowledged) or -1. */
typedef void (*notify_deliver_ack_cb)(int err, void *opaque);

/* Sends row (index into notify_routes) for ev to its recipient in c. text
 * (len bytes) is ev as it arrived, the value of a dead letter if the
 * provider refuses the message. ev, text and c are borrowed until cb (text
 * is copied if the message has to wait). cb is called exactly once: before
 * this returns when the message is refused or has no recipient, later
 * otherwise. With ack NULL, DONE waits for the broker to acknowledge step
 * 5. With ack set, DONE is reported as soon as step 5's event is queued
 * (the caller goes on to its next message), and ack is called exactly once,
 * after cb: with the broker's verdict on that event, or with 0 at once when
 * there was none to wait for. A caller must not store its offsets before
 * every ack. partition is the event's Kafka partition: its server holds the
 * sent key (store.h), its retry queue takes the job (retry.h). */
void notify_deliver(notify_state *st, size_t row, int partition, const sp_event *ev,
                    const char *text, size_t len, const notify_contact *c,
                    notify_deliver_cb cb, notify_deliver_ack_cb ack, void *opaque);

#endif
