/* http_client.h - the few blocking HTTP calls the CLI makes (libcurl). */
#ifndef CLI_HTTP_CLIENT_H
#define CLI_HTTP_CLIENT_H

#include <stddef.h>

typedef struct cli_response {
    long status; /* 0 when the server could not be reached */
    char *body;  /* NUL-terminated; free with free() */
    size_t len;
    char error[256];
} cli_response;

/* method "GET" or "POST"; body may be NULL. Returns 0 if an answer came
 * (any status), -1 with res->error otherwise. */
int cli_http(const char *method, const char *url, const char *body, size_t len,
             const char *content_type, long timeout_ms, cli_response *res);

#endif
