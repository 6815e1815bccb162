/* cases.c - notify's Redis keys about cases. See cases.h.
 *
 * Each call allocates a small record carrying the caller's callback through
 * the Redis reply; replies are borrowed, so anything the caller keeps is
 * copied before the record is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cases.h"
#include "log.h"

/* KEYS: case hash, facts hash, pending list, waiting index. ARGV: the
 * number of contact pairs, the pairs, then (op, field, value) per fact. The
 * contact is replaced whole, so a field dropped from a later projection does
 * not linger; facts are set one by one, or added once to a comma list. */
static const char project_lua[] =
    "local n = tonumber(ARGV[1])\n"
    "if n > 0 then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n))\n"
    "end\n"
    "for i = 2 + 2 * n, #ARGV, 3 do\n"
    "  local op, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
    "  local cur = redis.call('HGET', KEYS[2], f)\n"
    "  if op ~= 'add' or not cur or cur == '' then\n"
    "    redis.call('HSET', KEYS[2], f, v)\n"
    "  elseif not string.find(',' .. cur .. ',', ',' .. v .. ',', 1, true) then\n"
    "    redis.call('HSET', KEYS[2], f, cur .. ',' .. v)\n"
    "  end\n"
    "end\n"
    "return redis.call('LRANGE', KEYS[3], 0, -1)\n";

/* KEYS: case hash, facts hash, pending list, waiting index. ARGV: event
 * text, then (fact field, "1" if required) pairs. Returns 0 (no contact:
 * stashed), k (the k-th fact is missing: stashed) or {contact pairs, fact
 * values}. A stash also records the list's length in the waiting index. */
static const char lookup_lua[] =
    "local c = redis.call('HGETALL', KEYS[1])\n"
    "if #c == 0 then\n"
    "  redis.call('HSET', KEYS[4], KEYS[3], redis.call('RPUSH', KEYS[3], ARGV[1]))\n"
    "  return 0\n"
    "end\n"
    "local f = {}\n"
    "for i = 2, #ARGV, 2 do\n"
    "  local v = redis.call('HGET', KEYS[2], ARGV[i])\n"
    "  if not v and ARGV[i + 1] == '1' then\n"
    "    redis.call('HSET', KEYS[4], KEYS[3], redis.call('RPUSH', KEYS[3], ARGV[1]))\n"
    "    return i / 2\n"
    "  end\n"
    "  f[#f + 1] = v or ''\n"
    "end\n"
    "return {c, f}\n";

/* KEYS: case hash, facts hash, pending list, waiting index. ARGV: the texts
 * handled. The index follows the list's length (gauge.h). */
static const char unstash_lua[] =
    "for i = 1, #ARGV do redis.call('LREM', KEYS[3], 1, ARGV[i]) end\n"
    "local n = redis.call('LLEN', KEYS[3])\n"
    "if n == 0 then redis.call('HDEL', KEYS[4], KEYS[3])\n"
    "else redis.call('HSET', KEYS[4], KEYS[3], n) end\n"
    "return 0\n";

/* The case's three keys, and its partition's notify:waiting:{s<p>} (every
 * pending list's length, for the gauges), which the scripts keep in step
 * with the lists. */
#define CASES_NKEYS 4
#define CASES_NKEYS_TEXT "4"

typedef struct cases_call {
    union {
        notify_cases_projected_cb projected;
        notify_cases_lookup_cb lookup;
        notify_cases_cb done;
    } cb;
    void *opaque;
    notify_fact_needs needs; /* lookup: what was asked, in order */
} cases_call;

static void cases_keys(int partition, const char *case_id, char keys[CASES_NKEYS][128]) {
    snprintf(keys[0], 128, "notify:case:%s", case_id);
    snprintf(keys[1], 128, "notify:facts:%s", case_id);
    snprintf(keys[2], 128, "notify:pending:%s", case_id);
    snprintf(keys[3], 128, "notify:waiting:{s%d}", partition);
}

static int reply_bad(const redisReply *rep, const char *what) {
    if (!rep) return 1;
    if (rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("notify cases %s: %s", what, rep->str);
    return 1;
}

/* Sends EVAL script with the case's keys and args[0..nargs). */
static int cases_eval(sp_redis *r, int partition, sp_redis_cb reply, cases_call *call, const char *script,
                      const char *case_id, const char **args, const size_t *lens,
                      size_t nargs) {
    char keys[CASES_NKEYS][128];
    size_t argc = 3 + CASES_NKEYS + nargs;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *argvlen = malloc(argc * sizeof(*argvlen));
    int rc = -1;
    if (argv && argvlen) {
        cases_keys(partition, case_id, keys);
        argv[0] = "EVAL", argv[1] = script, argv[2] = CASES_NKEYS_TEXT;
        for (size_t i = 0; i < CASES_NKEYS; i++) argv[3 + i] = keys[i];
        for (size_t i = 0; i < nargs; i++) argv[3 + CASES_NKEYS + i] = args[i];
        for (size_t i = 0; i < argc; i++)
            argvlen[i] = i >= 3 + CASES_NKEYS && lens ? lens[i - 3 - CASES_NKEYS]
                                                     : strlen(argv[i]);
        rc = sp_redis_command_argv(r, reply, call, (int)argc, argv, argvlen);
    }
    free(argv);
    free(argvlen);
    return rc;
}

/* ---- projecting ------------------------------------------------------------ */

void notify_cases_items_free(char **items, size_t n) {
    if (!items) return;
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
}

static char **items_copy(const redisReply *rep, size_t *n) {
    char **items = calloc(rep->elements ? rep->elements : 1, sizeof(*items));
    if (!items) return NULL;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING || !(items[i] = malloc(e->len + 1))) {
            notify_cases_items_free(items, i);
            return NULL;
        }
        memcpy(items[i], e->str, e->len);
        items[i][e->len] = '\0';
    }
    *n = rep->elements;
    return items;
}

static void project_reply(sp_redis *r, redisReply *rep, void *priv) {
    cases_call *call = priv;
    char **items = NULL;
    size_t n = 0;
    (void)r;
    if (!reply_bad(rep, "project") && rep->type == REDIS_REPLY_ARRAY)
        items = items_copy(rep, &n);
    call->cb.projected(items ? 0 : -1, items, n, call->opaque);
    free(call);
}

int notify_cases_project(sp_redis *r, int partition, const char *case_id, const notify_contact *c,
                         const notify_fact_write *w, size_t nw,
                         notify_cases_projected_cb cb, void *opaque) {
    size_t max = 1 + 2 * notify_contact_nfields + 3 * nw, n = 1, pairs = 0;
    const char **args = malloc(max * sizeof(*args));
    cases_call *call = calloc(1, sizeof(*call));
    char npairs[16];
    int rc = -1;
    if (!args || !call) goto out;
    call->cb.projected = cb;
    call->opaque = opaque;
    for (size_t i = 0; c && i < notify_contact_nfields; i++) {
        if (!c->values[i] || notify_contact_fields[i].source != NOTIFY_FIELD_STORED)
            continue;
        args[n++] = notify_contact_fields[i].field;
        args[n++] = c->values[i];
        pairs++;
    }
    snprintf(npairs, sizeof(npairs), "%zu", pairs);
    args[0] = npairs;
    for (size_t i = 0; i < nw; i++) {
        args[n++] = w[i].op == NOTIFY_FACT_ADD ? "add" : "set";
        args[n++] = w[i].field;
        args[n++] = w[i].value;
    }
    rc = cases_eval(r, partition, project_reply, call, project_lua, case_id, args, NULL, n);
out:
    if (rc) free(call);
    free(args);
    return rc;
}

/* ---- looking up ------------------------------------------------------------ */

/* Fills c from {contact pairs, fact values}. Returns 0 or -1. */
static int lookup_fill(notify_contact *c, const redisReply *rep,
                       const notify_fact_needs *needs) {
    const redisReply *facts;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        notify_contact_from_reply(c, rep->element[0]))
        return -1;
    facts = rep->element[1];
    if (facts->type != REDIS_REPLY_ARRAY || facts->elements != needs->n) return -1;
    for (size_t i = 0; i < needs->n; i++) {
        const redisReply *v = facts->element[i];
        const char *field = notify_contact_fields[needs->row[i]].field;
        if (v->type == REDIS_REPLY_STRING && notify_contact_set(c, field, v->str))
            return -1;
    }
    return 0;
}

static void lookup_reply(sp_redis *r, redisReply *rep, void *priv) {
    cases_call *call = priv;
    notify_contact c = {0};
    const char *waits_for = NULL;
    notify_cases_result res = NOTIFY_CASES_ERROR;
    (void)r;
    if (reply_bad(rep, "lookup")) {
        res = NOTIFY_CASES_ERROR;
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        res = NOTIFY_CASES_WAITING;
        if (rep->integer >= 1 && (size_t)rep->integer <= call->needs.n)
            waits_for = call->needs.field[rep->integer - 1];
        else
            waits_for = "the case's contact";
    } else if (lookup_fill(&c, rep, &call->needs) == 0) {
        res = NOTIFY_CASES_FOUND;
    }
    if (res != NOTIFY_CASES_FOUND) notify_contact_free(&c);
    call->cb.lookup(res, res == NOTIFY_CASES_FOUND ? &c : NULL, waits_for, call->opaque);
    free(call);
}

int notify_cases_lookup(sp_redis *r, int partition, const char *case_id, const char *event, size_t len,
                        const notify_fact_needs *needs, notify_cases_lookup_cb cb,
                        void *opaque) {
    const char *args[1 + 2 * NOTIFY_NEEDS_MAX];
    size_t lens[1 + 2 * NOTIFY_NEEDS_MAX], n = 0;
    cases_call *call = calloc(1, sizeof(*call));
    if (!call) return -1;
    call->cb.lookup = cb;
    call->opaque = opaque;
    call->needs = *needs;
    args[n] = event, lens[n++] = len;
    for (size_t i = 0; i < needs->n; i++) {
        args[n] = call->needs.field[i], lens[n++] = strlen(call->needs.field[i]);
        args[n] = needs->wait[i] ? "1" : "0", lens[n++] = 1;
    }
    if (cases_eval(r, partition, lookup_reply, call, lookup_lua, case_id, args, lens, n)) {
        free(call);
        return -1;
    }
    return 0;
}

/* ---- done waiting ---------------------------------------------------------- */

static void unstash_reply(sp_redis *r, redisReply *rep, void *priv) {
    cases_call *call = priv;
    (void)r;
    call->cb.done(reply_bad(rep, "unstash") ? -1 : 0, call->opaque);
    free(call);
}

int notify_cases_unstash(sp_redis *r, int partition, const char *case_id, char *const *items, size_t n,
                         notify_cases_cb cb, void *opaque) {
    cases_call *call = calloc(1, sizeof(*call));
    int rc = -1;
    if (!call) return -1;
    call->cb.done = cb;
    call->opaque = opaque;
    rc = cases_eval(r, partition, unstash_reply, call, unstash_lua, case_id,
                    (const char **)items, NULL, n);
    if (rc) free(call);
    return rc;
}
