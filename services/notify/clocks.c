/* clocks.c - the digest's Redis keys. See clocks.h.
 *
 * Each call carries the caller's callback through the reply in a small
 * record; replies are borrowed, so what the caller keeps is copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clocks.h"
#include "log.h"

#define CLOCKS_KEY "notify:clocks"

typedef struct clocks_call {
    union {
        notify_clocks_cb done;
        notify_clocks_read_cb read;
        notify_clocks_cases_cb cases;
        notify_clocks_reserve_cb reserve;
    } cb;
    void *opaque;
    char **fields; /* cases: 3 per case, filled as replies come */
    size_t n, answered; /* cases: answered counts the replies still out */
    int failed;
} clocks_call;

static clocks_call *call_new(void *opaque) {
    clocks_call *c = calloc(1, sizeof(*c));
    if (c) c->opaque = opaque;
    return c;
}

static int reply_bad(const redisReply *rep, const char *what) {
    if (!rep) return 1;
    if (rep->type != REDIS_REPLY_ERROR) return 0;
    sp_error("notify clocks %s: %s", what, rep->str);
    return 1;
}

static char *str_copy(const redisReply *e) {
    char *s;
    if (!e || e->type != REDIS_REPLY_STRING || !(s = malloc(e->len + 1))) return NULL;
    memcpy(s, e->str, e->len);
    s[e->len] = '\0';
    return s;
}

void notify_clocks_lines_free(char **lines, size_t n) {
    if (!lines) return;
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

static void done_reply(sp_redis *r, redisReply *rep, void *priv) {
    clocks_call *c = priv;
    (void)r;
    c->cb.done(reply_bad(rep, "write") ? -1 : 0, c->opaque);
    free(c);
}

int notify_clocks_track(sp_redis *r, notify_agenda_op op, const char *clock_id,
                        const char *line, notify_clocks_cb cb, void *opaque) {
    clocks_call *c = call_new(opaque);
    int rc;
    if (!c) return -1;
    c->cb.done = cb;
    if (op == NOTIFY_AGENDA_KEEP)
        rc = sp_redis_command(r, done_reply, c, "HSET " CLOCKS_KEY " %s %s", clock_id,
                              line);
    else
        rc = sp_redis_command(r, done_reply, c, "HDEL " CLOCKS_KEY " %s", clock_id);
    if (rc) free(c);
    return rc;
}

/* ---- reading -------------------------------------------------------------------- */

static void read_reply(sp_redis *r, redisReply *rep, void *priv) {
    clocks_call *c = priv;
    char **lines = NULL;
    size_t n = 0;
    (void)r;
    if (!reply_bad(rep, "read") && rep->type == REDIS_REPLY_ARRAY &&
        (lines = calloc(rep->elements / 2 + 1, sizeof(*lines)))) {
        for (size_t i = 1; i < rep->elements; i += 2, n++)
            if (!(lines[n] = str_copy(rep->element[i]))) {
                notify_clocks_lines_free(lines, n);
                lines = NULL;
                break;
            }
    }
    c->cb.read(lines ? 0 : -1, lines, lines ? n : 0, c->opaque);
    free(c);
}

int notify_clocks_read(sp_redis *r, notify_clocks_read_cb cb, void *opaque) {
    clocks_call *c = call_new(opaque);
    if (!c) return -1;
    c->cb.read = cb;
    if (sp_redis_command(r, read_reply, c, "HGETALL " CLOCKS_KEY)) {
        free(c);
        return -1;
    }
    return 0;
}

/* One HMGET per case, on the case's server (redis.shards), pipelined on
 * each; the callback runs after the last reply. Servers answer in no order
 * between them, so each command carries its case's index; the call is held
 * once while sending, so a reply that comes before the last send cannot end
 * it. */
typedef struct case_req {
    clocks_call *c;
    size_t i;
} case_req;

static void cases_release(clocks_call *c) {
    if (--c->answered > 0) return; /* answered counts what is still out */
    if (c->failed) {
        notify_clocks_lines_free(c->fields, 3 * c->n);
        c->fields = NULL;
    }
    c->cb.cases(c->failed ? -1 : 0, c->fields, c->n, c->opaque);
    free(c);
}

static void case_reply(sp_redis *r, redisReply *rep, void *priv) {
    case_req *q = priv;
    clocks_call *c = q->c;
    size_t i = q->i;
    (void)r;
    free(q);
    if (reply_bad(rep, "case") || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
        c->failed = 1;
    else
        for (size_t k = 0; k < 3; k++)
            if (rep->element[k]->type == REDIS_REPLY_STRING &&
                !(c->fields[3 * i + k] = str_copy(rep->element[k])))
                c->failed = 1;
    cases_release(c);
}

int notify_clocks_cases(sp_service *s, const char *const *case_ids, size_t n,
                        notify_clocks_cases_cb cb, void *opaque) {
    clocks_call *c = call_new(opaque);
    if (!c || !(c->fields = calloc(3 * n + 1, sizeof(*c->fields)))) {
        free(c);
        return -1;
    }
    c->cb.cases = cb;
    c->n = n;
    c->answered = 1; /* held while sending */
    for (size_t i = 0; i < n && !c->failed; i++) {
        case_req *q = malloc(sizeof(*q));
        if (q) *q = (case_req){c, i};
        if (!q || sp_redis_command(sp_service_redis_of(s, case_ids[i]), case_reply, q,
                                   "HMGET notify:case:%s school_urn child_name "
                                   "child_family_name",
                                   case_ids[i])) {
            free(q);
            c->failed = 1; /* the replies in flight finish the call, as failed */
            break;
        }
        c->answered++;
    }
    if (c->failed && c->answered == 1) { /* nothing in flight: no callback */
        free(c->fields);
        free(c);
        return -1;
    }
    cases_release(c); /* with n == 0, answers at once, as the contract allows */
    return 0;
}

/* ---- the digests sent ----------------------------------------------------------- */

/* The reservation, as one script so the catch-up rule and the SET NX see the
 * same state. ARGV: lease, day, catch-up (1: only if the team's last digest
 * is older than day). ISO dates compare as strings. */
#define RESERVE_LUA                                                                  \
    "if ARGV[3] == '1' then local last = redis.call('GET', KEYS[2]) "                \
    "if not last or last >= ARGV[2] then return 0 end end "                          \
    "if redis.call('SET', KEYS[1], 'sending', 'NX', 'EX', ARGV[1]) then return 1 end " \
    "return 0"

static void reserve_reply(sp_redis *r, redisReply *rep, void *priv) {
    clocks_call *c = priv;
    (void)r;
    if (reply_bad(rep, "reserve") || rep->type != REDIS_REPLY_INTEGER)
        c->cb.reserve(-1, 0, c->opaque);
    else
        c->cb.reserve(0, rep->integer == 1, c->opaque);
    free(c);
}

/* The day's mark and the team's last day (notify:digest:<team>:<date>,
 * notify:digest:last:<team>). */
#define DIGEST_KEY_MAX 192
static void digest_keys(const char *team, const char *date, char *day, char *last) {
    snprintf(day, DIGEST_KEY_MAX, "notify:digest:%s:%s", team, date);
    snprintf(last, DIGEST_KEY_MAX, "notify:digest:last:%s", team);
}

int notify_clocks_digest_reserve(sp_redis *r, const char *team, const char *date,
                                 long long lease_s, int catch_up,
                                 notify_clocks_reserve_cb cb, void *opaque) {
    clocks_call *c = call_new(opaque);
    if (!c) return -1;
    c->cb.reserve = cb;
    char day[DIGEST_KEY_MAX], last[DIGEST_KEY_MAX], lease[24];
    digest_keys(team, date, day, last);
    snprintf(lease, sizeof(lease), "%lld", lease_s);
    const char *argv[] = {"EVAL", RESERVE_LUA, "2", day, last, lease, date,
                          catch_up ? "1" : "0"};
    if (sp_redis_command_argv(r, reserve_reply, c, 8, argv, NULL)) {
        free(c);
        return -1;
    }
    return 0;
}

/* Marks the day, and moves the team's last day forward (never back: a
 * catch-up of an older day may settle after a newer one). */
#define MARK_LUA                                                                     \
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "                            \
    "local last = redis.call('GET', KEYS[2]) "                                       \
    "if not last or last < ARGV[3] then redis.call('SET', KEYS[2], ARGV[3]) end "    \
    "return 1"

int notify_clocks_digest_mark(sp_redis *r, const char *team, const char *date,
                              const char *value, notify_clocks_cb cb, void *opaque) {
    clocks_call *c = call_new(opaque);
    int rc;
    if (!c) return -1;
    c->cb.done = cb;
    char day[DIGEST_KEY_MAX], last[DIGEST_KEY_MAX], keep[24];
    digest_keys(team, date, day, last);
    snprintf(keep, sizeof(keep), "%lld", (long long)NOTIFY_DIGEST_KEEP_S);
    if (value) {
        const char *argv[] = {"EVAL", MARK_LUA, "2", day, last, value, keep, date};
        rc = sp_redis_command_argv(r, done_reply, c, 8, argv, NULL);
    } else {
        const char *argv[] = {"DEL", day};
        rc = sp_redis_command_argv(r, done_reply, c, 2, argv, NULL);
    }
    if (rc) free(c);
    return rc;
}
