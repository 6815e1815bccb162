/* batch.c - building and sending a batch's one script call. See batch.h.
 *
 * Arguments live in an arena of chunks (bump allocation, freed all at
 * once): a batch of 500 events has some 15,000 of them, and a malloc each
 * would cost more than building them. Chunks start at 2 KiB and double up
 * to 64 KiB, as do the argument arrays: a consumer batch is one ops_batch
 * per partition it holds, and with 128 partitions most hold a few events,
 * so fixed 64 KiB chunks were megabytes allocated (and page-faulted) per
 * batch for nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"

#define ARENA_CHUNK 65536 /* the largest chunk, and the largest argument */
#define ARENA_FIRST 2048
#define SHARED_KEYS 5 /* OPS_K_DL .. OPS_K_ARLATE, KEYS[1..5] */
#define CASE_KEYS 4   /* seen, timeline, case, clocks */

const char ops_batch_script[] =
    "local i, n, applied = 1, #ARGV, 0\n"
    "while i <= n do\n"
    "  local stop = i + 2 + tonumber(ARGV[i + 2])\n"
    "  if redis.call('SADD', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) == 1 then\n"
    "    applied = applied + 1\n"
    "    i = i + 3\n"
    "    while i <= stop do\n"
    "      local cmd, k, c = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])\n"
    "      if cmd == 'HSETXX' then\n"
    "        if redis.call('HEXISTS', k, ARGV[i + 3]) == 1 then\n"
    "          redis.call('HSET', k, ARGV[i + 3], ARGV[i + 4]) end\n"
    "      else\n"
    "        redis.call(cmd, k, unpack(ARGV, i + 3, i + 2 + c))\n"
    "      end\n"
    "      i = i + 3 + c\n"
    "    end\n"
    "  end\n"
    "  i = stop + 1\n"
    "end\n"
    "return applied\n";

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    char data[];
} arena_chunk;

typedef struct strvec {
    const char **v;
    size_t n, cap;
} strvec;

struct ops_batch {
    arena_chunk *arena;
    strvec keys, args;
    size_t events;
    size_t event_at; /* args index of the open event's <m> */
    size_t write_at; /* args index of the open write's <n> */
    size_t case_base; /* KEYS index (1-based) of the open event's seen key */
    int failed;
};

static char *arena_alloc(ops_batch *b, size_t len) {
    arena_chunk *c = b->arena;
    if (len > ARENA_CHUNK) {
        b->failed = 1; /* an argument bigger than a chunk: no event is */
        return NULL;
    }
    if (!c || c->used + len > c->size) {
        size_t size = c ? (c->size < ARENA_CHUNK ? 2 * c->size : ARENA_CHUNK) : ARENA_FIRST;
        while (size < len) size *= 2;
        if (!(c = malloc(sizeof(*c) + size))) {
            b->failed = 1;
            return NULL;
        }
        c->next = b->arena;
        c->used = 0;
        c->size = size;
        b->arena = c;
    }
    char *p = c->data + c->used;
    c->used += len;
    return p;
}

static void vec_push(ops_batch *b, strvec *v, const char *s) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        const char **nv = realloc(v->v, cap * sizeof(*nv));
        if (!nv) {
            b->failed = 1;
            return;
        }
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = s;
}

static const char *arena_strf(ops_batch *b, const char *fmt, va_list ap) {
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    char *p = n < 0 ? NULL : arena_alloc(b, (size_t)n + 1);
    if (p && (size_t)n < sizeof(small)) memcpy(p, small, (size_t)n + 1);
    else if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p ? p : "";
}

static const char *arena_printf(ops_batch *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *s = arena_strf(b, fmt, ap);
    va_end(ap);
    return s;
}

const char *ops_key_shard(char buf[OPS_SHARD_KEY_MAX], ops_key k, int shard) {
    static const char *const names[SHARED_KEYS] = {"ops:dl", "ops:who", "ops:sen2:decided",
                                                   "ops:sen2:issued", "ops:sen2:arlate"};
    snprintf(buf, OPS_SHARD_KEY_MAX, "%s:{s%d}", names[k - OPS_K_DL], shard);
    return buf;
}

ops_batch *ops_batch_new(int shard) {
    char name[OPS_SHARD_KEY_MAX];
    ops_batch *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    for (int i = 0; i < SHARED_KEYS; i++)
        vec_push(b, &b->keys, arena_printf(b, "%s", ops_key_shard(name, (ops_key)(OPS_K_DL + i), shard)));
    return b;
}

void ops_batch_free(ops_batch *b) {
    if (!b) return;
    while (b->arena) {
        arena_chunk *next = b->arena->next;
        free(b->arena);
        b->arena = next;
    }
    free(b->keys.v);
    free(b->args.v);
    free(b);
}

void ops_batch_event_begin(ops_batch *b, const char *case_id, const char *id) {
    static const char *const prefixes[CASE_KEYS] = {"ops:seen:", "ops:timeline:", "ops:case:",
                                                    "ops:clocks:"};
    size_t clen = strlen(case_id);
    b->case_base = b->keys.n + 1;
    for (int i = 0; i < CASE_KEYS; i++) vec_push(b, &b->keys, arena_printf(b, "%s%s", prefixes[i], case_id));
    vec_push(b, &b->args, arena_printf(b, "%zu", b->case_base));
    /* The seen set is the case's own: its ids need not repeat the case id. */
    vec_push(b, &b->args, arena_printf(b, "%s", strncmp(id, case_id, clen) ? id : id + clen));
    b->event_at = b->args.n;
    vec_push(b, &b->args, "0");
}

void ops_batch_event_end(ops_batch *b) {
    if (b->failed) return;
    b->args.v[b->event_at] = arena_printf(b, "%zu", b->args.n - b->event_at - 1);
    b->events++;
}

void ops_batch_write(ops_batch *b, const char *cmd, ops_key key) {
    size_t k = key <= OPS_K_CLOCKS ? b->case_base + 1 + (size_t)key
                                   : (size_t)(key - OPS_K_DL) + 1;
    vec_push(b, &b->args, cmd);
    vec_push(b, &b->args, arena_printf(b, "%zu", k));
    b->write_at = b->args.n;
    vec_push(b, &b->args, "0");
}

void ops_batch_arg(ops_batch *b, const char *s) {
    size_t n = strlen(s ? s : "");
    char *p = arena_alloc(b, n + 1);
    if (p) memcpy(p, s ? s : "", n + 1);
    vec_push(b, &b->args, p ? p : "");
}

char *ops_batch_arg_alloc(ops_batch *b, size_t len) {
    char *p = arena_alloc(b, len + 1);
    vec_push(b, &b->args, p ? p : "");
    if (p) p[len] = '\0';
    return p;
}

void ops_batch_argf(ops_batch *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vec_push(b, &b->args, arena_strf(b, fmt, ap));
    va_end(ap);
}

void ops_batch_write_end(ops_batch *b) {
    if (b->failed) return;
    b->args.v[b->write_at] = arena_printf(b, "%zu", b->args.n - b->write_at - 1);
}

size_t ops_batch_events(const ops_batch *b) { return b->events; }

const char *const *ops_batch_keys(const ops_batch *b, size_t *n) {
    *n = b->keys.n;
    return b->keys.v;
}

const char *const *ops_batch_args(const ops_batch *b, size_t *n) {
    *n = b->args.n;
    return b->args.v;
}
int ops_batch_failed(const ops_batch *b) { return b->failed; }

int ops_batch_send(ops_batch *b, sp_redis *r, sp_redis_cb cb, void *priv) {
    size_t argc = 3 + b->keys.n + b->args.n;
    const char **argv = malloc(argc * sizeof(*argv));
    int rc;
    if (!argv) return -1;
    argv[0] = "EVAL", argv[1] = ops_batch_script, argv[2] = arena_printf(b, "%zu", b->keys.n);
    /* memcpy's pointers must not be NULL, even for 0 bytes */
    if (b->keys.n) memcpy(argv + 3, b->keys.v, b->keys.n * sizeof(*argv));
    if (b->args.n) memcpy(argv + 3 + b->keys.n, b->args.v, b->args.n * sizeof(*argv));
    rc = sp_redis_command_argv(r, cb, priv, (int)argc, argv, NULL);
    free(argv);
    return rc;
}
