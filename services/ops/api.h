/* api.h - ops's read API over its projection. */
#ifndef OPS_API_H
#define OPS_API_H

#include "service.h"

/* Adds the routes (GET /v1/cases/:id) to the service's HTTP server. */
void ops_api_register(sp_service *s);

#endif
