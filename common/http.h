/* http.h - the HTTP server every service embeds, on the service's libuv loop.
 *
 * Built on libmicrohttpd in its external-epoll mode: MHD owns sockets and
 * parsing; we watch its epoll fd with a uv_poll and drive MHD_run() from the
 * loop, with a uv_timer for MHD's own timeouts. No threads: handlers run on the
 * loop, like every other callback in a service.
 *
 * Handlers may answer at once or later (after a Kafka delivery report or a
 * Redis reply): a request that returns from its handler unanswered has its
 * connection suspended until sp_http_respond*() is called. Every request is
 * answered exactly once; a request whose client went away before the answer
 * is still valid until answered, and the answer is then dropped.
 *
 * Routes are a table: method plus a pattern whose ":name" segments capture
 * (e.g. "/v1/cases/:id"). An unknown path is 404, a known path with another
 * method is 405, both as application/problem+json.
 *
 * Who may call a route is not decided here: each route carries the scopes it
 * declares, and a guard (common/auth.c) sees them before the handler runs.
 * This module only writes the access-log line of every answer and, given a
 * certificate and key, speaks HTTPS (MHD over GnuTLS). */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stddef.h>
#include <uv.h>
#include <cJSON.h>

typedef struct sp_http sp_http;
typedef struct sp_http_req sp_http_req;

typedef void (*sp_http_handler)(sp_http_req *req, void *opaque);

typedef struct sp_http_options {
    const char *bind_addr; /* "127.0.0.1", "0.0.0.0"; NULL = "0.0.0.0" */
    int port;              /* 0 = any free port; see sp_http_port() */
    size_t max_body;       /* bytes; larger bodies get 413. 0 = 1 MiB */
    /* PEM files: with both set the server speaks only HTTPS (GnuTLS, through
     * MHD); with neither, plain HTTP. Read once at start. */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* Requests per second per client address (a token bucket each); over it
     * a request gets 429 with Retry-After. 0 = no limit. /healthz, /readyz
     * and /metrics are never limited: probes and scrapes must get through
     * a flood. */
    double rate_limit;
    unsigned rate_burst;   /* bucket size; 0 = twice rate_limit (at least 1) */
    /* Reverse proxies whose X-Forwarded-For is believed (proxy.h: IPs and
     * CIDRs, comma-separated; NULL or "": none). A request from one is the
     * client's, as proxy.h finds it, for the rate limit, the access log and
     * sp_http_req_client(). */
    const char *trusted_proxies;
} sp_http_options;

/* Starts listening. Returns a new server, or NULL with errstr filled. */
sp_http *sp_http_new(uv_loop_t *loop, const sp_http_options *opt,
                     char *errstr, size_t errstr_size);
/* method: "GET", "POST", ... pattern: see above. Both are borrowed and must
 * outlive the server (string literals). Returns 0 or -1 (table full). */
int sp_http_route(sp_http *h, const char *method, const char *pattern,
                  sp_http_handler fn, void *opaque);
/* As sp_http_route, declaring what admits the route: scopes is a list the
 * guard reads (see auth.h: "ops:read school", "public"); borrowed, must
 * outlive the server. sp_http_route declares nothing (scopes NULL). */
int sp_http_route_scoped(sp_http *h, const char *method, const char *pattern,
                         const char *scopes, sp_http_handler fn, void *opaque);

/* A guard runs before every routed handler with the route's scopes (NULL
 * when undeclared). It returns 1 to call the handler, or 0 after answering
 * the request itself (401, 403). One per server; opaque is borrowed. */
typedef int (*sp_http_guard)(sp_http_req *r, const char *scopes, void *opaque);
void sp_http_set_guard(sp_http *h, sp_http_guard fn, void *opaque);

/* Who asked, as the guard found: name (borrowed, must outlive the request;
 * logged in the access log, so a token's name, never the token) and grant
 * (opaque to http.c, for the guard's own module to read back). */
void sp_http_req_set_principal(sp_http_req *r, const char *name, const void *grant);
const void *sp_http_req_grant(const sp_http_req *r);
/* The principal's name as the guard set it, or NULL. Borrowed. */
const char *sp_http_req_principal(const sp_http_req *r);

/* 1 if the server speaks HTTPS. */
int sp_http_tls(const sp_http *h);

/* The port actually bound. */
int sp_http_port(const sp_http *h);
/* Number of requests received and not yet answered. */
size_t sp_http_pending(const sp_http *h);
/* Stops accepting new connections; requests in flight may still be answered. */
void sp_http_quiesce(sp_http *h);
/* Closes everything; cb is called once when all handles have closed and the
 * server has been freed. Unanswered requests are dropped: their clients get
 * a 503 (sent if the socket takes it at once), and each sp_http_req stays
 * valid and must still be answered exactly once; that answer only frees it.
 * Safe to call from a handler (the work happens on the next loop turn). Call
 * it once. */
void sp_http_close(sp_http *h, void (*cb)(void *opaque), void *opaque);

/* Request accessors: borrowed, valid until the request is answered. */
const char *sp_http_req_method(const sp_http_req *r);
const char *sp_http_req_path(const sp_http_req *r);
/* A ":name" capture of the matched route, or NULL. */
const char *sp_http_req_param(const sp_http_req *r, const char *name);
/* A query-string argument (decoded), or NULL. */
const char *sp_http_req_query(const sp_http_req *r, const char *name);
/* A request header (case-insensitive), or NULL. */
const char *sp_http_req_header(const sp_http_req *r, const char *name);
/* The body, NUL-terminated (len excludes the NUL); "" when none. */
const char *sp_http_req_body(const sp_http_req *r, size_t *len);
/* The client's address as text ("127.0.0.1"): the peer, or behind a trusted
 * proxy the address X-Forwarded-For gives (sp_http_options). */
const char *sp_http_req_client(const sp_http_req *r);

/* Adds a response header; call before answering. name and value are copied.
 * Values with CR or LF are refused (returns -1), as are empty values (MHD
 * cannot send them), names that are not HTTP tokens and calls after the
 * answer. Returns 0 or -1. */
int sp_http_req_add_header(sp_http_req *r, const char *name, const char *value);

/* Answers the request (exactly once), and writes its access-log line
 * (method, path, status, the principal's name, client, milliseconds; never
 * the query string or body, which may hold personal data). body is copied; content_type may be
 * NULL. JSON answers (application/json, any +json type) also get
 * "Cache-Control: no-store" unless a Cache-Control header was added. May be
 * called from the handler or later from any callback on the loop; after the
 * call r is no longer valid. */
void sp_http_respond(sp_http_req *r, int status, const char *content_type,
                     const char *body, size_t len);
/* Answers with application/json; takes ownership of json and frees it. */
void sp_http_respond_json(sp_http_req *r, int status, cJSON *json);
/* Answers with RFC 9457 application/problem+json: {type, title, status,
 * detail, errors}. errors (may be NULL) is an array of {field, reason}; this
 * takes ownership of it. type is "about:blank"; detail and errors are left
 * out when NULL. */
void sp_http_respond_problem(sp_http_req *r, int status, const char *title,
                             const char *detail, cJSON *errors);

#endif
