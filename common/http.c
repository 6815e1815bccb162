/* http.c - the HTTP server on the service's libuv loop. See http.h.
 *
 * Driving MHD from libuv. MHD runs in external-epoll mode: it keeps its own
 * epoll set (listen socket, its wake-up channel, every connection) and gives
 * us that one epoll fd. A uv_poll watches it; when it turns readable we call
 * MHD_run(), which does a zero-timeout epoll_wait and all the work. After each
 * run the uv_timer is re-armed from MHD_get_timeout(): MHD uses it both for
 * connection timeouts and to say "call me again now" (0) when it holds work
 * no fd will announce (connections on its edge-triggered ready list, resumed
 * connections). MHD_run() is never re-entered: code that wants MHD to run
 * again (a late answer, close) starts the timer at 0 instead, because it may
 * itself be running inside a handler, inside MHD_run().
 *
 * Request ownership. A sp_http_req has up to two holders and is freed by the
 * last one to let go (http_req_release):
 *   - MHD holds it from the first access-handler call until
 *     NOTIFY_COMPLETED (req->conn != NULL);
 *   - the application holds it from the moment its handler is called until
 *     it answers (req->dispatched && !req->answered).
 * So:
 *   - answered in the handler: the response is queued when the handler
 *     returns; MHD frees the request at NOTIFY_COMPLETED;
 *   - answered later: the connection was suspended when the handler returned.
 *     sp_http_respond() stores the response and resumes; MHD calls the access
 *     handler again, which queues it; NOTIFY_COMPLETED frees. A suspended
 *     connection is not watched, so a client that went away is only noticed
 *     after the resume, and NOTIFY_COMPLETED frees the request just the same
 *     (the answer is dropped by MHD);
 *   - MHD done first (the server was closed while the application still held
 *     the request; the client got a 503): NOTIFY_COMPLETED only clears
 *     req->conn, teardown clears req->h, and the later sp_http_respond()
 *     frees it;
 *   - never dispatched (404, 405, 413, client gone mid-upload): MHD is the
 *     only holder.
 * Everything the accessors return is copied out of MHD when the handler is
 * dispatched, because MHD's own strings die with the connection.
 *
 * Closing. MHD_stop_daemon() must never see a suspended connection (it
 * panics), and MHD_resume_connection() only raises a flag that the next
 * MHD_run() acts on. Teardown therefore gives every suspended connection a
 * 503 and resumes it, runs MHD once (the access handler queues what is
 * answered and refuses anything new), and only then stops the daemon. It runs
 * from the timer so it is never inside MHD_run().
 *
 * MHD's own log lines (client errors, accept failures) are logged as
 * warnings once the server runs; during start-up its last line becomes the
 * errstr instead, so the caller logs the failure once.
 *
 * The handler's side (accessors, answers) is in http_answer.c; the structs
 * both files use are in http_private.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include "http_private.h"
#include "log.h"

/* An answer that must not need memory to be made. */
static const char http_closing_problem[] =
    "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
    "\"status\":503,\"detail\":\"The service is shutting down.\"}";

static void http_run(sp_http *h);
static void http_on_timer(uv_timer_t *t);
static void http_teardown(sp_http *h);

static void http_errstr(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_errstr(char *errstr, size_t size, const char *fmt, ...) {
    va_list ap;
    if (!errstr || size == 0) return;
    va_start(ap, fmt);
    vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Access log and TLS (kept apart from the request machinery: they only
 * observe an answer, or hand MHD its key and certificate)
 * ---------------------------------------------------------------------- */

/* Probes and scrapes come every few seconds: they are logged at debug so the
 * info log stays a record of who did what. */
static int http_is_probe(const char *path) {
    return !strcmp(path, "/healthz") || !strcmp(path, "/readyz") ||
           !strcmp(path, "/metrics");
}

/* One line per answer. The path holds case ids and route words only; the
 * query string and body are never logged (they may name a child). */
void http_access_log(const sp_http_req *r, int status) {
    sp_log_level l = http_is_probe(r->path) ? SP_LOG_DEBUG : SP_LOG_INFO;
    double ms = (double)(uv_hrtime() - r->t0) / 1e6;
    int via = r->peer[0] && strcmp(r->peer, r->client) != 0;
    sp_log(l, NULL, "access %s %s %d token=%s client=%s ms=%.1f%s%s", r->method,
           r->path, status, r->who ? r->who : "-",
           r->client[0] ? r->client : "-", ms, via ? " via=" : "", via ? r->peer : "");
}

/* Reads a whole PEM file (at most 1 MiB). Returns a new string or NULL. */
static char *http_read_pem(const char *path, char *errstr, size_t size) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!f) {
        http_errstr(errstr, size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (1 << 20) ||
        fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)len + 1)) ||
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        http_errstr(errstr, size, "cannot read %s (or larger than 1 MiB)", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Loads the key and certificate named in opt; both or neither. */
static int http_tls_load(sp_http *h, const sp_http_options *opt, char *errstr,
                         size_t size) {
    if (!opt->tls_cert_file && !opt->tls_key_file) return 0;
    if (!opt->tls_cert_file || !opt->tls_key_file) {
        http_errstr(errstr, size, "TLS needs both a certificate and a key file");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        http_errstr(errstr, size, "this libmicrohttpd was built without TLS");
        return -1;
    }
    if (!(h->tls_cert = http_read_pem(opt->tls_cert_file, errstr, size))) return -1;
    if (!(h->tls_key = http_read_pem(opt->tls_key_file, errstr, size))) return -1;
    return 0;
}

/* The MHD options that turn TLS on, or none: tls[] ends with MHD_OPTION_END.
 * The PEM text stays in h while the daemon lives. */
static void http_tls_options(sp_http *h, struct MHD_OptionItem tls[3]) {
    size_t n = 0;
    if (h->tls_cert) {
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    }
    tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

/* ------------------------------------------------------------------------
 * Request lifetime
 * ---------------------------------------------------------------------- */

static sp_http_req *http_req_new(sp_http *h, struct MHD_Connection *conn,
                                 const char *method, const char *path) {
    size_t mlen = strlen(method), plen = strlen(path);
    sp_http_req *r = calloc(1, sizeof(*r) + mlen + 1 + plen + 1);
    if (!r) return NULL;
    memcpy(r->text, method, mlen + 1);
    memcpy(r->text + mlen + 1, path, plen + 1);
    r->method = r->text;
    r->path = r->text + mlen + 1;
    r->h = h;
    r->conn = conn;
    r->t0 = uv_hrtime();
    r->next = h->reqs;
    if (h->reqs) h->reqs->prev = r;
    h->reqs = r;
    return r;
}

static void http_req_unlink(sp_http_req *r) {
    if (!r->h) return;
    if (r->prev) r->prev->next = r->next;
    else r->h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->h = NULL;
}

static void http_req_free(sp_http_req *r) {
    http_hdr *hd, *next;
    http_req_unlink(r);
    if (r->resp) MHD_destroy_response(r->resp);
    for (hd = r->hdrs; hd; hd = next) {
        next = hd->next;
        free(hd);
    }
    free(r->body);
    free(r->kv);
    free(r->capbuf);
    free(r);
}

/* Frees the request once neither MHD nor the application holds it. */
void http_req_release(sp_http_req *r) {
    if (r->conn) return;
    if (r->dispatched && !r->answered) return;
    http_req_free(r);
}

/* ------------------------------------------------------------------------
 * Copying the request out of MHD
 * ---------------------------------------------------------------------- */

typedef struct http_kv_fill {
    size_t n, cap;
    size_t bytes;
    http_kv *kv; /* NULL while counting */
    char *p;
} http_kv_fill;

static enum MHD_Result http_kv_visit(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value) {
    http_kv_fill *f = cls;
    size_t klen = strlen(key), vlen = value ? strlen(value) : 0;

    if (f->kv) {
        if (f->n == f->cap) return MHD_NO; /* cannot happen: same values twice */
        f->kv[f->n].kind = kind;
        f->kv[f->n].key = memcpy(f->p, key, klen + 1);
        f->p += klen + 1;
        f->kv[f->n].value = f->p;
        memcpy(f->p, value ? value : "", vlen + 1); /* "?flag" reads as "" */
        f->p += vlen + 1;
    }
    f->n++;
    f->bytes += klen + vlen + 2;
    return MHD_YES;
}

/* Copies headers and query arguments into one block: one pass to size it,
 * one to fill it. Returns 0 or -1 (out of memory). */
static int http_req_copy_values(sp_http_req *r) {
    const enum MHD_ValueKind kinds = MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND;
    http_kv_fill f = {0};
    size_t n;

    MHD_get_connection_values(r->conn, kinds, http_kv_visit, &f);
    n = f.n;
    r->kv = malloc(n * sizeof(http_kv) + f.bytes + 1);
    if (!r->kv) return -1;
    f.kv = r->kv;
    f.p = (char *)(r->kv + n);
    f.n = 0;
    f.cap = n;
    MHD_get_connection_values(r->conn, kinds, http_kv_visit, &f);
    r->nkv = f.n;
    return 0;
}

/* ------------------------------------------------------------------------
 * The access handler
 * ---------------------------------------------------------------------- */

/* Queues the response stored by the answer. MHD keeps its own reference. */
static enum MHD_Result http_req_queue(sp_http_req *r) {
    enum MHD_Result rc = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    if (rc != MHD_YES)
        sp_warn("http: cannot queue a %u response for %s %s", r->status,
                r->method, r->path);
    return rc;
}

/* An answer made by this module (404, 405, 413): it is stored, not sent, so
 * queue it now; without a response (out of memory) close the connection. */
static enum MHD_Result http_req_answer_here(sp_http_req *r) {
    return r->resp ? http_req_queue(r) : MHD_NO;
}

static enum MHD_Result http_req_too_large(sp_http_req *r) {
    char detail[96];
    snprintf(detail, sizeof(detail), "The body is larger than %zu bytes.",
             r->h->max_body);
    sp_http_respond_problem(r, 413, "Content Too Large", detail, NULL);
    return http_req_answer_here(r);
}

/* Paths that are never rate limited: liveness, readiness and metrics must
 * answer while a client floods the API. */
static int http_rate_exempt(const char *path) {
    static const char *const exempt[] = {"/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < sizeof(exempt) / sizeof(exempt[0]); i++)
        if (strcmp(path, exempt[i]) == 0) return 1;
    return 0;
}

/* Takes a token from the client's bucket. Returns 0 if the request may go
 * on, else 1 with a 429 (and Retry-After, in whole seconds) stored. */
static int http_req_rate_limited(sp_http_req *r) {
    char retry[24], detail[128];
    uint64_t wait_ms;

    if (http_rate_exempt(r->path)) return 0;
    wait_ms = sp_ratelimit_take(r->h->rate, r->client[0] ? r->client : "?",
                                uv_now(r->h->loop));
    if (wait_ms == 0) return 0;
    snprintf(retry, sizeof(retry), "%llu", (unsigned long long)((wait_ms + 999) / 1000));
    snprintf(detail, sizeof(detail), "Too many requests from this client; retry after %s s.",
             retry);
    sp_http_req_add_header(r, "Retry-After", retry);
    sp_http_respond_problem(r, 429, "Too Many Requests", detail, NULL);
    return 1;
}

static enum MHD_Result http_req_begin(sp_http *h, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      void **con_cls) {
    const char *cl;
    sp_http_req *r = http_req_new(h, conn, method, url);

    if (!r) return MHD_NO;
    *con_cls = r;
    /* Known from the first callback on, so that every answer's access line
     * names the client, a 404 or 413 as much as a handled request. */
    http_req_copy_client(r);
    if (h->rate && http_req_rate_limited(r)) return http_req_answer_here(r);
    /* A declared length over the limit is refused before reading the body:
     * MHD then discards the upload and closes the connection. */
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->max_body) {
        r->too_large = 1;
        return http_req_too_large(r);
    }
    return MHD_YES;
}

/* Appends a piece of the body, or drops it once over the limit: a chunked
 * upload has no length to check up front, and MHD does not allow answering
 * until the upload is complete, so the rest is read and discarded. */
static void http_req_append(sp_http_req *r, const char *data, size_t n) {
    size_t need = r->body_len + n + 1;
    if (r->too_large) return;
    if (r->body_len + n > r->h->max_body) {
        r->too_large = 1;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return;
    }
    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
        char *nb;
        while (cap < need) cap *= 2;
        if (cap > r->h->max_body + 1) cap = r->h->max_body + 1;
        nb = realloc(r->body, cap);
        if (!nb) { /* cannot hold it: answer as if it were too large */
            r->too_large = 1;
            return;
        }
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static enum MHD_Result http_req_unrouted(sp_http_req *r, const char *allow) {
    if (allow[0] == '\0') {
        sp_http_respond_problem(r, 404, "Not Found",
                                "No resource at this path.", NULL);
    } else if (sp_http_req_add_header(r, "Allow", allow) == 0) {
        sp_http_respond_problem(r, 405, "Method Not Allowed",
                                "This path does not accept the method.", NULL);
    }
    return http_req_answer_here(r);
}

/* The request is complete: route it and call the handler. An unanswered
 * request is suspended until sp_http_respond(). */
static enum MHD_Result http_req_dispatch(sp_http_req *r) {
    sp_http *h = r->h;
    http_capture caps[HTTP_MAX_PARAMS];
    size_t ncaps = 0;
    char allow[128];
    const http_route *rt;

    if (r->too_large) return http_req_too_large(r);
    rt = http_route_find(h, r, allow, sizeof(allow), caps, &ncaps);
    if (!rt) return http_req_unrouted(r, allow);
    if (http_req_capture(r, caps, ncaps) != 0) return MHD_NO;
    if (http_req_copy_values(r) != 0) return MHD_NO;

    r->dispatched = 1;
    h->pending++;
    if (!h->guard || h->guard(r, rt->scopes, h->guard_opaque))
        rt->fn(r, rt->opaque);

    if (r->resp) return http_req_queue(r);
    if (r->answered) return MHD_NO; /* answered, but no response was built */
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    return MHD_YES;
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn,
                                       const char *url, const char *method,
                                       const char *version,
                                       const char *upload_data,
                                       size_t *upload_size, void **con_cls) {
    sp_http *h = cls;
    sp_http_req *r = *con_cls;

    /* Closing: send what is already answered (teardown answered the rest
     * with 503), take nothing new. */
    if (h->closing) return r && r->resp ? http_req_queue(r) : MHD_NO;
    if (!r) return http_req_begin(h, conn, url, method, con_cls);
    if (*upload_size) {
        http_req_append(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resp) return http_req_queue(r); /* a later answer, resumed */
    if (r->dispatched) return MHD_NO;      /* resumed with no response */
    return http_req_dispatch(r);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    sp_http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    r->conn = NULL;
    r->suspended = 0;
    http_req_release(r);
}

static void http_on_mhd_log(void *cls, const char *fmt, va_list ap) {
    sp_http *h = cls;
    size_t n;
    vsnprintf(h->mhd_error, sizeof(h->mhd_error), fmt, ap);
    n = strlen(h->mhd_error);
    while (n > 0 && (h->mhd_error[n - 1] == '\n' || h->mhd_error[n - 1] == '\r'))
        h->mhd_error[--n] = '\0';
    if (h->started) sp_warn("http: %s", h->mhd_error);
}

/* ------------------------------------------------------------------------
 * Driving MHD from the loop
 * ---------------------------------------------------------------------- */

static void http_timer_start(sp_http *h, uint64_t ms) {
    int rc = uv_timer_start(&h->timer, http_on_timer, ms, 0);
    if (rc != 0) sp_error("http: uv_timer_start: %s", uv_strerror(rc));
}

/* Asks for MHD_run() on the next loop iteration. */
void http_kick(sp_http *h) {
    h->kicked = 1;
    http_timer_start(h, 0);
}

static void http_run(sp_http *h) {
    MHD_UNSIGNED_LONG_LONG ms;

    h->kicked = 0;
    if (MHD_run(h->d) != MHD_YES) sp_warn("http: MHD_run failed");
    if (h->closing) return; /* a handler closed us: teardown is scheduled */
    if (h->kicked) {
        http_timer_start(h, 0);
    } else if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
        http_timer_start(h, (uint64_t)ms);
    } else {
        uv_timer_stop(&h->timer);
    }
}

static void http_on_poll(uv_poll_t *p, int status, int events) {
    sp_http *h = p->data;
    if (status < 0) sp_warn("http: poll: %s", uv_strerror(status));
    http_run(h);
}

static void http_on_timer(uv_timer_t *t) {
    sp_http *h = t->data;
    if (h->closing) http_teardown(h);
    else http_run(h);
}

/* ------------------------------------------------------------------------
 * Server lifetime
 * ---------------------------------------------------------------------- */

static void http_free(sp_http *h) {
    if (h->tls_key) { /* a private key does not linger in freed memory */
        OPENSSL_cleanse(h->tls_key, strlen(h->tls_key));
        free(h->tls_key);
    }
    free(h->tls_cert);
    sp_ratelimit_free(h->rate);
    sp_proxies_free(h->proxies);
    free(h);
}

/* Frees the server once both handles have closed, then tells the user. */
static void http_on_handle_closed(uv_handle_t *handle) {
    sp_http *h = handle->data;
    void (*cb)(void *) = h->close_cb;
    void *opaque = h->close_opaque;

    if (--h->open_handles > 0) return;
    http_free(h);
    if (cb) cb(opaque);
}

static void http_close_handles(sp_http *h) {
    if (h->open_handles == 0) {
        void (*cb)(void *) = h->close_cb;
        void *opaque = h->close_opaque;
        http_free(h);
        if (cb) cb(opaque);
        return;
    }
    uv_close((uv_handle_t *)&h->poll, http_on_handle_closed);
    if (h->open_handles == 2)
        uv_close((uv_handle_t *)&h->timer, http_on_handle_closed);
}

static void http_teardown(sp_http *h) {
    sp_http_req *r, *next;

    if (h->torn_down) return;
    h->torn_down = 1;
    /* Closing stops both handles now, so the poll lets go of the epoll fd
     * before MHD closes it; h itself is freed by the close callbacks, on a
     * later loop turn. */
    http_close_handles(h);
    /* Unanswered requests get a 503 for the client, while the request itself
     * stays with the application, unanswered: its answer will be dropped. */
    for (r = h->reqs; r; r = r->next) {
        if (!r->suspended) continue;
        r->suspended = 0;
        r->status = 503;
        r->resp = http_build(NULL, HTTP_CT_PROBLEM, http_closing_problem,
                             sizeof(http_closing_problem) - 1);
        MHD_resume_connection(r->conn);
    }
    /* Acts on the resumes: answered requests are queued, and with luck sent
     * before the stop; anything else is refused. */
    MHD_run(h->d);
    MHD_stop_daemon(h->d);
    h->d = NULL;
    /* What is left was handed out and is unanswered: it now belongs to the
     * application alone, and its answer will just free it. */
    for (r = h->reqs; r; r = next) {
        next = r->next;
        http_req_unlink(r);
    }
}

/* Fills sa from addr and port. Returns 0, or -1 if addr is not an address. */
static int http_sockaddr(const char *addr, int port,
                         struct sockaddr_storage *sa, int *ipv6) {
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

    memset(sa, 0, sizeof(*sa));
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *ipv6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *ipv6 = 1;
        return 0;
    }
    return -1;
}

static struct MHD_Daemon *http_start_daemon(sp_http *h, const char *addr,
                                            int port, char *errstr,
                                            size_t errstr_size) {
    struct sockaddr_storage sa;
    unsigned int flags =
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;
    struct MHD_OptionItem tls[3];
    int ipv6;

    http_tls_options(h, tls);
    if (port < 0 || port > 65535 || http_sockaddr(addr, port, &sa, &ipv6) != 0) {
        http_errstr(errstr, errstr_size, "invalid listen address %s:%d", addr,
                    port);
        return NULL;
    }
    if (ipv6) flags |= MHD_USE_IPv6;
    if (h->tls_cert) flags |= MHD_USE_TLS;
    /* The logger goes first: MHD reports problems with the options after it
     * through it, and with the ones before it on stderr. */
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, http_on_request, h,
                         MHD_OPTION_EXTERNAL_LOGGER, http_on_mhd_log, h,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, h,
                         MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_TIMEOUT_S,
                         MHD_OPTION_ARRAY, tls,
                         MHD_OPTION_END);
    if (!d)
        http_errstr(errstr, errstr_size, "cannot listen on %s:%d: %s", addr,
                    port, h->mhd_error[0] ? h->mhd_error : "MHD_start_daemon failed");
    return d;
}

/* The request-rate limiter; see sp_http_options. Returns 0 or -1. */
static int http_rate_new(sp_http *h, const sp_http_options *opt, char *errstr,
                         size_t errstr_size) {
    unsigned burst = opt->rate_burst;
    if (burst == 0) burst = opt->rate_limit * 2 >= 1 ? (unsigned)(opt->rate_limit * 2) : 1;
    if (!(h->rate = sp_ratelimit_new(opt->rate_limit, burst, HTTP_RATE_SLOTS))) {
        http_errstr(errstr, errstr_size, "out of memory for the rate limiter");
        return -1;
    }
    return 0;
}

/* The trusted proxies of opt (an empty list when none), or NULL with errstr. */
static sp_proxies *http_proxies_new(const sp_http_options *opt, char *errstr,
                                    size_t errstr_size) {
    char why[160];
    sp_proxies *p = sp_proxies_parse(opt ? opt->trusted_proxies : NULL, why, sizeof(why));
    if (!p) http_errstr(errstr, errstr_size, "http.trusted_proxies: %s", why);
    return p;
}

sp_http *sp_http_new(uv_loop_t *loop, const sp_http_options *opt,
                     char *errstr, size_t errstr_size) {
    const char *addr = opt && opt->bind_addr ? opt->bind_addr : "0.0.0.0";
    const union MHD_DaemonInfo *info;
    sp_http *h;
    int rc;

    h = calloc(1, sizeof(*h));
    if (!h) {
        http_errstr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->loop = loop;
    h->max_body = opt && opt->max_body ? opt->max_body : HTTP_DEFAULT_MAX_BODY;
    if (opt && http_tls_load(h, opt, errstr, errstr_size) != 0) goto err_free;
    if (opt && opt->rate_limit > 0 && http_rate_new(h, opt, errstr, errstr_size) != 0)
        goto err_free;
    if (!(h->proxies = http_proxies_new(opt, errstr, errstr_size))) goto err_free;
    h->d = http_start_daemon(h, addr, opt ? opt->port : 0, errstr, errstr_size);
    if (!h->d) goto err_free;

    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        http_errstr(errstr, errstr_size, "MHD has no epoll fd");
        goto err_stop;
    }
    if ((rc = uv_poll_init(loop, &h->poll, info->epoll_fd)) != 0) {
        http_errstr(errstr, errstr_size, "uv_poll_init: %s", uv_strerror(rc));
        goto err_stop;
    }
    h->poll.data = h;
    h->open_handles = 1;
    if ((rc = uv_timer_init(loop, &h->timer)) != 0) {
        http_errstr(errstr, errstr_size, "uv_timer_init: %s", uv_strerror(rc));
        goto err_close;
    }
    h->timer.data = h;
    h->open_handles = 2;
    if ((rc = uv_poll_start(&h->poll, UV_READABLE, http_on_poll)) != 0) {
        http_errstr(errstr, errstr_size, "uv_poll_start: %s", uv_strerror(rc));
        goto err_close;
    }
    h->started = 1;
    return h;

err_close: /* handles are freed with h in their close callbacks */
    MHD_stop_daemon(h->d);
    http_close_handles(h);
    return NULL;
err_stop:
    MHD_stop_daemon(h->d);
err_free:
    http_free(h);
    return NULL;
}

void sp_http_set_guard(sp_http *h, sp_http_guard fn, void *opaque) {
    h->guard = fn;
    h->guard_opaque = opaque;
}

int sp_http_tls(const sp_http *h) { return h->tls_cert != NULL; }

int sp_http_port(const sp_http *h) { return h->port; }

size_t sp_http_pending(const sp_http *h) { return h->pending; }

void sp_http_quiesce(sp_http *h) {
    MHD_socket fd;
    if (h->closing) return;
    /* With external polling the listen socket is ours to close at once. */
    fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET && close(fd) != 0)
        sp_warn("http: close listen socket: %s", strerror(errno));
}

void sp_http_close(sp_http *h, void (*cb)(void *opaque), void *opaque) {
    if (h->closing) return;
    h->closing = 1;
    h->close_cb = cb;
    h->close_opaque = opaque;
    uv_poll_stop(&h->poll);
    http_timer_start(h, 0); /* teardown, outside any MHD_run() */
}
