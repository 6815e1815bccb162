/* screen.c - limits and erased cases, in front of every service's batch.
 * See screen.h.
 *
 * Stage 1 starts every asynchronous step at once (dead letters, erase hooks
 * and their marks) and counts them in `held`; the last to finish moves on.
 * Stage 2 asks Redis in one SMISMEMBER which of the remaining messages'
 * cases are erased. Stage 3 compacts what is left into `kept` (allocated at
 * start, batch_max long) and hands it to the service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"
#include "erasure.h"
#include "ids.h"
#include "log.h"
#include "screen.h"
#include "service.h"

#define ERASED_TYPE "case.erased"

typedef enum {
    SCREEN_KEEP = 0,
    SCREEN_REFUSED, /* over a limit: dead-lettered */
    SCREEN_ERASE,   /* a case.erased event: handled here */
    SCREEN_DROPPED  /* about an erased case */
} screen_verdict;

struct sp_screen {
    sp_service *s;
    size_t cap;
    rd_kafka_message_t **kept;
    unsigned char *verdict;
    /* the batch in hand */
    rd_kafka_message_t **msgs;
    size_t n;
    size_t held;
    int failed;
};

/* One erase hook in flight. */
typedef struct screen_erase {
    sp_screen *sc;
    char case_id[SP_CASE_ID_LEN + 1];
} screen_erase;

sp_screen *sp_screen_new(sp_service *s, size_t batch_max) {
    sp_screen *sc = calloc(1, sizeof(*sc));
    if (!sc) return NULL;
    sc->s = s;
    sc->cap = batch_max ? batch_max : 1;
    sc->kept = calloc(sc->cap, sizeof(*sc->kept));
    sc->verdict = calloc(sc->cap, 1);
    if (!sc->kept || !sc->verdict) {
        sp_screen_free(sc);
        return NULL;
    }
    return sc;
}

void sp_screen_free(sp_screen *sc) {
    if (!sc) return;
    free(sc->kept);
    free(sc->verdict);
    free(sc);
}

int sp_screen_refuse(const void *payload, size_t len, size_t max_bytes, int max_depth,
                     char *reason, size_t size) {
    sp_json_limits lim = {max_bytes, max_depth};
    char what[64];
    if (max_bytes && len > max_bytes) {
        snprintf(reason, size, "413 Too large: the message %s",
                 sp_json_refusal_reason(SP_JSON_TOO_BIG, &lim, what, sizeof(what)));
        return 1;
    }
    if (max_depth && payload && sp_json_too_deep(payload, len, max_depth)) {
        snprintf(reason, size, "400 Invalid event: the message %s",
                 sp_json_refusal_reason(SP_JSON_TOO_DEEP, &lim, what, sizeof(what)));
        return 1;
    }
    return 0;
}

/* 1 if m's text names case.erased anywhere: the cheap test before a parse
 * (screen_is_erasure) or a cut (sp_screen_cut). */
static int screen_names_erasure(const rd_kafka_message_t *m) {
    return m->payload && memmem(m->payload, m->len, ERASED_TYPE, strlen(ERASED_TYPE));
}

int sp_screen_cut(rd_kafka_message_t *const *batch, size_t n, const rd_kafka_message_t *m,
                  void *opaque) {
    (void)opaque;
    if (!m->key || !m->key_len || !screen_names_erasure(m)) return 0;
    for (size_t i = 0; i < n; i++)
        if (batch[i]->key_len == m->key_len && !memcmp(batch[i]->key, m->key, m->key_len))
            return 1;
    return 0;
}

/* ---- stage 3: hand the rest on ---------------------------------------------- */

static void screen_hand_on(sp_screen *sc) {
    sp_service *s = sc->s;
    size_t k = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->verdict[i] == SCREEN_KEEP) sc->kept[k++] = sc->msgs[i];
    if (k == sc->n) {
        s->def->on_batch(s, sc->msgs, sc->n);
    } else if (k > 0) {
        s->def->on_batch(s, sc->kept, k);
    } else {
        sp_consumer_batch_done(s->consumer);
    }
}

/* ---- stage 2: drop what is about an erased case ------------------------------ */

static void screen_marks_read(sp_redis *r, redisReply *rep, void *priv) {
    sp_screen *sc = priv;
    size_t j = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        sp_warn("%s: cannot read erased cases; batch retried", sc->s->def->name);
        sp_consumer_batch_retry(sc->s->consumer, 500);
        return;
    }
    for (size_t i = 0; i < sc->n && j < rep->elements; i++) {
        rd_kafka_message_t *m = sc->msgs[i];
        if (sc->verdict[i] != SCREEN_KEEP || !m->key || m->key_len == 0) continue;
        if (rep->element[j++]->integer == 1) {
            sc->verdict[i] = SCREEN_DROPPED;
            sp_debug("%s: dropped %s/%d/%lld: its case is erased", sc->s->def->name,
                     rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset);
        }
    }
    screen_hand_on(sc);
}

/* SMISMEMBER <svc>:erased with the hash of each kept message's key. */
static void screen_check_marks(sp_screen *sc) {
    size_t argc = 2, at = 2;
    const char **argv;
    char (*hash)[SP_ERASURE_HASH_HEX + 1], set[96], key[SP_CASE_ID_LEN + 8];
    int rc;

    for (size_t i = 0; i < sc->n; i++)
        if (sc->verdict[i] == SCREEN_KEEP && sc->msgs[i]->key && sc->msgs[i]->key_len) argc++;
    if (argc == 2) {
        screen_hand_on(sc);
        return;
    }
    argv = malloc(argc * sizeof(*argv));
    hash = malloc((argc - 2) * sizeof(*hash));
    if (!argv || !hash) goto fail;
    sp_erasure_set_key(sc->s->def->name, set, sizeof(set));
    argv[0] = "SMISMEMBER", argv[1] = set;
    for (size_t i = 0; i < sc->n; i++) {
        const rd_kafka_message_t *m = sc->msgs[i];
        if (sc->verdict[i] != SCREEN_KEEP || !m->key || !m->key_len) continue;
        snprintf(key, sizeof(key), "%.*s", (int)(m->key_len < sizeof(key) - 1 ? m->key_len
                                                                        : sizeof(key) - 1),
                 (const char *)m->key);
        sp_erasure_hash(key, hash[at - 2], sizeof(hash[0]));
        argv[at] = hash[at - 2];
        at++;
    }
    rc = sp_redis_command_argv(sc->s->redis, screen_marks_read, sc, (int)argc, argv, NULL);
    free(argv);
    free(hash);
    if (rc) sp_consumer_batch_retry(sc->s->consumer, 500);
    return;
fail:
    free(argv);
    free(hash);
    sp_consumer_batch_retry(sc->s->consumer, 500);
}

/* ---- stage 1: dead letters and erasures ------------------------------------ */

static void screen_release(sp_screen *sc) {
    if (--sc->held > 0) return;
    if (sc->failed) sp_consumer_batch_retry(sc->s->consumer, 500);
    else if (sc->s->def->erase) screen_check_marks(sc);
    else screen_hand_on(sc);
}

static void screen_deadlettered(rd_kafka_resp_err_t err, void *opaque) {
    sp_screen *sc = opaque;
    if (err) sc->failed = 1; /* parked nowhere: keep the offset and retry */
    screen_release(sc);
}

static void screen_marked(sp_redis *r, redisReply *rep, void *priv) {
    screen_erase *e = priv;
    sp_screen *sc = e->sc;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) sc->failed = 1;
    else sp_log(SP_LOG_INFO, e->case_id, "erasure: %s erased the case", sc->s->def->name);
    free(e);
    screen_release(sc);
}

static void screen_erased(sp_service *s, int err, void *opaque) {
    screen_erase *e = opaque;
    sp_screen *sc = e->sc;
    if (!err && sp_erasure_mark(s->redis, s->def->name, e->case_id, screen_marked, e) == 0)
        return;
    sp_log(SP_LOG_WARN, e->case_id, "erasure: %s could not erase the case; retried",
           s->def->name);
    sc->failed = 1;
    free(e);
    screen_release(sc);
}

static void screen_erase_start(sp_screen *sc, const rd_kafka_message_t *m,
                               const char *case_id) {
    screen_erase *e = calloc(1, sizeof(*e));
    if (!e) {
        sc->failed = 1;
        return;
    }
    e->sc = sc;
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id);
    sc->held++;
    if (sc->s->def->erase(sc->s, e->case_id, m->partition, screen_erased, e)) {
        sc->held--;
        sc->failed = 1;
        free(e);
    }
}

/* A case.erased event: the text is searched first, so only a message that
 * names the type is parsed here (every other one is parsed once, by the
 * service). */
static int screen_is_erasure(const rd_kafka_message_t *m, char *case_id, size_t size) {
    sp_event ev;
    char err[64];
    int yes;
    if (!screen_names_erasure(m)) return 0;
    if (sp_event_parse(m->payload, m->len, &ev, err, sizeof(err))) return 0;
    yes = !strcmp(ev.type, ERASED_TYPE) && sp_case_id_valid(ev.subject);
    if (yes) snprintf(case_id, size, "%s", ev.subject);
    sp_event_free(&ev);
    return yes;
}

/* The limits of the topic m came from: none for commands (intake's own). */
static int screen_limited(const sp_screen *sc, const rd_kafka_message_t *m, char *reason,
                          size_t size) {
    const sp_common_conf *c = sc->s->common;
    if (!strcmp(rd_kafka_topic_name(m->rkt), sp_service_topic(sc->s, SP_TOPIC_COMMANDS)))
        return 0;
    return sp_screen_refuse(m->payload, m->len, (size_t)c->consumer_max_bytes,
                            (int)c->consumer_max_depth, reason, size);
}

static void screen_one(sp_screen *sc, size_t i) {
    rd_kafka_message_t *m = sc->msgs[i];
    char reason[160], case_id[SP_CASE_ID_LEN + 1];
    sc->verdict[i] = SCREEN_KEEP;
    if (screen_limited(sc, m, reason, sizeof(reason))) {
        sc->verdict[i] = SCREEN_REFUSED;
        sp_warn("%s: refused %s/%d/%lld: %s", sc->s->def->name, rd_kafka_topic_name(m->rkt),
                m->partition, (long long)m->offset, reason);
        sc->held++;
        if (sp_service_deadletter(sc->s, m, reason, screen_deadlettered, sc)) {
            sc->held--;
            sc->failed = 1;
        }
    } else if (sc->s->def->erase && screen_is_erasure(m, case_id, sizeof(case_id))) {
        sc->verdict[i] = SCREEN_ERASE;
        screen_erase_start(sc, m, case_id);
    }
}

void sp_screen_batch(sp_screen *sc, rd_kafka_message_t **msgs, size_t n) {
    if (sc->s->def->on_batch_seen) sc->s->def->on_batch_seen(sc->s, msgs, n);
    if (n > sc->cap) { /* cannot happen: the consumer's batch_max */
        sc->s->def->on_batch(sc->s, msgs, n);
        return;
    }
    sc->msgs = msgs;
    sc->n = n;
    sc->failed = 0;
    sc->held = 1; /* for the loop */
    for (size_t i = 0; i < n; i++) screen_one(sc, i);
    screen_release(sc);
}
