/* transfer.h - one libcurl transfer run on libuv's thread pool.
 *
 * libcurl's easy interface blocks, so a transfer is a uv_work_t: the easy
 * handle runs on a pool thread, and the callback comes back on the loop
 * through uv_queue_work's after-callback, as outbox.c does for file writes.
 * The alternative, curl's multi interface driven by uv_poll and a timer,
 * would keep connections open between sends; we chose the pool because it is
 * the pattern the service already uses, it is a third of the code, and
 * notify's volume (a council's letters; at most 3,000 a minute to Notify)
 * does not need connection reuse. The cost is one connection (and TLS
 * handshake) per message, and a pool thread held for the length of a send:
 * libuv's pool has 4 threads (UV_THREADPOOL_SIZE), and notify runs at most
 * two sends at a time (the batch's and the retry queue's), so file writes are
 * never starved. Every transfer has a total timeout (notify.send.timeout_ms),
 * so a hung provider holds a thread for that long at most.
 *
 * The transfer owns the easy handle and the buffers it points at: the caller
 * creates one, sets options referring to t->upload and t->list[], then runs
 * it; everything is freed after the callback. */
#ifndef NOTIFY_TRANSFER_H
#define NOTIFY_TRANSFER_H

#include <stddef.h>
#include <curl/curl.h>
#include <uv.h>

#define NOTIFY_TRANSFER_RESPONSE_MAX 65536 /* bytes of a response body kept */

typedef struct notify_transfer notify_transfer;
/* t is borrowed: valid during the callback, freed after it. */
typedef void (*notify_transfer_cb)(const notify_transfer *t, void *opaque);

struct notify_transfer {
    CURL *easy;
    struct curl_slist *list[2];   /* headers, recipients: freed with t */
    char *upload;                 /* the request body (malloc'd): freed with t */
    size_t upload_len, upload_pos;
    /* results, read in the callback */
    CURLcode code;                /* CURLE_OK when the exchange completed */
    long status;                  /* HTTP status, or the last SMTP reply code */
    char *response;               /* the response body, NUL-terminated */
    size_t response_len;
    char error[CURL_ERROR_SIZE];  /* libcurl's message when code != CURLE_OK */
    /* private */
    uv_work_t req;
    notify_transfer_cb cb;
    void *opaque;
};

/* Once per process, before any thread runs: curl_global_init. Returns 0, or
 * -1 with errstr. */
int notify_transfer_global_init(char *errstr, size_t errstr_size);
void notify_transfer_global_cleanup(void);

/* A new transfer with an easy handle set up for use on a thread (no
 * signals, an error buffer, the response captured, total timeout_ms).
 * Returns it, or NULL with errstr. */
notify_transfer *notify_transfer_new(long timeout_ms, char *errstr, size_t errstr_size);
/* Makes t->upload the body read by libcurl (CURLOPT_UPLOAD, as SMTP needs). */
void notify_transfer_upload(notify_transfer *t);
/* Runs t on loop's thread pool. Returns 0 (cb will be called once, then t is
 * freed) or -1 with errstr (cb will not be called; free t yourself). */
int notify_transfer_run(notify_transfer *t, uv_loop_t *loop, notify_transfer_cb cb,
                        void *opaque, char *errstr, size_t errstr_size);
void notify_transfer_free(notify_transfer *t);

#endif
