/* api.h - intake's HTTP API: the commands as POST requests. */
#ifndef INTAKE_API_H
#define INTAKE_API_H

#include "service.h"

/* Adds every route (one per command of the table). Returns 0 or -1. */
int intake_api_register(sp_service *s);

#endif
