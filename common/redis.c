/* redis.c - hiredis async on libuv with reconnect and timeouts. See redis.h.
 *
 * Every accepted command gets a small request record on an in-order list
 * (oldest first). Replies pop the head; the watchdog timer only ever needs to
 * look at the head.
 *
 * A connection is ready after its handshake: AUTH (with a password) and,
 * behind a sentinel, ROLE; both are queued before the connect completes
 * and counted in `handshake`, and the last good answer makes it ready.
 *
 * An EVAL sent through sp_redis_command_argv goes out as EVALSHA: each
 * connection keeps the scripts it has seen (a copy of the text and its
 * SHA1), and the first use of one on a connection sends SCRIPT LOAD just
 * ahead of it, in the same pipeline, so it is always loaded in time. Redis
 * reads and parses a script's text on every EVAL (1-2 kB for the services'
 * scripts); `redis-benchmark` ran a 1.1 kB script at 320,000 EVAL/s against
 * 680,000 EVALSHA/s. */
#include <openssl/evp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/async.h>
#include "log.h"
#include "redis.h"
#include "redis_sentinel.h"
#include "redis_uv.h"

#define SP_REDIS_BACKOFF_MIN_MS 100
#define SP_REDIS_BACKOFF_MAX_MS 5000
/* Behind sentinels a failed connect is usually the old master, dead, while
 * the sentinels are still agreeing on a new one: asking again often is
 * cheap, and the cap bounds how late after the promotion we notice it. */
#define SP_REDIS_SENTINEL_BACKOFF_MAX_MS 250
/* Distinct scripts a connection sends as EVALSHA; more go as EVAL. The
 * services send a few dozen at most. */
#define SP_REDIS_SCRIPTS_MAX 64

typedef struct redis_script {
    char *text; /* a copy: the caller's buffer may later hold another script */
    size_t len;
    char sha[41];
    unsigned loaded; /* the conn_gen it was last loaded on; 0: never */
    int eval_only;   /* SCRIPT LOAD refused it: EVAL shows callers why */
    uint64_t warned_ms; /* uv_now() of the last NOSCRIPT logged: one a second */
} redis_script;

typedef struct redis_req {
    sp_redis *r;
    sp_redis_cb cb;
    void *priv;
    uint64_t sent_ms; /* uv_now(): the watchdog's coarse clock */
    uint64_t sent_ns; /* uv_hrtime(): for the latency histogram */
    redis_script *script; /* sent as EVALSHA of it, or NULL */
    char *cmd;            /* that EVALSHA as sent (redisFormatCommandArgv), owned */
    int cmdlen;
    struct redis_req *next, *prev;
} redis_req;

struct sp_redis {
    uv_loop_t *loop;
    char *host, *password;
    int port, timeout_ms;
    redisAsyncContext *ac;
    int ready, closing, open_handles, handshake;
    unsigned backoff_ms, backoff_max_ms;
    sp_sentinel *sentinel; /* NULL: host and port are configured */
    /* sp_redis_wait's bookkeeping, in commands sent: every command counts
     * (reads too: harmless), confirmed is the last one a WAIT covered, and
     * conn_start the count when this connection became ready. */
    uint64_t sent, confirmed, conn_start;
    int readonly_seen;     /* a -READONLY reply: drop this connection */
    uint64_t connect_deadline; /* a connect not done by then is dropped */
    uv_timer_t reconnect, watchdog;
    unsigned watchdog_every;      /* its period, ms */
    uint64_t watchdog_last;       /* uv_now() at its last tick */
    redis_req *head, *tail;
    size_t pending;
    unsigned conn_gen; /* counts connects: a new server has no scripts */
    redis_script scripts[SP_REDIS_SCRIPTS_MAX];
    int nscripts;
    sp_metric *m_latency; /* borrowed; may be NULL */
    void (*state_cb)(sp_redis *, int, void *);
    void *state_opaque;
    void (*close_cb)(void *);
    void *close_opaque;
};

static void redis_connect(sp_redis *r);

static void redis_state(sp_redis *r, int up) {
    r->ready = up;
    if (up) r->conn_start = r->sent;
    if (r->state_cb) r->state_cb(r, up, r->state_opaque);
}


static void redis_reconnect_cb(uv_timer_t *t) { redis_connect(t->data); }

static void redis_release(void *arg) {
    sp_redis *r = arg;
    if (--r->open_handles > 0) return;
    void (*cb)(void *) = r->close_cb;
    void *opaque = r->close_opaque;
    for (int i = 0; i < r->nscripts; i++) free(r->scripts[i].text);
    free(r->host);
    free(r->password);
    free(r);
    if (cb) cb(opaque);
}

static void redis_handles_closed(uv_handle_t *h) { redis_release(h->data); }

static void redis_finish_close(sp_redis *r) {
    uv_close((uv_handle_t *)&r->reconnect, redis_handles_closed);
    uv_close((uv_handle_t *)&r->watchdog, redis_handles_closed);
    if (r->sentinel) sp_sentinel_close(r->sentinel, redis_release, r);
    r->sentinel = NULL;
}

static void redis_retry_later(sp_redis *r) {
    uv_timer_start(&r->reconnect, redis_reconnect_cb, r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > r->backoff_max_ms ? r->backoff_max_ms
                                                           : r->backoff_ms * 2;
}

/* One handshake step answered well; the last one makes the connection
 * ready. */
static void redis_handshake_step(sp_redis *r) {
    if (--r->handshake == 0) redis_state(r, 1);
}

static void redis_connect_cb(const redisAsyncContext *ac, int status) {
    sp_redis *r = ac->data;
    if (status != REDIS_OK) {
        sp_warn("redis %s:%d: connect failed: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees it after this callback */
        if (r->closing) {
            redis_finish_close(r);
            return;
        }
        redis_retry_later(r);
        return;
    }
    sp_info("redis %s:%d: connected%s%s", r->host, r->port,
            r->sentinel ? ", as master of " : "", r->sentinel ? sp_sentinel_name(r->sentinel) : "");
    r->backoff_ms = SP_REDIS_BACKOFF_MIN_MS;
    redis_handshake_step(r); /* the connect itself; AUTH and ROLE may follow */
}

/* A refused password would leave a connection on which every command fails
 * NOAUTH while /readyz says ready: drop it instead, and retry slowly (the
 * server's password may be being rotated). NULL: the connection went first. */
static void redis_auth_cb(redisAsyncContext *ac, void *reply, void *priv) {
    sp_redis *r = ac->data;
    redisReply *rep = reply;
    if (!rep || r->closing) return;
    if (rep->type != REDIS_REPLY_ERROR) {
        redis_handshake_step(r);
        return;
    }
    sp_error("redis %s:%d: AUTH refused (%s): check redis.password", r->host, r->port,
             rep->str);
    r->backoff_ms = SP_REDIS_BACKOFF_MAX_MS;
    redisAsyncDisconnect(ac);
}

/* A sentinel can name a master that has just been demoted, or lag behind a
 * failover: only a server that says it is the master takes our writes.
 * Otherwise drop it and ask the sentinels again, after a backoff. */
static void redis_role_cb(redisAsyncContext *ac, void *reply, void *priv) {
    sp_redis *r = ac->data;
    redisReply *rep = reply;
    if (!rep || r->closing) return;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "master") == 0) {
        redis_handshake_step(r);
        return;
    }
    sp_warn("redis %s:%d: not the master of %s (ROLE: %s), asking the sentinels again",
            r->host, r->port, sp_sentinel_name(r->sentinel),
            rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 && rep->element[0]->str
                ? rep->element[0]->str : rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
    redisAsyncDisconnect(ac);
}

static void redis_disconnect_cb(const redisAsyncContext *ac, int status) {
    sp_redis *r = ac->data;
    /* A context we let go of ourselves (r->ac cleared before freeing it):
     * whoever freed it decides what comes next. */
    if (ac != r->ac) return;
    r->ac = NULL;
    if (r->ready) redis_state(r, 0);
    if (r->closing) {
        redis_finish_close(r);
        return;
    }
    sp_warn("redis %s:%d: disconnected%s%s", r->host, r->port,
            status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
    redis_retry_later(r);
}

static void redis_connect_addr(sp_redis *r);

/* The sentinels' answer: connect there, or try again later. */
static void redis_resolved(sp_sentinel *sn, const char *host, int port, void *opaque) {
    sp_redis *r = opaque;
    char *copy;
    if (!host) {
        sp_warn("redis: no sentinel gave the address of master %s", sp_sentinel_name(sn));
        redis_retry_later(r);
        return;
    }
    if ((strcmp(host, r->host) != 0 || port != r->port) && (copy = strdup(host))) {
        sp_info("redis: sentinels name %s:%d as master of %s", host, port,
                sp_sentinel_name(sn));
        free(r->host);
        r->host = copy;
        r->port = port;
    }
    redis_connect_addr(r);
}

static void redis_connect(sp_redis *r) {
    if (r->sentinel && sp_sentinel_resolve(r->sentinel, redis_resolved, r) == 0) return;
    if (r->sentinel) { /* cannot happen: one resolve at a time, and we wait */
        redis_retry_later(r);
        return;
    }
    redis_connect_addr(r);
}

static void redis_connect_addr(sp_redis *r) {
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        sp_warn("redis %s:%d: %s", r->host, r->port, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        redis_retry_later(r);
        return;
    }
    ac->data = r;
    if (sp_redis_uv_attach(ac, r->loop) != REDIS_OK) {
        sp_error("redis: cannot attach to the event loop");
        redisAsyncFree(ac);
        redis_retry_later(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, redis_connect_cb);
    redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb);
    r->ac = ac;
    r->readonly_seen = 0;
    r->conn_gen++;
    /* hiredis 0.14's libuv adapter ignores poll errors, so a connect to a
     * closed port may never report back: the watchdog enforces a deadline. */
    r->connect_deadline = uv_now(r->loop) + (uint64_t)r->timeout_ms;
    /* Queued before the connection completes: hiredis sends them first. */
    r->handshake = 1; /* the connect */
    if (r->password && r->password[0] &&
        redisAsyncCommand(ac, redis_auth_cb, NULL, "AUTH %s", r->password) == REDIS_OK)
        r->handshake++;
    if (r->sentinel && redisAsyncCommand(ac, redis_role_cb, NULL, "ROLE") == REDIS_OK)
        r->handshake++;
}

/* hiredis 0.14's libuv adapter drops poll errors, and libuv stops a poll
 * handle that reports one: a refused connect or a reset connection then
 * never reports back by itself. The socket's pending error says so. */
static int redis_sock_error(const redisAsyncContext *ac) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (ac->c.fd < 0 || getsockopt(ac->c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
    return err;
}

/* Drops a connect that failed or has not completed in time, a connection
 * whose socket failed, and one whose oldest command has waited too long.
 * redisAsyncFree (not Disconnect, which would wait for the replies that are
 * not coming) fails every pending callback at once; the disconnect callback
 * then schedules a reconnect. */
static void redis_watchdog_cb(uv_timer_t *t) {
    sp_redis *r = t->data;
    redisAsyncContext *ac = r->ac;
    uint64_t now = uv_now(r->loop);
    /* A tick this late means the loop itself was held (a long batch, a
     * table growing), and libuv runs timers before it polls: replies that
     * came meanwhile are still unread, and the wait since the last tick is
     * the loop's, not Redis's. The last time the socket was surely read is
     * the poll right after the last tick, so Redis is judged up to then. */
    uint64_t read_ms = now - r->watchdog_last > 2 * (uint64_t)r->watchdog_every
                           ? r->watchdog_last : now;
    int err;
    r->watchdog_last = now;
    if (!ac || r->closing) return;
    err = redis_sock_error(ac);
    if (!r->ready && !r->readonly_seen && (err || read_ms > r->connect_deadline)) {
        if (err)
            sp_warn("redis %s:%d: connect failed: %s", r->host, r->port, strerror(err));
        else
            sp_warn("redis %s:%d: connect timed out after %d ms", r->host, r->port,
                    r->timeout_ms);
        r->ac = NULL;
        redisAsyncFree(ac); /* not ready: its disconnect callback, if any, ignores it */
        redis_retry_later(r);
        return;
    }
    if (err) {
        sp_error("redis %s:%d: %s, reconnecting", r->host, r->port, strerror(err));
        redisAsyncFree(ac);
    } else if (r->head && read_ms > r->head->sent_ms &&
               read_ms - r->head->sent_ms > (uint64_t)r->timeout_ms) {
        sp_error("redis %s:%d: no reply in %d ms, reconnecting", r->host, r->port,
                 r->timeout_ms);
        redisAsyncFree(ac);
    }
}

sp_redis *sp_redis_new(uv_loop_t *loop, const sp_redis_options *opt) {
    sp_redis *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->loop = loop;
    r->host = strdup(opt->host ? opt->host : "127.0.0.1");
    r->password = opt->password ? strdup(opt->password) : NULL;
    r->port = opt->port;
    r->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 2000;
    r->backoff_ms = SP_REDIS_BACKOFF_MIN_MS;
    r->backoff_max_ms = SP_REDIS_BACKOFF_MAX_MS;
    if (!r->host || (opt->password && !r->password)) goto fail;
    if (opt->master && opt->master[0]) {
        char errstr[256];
        /* Each sentinel gets a share of the timeout, so a round over three
         * of them, one down, still ends within timeout_ms or so. */
        if (!(r->sentinel = sp_sentinel_new(loop, opt->sentinels, opt->master,
                                            r->timeout_ms / 2, errstr, sizeof(errstr)))) {
            sp_error("redis: %s", errstr);
            goto fail;
        }
        if (sp_sentinel_auth(r->sentinel, opt->sentinel_password)) {
            sp_sentinel_close(r->sentinel, NULL, NULL);
            r->sentinel = NULL;
            goto fail;
        }
        r->backoff_max_ms = SP_REDIS_SENTINEL_BACKOFF_MAX_MS;
        r->open_handles++;
    }
    uv_timer_init(loop, &r->reconnect);
    uv_timer_init(loop, &r->watchdog);
    r->reconnect.data = r->watchdog.data = r;
    r->open_handles += 2;
    /* Often enough to see a failed socket quickly (redis_sock_error). */
    unsigned every = r->timeout_ms / 4 > 250 ? 250
                     : r->timeout_ms / 4 > 10 ? (unsigned)r->timeout_ms / 4 : 10;
    r->watchdog_every = every;
    r->watchdog_last = uv_now(loop);
    uv_timer_start(&r->watchdog, redis_watchdog_cb, every, every);
    redis_connect(r);
    return r;
fail:
    free(r->host);
    free(r->password);
    free(r);
    return NULL;
}

int sp_redis_ready(const sp_redis *r) { return r->ready; }
size_t sp_redis_pending(const sp_redis *r) { return r->pending; }

static void req_unlink(sp_redis *r, redis_req *q) {
    if (q->prev) q->prev->next = q->next; else r->head = q->next;
    if (q->next) q->next->prev = q->prev; else r->tail = q->prev;
    r->pending--;
}

static int script_resend_as_eval(sp_redis *r, const redis_req *q);

static void req_free(redis_req *q) {
    if (q->cmd) redisFreeCommand(q->cmd);
    free(q);
}

static void redis_reply_cb(redisAsyncContext *ac, void *reply, void *privdata) {
    redis_req *q = privdata;
    sp_redis *r = q->r;
    redisReply *rep = reply;
    req_unlink(r, q);
    if (reply) sp_metric_observe(r->m_latency, (double)(uv_hrtime() - q->sent_ns) / 1e9);
    /* A demoted master: take no more commands here, let the ones out get
     * their answers, then reconnect (to the sentinels' new master). */
    if (r->sentinel && rep && rep->type == REDIS_REPLY_ERROR && !r->readonly_seen &&
        strncmp(rep->str, "READONLY", 8) == 0) {
        sp_warn("redis %s:%d: READONLY: no longer the master of %s, reconnecting", r->host,
                r->port, sp_sentinel_name(r->sentinel));
        r->readonly_seen = 1;
        if (r->ready) redis_state(r, 0);
        redisAsyncDisconnect(ac);
    }
    /* The server lost its scripts under us (SCRIPT FLUSH): the command goes
     * again as EVAL, which also puts the script back, and its caller gets
     * that reply. */
    if (q->script && rep && rep->type == REDIS_REPLY_ERROR &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && script_resend_as_eval(r, q) == 0) {
        req_free(q);
        return;
    }
    if (q->cb) q->cb(r, reply, q->priv);
    req_free(q);
}

static redis_req *req_new(sp_redis *r, sp_redis_cb cb, void *priv) {
    redis_req *q;
    /* No connection at all is refused like a closed one: a partition outside
     * redis.shards has none (sp_service_redis). */
    if (!r || !r->ready || !r->ac || !(q = malloc(sizeof(*q)))) return NULL;
    q->r = r;
    q->cb = cb;
    q->priv = priv;
    q->sent_ms = uv_now(r->loop);
    q->sent_ns = uv_hrtime();
    q->script = NULL;
    q->cmd = NULL;
    q->next = NULL;
    q->prev = r->tail;
    if (r->tail) r->tail->next = q; else r->head = q;
    r->tail = q;
    r->pending++;
    r->sent++;
    return q;
}

static int req_sent(sp_redis *r, redis_req *q, int status) {
    if (status == REDIS_OK) return 0;
    req_unlink(r, q);
    req_free(q);
    return -1;
}

int sp_redis_command(sp_redis *r, sp_redis_cb cb, void *priv, const char *fmt, ...) {
    redis_req *q = req_new(r, cb, priv);
    va_list ap;
    int status;
    if (!q) return -1;
    va_start(ap, fmt);
    status = redisvAsyncCommand(r->ac, redis_reply_cb, q, fmt, ap);
    va_end(ap);
    return req_sent(r, q, status);
}

/* SCRIPT LOAD's answer. A refused script (a compile error, or an ACL
 * without SCRIPT) is sent as EVAL from now on, so its callers see Redis's
 * own error; the EVALSHA queued behind this load fails NOSCRIPT once. */
static void script_loaded_cb(sp_redis *r, redisReply *rep, void *priv) {
    redis_script *s = priv;
    if (!rep) return; /* the connection went: the next one loads it again */
    if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, s->sha) == 0) return;
    sp_warn("redis %s:%d: SCRIPT LOAD refused (%s): sending that script as EVAL", r->host,
            r->port, rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    s->eval_only = 1;
}

/* The connection's record of script text, added on first sight; NULL to
 * send it as EVAL (refused before, the table full, out of memory). */
static redis_script *script_find(sp_redis *r, const char *text, size_t len) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    redis_script *s;
    for (int i = 0; i < r->nscripts; i++) {
        s = &r->scripts[i];
        if (s->len == len && memcmp(s->text, text, len) == 0) return s->eval_only ? NULL : s;
    }
    if (r->nscripts == SP_REDIS_SCRIPTS_MAX) return NULL;
    s = &r->scripts[r->nscripts];
    if (!(s->text = malloc(len)) || !EVP_Digest(text, len, md, &n, EVP_sha1(), NULL)) {
        free(s->text);
        return NULL;
    }
    memcpy(s->text, text, len);
    s->len = len;
    for (unsigned i = 0; i < n && i < 20; i++) {
        s->sha[2 * i] = "0123456789abcdef"[md[i] >> 4];
        s->sha[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    s->sha[40] = '\0';
    s->loaded = 0;
    s->eval_only = 0;
    s->warned_ms = 0;
    r->nscripts++;
    return s;
}

/* Sends EVALSHA in place of EVAL (argv[1] the script), loading the script
 * first if this connection has not. -2: not sent, send it as EVAL. */
static int script_send(sp_redis *r, sp_redis_cb cb, void *priv, int argc, const char **argv,
                       const size_t *argvlen) {
    enum { SMALL = 32 };
    const char *small[SMALL], **av;
    size_t smalllen[SMALL], *al = NULL;
    size_t len = argvlen ? argvlen[1] : strlen(argv[1]);
    redis_script *s = script_find(r, argv[1], len);
    redis_req *q;
    char *cmd;
    int cmdlen;
    if (!s) return -2;
    if (s->loaded != r->conn_gen) {
        const char *load[] = {"SCRIPT", "LOAD", s->text};
        size_t loadlen[] = {6, 4, s->len};
        if (!(q = req_new(r, script_loaded_cb, s))) return -2;
        if (req_sent(r, q, redisAsyncCommandArgv(r->ac, redis_reply_cb, q, 3, load, loadlen)))
            return -2;
        s->loaded = r->conn_gen;
    }
    av = argc <= SMALL ? small : malloc((size_t)argc * sizeof(*av));
    if (argvlen) al = argc <= SMALL ? smalllen : malloc((size_t)argc * sizeof(*al));
    if (!av || (argvlen && !al)) {
        if (av != small) free(av);
        if (al != smalllen) free(al);
        return -2;
    }
    memcpy(av, argv, (size_t)argc * sizeof(*av));
    av[0] = "EVALSHA", av[1] = s->sha;
    if (al) {
        memcpy(al, argvlen, (size_t)argc * sizeof(*al));
        al[0] = 7, al[1] = 40;
    }
    /* Formatted here, not by hiredis, and kept until the reply: a NOSCRIPT
     * answer is sent again as EVAL from it (script_resend_as_eval). */
    cmdlen = redisFormatCommandArgv(&cmd, argc, av, al);
    if (av != small) free(av);
    if (al && al != smalllen) free(al);
    if (cmdlen < 0) return -2;
    if (!(q = req_new(r, cb, priv))) {
        redisFreeCommand(cmd);
        return -1;
    }
    q->script = s, q->cmd = cmd, q->cmdlen = cmdlen;
    return req_sent(r, q, redisAsyncFormattedCommand(r->ac, redis_reply_cb, q, cmd,
                                                     (size_t)cmdlen));
}

/* q's EVALSHA sent again as EVAL with the same keys and arguments, for q's
 * callback. Commands sent after q have run by now, so this one runs after
 * them: only a SCRIPT FLUSH on a live connection comes here, and every
 * EVALSHA then in flight comes back in order, so scripts keep their order
 * among themselves. -1: not sent (q's caller gets the NOSCRIPT). */
static int script_resend_as_eval(sp_redis *r, const redis_req *q) {
    redis_script *s = q->script;
    /* q->cmd: "*<argc>\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n" and the rest. */
    const char *hdr_end = memchr(q->cmd, '\n', (size_t)q->cmdlen);
    size_t hdr = hdr_end ? (size_t)(hdr_end - q->cmd) + 1 : 0;
    size_t skip = hdr + 13 + 47, rest, n;
    char lenbuf[32], *cmd;
    redis_req *again;
    int lenlen, rc;
    if (!hdr || skip > (size_t)q->cmdlen) return -1;
    rest = (size_t)q->cmdlen - skip;
    lenlen = snprintf(lenbuf, sizeof(lenbuf), "$4\r\nEVAL\r\n$%zu\r\n", s->len);
    if (!(cmd = malloc(hdr + (size_t)lenlen + s->len + 2 + rest))) return -1;
    memcpy(cmd, q->cmd, hdr);
    n = hdr;
    memcpy(cmd + n, lenbuf, (size_t)lenlen), n += (size_t)lenlen;
    memcpy(cmd + n, s->text, s->len), n += s->len;
    memcpy(cmd + n, "\r\n", 2), n += 2;
    memcpy(cmd + n, q->cmd + skip, rest), n += rest;
    if (!(again = req_new(r, q->cb, q->priv))) {
        free(cmd);
        return -1;
    }
    if (uv_now(r->loop) - s->warned_ms >= 1000) {
        s->warned_ms = uv_now(r->loop);
        sp_warn("redis %s:%d: NOSCRIPT (scripts flushed?): sending script %.8s again as EVAL",
                r->host, r->port, s->sha);
    }
    rc = req_sent(r, again, redisAsyncFormattedCommand(r->ac, redis_reply_cb, again, cmd, n));
    free(cmd);
    return rc;
}

int sp_redis_command_argv(sp_redis *r, sp_redis_cb cb, void *priv, int argc,
                          const char **argv, const size_t *argvlen) {
    redis_req *q;
    if (r && r->ready && r->ac && argc >= 3 && strcmp(argv[0], "EVAL") == 0) {
        int rc = script_send(r, cb, priv, argc, argv, argvlen);
        if (rc != -2) return rc;
    }
    if (!(q = req_new(r, cb, priv))) return -1;
    return req_sent(r, q, redisAsyncCommandArgv(r->ac, redis_reply_cb, q, argc,
                                                argv, argvlen));
}

int sp_redis_command_raw(sp_redis *r, sp_redis_cb cb, void *priv,
                         const char *cmd, size_t len) {
    redis_req *q = req_new(r, cb, priv);
    if (!q) return -1;
    return req_sent(r, q, redisAsyncFormattedCommand(r->ac, redis_reply_cb, q, cmd, len));
}

typedef struct redis_wait {
    sp_redis_wait_cb cb;
    void *priv;
    uint64_t covers; /* commands sent before the WAIT */
    int replicas;    /* 0: nothing to confirm, or a verdict already made */
    int verdict;
} redis_wait;

static void redis_wait_cb(sp_redis *r, redisReply *reply, void *priv) {
    redis_wait *w = priv;
    int ok = w->verdict;
    if (w->replicas > 0) {
        ok = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer >= w->replicas;
        if (ok && w->covers > r->confirmed) r->confirmed = w->covers;
        if (!ok)
            sp_warn("redis %s:%d: WAIT: %lld of %d replicas hold the writes", r->host, r->port,
                    reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0LL,
                    w->replicas);
    }
    w->cb(r, ok, w->priv);
    free(w);
}

int sp_redis_wait(sp_redis *r, int replicas, int timeout_ms, sp_redis_wait_cb cb,
                  void *priv) {
    redis_wait *w;
    if (!r || !r->ready || !(w = calloc(1, sizeof(*w)))) return -1;
    *w = (redis_wait){cb, priv, r->sent, replicas, 1};
    if (r->confirmed < r->conn_start) {
        /* Answered by a connection that is gone, never confirmed: after a
         * failover they may be lost. Say so once; the caller's redo is sent
         * on this connection and confirmed by its own wait. */
        sp_warn("redis %s:%d: writes before the last reconnect were not confirmed on a "
                "replica: redoing them", r->host, r->port);
        r->confirmed = r->conn_start;
        w->replicas = 0;
        w->verdict = 0;
    } else if (r->confirmed >= r->sent) {
        w->replicas = 0; /* nothing to confirm: WAIT 0 0 answers at once */
    }
    if (sp_redis_command(r, redis_wait_cb, w, "WAIT %d %d", w->replicas,
                         w->replicas ? timeout_ms : 0)) {
        free(w);
        return -1;
    }
    r->sent--; /* the WAIT itself needs no confirming */
    return 0;
}

void sp_redis_on_state(sp_redis *r, void (*cb)(sp_redis *, int, void *),
                       void *opaque) {
    r->state_cb = cb;
    r->state_opaque = opaque;
}

void sp_redis_set_metrics(sp_redis *r, sp_metric *latency) { r->m_latency = latency; }

void sp_redis_close(sp_redis *r, void (*cb)(void *), void *opaque) {
    r->closing = 1;
    r->close_cb = cb;
    r->close_opaque = opaque;
    uv_timer_stop(&r->reconnect);
    uv_timer_stop(&r->watchdog);
    if (r->ac && r->ready) {
        redisAsyncDisconnect(r->ac); /* disconnect_cb finishes the close */
        return;
    }
    if (r->ac) {
        /* A connect still pending would never call back: hiredis calls
         * neither the connect nor the disconnect callback for a context
         * freed before it connected, and the close would never finish. */
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
    }
    redis_finish_close(r);
}
