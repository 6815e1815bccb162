/* fold.c - the rebuild's read model in memory. See fold.h.
 *
 * One string map (open addressing, linear probing, backward-shift delete)
 * serves every level: key name -> object, and inside an object hash field
 * -> value, set member -> nothing, sorted-set member -> score (kept as the
 * text the projection gave, which is what ZADD is sent). Lists are arrays.
 * Every string is the fold's own copy, in an arena of 1 MiB chunks freed
 * all at once: a rebuild makes millions of small strings and frees them
 * only at the end (a value overwritten or deleted is left in place), and a
 * malloc and free each cost more than the fold itself (profiled). A hash's fields are written out in
 * the order they were first set, which is the order a small Redis hash
 * (listpack) keeps and HGETALL answers: the API shows some hashes in that
 * order (a case's advice), so a rebuilt model reads as a live one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fold.h"

/* ---- the arena ---------------------------------------------------------- */

#define FOLD_CHUNK (1u << 20)

typedef struct fold_chunk {
    struct fold_chunk *next;
    size_t used, size;
    char data[];
} fold_chunk;

typedef struct fold_arena {
    fold_chunk *head;
} fold_arena;

/* A copy of s in the arena, or NULL out of memory. */
static char *arena_dup(fold_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    fold_chunk *c = a->head;
    if (!c || c->used + n > c->size) {
        size_t size = n > FOLD_CHUNK ? n : FOLD_CHUNK;
        if (!(c = malloc(sizeof(*c) + size))) return NULL;
        c->next = a->head, c->used = 0, c->size = size;
        a->head = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    c->used += n;
    return p;
}

static void arena_free(fold_arena *a) {
    while (a->head) {
        fold_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* ---- the string map ---------------------------------------------------- */

typedef struct fold_slot {
    char *key; /* NULL: empty */
    uint64_t hash;
    uint64_t seq; /* when it was made: a hash's fields are written in this order */
    void *val;
} fold_slot;

typedef struct fold_map {
    fold_slot *slots;
    size_t cap, n; /* cap a power of two */
    uint64_t seq;  /* the next slot's */
} fold_map;

static uint64_t fold_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static fold_slot *map_find(const fold_map *m, const char *key, uint64_t h) {
    if (!m->cap) return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        fold_slot *sl = &m->slots[i];
        if (!sl->key) return NULL;
        if (sl->hash == h && !strcmp(sl->key, key)) return sl;
    }
}

static int map_grow(fold_map *m) {
    size_t cap = m->cap ? 2 * m->cap : 8;
    fold_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        fold_slot *o = &m->slots[i];
        if (!o->key) continue;
        size_t j = o->hash & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = *o;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

/* The slot of key, made (with val NULL and *made 1) if absent; NULL if out
 * of memory. */
static fold_slot *map_upsert(fold_map *m, fold_arena *a, const char *key, int *made) {
    uint64_t h = fold_hash(key);
    fold_slot *sl = map_find(m, key, h);
    *made = 0;
    if (sl) return sl;
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m)) return NULL;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key) i = (i + 1) & (m->cap - 1);
    if (!(m->slots[i].key = arena_dup(a, key))) return NULL;
    m->slots[i].hash = h;
    m->slots[i].seq = m->seq++;
    m->slots[i].val = NULL;
    m->n++;
    *made = 1;
    return &m->slots[i];
}

/* Removes key (its strings stay in the arena). */
static int map_delete(fold_map *m, const char *key) {
    fold_slot *sl = map_find(m, key, fold_hash(key));
    if (!sl) return 0;
    size_t i = (size_t)(sl - m->slots), mask = m->cap - 1;
    sl->key = NULL;
    m->n--;
    /* Backward shift: move later entries of the run into the hole when
     * their home slot is at or before it. */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return 1;
}

static void map_clear(fold_map *m) {
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- objects --------------------------------------------------------------- */

typedef enum { FOLD_HASH, FOLD_SET, FOLD_ZSET, FOLD_LIST } fold_type;

typedef struct fold_obj {
    fold_type type;
    int part;
    fold_map map;   /* hash, set, zset */
    char **list;    /* list */
    size_t ln, lcap;
} fold_obj;

struct ops_fold {
    fold_map keys; /* name -> fold_obj */
    fold_arena arena;
};

ops_fold *ops_fold_new(void) { return calloc(1, sizeof(ops_fold)); }

static void obj_free(fold_obj *o) {
    if (!o) return;
    map_clear(&o->map);
    free(o->list);
    free(o);
}

void ops_fold_free(ops_fold *f) {
    if (!f) return;
    for (size_t i = 0; i < f->keys.cap; i++)
        if (f->keys.slots[i].key) obj_free(f->keys.slots[i].val);
    map_clear(&f->keys);
    arena_free(&f->arena);
    free(f);
}

size_t ops_fold_keys(const ops_fold *f) { return f->keys.n; }

/* The object named key: made if create, else NULL when absent (HDEL and
 * HSETXX of a key that does not exist change nothing, as in Redis). *err
 * is set on a type clash (Redis's WRONGTYPE) or no memory. */
static fold_obj *obj_get(ops_fold *f, const char *key, fold_type type, int part, int create,
                         int *err) {
    int made;
    fold_slot *sl;
    if (!create) {
        sl = map_find(&f->keys, key, fold_hash(key));
        if (sl && ((fold_obj *)sl->val)->type != type) *err = 1;
        return sl && !*err ? sl->val : NULL;
    }
    if (!(sl = map_upsert(&f->keys, &f->arena, key, &made))) return *err = 1, NULL;
    if (made && !(sl->val = calloc(1, sizeof(fold_obj)))) return *err = 1, NULL;
    fold_obj *o = sl->val;
    if (made) o->type = type, o->part = part;
    if (o->type != type) return *err = 1, NULL;
    return o;
}

/* Sets member to val (a copy; NULL for a set member). 1 if it was new. */
static int obj_set(ops_fold *f, fold_obj *o, const char *member, const char *val, int *err) {
    int made;
    fold_slot *sl = map_upsert(&o->map, &f->arena, member, &made);
    char *copy = NULL;
    if (!sl || (val && !(copy = arena_dup(&f->arena, val)))) {
        *err = 1;
        return 0;
    }
    sl->val = copy;
    return made;
}

static void obj_push(ops_fold *f, fold_obj *o, const char *v, int *err) {
    if (o->ln == o->lcap) {
        size_t cap = o->lcap ? 2 * o->lcap : 4;
        char **l = realloc(o->list, cap * sizeof(*l));
        if (!l) {
            *err = 1;
            return;
        }
        o->list = l;
        o->lcap = cap;
    }
    if (!(o->list[o->ln] = arena_dup(&f->arena, v))) *err = 1;
    else o->ln++;
}

/* One write of the script's argument list: cmd on key with argv[0..c).
 * Mirrors services/ops/batch.c's script, which runs the same list. */
static int fold_write(ops_fold *f, const char *cmd, const char *key, const char *const *a,
                      size_t c, int part) {
    int err = 0;
    fold_obj *o;
    if (!strcmp(cmd, "HSET")) {
        if (c % 2 || !(o = obj_get(f, key, FOLD_HASH, part, 1, &err))) return -1;
        for (size_t i = 0; i + 1 < c; i += 2) obj_set(f, o, a[i], a[i + 1], &err);
    } else if (!strcmp(cmd, "HSETXX")) {
        if (c != 2) return -1;
        o = obj_get(f, key, FOLD_HASH, part, 0, &err);
        if (o && map_find(&o->map, a[0], fold_hash(a[0]))) obj_set(f, o, a[0], a[1], &err);
    } else if (!strcmp(cmd, "HDEL")) {
        o = obj_get(f, key, FOLD_HASH, part, 0, &err);
        for (size_t i = 0; o && i < c; i++)
            map_delete(&o->map, a[i]);
    } else if (!strcmp(cmd, "RPUSH")) {
        if (!(o = obj_get(f, key, FOLD_LIST, part, 1, &err))) return -1;
        for (size_t i = 0; i < c; i++) obj_push(f, o, a[i], &err);
    } else if (!strcmp(cmd, "ZADD")) {
        if (c % 2 || !(o = obj_get(f, key, FOLD_ZSET, part, 1, &err))) return -1;
        for (size_t i = 0; i + 1 < c; i += 2) obj_set(f, o, a[i + 1], a[i], &err);
    } else if (!strcmp(cmd, "SADD")) {
        if (!(o = obj_get(f, key, FOLD_SET, part, 1, &err))) return -1;
        for (size_t i = 0; i < c; i++) obj_set(f, o, a[i], NULL, &err);
    } else {
        return -1; /* the projection writes nothing else */
    }
    return err ? -1 : 0;
}

static size_t num(const char *s) { return (size_t)strtoul(s, NULL, 10); }

int ops_fold_apply(ops_fold *f, const ops_batch *b, int part, size_t *applied,
                   size_t *repeats) {
    size_t nk, na, i = 0;
    const char *const *keys = ops_batch_keys(b, &nk);
    const char *const *a = ops_batch_args(b, &na);
    int err = 0;
    while (i + 2 < na) {
        /* <seen key> <event id> <m>, then m arguments of writes */
        size_t seen = num(a[i]), stop = i + 3 + num(a[i + 2]);
        fold_obj *o;
        if (!seen || seen > nk || stop > na) return -1;
        if (!(o = obj_get(f, keys[seen - 1], FOLD_SET, part, 1, &err))) return -1;
        if (!obj_set(f, o, a[i + 1], NULL, &err)) {
            if (err) return -1;
            ++*repeats;
            i = stop;
            continue;
        }
        ++*applied;
        for (i += 3; i + 2 < stop;) {
            size_t k = num(a[i + 1]), c = num(a[i + 2]);
            if (!k || k > nk || i + 3 + c > stop ||
                fold_write(f, a[i], keys[k - 1], a + i + 3, c, part))
                return -1;
            i += 3 + c;
        }
        i = stop;
    }
    return 0;
}

/* ---- writing it out --------------------------------------------------------- */

typedef struct fold_writer {
    ops_fold *f;
    sp_service *s;
    size_t slot;         /* the next key's slot in f->keys */
    fold_slot *cur;      /* the key being written, or NULL */
    size_t pos;          /* where in it: an index into order, or into the list */
    size_t *order, norder, ocap; /* the object's map slots, hashes by seq */
    int part;                     /* the partition of the command built last */
    size_t inflight, max;
    int ok, finished, starting;
    void (*done)(int ok, void *opaque);
    void *opaque;
    const char *argv[2 + 2 * OPS_FOLD_CHUNK];
} fold_writer;

static const char *const fold_cmds[] = {"HSET", "SADD", "ZADD", "RPUSH"}; /* by fold_type */

static const fold_map *sort_map; /* qsort has no context argument */
static int by_seq(const void *a, const void *b) {
    uint64_t x = sort_map->slots[*(const size_t *)a].seq;
    uint64_t y = sort_map->slots[*(const size_t *)b].seq;
    return x < y ? -1 : x > y;
}

/* w->order: the map's live slots, a hash's in the order first set. */
static int writer_order(fold_writer *w, fold_obj *o) {
    if (o->map.n > w->ocap) {
        size_t *ord = realloc(w->order, o->map.n * sizeof(*ord));
        if (!ord) return -1;
        w->order = ord;
        w->ocap = o->map.n;
    }
    w->norder = 0;
    for (size_t i = 0; i < o->map.cap; i++)
        if (o->map.slots[i].key) w->order[w->norder++] = i;
    if (o->type == FOLD_HASH) {
        sort_map = &o->map;
        qsort(w->order, w->norder, sizeof(*w->order), by_seq);
    }
    return 0;
}

/* Builds the next command into w->argv; returns its argc, 0 when all is
 * written, -1 out of memory. */
static int writer_next(fold_writer *w) {
    while (!w->cur) {
        if (w->slot >= w->f->keys.cap) return 0;
        fold_slot *sl = &w->f->keys.slots[w->slot++];
        fold_obj *o = sl->key ? sl->val : NULL;
        if (!o || !(o->type == FOLD_LIST ? o->ln : o->map.n)) continue;
        if (o->type != FOLD_LIST && writer_order(w, o)) return -1;
        w->cur = sl, w->pos = 0;
    }
    fold_obj *o = w->cur->val;
    size_t argc = 2;
    w->part = o->part;
    w->argv[0] = fold_cmds[o->type], w->argv[1] = w->cur->key;
    if (o->type == FOLD_LIST) {
        while (w->pos < o->ln && argc < 2 + OPS_FOLD_CHUNK) w->argv[argc++] = o->list[w->pos++];
        if (w->pos == o->ln) w->cur = NULL;
        return (int)argc;
    }
    for (; w->pos < w->norder && argc < 2 + OPS_FOLD_CHUNK; w->pos++) {
        fold_slot *m = &o->map.slots[w->order[w->pos]];
        if (o->type == FOLD_ZSET) w->argv[argc++] = m->val; /* score, member */
        w->argv[argc++] = m->key;
        if (o->type == FOLD_HASH) w->argv[argc++] = m->val;
    }
    if (w->pos == w->norder) w->cur = NULL;
    return (int)argc;
}

static void writer_pump(fold_writer *w);

static void writer_free(fold_writer *w) {
    free(w->order);
    free(w);
}

static void writer_finish(fold_writer *w) {
    w->done(w->ok, w->opaque);
    writer_free(w);
}

static void writer_cb(sp_redis *r, redisReply *reply, void *priv) {
    fold_writer *w = priv;
    if (!reply || reply->type == REDIS_REPLY_ERROR) w->ok = 0;
    w->inflight--;
    if (!w->finished) writer_pump(w);
    if (w->finished && w->inflight == 0 && !w->starting) writer_finish(w);
}

/* Sends commands until max are in flight or everything is sent. Replies
 * come back on the loop, never inside this call, so the count holds. */
static void writer_pump(fold_writer *w) {
    int argc;
    while (!w->finished && w->inflight < w->max) {
        if ((argc = writer_next(w)) <= 0) {
            w->ok &= argc == 0;
            w->finished = 1;
            break;
        }
        sp_redis *r = sp_service_redis(w->s, w->part);
        if (!r ||
            sp_redis_command_argv(r, writer_cb, w, argc, w->argv, NULL)) {
            w->ok = 0;
            w->finished = 1; /* a server is gone: the rebuild has failed */
            break;
        }
        w->inflight++;
    }
}

int ops_fold_write(ops_fold *f, sp_service *s, size_t max_inflight,
                   void (*done)(int ok, void *opaque), void *opaque) {
    fold_writer *w = calloc(1, sizeof(*w));
    if (!w) return -1;
    *w = (fold_writer){.f = f, .s = s, .max = max_inflight ? max_inflight : 1, .ok = 1,
                       .done = done, .opaque = opaque, .starting = 1};
    writer_pump(w);
    w->starting = 0;
    if (w->finished && w->inflight == 0) {
        int ok = w->ok;
        writer_free(w);
        if (!ok) return -1;
        done(1, opaque); /* nothing to write */
        return 0;
    }
    return 0;
}
