/* store.h - notify's Redis keys about deliveries. Nothing else reads them;
 * notify learns about cases only from topics. (Its keys about cases,
 * notify:case, notify:facts and notify:pending, are in cases.h.)
 *
 *   notify:sent:<sha256 hex>  string, per (event id, recipient role,
 *                             template): "sending" (reserved), "sent <attempt>
 *                             <provider id>" ("sent" alone before channels
 *                             existed), "queued" (a retry queue owns it) or
 *                             "dead" (dead-lettered); expires after
 *                             sent.ttl_s. See deliver.h for the protocol.
 *                             On the server of the partition of the event
 *                             it sends for (the caller passes it).
 *   notify:retry:{s<p>}, notify:retry:{s<p>}:<sha256 hex>: the retry
 *                             queues, in queue.h.
 *
 * Every function returns 0 (its callback will be called exactly once) or -1
 * (Redis not connected; the callback will not be called). */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stddef.h>
#include "contact.h"
#include "redis.h"

#define NOTIFY_SENT_KEY_HEX 64

/* Generic completion: err is 0 on success. */
typedef void (*notify_store_cb)(int err, void *opaque);

typedef enum {
    NOTIFY_SENT_NEW,     /* reserved now, as "sending": write the message */
    NOTIFY_SENT_SENDING, /* reserved earlier, never marked: a crash; rewrite */
    NOTIFY_SENT_DONE,    /* already sent: do not write again */
    NOTIFY_SENT_QUEUED,  /* the retry queue owns it, or it was dead-lettered */
    NOTIFY_SENT_ERROR
} notify_sent_state;
/* For DONE, attempt and provider_id (borrowed, valid during the callback)
 * say how it was sent: attempt 1 and "" for a mark written before channels
 * existed. */
typedef void (*notify_store_sent_cb)(notify_sent_state st, int attempt,
                                     const char *provider_id, void *opaque);
/* SET notify:sent:<key> sending NX EX ttl; if taken, GETs its state. */
int notify_store_sent_reserve(sp_redis *r, const char *key_hex, long long ttl_s,
                              notify_store_sent_cb cb, void *opaque);
/* SET notify:sent:<key> "sent <attempt> <provider_id>" EX ttl. */
int notify_store_sent_mark(sp_redis *r, const char *key_hex, int attempt,
                           const char *provider_id, long long ttl_s,
                           notify_store_cb cb, void *opaque);
/* The mark's text, for notify_queue_put/_remove (queue.h). buf: 200 bytes. */
char *notify_store_sent_value(int attempt, const char *provider_id, char *buf,
                              size_t size);

#endif
