/* dashboard.c - serving the embedded dashboard. See dashboard.h. */
#include <string.h>
#include "dashboard.h"

static const struct { const char *ext, *type; } web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {NULL, NULL}};

static const char *web_type(const char *name) {
    size_t n = strlen(name);
    for (int i = 0; web_types[i].ext; i++) {
        size_t e = strlen(web_types[i].ext);
        if (n > e && !strcmp(name + n - e, web_types[i].ext)) return web_types[i].type;
    }
    return "application/octet-stream";
}

static void web_send(sp_http_req *req, const char *name) {
    for (const ops_web_file *f = ops_web_files; f->name; f++) {
        if (strcmp(f->name, name)) continue;
        /* Same-origin only, and no framing: the page shows casework. */
        sp_http_req_add_header(req, "Content-Security-Policy",
                               "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        sp_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
        sp_http_req_add_header(req, "Cache-Control", "no-cache");
        sp_http_respond(req, 200, web_type(f->name), (const char *)f->data, f->len);
        return;
    }
    sp_http_respond_problem(req, 404, "Not found", NULL, NULL);
}

static void handle_index(sp_http_req *req, void *opaque) { web_send(req, "index.html"); }

static void handle_asset(sp_http_req *req, void *opaque) {
    const char *name = sp_http_req_param(req, "name");
    web_send(req, name && strcmp(name, "index.html") ? name : "");
}

void ops_dashboard_register(sp_service *s) {
    /* The page and its assets hold no data, so they are public; every figure
     * they show comes from the API with the token the user signs in with. */
    sp_http_route_scoped(s->http, "GET", "/", "public", handle_index, s);
    sp_http_route_scoped(s->http, "GET", "/assets/:name", "public", handle_asset, s);
}
