/* deadlines.c - GET /v1/deadlines and the loader the gauges share.
 * See deadlines.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "deadlines.h"
#include "ids.h"
#include "log.h"
#include "teams.h"

const char *const ops_dl_state_names[] = {"open", "approaching", "overdue"};

void ops_deadline_classify(ops_deadline *d, sp_date today, const sp_holidays *h,
                           int approaching_wd) {
    d->days_overdue = d->working_days_left = 0;
    if (d->due < today) {
        d->state = OPS_DL_OVERDUE;
        d->days_overdue = today - d->due;
        return;
    }
    d->working_days_left = sp_working_days_between(h, today, d->due);
    d->state = d->working_days_left <= approaching_wd ? OPS_DL_APPROACHING : OPS_DL_OPEN;
}

/* ---- loading --------------------------------------------------------------- */

/* One load fans out to every shard (partition): HGETALL of its ops:dl:{s<p>}
 * on its server, then, with join, one HMGET of its ops:who:{s<p>} for the
 * rows found there, whose cases are all the shard's. Rows are appended as
 * shards answer; the caller sorts them. */
typedef struct dl_load dl_load;

typedef struct dl_shard {
    dl_load *l;
    int part;
    size_t first, n; /* its rows in l->rows */
} dl_shard;

struct dl_load {
    sp_service *s;
    int join;
    ops_deadlines_cb cb;
    void *priv;
    ops_deadline *rows;
    size_t n, cap;
    int pending, failed;
    dl_shard *shards;
};

/* "case\tclock\tdue\tstarted\texcepted" into d. Returns 0 or -1. */
static int dl_parse(ops_deadline *d, const char *id, const char *rec) {
    char buf[256], *f[5], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", rec);
    for (char *t = strtok_r(buf, "\t", &save); t && n < 5; t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    memset(d, 0, sizeof(*d));
    if (n < 3 || sp_date_parse(f[2], &d->due)) return -1;
    snprintf(d->clock_id, sizeof(d->clock_id), "%s", id);
    snprintf(d->case_id, sizeof(d->case_id), "%s", f[0]);
    snprintf(d->clock, sizeof(d->clock), "%s", f[1]);
    d->started = n > 3 && f[3][0] && !sp_date_parse(f[3], &d->started) ? d->started
                                                                         : SP_DATE_INVALID;
    d->excepted = n > 4 && !strcmp(f[4], "1");
    return 0;
}

/* One answer (or one failure) less to wait for; the last one answers. */
static void dl_step(dl_load *l) {
    if (--l->pending > 0) return;
    l->cb(l->s, l->failed ? NULL : l->rows,
          l->failed ? 0 : l->n, l->priv);
    free(l->rows);
    free(l->shards);
    free(l);
}

static void dl_who_cb(sp_redis *r, redisReply *rep, void *priv) {
    dl_shard *sh = priv;
    dl_load *l = sh->l;
    ops_state *st = ops_of(l->s);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != sh->n) {
        l->failed = 1;
        dl_step(l);
        return;
    }
    for (size_t i = 0; i < sh->n; i++) {
        ops_deadline *d = &l->rows[sh->first + i];
        const redisReply *w = rep->element[i];
        if (w->type == REDIS_REPLY_STRING) {
            const char *tab = strchr(w->str, '\t');
            size_t ulen = tab ? (size_t)(tab - w->str) : strlen(w->str);
            snprintf(d->school_urn, sizeof(d->school_urn), "%.*s", (int)ulen, w->str);
            if (tab) snprintf(d->initials, sizeof(d->initials), "%s", tab + 1);
        }
        d->team = ops_teams_of(st->teams, d->school_urn);
    }
    dl_step(l);
}

/* One HMGET of the shard's ops:who for each of its rows (a case with two
 * clocks is asked twice: cheaper than de-duplicating, and the reply lines
 * up with the rows), on the server that answered the HGETALL. */
static void dl_join(dl_shard *sh, sp_redis *r) {
    dl_load *l = sh->l;
    char who[OPS_SHARD_KEY_MAX];
    const char **argv = malloc((sh->n + 2) * sizeof(*argv));
    if (!argv) {
        l->failed = 1;
        return;
    }
    argv[0] = "HMGET", argv[1] = ops_key_shard(who, OPS_K_WHO, sh->part);
    for (size_t i = 0; i < sh->n; i++) argv[i + 2] = l->rows[sh->first + i].case_id;
    if (sp_redis_command_argv(r, dl_who_cb, sh, (int)sh->n + 2, argv, NULL)) l->failed = 1;
    else l->pending++;
    free(argv);
}

static int dl_grow(dl_load *l, size_t more) {
    if (l->n + more <= l->cap) return 0;
    size_t cap = l->cap ? l->cap : 64;
    while (cap < l->n + more) cap *= 2;
    ops_deadline *rows = realloc(l->rows, cap * sizeof(*rows));
    if (!rows) return -1;
    l->rows = rows;
    l->cap = cap;
    return 0;
}

static void dl_all_cb(sp_redis *r, redisReply *rep, void *priv) {
    dl_shard *sh = priv;
    dl_load *l = sh->l;
    ops_state *st = ops_of(l->s);
    sp_date today = ops_today(l->s);
    int awd = (int)ops_conf_of(l->s)->approaching_wd;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || dl_grow(l, rep->elements / 2)) {
        l->failed = 1;
        dl_step(l);
        return;
    }
    sh->first = l->n;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        ops_deadline *d = &l->rows[l->n];
        if (dl_parse(d, rep->element[i]->str, rep->element[i + 1]->str)) continue;
        ops_deadline_classify(d, today, st->holidays, awd);
        d->team = ops_teams_of(st->teams, NULL);
        l->n++;
    }
    sh->n = l->n - sh->first;
    if (l->join && sh->n > 0 && !l->failed) dl_join(sh, r);
    dl_step(l);
}

int ops_deadlines_load(sp_service *s, int join, ops_deadlines_cb cb, void *priv) {
    dl_load *l = calloc(1, sizeof(*l));
    char key[OPS_SHARD_KEY_MAX];
    int sent = 0;
    if (!l || !(l->shards = calloc((size_t)ops_shards(s) + 1, sizeof(*l->shards)))) {
        free(l);
        return -1;
    }
    *l = (dl_load){.s = s, .join = join, .cb = cb, .priv = priv, .shards = l->shards,
                   .pending = 1};
    if (dl_grow(l, 1)) { /* rows is never NULL on success, even with none */
        free(l->shards);
        free(l);
        return -1;
    }
    for (int p = 0; p < ops_shards(s); p++) {
        sp_redis *r = sp_service_redis(s, p);
        l->shards[p] = (dl_shard){l, p, 0, 0};
        if (r && sp_redis_command(r, dl_all_cb, &l->shards[p], "HGETALL %s",
                                  ops_key_shard(key, OPS_K_DL, p)) == 0) {
            l->pending++;
            sent++;
        } else {
            l->failed = 1;
        }
    }
    if (!sent) { /* nothing will answer: cb is not called */
        free(l->rows);
        free(l->shards);
        free(l);
        return -1;
    }
    dl_step(l); /* the guard: replies never come inside this call */
    return 0;
}

/* ---- GET /v1/deadlines ------------------------------------------------------ */

typedef struct dl_query {
    int state; /* -1: any */
    const char *clock, *team, *school;
    long limit, page; /* page 0: none given */
    sp_date cursor_due;
    char cursor_id[160];
    int has_cursor;
} dl_query;

typedef struct dl_list {
    sp_http_req *req;
    dl_query q;
    char clock[48], team[64], school[8];
} dl_list;

static int parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int word_valid(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* A cursor is "<due YYYY-MM-DD>~<clock id>" of the last row of a page. */
static int cursor_parse(dl_query *q, const char *c) {
    const char *sep = strchr(c, '~');
    char day[16];
    if (!sep || sep - c != 10 || strlen(sep + 1) == 0 || strlen(sep + 1) >= sizeof(q->cursor_id))
        return -1;
    snprintf(day, sizeof(day), "%.10s", c);
    if (sp_date_parse(day, &q->cursor_due)) return -1;
    snprintf(q->cursor_id, sizeof(q->cursor_id), "%s", sep + 1);
    q->has_cursor = 1;
    return 0;
}

/* Reads and checks the query; answers 400 and returns -1 on the first bad one. */
static int dl_query_parse(sp_service *s, sp_http_req *req, dl_query *q) {
    const char *v;
    memset(q, 0, sizeof(*q));
    q->state = -1;
    q->limit = 50;
    if ((v = sp_http_req_query(req, "state"))) {
        for (int i = 0; i < OPS_DL__COUNT; i++)
            if (!strcmp(v, ops_dl_state_names[i])) q->state = i;
        if (q->state < 0)
            return ops_bad_param(req, "state", "must be overdue, approaching or open");
    }
    if ((v = sp_http_req_query(req, "clock")) && !word_valid(v, 47))
        return ops_bad_param(req, "clock", "must be a clock name (a-z, 0-9, _)");
    q->clock = v;
    if ((v = sp_http_req_query(req, "team")) && !ops_teams_known(ops_of(s)->teams, v))
        return ops_bad_param(req, "team", "is not a team in ops.teams");
    q->team = v;
    if ((v = sp_http_req_query(req, "school")) && (strlen(v) != 6 || !word_valid(v, 6) ||
                                                   strspn(v, "0123456789") != 6))
        return ops_bad_param(req, "school", "must be a 6-digit school URN");
    q->school = v;
    if ((v = sp_http_req_query(req, "limit")) &&
        parse_long(v, 1, (long)ops_conf_of(s)->page_max, &q->limit))
        return ops_bad_param(req, "limit", "must be a whole number from 1 to ops.page_max");
    if ((v = sp_http_req_query(req, "page")) && parse_long(v, 1, 1000000, &q->page))
        return ops_bad_param(req, "page", "must be a whole number from 1");
    if ((v = sp_http_req_query(req, "cursor")) && cursor_parse(q, v))
        return ops_bad_param(req, "cursor", "is not a cursor this API gave");
    if (q->page && q->has_cursor)
        return ops_bad_param(req, "cursor", "give cursor or page, not both");
    return 0;
}

/* Most overdue first: earliest due date, then case and clock id, so pages
 * are stable. */
static int dl_cmp(const void *a, const void *b) {
    const ops_deadline *x = a, *y = b;
    if (x->due != y->due) return x->due < y->due ? -1 : 1;
    return strcmp(x->clock_id, y->clock_id);
}

static int dl_after_cursor(const dl_query *q, const ops_deadline *d) {
    if (d->due != q->cursor_due) return d->due > q->cursor_due;
    return strcmp(d->clock_id, q->cursor_id) > 0;
}

static cJSON *dl_row_json(const ops_deadline *d) {
    char buf[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "case_id", d->case_id);
    cJSON_AddStringToObject(o, "child", d->initials);
    cJSON_AddStringToObject(o, "clock", d->clock);
    cJSON_AddStringToObject(o, "clock_id", d->clock_id);
    cJSON_AddStringToObject(o, "due_date", sp_date_iso(d->due, buf, sizeof(buf)));
    if (d->started != SP_DATE_INVALID)
        cJSON_AddStringToObject(o, "started_on", sp_date_iso(d->started, buf, sizeof(buf)));
    cJSON_AddStringToObject(o, "state", ops_dl_state_names[d->state]);
    if (d->state == OPS_DL_OVERDUE) cJSON_AddNumberToObject(o, "days_overdue", d->days_overdue);
    else cJSON_AddNumberToObject(o, "working_days_left", d->working_days_left);
    cJSON_AddStringToObject(o, "team", d->team ? d->team : "");
    cJSON_AddStringToObject(o, "school_urn", d->school_urn);
    cJSON_AddBoolToObject(o, "excepted", d->excepted);
    return o;
}

/* Counts per clock and state of the rows passing team and school. */
static void dl_add_counts(cJSON *out, ops_deadline *rows, size_t n) {
    cJSON *counts = cJSON_AddObjectToObject(out, "counts");
    for (size_t i = 0; i < n; i++) {
        cJSON *c = cJSON_GetObjectItemCaseSensitive(counts, rows[i].clock);
        if (!c) {
            c = cJSON_AddObjectToObject(counts, rows[i].clock);
            for (int k = 0; k < OPS_DL__COUNT; k++) cJSON_AddNumberToObject(c, ops_dl_state_names[k], 0);
        }
        cJSON *v = cJSON_GetObjectItemCaseSensitive(c, ops_dl_state_names[rows[i].state]);
        cJSON_SetNumberValue(v, v->valuedouble + 1);
    }
}

static int dl_matches(const dl_query *q, const ops_deadline *d, int with_clock_state) {
    if (q->team && strcmp(q->team, d->team)) return 0;
    if (q->school && strcmp(q->school, d->school_urn)) return 0;
    if (!with_clock_state) return 1;
    if (q->clock && strcmp(q->clock, d->clock)) return 0;
    return q->state < 0 || q->state == (int)d->state;
}

/* Keeps the rows matching every filter at the front; returns how many. */
static size_t dl_filter(const dl_query *q, ops_deadline *rows, size_t n, int with_clock_state) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (dl_matches(q, &rows[i], with_clock_state)) {
            if (k != i) rows[k] = rows[i];
            k++;
        }
    return k;
}

static void dl_page(cJSON *out, const dl_query *q, ops_deadline *rows, size_t n) {
    size_t start = 0, end;
    char cur[200], buf[16];
    if (q->page) start = (size_t)(q->page - 1) * (size_t)q->limit;
    if (q->has_cursor)
        while (start < n && !dl_after_cursor(q, &rows[start])) start++;
    if (start > n) start = n;
    end = start + (size_t)q->limit < n ? start + (size_t)q->limit : n;
    cJSON *arr = cJSON_AddArrayToObject(out, "rows");
    for (size_t i = start; i < end; i++) cJSON_AddItemToArray(arr, dl_row_json(&rows[i]));
    if (end < n && end > start) {
        snprintf(cur, sizeof(cur), "%s~%s", sp_date_iso(rows[end - 1].due, buf, sizeof(buf)),
                 rows[end - 1].clock_id);
        cJSON_AddStringToObject(out, "next_cursor", cur);
    } else {
        cJSON_AddNullToObject(out, "next_cursor");
    }
    if (q->page) cJSON_AddNumberToObject(out, "page", (double)q->page);
}

static void dl_list_cb(sp_service *s, ops_deadline *rows, size_t n, void *priv) {
    dl_list *l = priv;
    char buf[16];
    if (!rows) {
        sp_http_respond_problem(l->req, 503, "Unavailable", "The read model is unavailable; retry",
                                NULL);
        free(l);
        return;
    }
    n = dl_filter(&l->q, rows, n, 0);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "as_of", sp_date_iso(ops_today(s), buf, sizeof(buf)));
    dl_add_counts(out, rows, n);
    n = dl_filter(&l->q, rows, n, 1);
    if (n) qsort(rows, n, sizeof(*rows), dl_cmp);
    cJSON_AddNumberToObject(out, "total", (double)n);
    cJSON_AddNumberToObject(out, "limit", (double)l->q.limit);
    dl_page(out, &l->q, rows, n);
    sp_http_respond_json(l->req, 200, out);
    free(l);
}

static void handle_deadlines(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    dl_list *l = calloc(1, sizeof(*l));
    if (!l) {
        sp_http_respond_problem(req, 503, "Unavailable", "out of memory", NULL);
        return;
    }
    l->req = req;
    if (dl_query_parse(s, req, &l->q)) {
        free(l);
        return;
    }
    /* The query's strings are the request's: copy what outlives the handler. */
    if (l->q.clock) snprintf(l->clock, sizeof(l->clock), "%s", l->q.clock), l->q.clock = l->clock;
    if (l->q.team) snprintf(l->team, sizeof(l->team), "%s", l->q.team), l->q.team = l->team;
    if (l->q.school)
        snprintf(l->school, sizeof(l->school), "%s", l->q.school), l->q.school = l->school;
    if (ops_deadlines_load(s, 1, dl_list_cb, l)) {
        sp_http_respond_problem(req, 503, "Unavailable", "The read model is unavailable; retry",
                                NULL);
        free(l);
    }
}

/* GET /v1/teams: the names the team filter takes, for the dashboard. */
static void handle_teams(sp_http_req *req, void *opaque) {
    const ops_teams *t = ops_of(opaque)->teams;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "teams");
    for (size_t i = 0; i < ops_teams_count(t); i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(ops_teams_name(t, i)));
    sp_http_respond_json(req, 200, out);
}

void ops_deadlines_register(sp_service *s) {
    sp_http_route_scoped(s->http, "GET", "/v1/deadlines", "ops:read casework:write",
                         handle_deadlines, s);
    sp_http_route_scoped(s->http, "GET", "/v1/teams", "ops:read casework:write", handle_teams, s);
}
