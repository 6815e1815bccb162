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

/* The bearer token every later call sends (borrowed; NULL: none). The CLI
 * is one short process, so this is process-wide like curl's global init. */
void cli_http_set_token(const char *token);
/* A PEM file of CA certificates to trust for https:// URLs (borrowed; NULL:
 * the system's), for a service with a private or self-signed certificate. */
void cli_http_set_ca_file(const char *path);

/* method "GET" or "POST"; body may be NULL. Returns 0 if an answer came
 * (any status), -1 with res->error otherwise. */
int cli_http(const char *method, const char *url, const char *body, size_t len,
             const char *content_type, long timeout_ms, cli_response *res);

#endif
