/* clocks.h - notify's Redis keys for the caseworkers' daily digest.
 *
 *   notify:clocks               hash: clock_id -> the clock's line
 *                               (agenda.h), for every open clock the
 *                               digest lists. No personal data.
 *   notify:digest:<team>:<date> string: the team's digest of that day:
 *                               "sending" while one is being sent (expires
 *                               after a lease, so a process killed in the
 *                               middle leaves it to the next try), then
 *                               "sent <provider id>" or "refused", kept
 *                               DIGEST_KEEP_S.
 *   notify:digest:last:<team>   string: the latest day whose digest the
 *                               team got (sent or refused), YYYY-MM-DD:
 *                               how the digest knows a day was missed
 *                               (digest.h). Not kept before a first digest.
 *
 * These keys are one per deployment, not per case: they stay on redis.host
 * with redis.shards, since a team's digest is reserved once a day.
 *
 * The child's name for each line is read from notify:case:<case_id>
 * (cases.h), on the case's server, when the digest is written, never copied
 * here.
 *
 * Every function returns 0 (its callback will be called exactly once) or -1
 * (Redis not connected, no memory; the callback will not be called). */
#ifndef NOTIFY_CLOCKS_H
#define NOTIFY_CLOCKS_H

#include <stddef.h>
#include "agenda.h"
#include "redis.h"
#include "service.h"

/* err is 0 on success. */
typedef void (*notify_clocks_cb)(int err, void *opaque);
/* KEEP: HSET notify:clocks clock_id line; DROP: HDEL. */
int notify_clocks_track(sp_redis *r, notify_agenda_op op, const char *clock_id,
                        const char *line, notify_clocks_cb cb, void *opaque);

/* lines: the kept lines (n), owned by the callback's caller: free with
 * notify_clocks_lines_free. NULL on error. */
typedef void (*notify_clocks_read_cb)(int err, char **lines, size_t n, void *opaque);
int notify_clocks_read(sp_redis *r, notify_clocks_read_cb cb, void *opaque);
void notify_clocks_lines_free(char **lines, size_t n);

/* What the digest needs of one case: fields[i] is case i's school URN, child
 * given name and family name (3 strings each, NULL where unknown), owned by
 * the caller: free with notify_clocks_lines_free(fields, 3 * n). */
typedef void (*notify_clocks_cases_cb)(int err, char **fields, size_t n, void *opaque);
/* Reads them for case_ids[0..n) (copied), each on its case's server
 * (sp_service_redis_of). */
int notify_clocks_cases(sp_service *s, const char *const *case_ids, size_t n,
                        notify_clocks_cases_cb cb, void *opaque);

/* taken: 1 if the key was free and is now "sending" for lease_s; 0 if the
 * team's digest of that day was sent, refused, or is being sent. With
 * catch_up, also 0 unless the team got a digest before, of an earlier day
 * (notify:digest:last:<team> < date): a missed day is caught up, a first
 * start is not. */
typedef void (*notify_clocks_reserve_cb)(int err, int taken, void *opaque);
int notify_clocks_digest_reserve(sp_redis *r, const char *team, const char *date,
                                 long long lease_s, int catch_up,
                                 notify_clocks_reserve_cb cb, void *opaque);
/* value NULL: deletes the key (the send failed: try again later);
 * otherwise sets it to value, kept NOTIFY_DIGEST_KEEP_S, and the team's
 * last day to date if that is later. */
#define NOTIFY_DIGEST_KEEP_S (40LL * 86400)
int notify_clocks_digest_mark(sp_redis *r, const char *team, const char *date,
                              const char *value, notify_clocks_cb cb, void *opaque);

#endif
