/* digest.h - one email a day per caseworkers' team: the approaching, due
 * and overdue statutory deadlines of the team's cases.
 *
 * The deadline events keep notify:clocks up to date (agenda.h, clocks.h;
 * batch.c calls notify_digest_track for each). Once a day, at
 * notify.digest.time London time on the service's clock (manual in tests:
 * POST /admin/clock moves it, and the digest looks at once), the digest
 * reads every kept clock, finds each case's team (team.h) and child, and
 * sends each team one email from templates/caseworker_digest.txt, through
 * the configured channel. A team with nothing due still gets one, saying
 * so: a digest that does not come is then a fault someone notices.
 *
 * Exactly once per team and day, across restarts and several notify
 * processes: before sending, SET notify:digest:<team>:<date> sending NX
 * with a lease (send.timeout_ms + 30 s); after, "sent <provider id>". A key
 * already there means sent, refused, or being sent: skipped. A send that
 * may work later deletes the key and is tried again with backoff
 * (retry.base_ms doubling to retry.max_ms) the same day; one the provider
 * refuses is marked "refused", counted as dead-lettered and logged. The
 * window left is deliver.h's: a process killed after the provider took the
 * digest and before "sent" was written sends it again when the lease ends.
 *
 * Every attempt's outcome is published on sendpath.notification-outcomes
 * as notification.digest.sent / .failed / .dead_lettered, keyed by
 * "team:<team>" (outcome.h), before the day is marked.
 *
 * A day missed (the service down or behind at digest time) is caught up
 * once: started later that day, the service sends the day's digest at
 * once; started the next day before notify.digest.time, it sends the
 * missed day's digest at once (a "catch-up", keyed by the missed day,
 * listing the deadlines as they stand now and saying it is late), then
 * today's at its time. Of several missed days only the latest is caught
 * up: older lists are out of date, and the catch-up covers now. A team
 * that never had a digest (notify:digest:last:<team>, clocks.h) is not
 * caught up: a first start sends nothing for yesterday. */
#ifndef NOTIFY_DIGEST_H
#define NOTIFY_DIGEST_H

#include "envelope.h"
#include "notify.h"

/* Checks the digest's settings and template; starts its timer when
 * notify.digest.enabled. Returns the digest (free with notify_digest_close),
 * or NULL with errstr. */
notify_digest *notify_digest_new(notify_state *st, char *errstr, size_t errstr_size);
/* 1 if ev changes the kept clocks (the digest is on and ev is a deadline
 * event of a listed clock). */
int notify_digest_tracks(const notify_digest *d, const sp_event *ev);
/* Writes what ev changes. Returns 0 (cb will be called once, err 0 when
 * Redis took it) or -1 (not connected; cb will not be called). */
int notify_digest_track(notify_digest *d, const sp_event *ev,
                        void (*cb)(int err, void *opaque), void *opaque);
/* The service's clock moved: look whether a digest is due now. */
void notify_digest_poke(notify_digest *d);
/* Stops the timer (shutdown); a run in flight finishes. */
void notify_digest_stop(notify_digest *d);
/* 1 while a run is in flight. */
int notify_digest_busy(const notify_digest *d);
/* Closes the timer and frees d (in the close callback). NULL is fine. */
void notify_digest_close(notify_digest *d);

#endif
