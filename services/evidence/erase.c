/* erase.c - case.erased at evidence. See erase.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "erasure.h"
#include "erase.h"

typedef struct evidence_eraser {
    sp_service *s;
    sp_erase_cb cb;
    void *opaque;
    char case_id[64];
} evidence_eraser;

static void erase_swept(int err, void *opaque) {
    evidence_eraser *e = opaque;
    e->cb(e->s, err, e->opaque);
    free(e);
}

static void erase_deleted(sp_redis *r, redisReply *rep, void *priv) {
    evidence_eraser *e = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        erase_swept(-1, e);
        return;
    }
    sp_redis *all[SP_REDIS_SHARDS_MAX + 1];
    size_t n = sp_service_redis_all(e->s, all, sizeof(all) / sizeof(all[0]));
    /* Idempotency records are keyed by the client's key, not the case: every
     * server is swept, as a partition may have moved since one was written. */
    if (sp_erasure_sweep_each(all, n, "evidence:idem:*", e->case_id, erase_swept, e))
        erase_swept(-1, e);
}

int evidence_erase(sp_service *s, const char *case_id, int partition, sp_erase_cb cb,
                   void *opaque) {
    evidence_eraser *e = calloc(1, sizeof(*e));
    (void)partition; /* the case's server is its id's (sp_service_redis_of) */
    if (!e) return -1;
    *e = (evidence_eraser){s, cb, opaque, ""};
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id);
    if (sp_redis_command(sp_service_redis_of(s, case_id), erase_deleted, e,
                         "DEL evidence:contact:%s evidence:case:%s evidence:returned:%s",
                         case_id, case_id, case_id)) {
        free(e);
        return -1;
    }
    return 0;
}
