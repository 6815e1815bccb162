/* http_route.c - the route table: a route is a method, a pattern whose
 * ":name" segments capture one path segment each, the scopes its guard
 * checks, and a handler. The access handler (http.c) finds the route of
 * each request here and copies its captures into the request, where
 * sp_http_req_param (http_answer.c) reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_private.h"

/* Matches path against pattern, segment by segment. A ":name" segment
 * captures one non-empty segment. Returns 1 on a match, with the captures in
 * caps[0..*ncaps). */
static int http_match(const char *pattern, const char *path,
                      http_capture *caps, size_t *ncaps) {
    const char *p = pattern, *s = path;
    size_t n = 0;

    while (*p && *s) {
        if (*p == ':' && p > pattern && p[-1] == '/') {
            size_t nlen = strcspn(p + 1, "/"), vlen = strcspn(s, "/");
            if (vlen == 0 || n == HTTP_MAX_PARAMS) return 0;
            caps[n++] = (http_capture){p + 1, nlen, (size_t)(s - path), vlen};
            p += 1 + nlen;
            s += vlen;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    if (*p || *s) return 0;
    *ncaps = n;
    return 1;
}

/* Copies the captured segments into capbuf so they are NUL-terminated (they
 * fit: disjoint segments of the path, each followed by '/' or its end).
 * Returns 0 or -1 (out of memory). */
int http_req_capture(sp_http_req *r, const http_capture *caps, size_t n) {
    char *out;
    if (n == 0) return 0;
    r->capbuf = malloc(strlen(r->path) + 1);
    if (!r->capbuf) return -1;
    out = r->capbuf;
    for (size_t i = 0; i < n; i++) {
        memcpy(out, r->path + caps[i].off, caps[i].len);
        out[caps[i].len] = '\0';
        r->params[i] = (http_param){caps[i].name, caps[i].name_len, out};
        out += caps[i].len + 1;
    }
    r->nparams = n;
    return 0;
}

/* Finds the route for the request. On a match fills the captures and returns
 * the route; otherwise returns NULL and writes into allow the methods the
 * path does accept ("" when none: 404). */
const http_route *http_route_find(sp_http *h, sp_http_req *r, char *allow, size_t allow_size,
                                  http_capture *caps, size_t *n) {
    size_t used = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < h->nroutes; i++) {
        const http_route *rt = &h->routes[i];
        if (!http_match(rt->pattern, r->path, caps, n)) continue;
        if (strcmp(rt->method, r->method) == 0) return rt;
        if (strstr(allow, rt->method)) continue; /* already listed */
        int w = snprintf(allow + used, allow_size - used, "%s%s",
                         used ? ", " : "", rt->method);
        if (w > 0 && (size_t)w < allow_size - used) used += (size_t)w;
    }
    return NULL;
}

int sp_http_route(sp_http *h, const char *method, const char *pattern,
                  sp_http_handler fn, void *opaque) {
    return sp_http_route_scoped(h, method, pattern, NULL, fn, opaque);
}

int sp_http_route_scoped(sp_http *h, const char *method, const char *pattern,
                         const char *scopes, sp_http_handler fn, void *opaque) {
    if (h->nroutes == HTTP_MAX_ROUTES) return -1;
    h->routes[h->nroutes++] = (http_route){method, pattern, scopes, fn, opaque};
    return 0;
}
