/* evidence.h - the evidence service's state, shared by its modules.
 *
 *   advisers.c  the adviser table (reg 6)   store.c   Redis keys and scripts
 *   events.c    evidence events             apply.c   case events -> requests
 *   returns.c   recording a return          api.c     HTTP: returns and reads
 *   main.c      config and wiring
 *
 * The service owns one question for every case: whose advice was asked for,
 * and has it come back. It learns of cases from the case-events topic only,
 * keeps what it needs under its own "evidence:" keys, and tells everyone else
 * through the evidence topic (timers runs the 6-week clocks from it). */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include "advisers.h"
#include "service.h"

typedef struct evidence_conf {
    sp_common_conf common;
    char *advisers;        /* the selection, "parent,educational,..." */
    char *advisers_extra;  /* reg 6(1)(f) rows, "name=email,..." */
    char *team_educational;
    char *team_medical;
    char *team_psychological;
    char *team_social_care;
    long long idem_ttl_s;
} evidence_conf;

typedef struct evidence_state {
    evidence_advisers advisers; /* fixed after start-up */
} evidence_state;

/* apply.c: a batch from the case-events topic (requests, and returns sent
 * through intake as advice.returned). */
void evidence_apply_batch(sp_service *s, rd_kafka_message_t **msgs, size_t n);

/* api.c: adds POST /v1/cases/:id/advice/:adviser and GET /v1/cases/:id/advice. */
void evidence_api_register(sp_service *s);

#endif
