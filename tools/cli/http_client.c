/* http_client.c - blocking HTTP for the CLI. See http_client.h. */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "http_client.h"

static const char *cli_token;

static const char *cli_ca_file;

void cli_http_set_token(const char *token) { cli_token = token; }
void cli_http_set_ca_file(const char *path) { cli_ca_file = path; }

static size_t collect(char *data, size_t size, size_t n, void *opaque) {
    cli_response *res = opaque;
    size_t add = size * n;
    char *b = realloc(res->body, res->len + add + 1);
    if (!b) return 0;
    memcpy(b + res->len, data, add);
    res->body = b;
    res->len += add;
    b[res->len] = '\0';
    return add;
}

int cli_http(const char *method, const char *url, const char *body, size_t len,
             const char *content_type, long timeout_ms, cli_response *res) {
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char ct[128];
    char auth[512];
    CURLcode rc;
    memset(res, 0, sizeof(*res));
    if (!c) {
        snprintf(res->error, sizeof(res->error), "curl: cannot initialise");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
    if (cli_ca_file && *cli_ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, cli_ca_file);
    if (cli_token && *cli_token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cli_token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (!strcmp(method, "POST")) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    else snprintf(res->error, sizeof(res->error), "%s: %s", url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (!res->body) res->body = calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}
