/* job.h - one email (or letter) being sent: everything a channel needs to
 * send it and notify needs to report it, as one record.
 *
 * deliver.c makes a job from an event, a route row and a contact; if the
 * first attempt fails in a way that may pass, the job waits in Redis
 * (retry.c, notify:retry:{s<p>}) as JSON and is read back for the next attempt,
 * long after the event, its contact and the Kafka message are gone. So a job
 * owns copies of everything, and nothing in it points elsewhere.
 *
 * A job holds personal data (the address, the message, the placeholder
 * values): it lives in Redis values and in memory, never in keys, logs or
 * error strings. */
#ifndef NOTIFY_JOB_H
#define NOTIFY_JOB_H

#include <stddef.h>
#include <cJSON.h>
#include "store.h"

#define NOTIFY_JOB_ID_HEX 32 /* hex digits of the key in ids, file names, references */

typedef struct notify_job {
    char key[NOTIFY_SENT_KEY_HEX + 1]; /* sha256(event id|role|template), hex */
    char *case_id, *event_id, *template_name, *role;
    char *to_email;          /* NULL: no email, only a letter */
    char *message;           /* the RFC 5322 text (LF line ends), or NULL */
    size_t message_len;
    cJSON *personalisation;  /* object: placeholder name -> value (strings) */
    char *name;              /* outbox file name "<s>.N<id>.sendpath" */
    char *event;             /* the triggering event's text, for a dead letter */
    size_t event_len;
    int printed;             /* a letter went to the print directory */
    int attempt;             /* attempts made so far (0 before the first) */
    int recovering;          /* not stored: an earlier attempt may have sent it */
    /* Not stored: the Kafka partition of the event that made the job, whose
     * server holds its sent key and whose retry queue takes it (queue.h);
     * -1 for a job of the queue older notify kept on redis.host. */
    int partition;
} notify_job;

/* The job's JSON text for Redis (attempt, recovering and partition are not
 * in it: the retry record keeps the attempt, its queue names the partition). Returns a new string (free with
 * free()), or NULL (no memory). */
char *notify_job_to_json(const notify_job *j);
/* Reads j (zeroed by the caller) from notify_job_to_json's text. Returns 0,
 * or -1 with errstr (never quoting the text: it holds personal data). */
int notify_job_from_json(notify_job *j, const char *text, size_t len, char *errstr,
                         size_t errstr_size);
/* The job's Message-ID without angle brackets, "<32 hex>@sendpath": the
 * same for every attempt. buf needs 48 bytes. Returns buf. */
char *notify_job_message_id(const notify_job *j, char *buf, size_t size);
/* Frees what j owns (not j). */
void notify_job_free(notify_job *j);

#endif
