/* dashboard.h - the ops dashboard, served by ops at / from files compiled
 * into the binary (web/, embedded by embed.cmake): no CDN, no install step,
 * works offline. The page is static; it reads the same /v1 API as the CLI. */
#ifndef OPS_DASHBOARD_H
#define OPS_DASHBOARD_H

#include <stddef.h>
#include "service.h"

typedef struct ops_web_file {
    const char *name; /* "index.html" */
    const unsigned char *data;
    size_t len;
} ops_web_file;

/* The generated table, ended by a row with a NULL name. */
extern const ops_web_file ops_web_files[];

/* Adds GET / and GET /assets/:name. */
void ops_dashboard_register(sp_service *s);

#endif
