/* store.h - notify's Redis keys. Nothing else reads them; notify learns about
 * cases only from topics.
 *
 *   notify:case:<case_id>     hash: the contact projection (contact.h fields).
 *                             Personal data: in values only, never in keys.
 *   notify:pending:<case_id>  list: texts of events that reached notify before
 *                             the case's request.received (another topic, so
 *                             no ordering between them). Emptied once they
 *                             have been sent.
 *   notify:sent:<sha256 hex>  string "sending" or "sent", per (event id,
 *                             recipient role, template); expires after
 *                             sent.ttl_s. See deliver.c for the protocol.
 *
 * Saving a contact and checking for one are each a Lua script, atomic in
 * Redis: "is there a contact? if not, stash the event" cannot interleave with
 * "save the contact, then read the stash", so an event is never stashed just
 * after the stash was read (which would leave it waiting forever) even when
 * two notify instances own the two topics' partitions.
 *
 * Every function returns 0 (its callback will be called exactly once) or -1
 * (Redis not connected; the callback will not be called). */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stddef.h>
#include "contact.h"
#include "redis.h"

#define NOTIFY_SENT_KEY_HEX 64

/* Saves c as the case's contact; items are the events that were waiting for
 * it, oldest first. On error (err != 0) items is NULL. items and its strings
 * belong to the callback's caller: free with notify_store_items_free(). */
typedef void (*notify_store_saved_cb)(int err, char **items, size_t n, void *opaque);
int notify_store_save_contact(sp_redis *r, const char *case_id, const notify_contact *c,
                              notify_store_saved_cb cb, void *opaque);
void notify_store_items_free(char **items, size_t n);

typedef enum {
    NOTIFY_LOOKUP_FOUND,   /* the contact is known: c is filled */
    NOTIFY_LOOKUP_STASHED, /* not yet: the event was pushed to pending */
    NOTIFY_LOOKUP_ERROR
} notify_lookup_result;
/* On FOUND the callback owns c's values: it moves them out (*mine = *c) or
 * frees them with notify_contact_free(c). c itself is valid only during the
 * callback. */
typedef void (*notify_store_lookup_cb)(notify_lookup_result res, notify_contact *c,
                                       void *opaque);
/* Returns the case's contact, or stashes event (text) when there is none. */
int notify_store_lookup_or_stash(sp_redis *r, const char *case_id, const char *event,
                                 size_t len, notify_store_lookup_cb cb, void *opaque);

/* Generic completion: err is 0 on success. */
typedef void (*notify_store_cb)(int err, void *opaque);
/* Drops the first n waiting events of the case (those just handled). */
int notify_store_pending_trim(sp_redis *r, const char *case_id, size_t n,
                              notify_store_cb cb, void *opaque);

typedef enum {
    NOTIFY_SENT_NEW,     /* reserved now, as "sending": write the message */
    NOTIFY_SENT_SENDING, /* reserved earlier, never marked: a crash; rewrite */
    NOTIFY_SENT_DONE,    /* already sent: do not write again */
    NOTIFY_SENT_ERROR
} notify_sent_state;
typedef void (*notify_store_sent_cb)(notify_sent_state st, void *opaque);
/* SET notify:sent:<key> sending NX EX ttl; if taken, GETs its state. */
int notify_store_sent_reserve(sp_redis *r, const char *key_hex, long long ttl_s,
                              notify_store_sent_cb cb, void *opaque);
/* SET notify:sent:<key> sent EX ttl. */
int notify_store_sent_mark(sp_redis *r, const char *key_hex, long long ttl_s,
                           notify_store_cb cb, void *opaque);

#endif
