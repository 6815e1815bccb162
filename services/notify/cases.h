/* cases.h - notify's Redis keys about cases: what it knows of each, and the
 * events waiting until it knows enough. (store.c keeps the delivery keys.)
 *
 *   notify:case:<case_id>     hash: the contact projection (STORED fields of
 *                             contact.h), from the event that opened the case.
 *                             Personal data: in values only, never in keys.
 *   notify:facts:<case_id>    hash: facts joined from other events (fact.h),
 *                             field "<fact>:<key>" ("adviser_email:medical").
 *   notify:pending:<case_id>  list: texts of events whose messages need the
 *                             contact or a fact notify does not have yet
 *                             (they come on other topics, so in no order
 *                             with it). Each is tried again whenever the case
 *                             learns something, and dropped once handled.
 *   notify:waiting:{s<p>}     hash: pending list key -> its length, for
 *                             every case of partition p with events waiting
 *                             (the gauges sendpath_notify_waiting_*); kept by
 *                             the same scripts that change the lists.
 *
 * Every key is on the server of the case's partition (redis.shards): the
 * caller passes that server (sp_service_redis) and the partition.
 *
 * Projecting (save the contact and facts, then read the waiting list) and
 * looking up (read the contact and the facts an event needs; if something
 * required is missing, add the event to the list) are each one Lua script,
 * atomic in Redis. So an event never joins the list just after the list was
 * read for the fact it waits for, which would leave it waiting forever, even
 * when notify instances share the topics' partitions. Handled events are
 * removed by value (LREM, once each), not by position, so two instances
 * trying the same list at once cannot drop an event the other put back.
 *
 * Every function returns 0 (its callback will be called exactly once) or -1
 * (Redis not connected, no memory; the callback will not be called). */
#ifndef NOTIFY_CASES_H
#define NOTIFY_CASES_H

#include <stddef.h>
#include "contact.h"
#include "fact.h"
#include "redis.h"

/* items are the events waiting for the case, oldest first; they and their
 * strings belong to the callback's caller: free with notify_cases_items_free.
 * On error (err != 0) items is NULL. */
typedef void (*notify_cases_projected_cb)(int err, char **items, size_t n, void *opaque);
/* Saves c (NULL: none; else replaces the case's contact) and the fact
 * writes w[0..nw), then reads the waiting events. */
int notify_cases_project(sp_redis *r, int partition, const char *case_id, const notify_contact *c,
                         const notify_fact_write *w, size_t nw,
                         notify_cases_projected_cb cb, void *opaque);
void notify_cases_items_free(char **items, size_t n);

typedef enum {
    NOTIFY_CASES_FOUND,   /* c holds the contact and the facts needed */
    NOTIFY_CASES_WAITING, /* something required is missing: the event waits */
    NOTIFY_CASES_ERROR
} notify_cases_result;
/* FOUND: the callback owns c's values (moves them out, *mine = *c, or frees
 * them with notify_contact_free); c itself is valid only during the call.
 * WAITING: waits_for names what is missing ("the contact" or a fact's
 * field name; no personal data), borrowed for the call. */
typedef void (*notify_cases_lookup_cb)(notify_cases_result res, notify_contact *c,
                                       const char *waits_for, void *opaque);
/* Reads the case's contact and the facts in needs (copied) into one
 * notify_contact; when the contact or a required fact is missing, appends
 * event (text, len bytes) to the waiting list instead. */
int notify_cases_lookup(sp_redis *r, int partition, const char *case_id, const char *event, size_t len,
                        const notify_fact_needs *needs, notify_cases_lookup_cb cb,
                        void *opaque);

/* Generic completion: err is 0 on success. */
typedef void (*notify_cases_cb)(int err, void *opaque);
/* Removes each of items[0..n) (texts read from the waiting list) once. */
int notify_cases_unstash(sp_redis *r, int partition, const char *case_id, char *const *items, size_t n,
                         notify_cases_cb cb, void *opaque);

#endif
