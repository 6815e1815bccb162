/* cases.h - GET /v1/cases/{id}: one case as a caseworker reads it. */
#ifndef OPS_CASES_H
#define OPS_CASES_H

#include "service.h"

/* Adds GET /v1/cases/:id: the case's fields, its timeline (every event with
 * its business date, oldest first), its clocks (open ones with their state
 * today), the advice asked for and still missing, its exceptions, and the
 * notifications sent. */
void ops_cases_register(sp_service *s);

#endif
