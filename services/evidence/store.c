/* store.c - the evidence service's Redis keys and scripts. See store.h.
 *
 * Scripts go with EVAL (Redis caches them by SHA after the first use); every
 * write that depends on a read is one script, so a replay or a race sees
 * either all of a change or none of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "log.h"
#include "store.h"

/* KEYS: case, contact, returned. ARGV: "requested|<date>", advisers... */
static const char request_lua[] =
    "local c = redis.call('HMGET', KEYS[2], 'parent_email', 'senco_email', 'received_date')\n"
    "local out = {c[1] or '', c[2] or '', c[3] or ''}\n"
    "for i = 2, #ARGV do\n"
    "  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1])\n"
    "  local st = redis.call('HGET', KEYS[1], ARGV[i])\n"
    "  local ev = ''\n"
    "  if string.sub(st, 1, 9) == 'received|' then\n"
    "    ev = redis.call('HGET', KEYS[3], ARGV[i]) or ''\n"
    "  end\n"
    "  out[#out + 1] = st; out[#out + 1] = ev\n"
    "end\n"
    "return out\n";

/* KEYS: idem, case, contact, returned. ARGV: fp, event, adviser, received_on,
 * document_ref, ttl. Completeness is judged inside the script: the last
 * adviser to come back sees no "requested|" left, and its date, or a later
 * one already recorded, is when the evidence became complete. */
static const char reserve_lua[] =
    "local idem = redis.call('HMGET', KEYS[1], 'fp', 'state', 'event', 'complete', 'answer')\n"
    "if idem[1] then\n"
    "  if idem[1] ~= ARGV[1] then return {'key_reused'} end\n"
    "  if idem[2] == 'done' then return {'done', '', '', idem[5] or ''} end\n"
    "  return {'pending', idem[3] or '', idem[4] or ''}\n"
    "end\n"
    "local st = redis.call('HGET', KEYS[2], ARGV[3])\n"
    "if not st then\n"
    "  if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then\n"
    "    return {'no_case'}\n"
    "  end\n"
    "  return {'not_asked'}\n"
    "end\n"
    "if string.sub(st, 1, 10) ~= 'requested|' then return {'returned', '', '', '', st} end\n"
    "local asked = string.sub(st, 11, 20)\n"
    "if ARGV[4] < asked then return {'before_request', '', '', '', st} end\n"
    "redis.call('HSET', KEYS[2], ARGV[3],\n"
    "           'received|' .. ARGV[4] .. '|' .. asked .. '|' .. ARGV[5])\n"
    "redis.call('HSET', KEYS[4], ARGV[3], ARGV[2])\n"
    "local open, last = 0, ARGV[4]\n"
    "for _, v in ipairs(redis.call('HVALS', KEYS[2])) do\n"
    "  if string.sub(v, 1, 10) == 'requested|' then open = open + 1\n"
    "  elseif string.sub(v, 10, 19) > last then last = string.sub(v, 10, 19) end\n"
    "end\n"
    "local complete = open == 0 and last or ''\n"
    "redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'event', ARGV[2],\n"
    "           'complete', complete)\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "return {'new', ARGV[2], complete}\n";

/* KEYS: case, contact. */
static const char read_lua[] =
    "return {redis.call('EXISTS', KEYS[2]), redis.call('HGETALL', KEYS[1])}\n";

static void case_key(char *buf, size_t size, const char *kind, const char *case_id) {
    snprintf(buf, size, "evidence:%s:%s", kind, case_id);
}

static void hex_sha256(const void *data, size_t len, char *out, size_t size) {
    unsigned char md[32];
    unsigned int n = 0;
    size_t o = 0;
    out[0] = '\0';
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) n = 0;
    for (unsigned i = 0; i < n && o + 2 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%02x", md[i]);
}

static void idem_key(const char *idem, char *out, size_t size) {
    char hex[EVIDENCE_FINGERPRINT_LEN + 1];
    hex_sha256(idem, strlen(idem), hex, sizeof(hex));
    snprintf(out, size, "evidence:idem:%s", hex);
}

void evidence_store_fingerprint(const char *const *fields, int n, char *out, size_t size) {
    char buf[2048];
    size_t o = 0;
    /* A unit separator between fields: ("ab", "c") and ("a", "bc") differ. */
    for (int i = 0; i < n && o < sizeof(buf); i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\x1f", fields[i] ? fields[i] : "");
    hex_sha256(buf, o < sizeof(buf) ? o : sizeof(buf) - 1, out, size);
}

int evidence_store_project(sp_redis *r, const char *case_id, const evidence_projection *p,
                           sp_redis_cb cb, void *priv) {
    char key[96];
    const char *argv[10];
    int argc = 0;
    const struct { const char *field, *value; } pairs[] = {
        {"received_date", p->received_date}, {"parent_email", p->parent_email},
        {"senco_email", p->senco_email}, {"school_urn", p->school_urn}};
    case_key(key, sizeof(key), "contact", case_id);
    argv[argc++] = "HSET";
    argv[argc++] = key;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (!pairs[i].value) continue;
        argv[argc++] = pairs[i].field;
        argv[argc++] = pairs[i].value;
    }
    return sp_redis_command_argv(r, cb, priv, argc, argv, NULL);
}

int evidence_store_request(sp_redis *r, const char *case_id, const char *requested_on,
                           const char *const *advisers, int n, sp_redis_cb cb, void *priv) {
    char k_case[96], k_contact[96], k_returned[96], state[32];
    const char *argv[7 + 64];
    int argc = 0;
    if (n < 0 || n > 64) return -1;
    case_key(k_case, sizeof(k_case), "case", case_id);
    case_key(k_contact, sizeof(k_contact), "contact", case_id);
    case_key(k_returned, sizeof(k_returned), "returned", case_id);
    snprintf(state, sizeof(state), "requested|%s", requested_on);
    const char *head[] = {"EVAL", request_lua, "3", k_case, k_contact, k_returned, state};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) argv[argc++] = head[i];
    for (int i = 0; i < n; i++) argv[argc++] = advisers[i];
    return sp_redis_command_argv(r, cb, priv, argc, argv, NULL);
}

typedef struct reserve_call {
    evidence_reserve_cb cb;
    void *opaque;
} reserve_call;

static const char *element_str(const redisReply *rep, size_t i) {
    if (rep->elements <= i || rep->element[i]->type != REDIS_REPLY_STRING) return "";
    return rep->element[i]->str;
}

static void reserve_reply(sp_redis *r, redisReply *rep, void *priv) {
    static const struct { const char *word; evidence_reserve_result res; } map[] = {
        {"new", EVIDENCE_RESERVE_NEW}, {"pending", EVIDENCE_RESERVE_PENDING},
        {"done", EVIDENCE_RESERVE_DONE}, {"key_reused", EVIDENCE_RESERVE_KEY_REUSED},
        {"no_case", EVIDENCE_RESERVE_NO_CASE}, {"not_asked", EVIDENCE_RESERVE_NOT_ASKED},
        {"returned", EVIDENCE_RESERVE_RETURNED},
        {"before_request", EVIDENCE_RESERVE_BEFORE_REQUEST}};
    reserve_call *call = priv;
    evidence_reserved out = {EVIDENCE_RESERVE_ERROR, "", "", "", ""};
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1) {
        const char *word = element_str(rep, 0);
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(word, map[i].word) == 0) out.res = map[i].res;
        out.event = element_str(rep, 1);
        out.complete = element_str(rep, 2);
        out.answer = element_str(rep, 3);
        out.state = element_str(rep, 4);
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sp_error("evidence reserve: %s", rep->str);
    }
    call->cb(&out, call->opaque);
    free(call);
}

int evidence_store_reserve(sp_redis *r, const evidence_reservation *res,
                           evidence_reserve_cb cb, void *opaque) {
    char k_idem[96], k_case[96], k_contact[96], k_returned[96], ttl[24];
    reserve_call *call = malloc(sizeof(*call));
    if (!call) return -1;
    call->cb = cb;
    call->opaque = opaque;
    idem_key(res->idem_key, k_idem, sizeof(k_idem));
    case_key(k_case, sizeof(k_case), "case", res->case_id);
    case_key(k_contact, sizeof(k_contact), "contact", res->case_id);
    case_key(k_returned, sizeof(k_returned), "returned", res->case_id);
    snprintf(ttl, sizeof(ttl), "%lld", res->idem_ttl_s);
    const char *argv[] = {"EVAL", reserve_lua, "4", k_idem, k_case, k_contact, k_returned,
                          res->fingerprint, res->event, res->adviser, res->received_on,
                          res->document_ref, ttl};
    if (sp_redis_command_argv(r, reserve_reply, call, (int)(sizeof(argv) / sizeof(argv[0])),
                              argv, NULL)) {
        free(call);
        return -1;
    }
    return 0;
}

int evidence_store_done(sp_redis *r, const char *idem_key_text, const char *answer,
                        sp_redis_cb cb, void *priv) {
    char k_idem[96];
    idem_key(idem_key_text, k_idem, sizeof(k_idem));
    const char *argv[] = {"HSET", k_idem, "state", "done", "event", "", "answer", answer};
    return sp_redis_command_argv(r, cb, priv, 8, argv, NULL);
}

int evidence_store_read(sp_redis *r, const char *case_id, sp_redis_cb cb, void *priv) {
    char k_case[96], k_contact[96];
    case_key(k_case, sizeof(k_case), "case", case_id);
    case_key(k_contact, sizeof(k_contact), "contact", case_id);
    const char *argv[] = {"EVAL", read_lua, "2", k_case, k_contact};
    return sp_redis_command_argv(r, cb, priv, 5, argv, NULL);
}

/* Copies a YYYY-MM-DD date that starts at s and ends at '|' or the end. */
static const char *take_date(const char *s, char out[11]) {
    if (strlen(s) < 10 || (s[10] != '\0' && s[10] != '|')) return NULL;
    memcpy(out, s, 10);
    out[10] = '\0';
    return s + 10;
}

int evidence_store_state_parse(const char *value, evidence_advice_state *st) {
    const char *p;
    memset(st, 0, sizeof(*st));
    if (strncmp(value, "requested|", 10) == 0)
        return take_date(value + 10, st->requested_on) && value[20] == '\0' ? 0 : -1;
    if (strncmp(value, "received|", 9) != 0) return -1;
    if (!(p = take_date(value + 9, st->received_on)) || *p != '|') return -1;
    if (!(p = take_date(p + 1, st->requested_on)) || *p != '|') return -1;
    st->received = 1;
    st->document_ref = p + 1;
    return 0;
}
