/* store.c - the timers service's Redis keys and scripts. See store.h.
 *
 * Scripts are sent with EVAL; Redis caches them by SHA after the first use,
 * and a shard's commands are pipelined on the one connection.
 *
 * KEYS[1] of every script that touches records is the shard's bucket prefix
 * "tm:{s<p>}:c:": it routes the script to the shard's Cluster slot, and
 * ckey() appends a clock's bucket (the last two characters of its case id),
 * since the slots a script reads from q or a cancel index are known only
 * inside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dates.h"
#include "layout.h"
#include "store.h"

#define DONE_TTL_S "1814400"       /* 3 weeks */
#define TOMBSTONE_TTL_S "34560000" /* 400 days: longer than any start's lateness */

/* The bucket key of a slot's record (store.h). */
/* A plain find, not a pattern match: it runs for every clock of every
 * script, and a pattern costs Redis several times more. */
#define CKEY_LUA                                                          \
    "local function ckey(slot)\n"                                         \
    "  local p = string.find(slot, ':', 1, true) or (#slot + 1)\n"        \
    "  return KEYS[1] .. string.sub(slot, p > 2 and p - 2 or 1, p - 1)\n" \
    "end\n"

/* KEYS: c q, then x z of each clock. ARGV: slot legacy record score
 * indexed, each clock; slot in layout 2, legacy the same clock in layout 1
 * (layout.h), "" when they are the same. A case withdrawn or closed (z) gets
 * no new clocks; a clock armed in layout 1 before an upgrade is running.
 * The due times go into q with one ZADD per 1000 clocks (Lua's unpack has
 * a limit), as in the advance, not a redis.call a clock; the script is
 * atomic, so nothing sees a record before its due time. */
static const char arm_many_lua[] = CKEY_LUA
    "local out, zq = {}, {}\n"
    "for i = 1, #ARGV, 5 do\n"
    "  local k = 3 + 2 * (i - 1) / 5\n"
    "  local slot, old, rec = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
    "  local was = old ~= '' and redis.call('HGET', ckey(old), old)\n"
    "  if redis.call('EXISTS', KEYS[k + 1]) == 1 then\n"
    "    out[#out + 1] = 2; out[#out + 1] = false\n"
    "  elseif was then\n"
    "    out[#out + 1] = 0; out[#out + 1] = was\n"
    "  elseif redis.call('HSETNX', ckey(slot), slot, rec) == 1 then\n"
    "    zq[#zq + 1] = ARGV[i + 3]; zq[#zq + 1] = slot\n"
    "    if #zq == 2000 then redis.call('ZADD', KEYS[2], unpack(zq)); zq = {} end\n"
    "    if ARGV[i + 4] ~= '' then redis.call('SADD', KEYS[k], slot) end\n"
    "    out[#out + 1] = 1; out[#out + 1] = rec\n"
    "  else\n"
    "    out[#out + 1] = 0; out[#out + 1] = redis.call('HGET', ckey(slot), slot)\n"
    "  end\n"
    "end\n"
    "if #zq > 0 then redis.call('ZADD', KEYS[2], unpack(zq)) end\n"
    "return out\n";

/* The due clocks, each with its record, then the next fire time after now
 * (false if none), so the service can wake exactly then instead of at its
 * next tick. No scores: Redis would format each as a double for nothing. A
 * slot without a record leaves q. With a lease (ARGV[3] > 0) each clock
 * returned is moved to that time in q, so the next round does not take it
 * again while this one's events are out; the advance moves it on, and a
 * round that never ends (a crash) leaves it due again when the lease ends. */
static const char due_lua[] = CKEY_LUA
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local out, z = {}, {}\n"
    "local lease = ARGV[3] ~= '0'\n"
    "for i = 1, #ids do\n"
    "  local rec = redis.call('HGET', ckey(ids[i]), ids[i])\n"
    "  if not rec then redis.call('ZREM', KEYS[2], ids[i])\n"
    "  elseif lease then\n"
    "    z[#z + 1] = ARGV[3]; z[#z + 1] = ids[i]\n"
    "    if #z == 2000 then redis.call('ZADD', KEYS[2], 'XX', unpack(z)); z = {} end\n"
    "  end\n"
    "  out[#out + 1] = ids[i]; out[#out + 1] = rec\n"
    "end\n"
    "if #z > 0 then redis.call('ZADD', KEYS[2], 'XX', unpack(z)) end\n"
    "local nx = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'WITHSCORES',\n"
    "                      'LIMIT', 0, 1)\n"
    "out[#out + 1] = nx[2] or false\n"
    "return out\n";

/* Compare-and-set of each record; the next fire times of those that moved
 * go into q with one ZADD per 1000 (Lua's unpack has a limit), not one
 * each: a round advances up to fire.batch clocks. The bucket key comes from
 * the service: no string work here, once per clock fired. */
static const char advance_lua[] =
    "local n, z = 0, {}\n"
    "for i = 1, #ARGV, 5 do\n"
    "  local c, slot = ARGV[i], ARGV[i + 1]\n"
    "  if redis.call('HGET', c, slot) == ARGV[i + 2] then\n"
    "    redis.call('HSET', c, slot, ARGV[i + 3])\n"
    "    z[#z + 1] = ARGV[i + 4]; z[#z + 1] = slot\n"
    "    n = n + 1\n"
    "    if #z == 2000 then redis.call('ZADD', KEYS[1], unpack(z)); z = {} end\n"
    "  end\n"
    "end\n"
    "if #z > 0 then redis.call('ZADD', KEYS[1], unpack(z)) end\n"
    "return n\n";

/* A record's start against the stop date: text records (layout 1) start
 * with yyyymmdd, packed ones (record.h) hold it as days; ARGV[1] and
 * ARGV[5] are the stop date in each form. -1, 0 or 1. */
#define START_CMP_LUA                                                        \
    "local function start_cmp(rec)\n"                                        \
    "  local p = string.find(rec, '|', 1, true)\n"                           \
    "  local s, d\n"                                                         \
    "  if p == 9 then s, d = string.sub(rec, 1, 8), ARGV[1]\n"               \
    "  else\n"                                                               \
    "    s = math.floor(tonumber(p and string.sub(rec, 1, p - 1) or rec) / 2147483648)\n" \
    "    d = tonumber(ARGV[5])\n"                                            \
    "  end\n"                                                                \
    "  if s < d then return -1 elseif s == d then return 0 else return 1 end\n" \
    "end\n"

/* KEYS: c q d0 d1 d2 x z. ARGV: stop_date strict outcome with_index
 * stop_days, then slot and legacy (arm_many_lua) of each clock named.
 * with_index is a case-wide cancel: it also leaves the tombstone z. A clock
 * is looked for in both layouts; the reply names it as stored. */
static const char stop_lua[] = CKEY_LUA START_CMP_LUA
    "local slots = {}\n"
    "for i = 6, #ARGV, 2 do slots[#slots + 1] = {ARGV[i], ARGV[i + 1]} end\n"
    "if ARGV[4] == '1' then\n"
    "  for _, s in ipairs(redis.call('SMEMBERS', KEYS[6])) do slots[#slots + 1] = {s, ''} end\n"
    "  redis.call('SET', KEYS[7], ARGV[1], 'EX', " TOMBSTONE_TTL_S ")\n"
    "end\n"
    "local out = {}\n"
    "local function done(slot)\n"
    "  for i = 3, 5 do\n"
    "    local d = redis.call('HGET', KEYS[i], slot)\n"
    "    if d and string.sub(d, -string.len(ARGV[3])) == ARGV[3] then\n"
    "      out[#out + 1] = slot; out[#out + 1] = 'done'\n"
    "      out[#out + 1] = string.sub(d, 1, string.len(d) - string.len(ARGV[3]) - 1)\n"
    "      return true\n"
    "    end\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "for _, pair in ipairs(slots) do\n"
    "  local slot = pair[1]\n"
    "  local rec = redis.call('HGET', ckey(slot), slot)\n"
    "  if not rec and pair[2] ~= '' then\n"
    "    rec = redis.call('HGET', ckey(pair[2]), pair[2])\n"
    "    if rec then slot = pair[2] end\n"
    "  end\n"
    "  local c = rec and start_cmp(rec)\n"
    "  if rec and (c < 0 or (c == 0 and ARGV[2] == '0')) then\n"
    "    redis.call('HDEL', ckey(slot), slot)\n"
    "    redis.call('ZREM', KEYS[2], slot)\n"
    "    redis.call('SREM', KEYS[6], slot)\n"
    "    redis.call('HSET', KEYS[3], slot, rec .. '#' .. ARGV[3])\n"
    "    redis.call('EXPIRE', KEYS[3], " DONE_TTL_S ")\n"
    "    out[#out + 1] = slot; out[#out + 1] = 'stopped'; out[#out + 1] = rec\n"
    "  elseif not done(pair[1]) and pair[2] ~= '' then\n"
    "    done(pair[2])\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Sets flag 1 (excepted) and the reason on an open record, of either
 * layout (record.h): a packed one keeps its number (with the flag set, in
 * whole-number form: Lua's tostring would round it) and takes "|<reason>".
 * ARGV: slot legacy reason. */
static const char except_lua[] = CKEY_LUA
    "local slot = ARGV[1]\n"
    "local rec = redis.call('HGET', ckey(slot), slot)\n"
    "if not rec and ARGV[2] ~= '' then slot = ARGV[2]; rec = redis.call('HGET', ckey(slot), slot) end\n"
    "if not rec then return nil end\n"
    "local out\n"
    "local p = string.find(rec, '|', 1, true)\n"
    "if p == 9 then\n"
    "  local f = {}\n"
    "  for part in string.gmatch(rec, '[^|]+') do f[#f + 1] = part end\n"
    "  local flags = bit.bor(tonumber(f[4]), 1)\n"
    "  out = f[1] .. '|' .. f[2] .. '|' .. f[3] .. '|' .. flags .. '|' .. ARGV[3]\n"
    "else\n"
    "  local v = tonumber(p and string.sub(rec, 1, p - 1) or rec)\n"
    "  local flags = v % 4\n"
    "  out = string.format('%.0f', v - flags + bit.bor(flags, 1)) .. '|' .. ARGV[3]\n"
    "end\n"
    "redis.call('HSET', ckey(slot), slot, out)\n"
    "return out\n";

static void key(char *buf, size_t size, int shard, const char *what) {
    snprintf(buf, size, "tm:{s%d}:%s", shard, what);
}

/* The case's key `what` ("x" or "z") of the shard, from a slot. */
static void case_key(char *buf, size_t size, int shard, const char *what, const char *slot) {
    snprintf(buf, size, "tm:{s%d}:%s:%.*s", shard, what, (int)strcspn(slot, ":"), slot);
}

int timers_store_arm_many(sp_redis *r, int shard, size_t n, const char *const *slots,
                          const char *const *records, const int64_t *fire_ms,
                          const int *indexed, sp_redis_cb cb, void *priv) {
    enum { KEY = 160, NUM = 24, EACH = 3 * KEY + NUM };
    size_t argc = 5 + 7 * n;
    const char **argv = malloc(argc * sizeof(*argv));
    char *buf = malloc(n * EACH), c[KEY], q[KEY], nkeys[24];
    int rc = -1;
    if (!argv || !buf) goto out;
    key(c, sizeof(c), shard, "c:");
    key(q, sizeof(q), shard, "q");
    snprintf(nkeys, sizeof(nkeys), "%zu", 2 + 2 * n);
    argv[0] = "EVAL", argv[1] = arm_many_lua, argv[2] = nkeys, argv[3] = c, argv[4] = q;
    for (size_t i = 0; i < n; i++) {
        char *x = buf + i * EACH, *z = x + KEY, *stored = z + KEY, *score = stored + KEY;
        case_key(x, KEY, shard, "x", slots[i]);
        case_key(z, KEY, shard, "z", slots[i]);
        if (timers_layout_store(slots[i], stored, KEY) < 0) goto out;
        snprintf(score, NUM, "%lld", (long long)fire_ms[i]);
        argv[5 + 2 * i] = x;
        argv[6 + 2 * i] = z;
        argv[5 + 2 * n + 5 * i] = stored;
        argv[6 + 2 * n + 5 * i] = strcmp(stored, slots[i]) ? slots[i] : "";
        argv[7 + 2 * n + 5 * i] = records[i];
        argv[8 + 2 * n + 5 * i] = score;
        argv[9 + 2 * n + 5 * i] = indexed[i] ? "1" : "";
    }
    rc = sp_redis_command_argv(r, cb, priv, (int)argc, argv, NULL);
out:
    free(argv);
    free(buf);
    return rc;
}

/* The bucket key of a slot's record (store.h): the last two characters of
 * its case id. */
static void bucket_key(char *buf, size_t size, int shard, const char *slot) {
    size_t p = strcspn(slot, ":");
    size_t from = p > 2 ? p - 2 : 0;
    snprintf(buf, size, "tm:{s%d}:c:%.*s", shard, (int)(p - from), slot + from);
}

int timers_store_due(sp_redis *r, int shard, int64_t now_ms, int limit, int64_t lease_until,
                     sp_redis_cb cb, void *priv) {
    char c[160], q[160], now[24], lim[16], lease[24];
    key(c, sizeof(c), shard, "c:");
    key(q, sizeof(q), shard, "q");
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_until);
    const char *argv[] = {"EVAL", due_lua, "2", c, q, now, lim, lease};
    return sp_redis_command_argv(r, cb, priv, 8, argv, NULL);
}

int timers_store_advance(sp_redis *r, int shard, size_t n, const char *const *slots,
                         const char *const *old_records, const char *const *new_records,
                         const int64_t *scores, sp_redis_cb cb, void *priv) {
    size_t argc = 4 + 5 * n;
    const char **argv = malloc(argc * sizeof(*argv));
    char q[160], (*sc)[24] = malloc(n * sizeof(*sc));
    char (*c)[TIMERS_STORE_KEY_MAX] = malloc(n * sizeof(*c));
    int rc = -1;
    if (!argv || !sc || !c) goto out;
    key(q, sizeof(q), shard, "q");
    argv[0] = "EVAL", argv[1] = advance_lua, argv[2] = "1", argv[3] = q;
    for (size_t i = 0; i < n; i++) {
        bucket_key(c[i], sizeof(c[i]), shard, slots[i]);
        snprintf(sc[i], sizeof(sc[i]), "%lld", (long long)scores[i]);
        argv[4 + 5 * i] = c[i];
        argv[5 + 5 * i] = slots[i];
        argv[6 + 5 * i] = old_records[i];
        argv[7 + 5 * i] = new_records[i];
        argv[8 + 5 * i] = sc[i];
    }
    rc = sp_redis_command_argv(r, cb, priv, (int)argc, argv, NULL);
out:
    free(argv);
    free(sc);
    free(c);
    return rc;
}

/* KEYS: c q. ARGV: slot record, each clock. A clock is parked only while
 * its record is still the one the service could not read: one fixed or
 * re-armed meanwhile keeps its place. */
static const char park_lua[] = CKEY_LUA
    "local n = 0\n"
    "for i = 1, #ARGV, 2 do\n"
    "  if redis.call('HGET', ckey(ARGV[i]), ARGV[i]) == ARGV[i + 1] then\n"
    "    redis.call('ZADD', KEYS[2], 'XX', '" TIMERS_STORE_PARKED_MS_STR "', ARGV[i])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

int timers_store_park(sp_redis *r, int shard, size_t n, const char *const *pairs,
                      const size_t *lens, sp_redis_cb cb, void *priv) {
    size_t argc = 5 + 2 * n;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *argvlen = malloc(argc * sizeof(*argvlen));
    char c[160], q[160];
    int rc = -1;
    if (!argv || !argvlen) goto out;
    key(c, sizeof(c), shard, "c:");
    key(q, sizeof(q), shard, "q");
    argv[0] = "EVAL", argv[1] = park_lua, argv[2] = "2", argv[3] = c, argv[4] = q;
    for (int i = 0; i < 5; i++) argvlen[i] = strlen(argv[i]);
    memcpy(argv + 5, pairs, 2 * n * sizeof(*argv));
    memcpy(argvlen + 5, lens, 2 * n * sizeof(*argvlen));
    rc = sp_redis_command_argv(r, cb, priv, (int)argc, argv, argvlen);
out:
    free(argv);
    free(argvlen);
    return rc;
}

/* The stop date as days since 1970, for packed records (record.h). */
static void stop_days(const char *yyyymmdd, char *buf, size_t size) {
    long v = strtol(yyyymmdd, NULL, 10);
    snprintf(buf, size, "%ld", (long)sp_date_make((int)(v / 10000), (int)(v / 100 % 100),
                                                  (int)(v % 100)));
}

int timers_store_stop(sp_redis *r, int shard, const char *case_id, const char *stop_date,
                      int strict, const char *outcome, int with_index,
                      const char *const *slots, size_t nslots, int64_t now_ms,
                      sp_redis_cb cb, void *priv) {
    char c[160], q[160], d[3][160], x[160], z[160], what[100], days[24];
    int64_t week = now_ms / (7LL * 86400000);
    size_t argc = 15 + 2 * nslots;
    const char **argv = malloc(argc * sizeof(*argv));
    char (*stored)[TIMERS_STORE_SLOT_MAX] = malloc((nslots ? nslots : 1) * sizeof(*stored));
    int rc = -1;
    if (!argv || !stored) goto out;
    key(c, sizeof(c), shard, "c:");
    key(q, sizeof(q), shard, "q");
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof(what), "d:%lld", (long long)(week - i));
        key(d[i], sizeof(d[i]), shard, what);
    }
    snprintf(what, sizeof(what), "x:%s", case_id);
    key(x, sizeof(x), shard, what);
    snprintf(what, sizeof(what), "z:%s", case_id);
    key(z, sizeof(z), shard, what);
    stop_days(stop_date, days, sizeof(days));
    const char *head[] = {"EVAL", stop_lua, "7", c, q, d[0], d[1], d[2], x, z, stop_date,
                          strict ? "1" : "0", outcome, with_index ? "1" : "0", days};
    memcpy(argv, head, sizeof(head));
    for (size_t i = 0; i < nslots; i++) {
        if (timers_layout_store(slots[i], stored[i], sizeof(stored[i])) < 0) goto out;
        argv[15 + 2 * i] = stored[i];
        argv[16 + 2 * i] = strcmp(stored[i], slots[i]) ? slots[i] : "";
    }
    rc = sp_redis_command_argv(r, cb, priv, (int)argc, argv, NULL);
out:
    free(argv);
    free(stored);
    return rc;
}

int timers_store_except(sp_redis *r, int shard, const char *slot, const char *reason,
                        sp_redis_cb cb, void *priv) {
    char c[160], stored[TIMERS_STORE_SLOT_MAX];
    if (timers_layout_store(slot, stored, sizeof(stored)) < 0) return -1;
    key(c, sizeof(c), shard, "c:");
    const char *argv[] = {"EVAL", except_lua, "1", c, stored,
                          strcmp(stored, slot) ? slot : "", reason};
    return sp_redis_command_argv(r, cb, priv, 7, argv, NULL);
}
