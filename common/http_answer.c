/* http_answer.c - the handler's side of a request: reading what the client
 * sent (copied out of MHD before the handler ran) and answering it, once.
 * An answer may come from the handler or later from any callback on the
 * loop; a suspended connection is resumed and MHD queues the response on its
 * next run (http.c). Header values with CR or LF are refused, so no caller can
 * split a response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http_private.h"
#include "log.h"

const char http_oom_problem[] =
    "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\","
    "\"status\":500}";
const size_t http_oom_problem_len = sizeof(http_oom_problem) - 1;

/* ------------------------------------------------------------------------
 * Request accessors
 * ---------------------------------------------------------------------- */

const char *sp_http_req_method(const sp_http_req *r) { return r->method; }

const char *sp_http_req_path(const sp_http_req *r) { return r->path; }

const char *sp_http_req_param(const sp_http_req *r, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; i < r->nparams; i++) {
        if (r->params[i].name_len == len &&
            memcmp(r->params[i].name, name, len) == 0)
            return r->params[i].value;
    }
    return NULL;
}

static const char *http_req_value(const sp_http_req *r, enum MHD_ValueKind kind,
                                  const char *name) {
    for (size_t i = 0; i < r->nkv; i++) {
        if (r->kv[i].kind != kind) continue;
        if (kind == MHD_HEADER_KIND ? strcasecmp(r->kv[i].key, name) == 0
                                    : strcmp(r->kv[i].key, name) == 0)
            return r->kv[i].value;
    }
    return NULL;
}

const char *sp_http_req_query(const sp_http_req *r, const char *name) {
    return http_req_value(r, MHD_GET_ARGUMENT_KIND, name);
}

const char *sp_http_req_header(const sp_http_req *r, const char *name) {
    return http_req_value(r, MHD_HEADER_KIND, name);
}

const char *sp_http_req_body(const sp_http_req *r, size_t *len) {
    if (len) *len = r->body_len;
    return r->body ? r->body : "";
}

/* Every X-Forwarded-For header, joined with "," (RFC 9110: the same as one
 * header holding them all). */
typedef struct http_xff {
    char text[1024];
    size_t len;
} http_xff;

static enum MHD_Result http_xff_visit(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
    http_xff *x = cls;
    int w;
    if (!value || strcasecmp(key, "X-Forwarded-For") != 0) return MHD_YES;
    w = snprintf(x->text + x->len, sizeof(x->text) - x->len, "%s%s", x->len ? "," : "",
                 value);
    /* Too long to keep whole: keep nothing, so the walk stops at the proxy. */
    if (w < 0 || (size_t)w >= sizeof(x->text) - x->len) {
        x->text[0] = '\0';
        x->len = sizeof(x->text); /* and ignore what follows */
        return MHD_NO;
    }
    x->len += (size_t)w;
    return MHD_YES;
}

void http_req_copy_client(sp_http_req *r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    http_xff xff = {{0}, 0};

    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                  r->peer, sizeof(r->peer));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
                  r->peer, sizeof(r->peer));
    memcpy(r->client, r->peer, sizeof(r->client));
    if (!r->h || sp_proxies_count(r->h->proxies) == 0 ||
        !sp_proxies_trusted(r->h->proxies, r->peer))
        return;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, http_xff_visit, &xff);
    sp_proxies_client(r->h->proxies, r->peer, xff.len ? xff.text : NULL, r->client,
                      sizeof(r->client));
}

const char *sp_http_req_client(const sp_http_req *r) { return r->client; }

const char *sp_http_req_principal(const sp_http_req *r) { return r->who; }

void sp_http_req_set_principal(sp_http_req *r, const char *name, const void *grant) {
    r->who = name;
    r->grant = grant;
}

const void *sp_http_req_grant(const sp_http_req *r) { return r->grant; }

/* ------------------------------------------------------------------------
 * Answers
 * ---------------------------------------------------------------------- */

/* An HTTP token: the characters a header name may have. */
static int http_is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c)) return 0;
    }
    return 1;
}

int sp_http_req_add_header(sp_http_req *r, const char *name, const char *value) {
    size_t nlen = strlen(name), vlen = strlen(value);
    http_hdr *hd;

    /* CR or LF in a value would let it write its own headers (splitting).
     * An empty value is refused too: MHD refuses to add it, which would fail
     * the whole answer and drop the connection (found by fuzz_http). */
    if (r->answered || !http_is_token(name) || !*value || strpbrk(value, "\r\n"))
        return -1;
    hd = malloc(sizeof(*hd) + nlen + 1 + vlen + 1);
    if (!hd) return -1;
    memcpy(hd->name, name, nlen + 1);
    hd->value = memcpy(hd->name + nlen + 1, value, vlen + 1);
    hd->next = r->hdrs;
    r->hdrs = hd;
    return 0;
}

static int http_is_json(const char *ct) {
    size_t len;
    if (!ct) return 0;
    len = strcspn(ct, ";");
    while (len > 0 && ct[len - 1] == ' ') len--;
    if (len == 16 && strncasecmp(ct, "application/json", 16) == 0) return 1;
    return len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0;
}

static int http_hdrs_have(const http_hdr *hd, const char *name) {
    for (; hd; hd = hd->next)
        if (strcasecmp(hd->name, name) == 0) return 1;
    return 0;
}

/* Builds a response with the body copied and hdrs added. */
struct MHD_Response *http_build(const http_hdr *hdrs, const char *ct, const char *body,
                                size_t len) {
    struct MHD_Response *resp;

    if (len == 0)
        resp = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(len, (void *)body,
                                               MHD_RESPMEM_MUST_COPY);
    if (!resp) return NULL;
    if (ct && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct) != MHD_YES)
        goto err;
    /* Answers carry case state: no cache on the way may keep them. */
    if (http_is_json(ct) && !http_hdrs_have(hdrs, "Cache-Control") &&
        MHD_add_response_header(resp, "Cache-Control", "no-store") != MHD_YES)
        goto err;
    for (const http_hdr *hd = hdrs; hd; hd = hd->next)
        if (MHD_add_response_header(resp, hd->name, hd->value) != MHD_YES) goto err;
    return resp;
err:
    MHD_destroy_response(resp);
    return NULL;
}

void sp_http_respond(sp_http_req *r, int status, const char *content_type,
                     const char *body, size_t len) {
    if (r->answered) {
        sp_error("http: %s %s answered twice", r->method, r->path);
        return;
    }
    r->answered = 1;
    http_access_log(r, status);
    if (r->dispatched && r->h) r->h->pending--;
    if (!r->conn) { /* MHD is done with it: the answer has nowhere to go */
        http_req_release(r);
        return;
    }
    r->status = (unsigned int)status;
    r->resp = http_build(r->hdrs, content_type, body, len);
    if (!r->resp) sp_error("http: cannot build a %d response", status);
    if (r->suspended) {
        /* MHD calls the access handler again, which queues the response. */
        r->suspended = 0;
        MHD_resume_connection(r->conn);
        http_kick(r->h);
    }
}

void sp_http_respond_json(sp_http_req *r, int status, cJSON *json) {
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        sp_http_respond(r, 500, HTTP_CT_PROBLEM, http_oom_problem,
                        http_oom_problem_len);
        return;
    }
    sp_http_respond(r, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

void sp_http_respond_problem(sp_http_req *r, int status, const char *title,
                             const char *detail, cJSON *errors) {
    cJSON *p = cJSON_CreateObject();
    char *text = NULL;

    if (!p) goto out;
    if (!cJSON_AddStringToObject(p, "type", "about:blank")) goto out;
    if (!cJSON_AddStringToObject(p, "title", title ? title : "")) goto out;
    if (!cJSON_AddNumberToObject(p, "status", status)) goto out;
    if (detail && !cJSON_AddStringToObject(p, "detail", detail)) goto out;
    if (errors) {
        if (!cJSON_AddItemToObject(p, "errors", errors)) goto out;
        errors = NULL; /* owned by p now */
    }
    text = cJSON_PrintUnformatted(p);
out:
    cJSON_Delete(errors);
    cJSON_Delete(p);
    if (!text) {
        sp_http_respond(r, 500, HTTP_CT_PROBLEM, http_oom_problem,
                        http_oom_problem_len);
        return;
    }
    sp_http_respond(r, status, HTTP_CT_PROBLEM, text, strlen(text));
    cJSON_free(text);
}
