/* retry.h - sends that failed in a way that may pass wait here, in Redis,
 * not in the consumer batch.
 *
 * When a provider answers "later" (a 429, a 5xx, a timeout), the job is
 * written to its partition's retry queue (queue.h) with the time of its next attempt, and
 * the batch goes on: one slow provider does not hold up the partition's
 * later messages. A uv timer drains due jobs, one at a time, and sends each
 * again through the same channel. Every attempt is reported once:
 * notification.failed (with the attempt and the next one's time) while
 * attempts remain, then notification.sent, or, when the provider refuses
 * (400, 403, an SMTP 5xx) or the last of notify.retry.attempts fails, the
 * event goes to the dead-letter topic with the reason and
 * notification.dead_lettered is published.
 *
 * One queue per Kafka partition, on its server (queue.h): a job waits in
 * the queue of its event's partition, and is tried again by the instance
 * that holds that partition of the case-events topic.
 *
 * Backoff: attempt n waits min(retry.max_ms, retry.base_ms * 2^(n-1)), with
 * "equal jitter" (half of it fixed, half random), so many jobs that failed
 * together do not come back together. Times are real (the manual clock of
 * tests does not hold back retries). A due job runs at most about a second
 * late (the timer also polls the queue every second, for jobs other
 * instances, or a previous run, queued).
 *
 * Exactly once, continued from deliver.h: the key notify:sent:<key> says
 * "queued" while a job is here, so a replayed event leaves it alone. A claim
 * re-scores the job to a lease (send.timeout_ms + 30 s) instead of removing
 * it; the job leaves the queue only after its final outcome is acknowledged
 * by the broker. Before that, the job's record says how far it got (retry,
 * sent: only the outcome is missing, dead: only the dead letter), and a job
 * whose claimer died is taken again when its lease runs out. The window left
 * is the one deliver.h describes: a process killed while a provider is
 * taking the message sends it once more when the lease runs out. */
#ifndef NOTIFY_RETRY_H
#define NOTIFY_RETRY_H

#include "channel.h"
#include "job.h"
#include "notify.h"

typedef struct notify_retry notify_retry;

/* err is 0 once the job is safely queued or dead-lettered. */
typedef void (*notify_retry_cb)(int err, const char *errmsg, void *opaque);

/* Starts the drain timer. Returns NULL (no memory) or the queue; free with
 * notify_retry_close. */
notify_retry *notify_retry_new(notify_state *st);
/* Attempt job->attempt has failed with res (RETRY or REFUSED) and reason:
 * queues the next attempt after notification.failed, or dead-letters the
 * job. queued: the job is in its retry queue already (the drain's attempts);
 * 0 for a first attempt. job is borrowed until cb. Returns 0 (cb will be
 * called once) or -1 with errstr (cb will not be). */
int notify_retry_failed(notify_retry *rq, const notify_job *job, int queued,
                        notify_send_outcome res, const char *reason, notify_retry_cb cb,
                        void *opaque, char *errstr, size_t errstr_size);
/* The consumer was assigned (assigned = 1) or lost partition of the
 * case-events topic: its retry queue is drained here from now on, or no
 * more. */
void notify_retry_assign(notify_retry *rq, int partition, int assigned);
/* The Redis server holding partition's keys (sp_service_redis), or
 * redis.host for -1 (the old global queue). Borrowed; may be NULL. */
sp_redis *notify_retry_redis(notify_state *st, int partition);
/* Stops taking due jobs (shutdown); one in flight finishes. */
void notify_retry_stop(notify_retry *rq);
/* 1 while a due job is being handled. */
int notify_retry_busy(const notify_retry *rq);
/* Closes the timer and frees rq (in the close callback). */
void notify_retry_close(notify_retry *rq);

#endif
