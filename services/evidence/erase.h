/* erase.h - case.erased at evidence: drop every key it holds for the case.
 *
 * evidence:contact, evidence:case and evidence:returned of the case, and the
 * idempotency records (evidence:idem:*) of returns for it, found by a sweep
 * since they are keyed by the idempotency key (common/erasure.h). */
#ifndef EVIDENCE_ERASE_H
#define EVIDENCE_ERASE_H

#include "service.h"

/* The service's erase hook (service.h). */
int evidence_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                   void *opaque);

#endif
