/* http_private.h - what http.c, http_answer.c and http_route.c share: the
 * server and request structs and the few internal calls between them. Not part
 * of the API: include http.h. See http.c for the design (request ownership,
 * suspension, closing). */
#ifndef SP_HTTP_PRIVATE_H
#define SP_HTTP_PRIVATE_H

#include <netinet/in.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include "http.h"
#include "proxy.h"
#include "ratelimit.h"

#define HTTP_MAX_ROUTES 64
#define HTTP_MAX_PARAMS 8
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
/* Idle keep-alive connections are dropped after this; suspended connections
 * never time out (MHD stops their clock). */
#define HTTP_IDLE_TIMEOUT_S 30u
#define HTTP_CT_PROBLEM "application/problem+json"
/* Clients whose rate buckets are kept at once; see ratelimit.h. */
#define HTTP_RATE_SLOTS 4096

typedef struct http_route {
    const char *method;
    const char *pattern;
    const char *scopes; /* for the guard; NULL: undeclared */
    sp_http_handler fn;
    void *opaque;
} http_route;

/* A captured ":name" segment: name points into the route's pattern (not
 * NUL-terminated), value into req->capbuf. */
typedef struct http_param {
    const char *name;
    size_t name_len;
    const char *value;
} http_param;

/* A request header or query argument, copied out of MHD. */
typedef struct http_kv {
    enum MHD_ValueKind kind;
    const char *key;
    const char *value;
} http_kv;

/* A response header added before the answer: "name\0value\0" inline. */
typedef struct http_hdr {
    struct http_hdr *next;
    const char *value;
    char name[];
} http_hdr;

struct sp_http {
    uv_loop_t *loop;
    struct MHD_Daemon *d;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;  /* initialised uv handles not yet closed */
    int port;
    size_t max_body;
    sp_ratelimit *rate; /* NULL: no request rate limit */
    sp_proxies *proxies; /* trusted reverse proxies; empty: none */
    size_t pending;    /* dispatched, not yet answered */
    int kicked;        /* a resume happened during MHD_run: run again now */
    int closing;       /* sp_http_close() called; teardown scheduled */
    int torn_down;
    int started;       /* sp_http_new() succeeded: MHD's lines go to the log */
    sp_http_req *reqs; /* every request still pointing at us */
    http_route routes[HTTP_MAX_ROUTES];
    size_t nroutes;
    void (*close_cb)(void *opaque);
    void *close_opaque;
    sp_http_guard guard;
    void *guard_opaque;
    char *tls_cert, *tls_key; /* PEM text; NULL: plain HTTP */
    char mhd_error[256]; /* MHD's last log line: the reason start-up failed */
};

struct sp_http_req {
    sp_http *h;                  /* NULL once the server is gone */
    sp_http_req *prev, *next;    /* in h->reqs */
    struct MHD_Connection *conn; /* NULL once MHD is done with it */
    struct MHD_Response *resp;   /* built by the answer, not yet queued */
    unsigned int status;
    int dispatched;              /* the handler has been called */
    int answered;
    int suspended;
    int too_large;
    char *body;
    size_t body_len, body_cap;
    http_kv *kv; /* headers and query arguments, one block with their text */
    size_t nkv;
    http_param params[HTTP_MAX_PARAMS];
    size_t nparams;
    char *capbuf;
    http_hdr *hdrs;
    char client[INET6_ADDRSTRLEN]; /* behind a trusted proxy, from X-Forwarded-For */
    char peer[INET6_ADDRSTRLEN];   /* the socket's other end */
    const char *who;    /* the principal's name, for the access log */
    const void *grant;  /* the guard's view of what it admitted */
    uint64_t t0;        /* uv_hrtime() when the request began */
    const char *method; /* both point into text[] */
    const char *path;
    char text[];
};

/* The answer for when memory ran out (http_answer.c). */
extern const char http_oom_problem[];
extern const size_t http_oom_problem_len;

/* http.c: writes the request's access-log line. */
void http_access_log(const sp_http_req *r, int status);
/* http_answer.c: fills r->peer and r->client (the client behind a trusted
 * proxy, proxy.h) from the connection. */
void http_req_copy_client(sp_http_req *r);
/* http.c: drops one holder of r; frees it when none is left. */
void http_req_release(sp_http_req *r);

/* A capture found while matching: the value is where it sits in the path. */
typedef struct http_capture {
    const char *name;
    size_t name_len;
    size_t off, len;
} http_capture;
/* http_route.c: the route of r's method and path, its captures in
 * caps[0..*n); or NULL, with the methods the path does take written into
 * allow ("" when none: 404). */
const http_route *http_route_find(sp_http *h, sp_http_req *r, char *allow, size_t allow_size,
                                  http_capture *caps, size_t *n);
/* http_route.c: copies the captures into r (r->params): 0, or -1 out of
 * memory. */
int http_req_capture(sp_http_req *r, const http_capture *caps, size_t n);
/* http.c: a connection was resumed: run MHD again soon. */
void http_kick(sp_http *h);
/* http_answer.c: a response with body copied and hdrs added, or NULL. */
struct MHD_Response *http_build(const http_hdr *hdrs, const char *ct, const char *body,
                                size_t len);

#endif
