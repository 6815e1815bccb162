/* transfer.c - libcurl on the thread pool. See transfer.h.
 *
 * The pool side touches only its own transfer record; libcurl is
 * thread-safe for one easy handle per thread once curl_global_init has run,
 * and CURLOPT_NOSIGNAL keeps it from using signals for timeouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "transfer.h"

int notify_transfer_global_init(char *errstr, size_t size) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(errstr, size, "curl_global_init: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

void notify_transfer_global_cleanup(void) { curl_global_cleanup(); }

/* Keeps at most NOTIFY_TRANSFER_RESPONSE_MAX bytes; the rest is dropped,
 * not failed on: we read only a status and an id from it. */
static size_t response_write(char *data, size_t size, size_t n, void *opaque) {
    notify_transfer *t = opaque;
    size_t len = size * n, room = NOTIFY_TRANSFER_RESPONSE_MAX - t->response_len;
    size_t take = len < room ? len : room;
    char *grown;
    if (take == 0) return len;
    if (!(grown = realloc(t->response, t->response_len + take + 1))) return 0;
    memcpy(grown + t->response_len, data, take);
    t->response = grown;
    t->response_len += take;
    t->response[t->response_len] = '\0';
    return len;
}

static size_t upload_read(char *buf, size_t size, size_t n, void *opaque) {
    notify_transfer *t = opaque;
    size_t left = t->upload_len - t->upload_pos, take = size * n < left ? size * n : left;
    memcpy(buf, t->upload + t->upload_pos, take);
    t->upload_pos += take;
    return take;
}

notify_transfer *notify_transfer_new(long timeout_ms, char *errstr, size_t size) {
    notify_transfer *t = calloc(1, sizeof(*t));
    if (!t || !(t->easy = curl_easy_init())) {
        free(t);
        snprintf(errstr, size, "cannot create a curl handle");
        return NULL;
    }
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, response_write);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    /* Close the connection inside curl_easy_perform, on the pool thread: a
     * kept SMTP connection would send QUIT and wait for its reply in
     * curl_easy_cleanup, on the loop. */
    curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
    return t;
}

void notify_transfer_upload(notify_transfer *t) {
    curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_UPLOAD, 1L);
}

void notify_transfer_free(notify_transfer *t) {
    if (!t) return;
    curl_easy_cleanup(t->easy); /* first: it may still use the lists */
    curl_slist_free_all(t->list[0]);
    curl_slist_free_all(t->list[1]);
    free(t->upload);
    free(t->response);
    free(t);
}

static void transfer_work(uv_work_t *req) {
    notify_transfer *t = req->data;
    t->code = curl_easy_perform(t->easy);
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->code != CURLE_OK && !t->error[0])
        snprintf(t->error, sizeof(t->error), "%s", curl_easy_strerror(t->code));
}

static void transfer_after(uv_work_t *req, int status) {
    notify_transfer *t = req->data;
    if (status == UV_ECANCELED) {
        t->code = CURLE_ABORTED_BY_CALLBACK;
        snprintf(t->error, sizeof(t->error), "transfer cancelled");
    }
    t->cb(t, t->opaque);
    notify_transfer_free(t);
}

int notify_transfer_run(notify_transfer *t, uv_loop_t *loop, notify_transfer_cb cb,
                        void *opaque, char *errstr, size_t size) {
    int rc;
    t->cb = cb;
    t->opaque = opaque;
    t->req.data = t;
    if ((rc = uv_queue_work(loop, &t->req, transfer_work, transfer_after)) != 0) {
        snprintf(errstr, size, "queue transfer: %s", uv_strerror(rc));
        return -1;
    }
    return 0;
}
