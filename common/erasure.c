/* erasure.c - erased-case marks and the sweep of keys that hold a case.
 * See erasure.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "erasure.h"
#include "log.h"

#define SWEEP_PAGE "500"

void sp_erasure_hash(const char *case_id, char *out, size_t size) {
    unsigned char md[32];
    unsigned int n = 0;
    if (size == 0) return;
    out[0] = '\0';
    if (!EVP_Digest(case_id, strlen(case_id), md, &n, EVP_sha256(), NULL)) return;
    /* Once per message consumed (the screen checks every key): no printf. */
    static const char hex[] = "0123456789abcdef";
    unsigned i;
    for (i = 0; i < n && 2 * i + 2 < size; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * i] = '\0';
}

void sp_erasure_set_key(const char *svc, char *buf, size_t size) {
    snprintf(buf, size, "%s:erased", svc);
}

int sp_erasure_mark(sp_redis *r, const char *svc, const char *case_id, sp_redis_cb cb,
                    void *priv) {
    char key[96], hash[SP_ERASURE_HASH_HEX + 1];
    sp_erasure_set_key(svc, key, sizeof(key));
    sp_erasure_hash(case_id, hash, sizeof(hash));
    return sp_redis_command(r, cb, priv, "SADD %s %s", key, hash);
}

/* KEYS: the page's keys. ARGV[1]: the case id. Deletes the strings and
 * hashes whose value mentions it (a plain find, not a pattern). */
static const char sweep_lua[] =
    "local n = 0\n"
    "for _, k in ipairs(KEYS) do\n"
    "  local t = redis.call('TYPE', k).ok\n"
    "  local vals = {}\n"
    "  if t == 'string' then vals = {redis.call('GET', k)}\n"
    "  elseif t == 'hash' then vals = redis.call('HVALS', k) end\n"
    "  for _, v in ipairs(vals) do\n"
    "    if string.find(v, ARGV[1], 1, true) then\n"
    "      redis.call('DEL', k); n = n + 1; break\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS: the page's keys. ARGV[1]: the case id. Deletes the hash fields
 * whose name mentions it; other types are left alone. */
static const char sweep_fields_lua[] =
    "local n = 0\n"
    "for _, k in ipairs(KEYS) do\n"
    "  if redis.call('TYPE', k).ok == 'hash' then\n"
    "    for _, f in ipairs(redis.call('HKEYS', k)) do\n"
    "      if string.find(f, ARGV[1], 1, true) then\n"
    "        redis.call('HDEL', k, f); n = n + 1\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return n\n";

typedef struct sweep {
    sp_redis *r;        /* the server being swept: servers[at] */
    sp_redis **servers; /* every server to sweep, in turn (owned array) */
    size_t nservers, at;
    const char *lua; /* sweep_lua or sweep_fields_lua */
    sp_erasure_cb cb;
    void *opaque;
    char cursor[32];
    char pattern[128];
    char case_id[64];
    unsigned long long deleted;
} sweep;

static void sweep_finish(sweep *w, int err) {
    if (!err)
        sp_log(SP_LOG_DEBUG, w->case_id, "erasure: swept %s, %llu key(s) deleted", w->pattern,
               w->deleted);
    w->cb(err, w->opaque);
    free(w->servers);
    free(w);
}

static int sweep_next(sweep *w);

/* The SCAN of one server came back to cursor 0: on to the next server, or
 * done. */
static void sweep_server_done(sweep *w) {
    if (++w->at >= w->nservers) {
        sweep_finish(w, 0);
        return;
    }
    w->r = w->servers[w->at];
    snprintf(w->cursor, sizeof(w->cursor), "0");
    if (sweep_next(w)) sweep_finish(w, -1);
}

static void sweep_checked(sp_redis *r, redisReply *rep, void *priv) {
    sweep *w = priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        if (rep && rep->type == REDIS_REPLY_ERROR) sp_error("erasure sweep: %s", rep->str);
        sweep_finish(w, -1);
        return;
    }
    w->deleted += (unsigned long long)rep->integer;
    if (strcmp(w->cursor, "0") == 0) sweep_server_done(w);
    else if (sweep_next(w)) sweep_finish(w, -1);
}

/* One page of keys: check them all in one script. */
static int sweep_page(sweep *w, const redisReply *keys) {
    size_t argc = 4 + keys->elements;
    const char **argv = malloc(argc * sizeof(*argv));
    char nkeys[24];
    int rc;
    if (!argv) return -1;
    snprintf(nkeys, sizeof(nkeys), "%zu", keys->elements);
    argv[0] = "EVAL", argv[1] = w->lua, argv[2] = nkeys;
    for (size_t i = 0; i < keys->elements; i++) argv[3 + i] = keys->element[i]->str;
    argv[argc - 1] = w->case_id;
    rc = sp_redis_command_argv(w->r, sweep_checked, w, (int)argc, argv, NULL);
    free(argv);
    return rc;
}

static void sweep_scanned(sp_redis *r, redisReply *rep, void *priv) {
    sweep *w = priv;
    const redisReply *keys;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_ARRAY) {
        sweep_finish(w, -1);
        return;
    }
    snprintf(w->cursor, sizeof(w->cursor), "%s", rep->element[0]->str);
    keys = rep->element[1];
    if (keys->elements > 0) {
        if (sweep_page(w, keys)) sweep_finish(w, -1);
    } else if (strcmp(w->cursor, "0") == 0) {
        sweep_server_done(w);
    } else if (sweep_next(w)) {
        sweep_finish(w, -1);
    }
}

static int sweep_next(sweep *w) {
    return sp_redis_command(w->r, sweep_scanned, w, "SCAN %s MATCH %s COUNT " SWEEP_PAGE,
                            w->cursor, w->pattern);
}

static int sweep_start(sp_redis *const *servers, size_t n, const char *lua,
                       const char *pattern, const char *case_id, sp_erasure_cb cb,
                       void *opaque) {
    sweep *w = calloc(1, sizeof(*w));
    if (!w || n == 0 || !(w->servers = malloc(n * sizeof(*w->servers)))) {
        free(w);
        return -1;
    }
    memcpy(w->servers, servers, n * sizeof(*w->servers));
    w->nservers = n;
    w->r = servers[0];
    w->lua = lua;
    w->cb = cb;
    w->opaque = opaque;
    snprintf(w->cursor, sizeof(w->cursor), "0");
    snprintf(w->pattern, sizeof(w->pattern), "%s", pattern);
    snprintf(w->case_id, sizeof(w->case_id), "%s", case_id);
    if (sweep_next(w)) {
        free(w->servers);
        free(w);
        return -1;
    }
    return 0;
}

int sp_erasure_sweep(sp_redis *r, const char *pattern, const char *case_id,
                     sp_erasure_cb cb, void *opaque) {
    return sweep_start(&r, 1, sweep_lua, pattern, case_id, cb, opaque);
}

int sp_erasure_sweep_fields(sp_redis *r, const char *pattern, const char *case_id,
                            sp_erasure_cb cb, void *opaque) {
    return sweep_start(&r, 1, sweep_fields_lua, pattern, case_id, cb, opaque);
}

int sp_erasure_sweep_each(sp_redis *const *servers, size_t n, const char *pattern,
                          const char *case_id, sp_erasure_cb cb, void *opaque) {
    return sweep_start(servers, n, sweep_lua, pattern, case_id, cb, opaque);
}
