/* stats.c - the SEN2 timeliness measures. See stats.h.
 *
 * Two rounds of reads. First, pipelined over every server: the cases
 * decided and the plans issued in the period (ZRANGEBYSCORE on each shard's
 * day-number indexes, ops:sen2:*:{s<p>}), the late annual reviews, and the
 * open deadlines (for reviews overdue now). Then one HMGET per case found
 * for its received date and exceptions, on the server of the shard it was
 * found in (an erased case's anonymous row is there too, whatever its
 * anonymous id's own partition), all pipelined. Counting is then arithmetic
 * on day numbers, so sums over shards are the one-server figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "deadlines.h"
#include "stats.h"

#define STATS_MAX_MONTHS 121 /* ten years and a month */

typedef struct stats_bucket {
    long decided, decided_6w;
    long issued, issued_20w, issued_ex, issued_ex_20w, over_52w;
    double weeks_sum;
    long reviews_overdue;
} stats_bucket;

typedef struct stats_read stats_read;

typedef struct stats_item { /* a decision or an issued plan to look up */
    stats_read *sr;
    char case_id[32];
    sp_date day;
    int issued; /* 0: a decision */
    int part;   /* the shard it was found in */
} stats_item;

typedef struct stats_ask { /* one round-1 range read of one shard */
    stats_read *sr;
    int kind; /* 0 decided, 1 issued, -1 annual reviews met late */
    int part;
} stats_ask;

struct stats_read {
    sp_service *s;
    sp_http_req *req;
    sp_date from, to;
    int csv, pending, failed, round;
    stats_item *items;
    size_t nitems, cap;
    stats_bucket b[STATS_MAX_MONTHS + 1]; /* [0] the period, then months */
    int nmonths, fy, fm;
    stats_ask *asks; /* 3 per partition */
};

static int stats_month(const stats_read *sr, sp_date d) {
    int y, m, day;
    sp_date_split(d, &y, &m, &day);
    return (y * 12 + m) - (sr->fy * 12 + sr->fm) + 1;
}

static void stats_count_item(stats_read *sr, const stats_item *it, const redisReply *rep) {
    sp_date rec;
    if (rep->elements < 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
        sp_date_parse(rep->element[0]->str, &rec))
        return; /* no request to count from */
    int excepted = rep->element[1]->type == REDIS_REPLY_STRING;
    int days = it->day - rec, months[2] = {0, stats_month(sr, it->day)};
    for (int k = 0; k < 2; k++) {
        stats_bucket *b = &sr->b[months[k]];
        if (!it->issued) {
            b->decided++;
            b->decided_6w += days <= 42;
            continue;
        }
        b->issued++;
        b->issued_20w += days <= 140;
        b->over_52w += days > 364;
        b->weeks_sum += days / 7.0;
        if (!excepted) b->issued_ex++, b->issued_ex_20w += days <= 140;
    }
}

/* ---- answering ---------------------------------------------------------- */

static double pct(long part, long whole) {
    return whole ? round(1000.0 * part / whole) / 10.0 : NAN;
}

typedef struct stats_col {
    const char *name;
    double (*get)(const stats_bucket *b);
} stats_col;

#define COL(n, expr) static double col_##n(const stats_bucket *b) { return (expr); }
COL(decided, b->decided)
COL(decided_6w, b->decided_6w)
COL(pct_6w, pct(b->decided_6w, b->decided))
COL(issued, b->issued)
COL(issued_20w, b->issued_20w)
COL(pct_20w, pct(b->issued_20w, b->issued))
COL(issued_ex, b->issued_ex)
COL(issued_ex_20w, b->issued_ex_20w)
COL(pct_ex_20w, pct(b->issued_ex_20w, b->issued_ex))
COL(mean_weeks, b->issued ? round(10.0 * b->weeks_sum / b->issued) / 10.0 : NAN)
COL(over_52w, b->over_52w)
COL(reviews, b->reviews_overdue)
#undef COL

static const stats_col stats_cols[] = {
    {"requests_decided", col_decided},
    {"decided_within_6_weeks", col_decided_6w},
    {"pct_decided_within_6_weeks", col_pct_6w},
    {"plans_issued", col_issued},
    {"issued_within_20_weeks", col_issued_20w},
    {"pct_within_20_weeks_including_exceptions", col_pct_20w},
    {"plans_issued_excluding_exceptions", col_issued_ex},
    {"issued_within_20_weeks_excluding_exceptions", col_issued_ex_20w},
    {"pct_within_20_weeks_excluding_exceptions", col_pct_ex_20w},
    {"mean_weeks_to_issue", col_mean_weeks},
    {"plans_over_52_weeks", col_over_52w},
    {"annual_reviews_overdue", col_reviews},
    {NULL, NULL}};

static void stats_label(const stats_read *sr, int i, char *buf, size_t size) {
    int y = sr->fy, m = sr->fm + i - 1;
    y += (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    if (i == 0) snprintf(buf, size, "total");
    else snprintf(buf, size, "%04d-%02d", y, m);
}

static cJSON *stats_bucket_json(const stats_bucket *b) {
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; stats_cols[c].name; c++) {
        double v = stats_cols[c].get(b);
        if (isnan(v)) cJSON_AddNullToObject(o, stats_cols[c].name);
        else cJSON_AddNumberToObject(o, stats_cols[c].name, v);
    }
    return o;
}

static void stats_answer_json(stats_read *sr) {
    char buf[16];
    cJSON *out = cJSON_CreateObject(), *months;
    cJSON_AddStringToObject(out, "from", sp_date_iso(sr->from, buf, sizeof(buf)));
    cJSON_AddStringToObject(out, "to", sp_date_iso(sr->to, buf, sizeof(buf)));
    cJSON_AddStringToObject(out, "as_of", sp_date_iso(ops_today(sr->s), buf, sizeof(buf)));
    cJSON_AddItemToObject(out, "total", stats_bucket_json(&sr->b[0]));
    months = cJSON_AddArrayToObject(out, "months");
    for (int i = 1; i <= sr->nmonths; i++) {
        cJSON *m = stats_bucket_json(&sr->b[i]);
        stats_label(sr, i, buf, sizeof(buf));
        cJSON_AddStringToObject(m, "month", buf);
        cJSON_AddItemToArray(months, m);
    }
    sp_http_respond_json(sr->req, 200, out);
}

static void stats_answer_csv(stats_read *sr) {
    size_t cap = 512 + (size_t)(sr->nmonths + 1) * 256, len = 0;
    char *text = malloc(cap), label[16];
    if (!text) {
        sp_http_respond_problem(sr->req, 503, "Unavailable", "out of memory", NULL);
        return;
    }
    len += (size_t)snprintf(text + len, cap - len, "period");
    for (int c = 0; stats_cols[c].name; c++)
        len += (size_t)snprintf(text + len, cap - len, ",%s", stats_cols[c].name);
    len += (size_t)snprintf(text + len, cap - len, "\r\n");
    for (int i = 0; i <= sr->nmonths; i++) {
        stats_label(sr, i, label, sizeof(label));
        len += (size_t)snprintf(text + len, cap - len, "%s", label);
        for (int c = 0; stats_cols[c].name; c++) {
            double v = stats_cols[c].get(&sr->b[i]);
            if (isnan(v)) len += (size_t)snprintf(text + len, cap - len, ",");
            else len += (size_t)snprintf(text + len, cap - len, ",%g", v);
        }
        len += (size_t)snprintf(text + len, cap - len, "\r\n");
    }
    sp_http_req_add_header(sr->req, "Content-Disposition",
                           "attachment; filename=\"sendpath-timeliness.csv\"");
    sp_http_respond(sr->req, 200, "text/csv; charset=utf-8", text, len);
    free(text);
}

static void stats_step(stats_read *sr);

/* ---- round 2: each case's received date and exception ----------------------- */

/* Replies of different servers interleave: each carries its item. The
 * items array no longer grows in round 2, so the pointers hold. */
static void stats_case_cb(sp_redis *r, redisReply *rep, void *priv) {
    stats_item *it = priv;
    stats_read *sr = it->sr;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) sr->failed = 1;
    else stats_count_item(sr, it, rep);
    stats_step(sr);
}

static void stats_lookup_cases(stats_read *sr) {
    sr->round = 2;
    sr->pending = 1;
    for (size_t i = 0; i < sr->nitems && !sr->failed; i++) {
        stats_item *it = &sr->items[i];
        sp_redis *r = sp_service_redis(sr->s, it->part);
        it->sr = sr;
        if (!r || sp_redis_command(r, stats_case_cb, it,
                                   "HMGET ops:case:%s received_date exc:final_plan",
                                   it->case_id))
            sr->failed = 1;
        else
            sr->pending++;
    }
    stats_step(sr);
}

static void stats_finish(stats_read *sr) {
    if (sr->failed)
        sp_http_respond_problem(sr->req, 503, "Unavailable", "The read model is unavailable; "
                                "retry", NULL);
    else if (sr->csv) stats_answer_csv(sr);
    else stats_answer_json(sr);
    free(sr->items);
    free(sr->asks);
    free(sr);
}

static void stats_step(stats_read *sr) {
    if (--sr->pending > 0) return;
    if (sr->round == 1 && !sr->failed && sr->nitems > 0) stats_lookup_cases(sr);
    else stats_finish(sr);
}

/* ---- round 1: what happened in the period ------------------------------------ */

static int stats_item_add(stats_read *sr, const char *case_id, sp_date day, int issued,
                          int part) {
    if (sr->nitems == sr->cap) {
        size_t cap = sr->cap ? 2 * sr->cap : 64;
        stats_item *it = realloc(sr->items, cap * sizeof(*it));
        if (!it) return -1;
        sr->items = it;
        sr->cap = cap;
    }
    stats_item *it = &sr->items[sr->nitems++];
    snprintf(it->case_id, sizeof(it->case_id), "%s", case_id);
    it->day = day;
    it->issued = issued;
    it->part = part;
    return 0;
}

/* A ZRANGEBYSCORE ... WITHSCORES reply of one shard: member, score pairs. */
static void stats_range_cb(sp_redis *r, redisReply *rep, void *priv) {
    stats_ask *ask = priv;
    stats_read *sr = ask->sr;
    int issued = ask->kind;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        sr->failed = 1;
        stats_step(sr);
        return;
    }
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        sp_date day = (sp_date)atol(rep->element[i + 1]->str);
        if (issued < 0) { /* an annual review met late */
            sr->b[0].reviews_overdue++;
            sr->b[stats_month(sr, day)].reviews_overdue++;
        } else if (stats_item_add(sr, rep->element[i]->str, day, issued, ask->part)) {
            sr->failed = 1;
        }
    }
    stats_step(sr);
}

/* Annual reviews still open and past due, due in the period. */
static void stats_open_cb(sp_service *s, ops_deadline *rows, size_t n, void *priv) {
    stats_read *sr = priv;
    if (!rows) sr->failed = 1;
    for (size_t i = 0; i < n; i++) {
        const ops_deadline *d = &rows[i];
        if (strcmp(d->clock, "annual_review") || d->state != OPS_DL_OVERDUE ||
            d->due < sr->from || d->due > sr->to)
            continue;
        sr->b[0].reviews_overdue++;
        sr->b[stats_month(sr, d->due)].reviews_overdue++;
    }
    stats_step(sr);
}

/* The three SEN2 indexes of every shard, each on its shard's server. */
static void stats_send_all(stats_read *sr) {
    static const struct { int kind; ops_key key; } sets[3] = {
        {0, OPS_K_DECIDED}, {1, OPS_K_ISSUED}, {-1, OPS_K_ARLATE}};
    char key[OPS_SHARD_KEY_MAX];
    for (int p = 0; p < ops_shards(sr->s); p++) {
        sp_redis *r = sp_service_redis(sr->s, p);
        for (int k = 0; k < 3; k++) {
            stats_ask *ask = &sr->asks[3 * p + k];
            *ask = (stats_ask){sr, sets[k].kind, p};
            if (r && sp_redis_command(r, stats_range_cb, ask,
                                      "ZRANGEBYSCORE %s %d %d WITHSCORES",
                                      ops_key_shard(key, sets[k].key, p), (int)sr->from,
                                      (int)sr->to) == 0)
                sr->pending++;
            else
                sr->failed = 1;
        }
    }
}

/* ---- the request ------------------------------------------------------------- */

static int stats_date_param(sp_http_req *req, const char *name, sp_date *d) {
    const char *v = sp_http_req_query(req, name);
    if (!v) return ops_bad_param(req, name, "is required (YYYY-MM-DD)");
    if (sp_date_parse(v, d)) return ops_bad_param(req, name, "must be a date, YYYY-MM-DD");
    return 0;
}

/* 1 for CSV, 0 for JSON, -1 (answered 400) for another format. */
static int stats_format(sp_http_req *req) {
    const char *f = sp_http_req_query(req, "format"), *accept;
    if (f) {
        if (!strcmp(f, "csv")) return 1;
        if (!strcmp(f, "json")) return 0;
        return ops_bad_param(req, "format", "must be json or csv");
    }
    accept = sp_http_req_header(req, "Accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

static void handle_timeliness(sp_http_req *req, void *opaque) {
    sp_service *s = opaque;
    sp_date from, to;
    int csv, d;
    if (stats_date_param(req, "from", &from) || stats_date_param(req, "to", &to)) return;
    if (to < from) {
        ops_bad_param(req, "to", "must not be before from");
        return;
    }
    stats_read *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        sp_http_respond_problem(req, 503, "Unavailable", "out of memory", NULL);
        return;
    }
    *sr = (stats_read){.s = s, .req = req, .from = from, .to = to, .round = 1, .pending = 1};
    sp_date_split(from, &sr->fy, &sr->fm, &d);
    sr->nmonths = stats_month(sr, to);
    if (sr->nmonths > STATS_MAX_MONTHS) {
        free(sr);
        ops_bad_param(req, "to", "the period may be at most ten years");
        return;
    }
    if ((csv = stats_format(req)) < 0) {
        free(sr);
        return;
    }
    sr->csv = csv;
    if (!(sr->asks = calloc(3 * (size_t)ops_shards(s) + 1, sizeof(*sr->asks)))) {
        free(sr);
        sp_http_respond_problem(req, 503, "Unavailable", "out of memory", NULL);
        return;
    }
    stats_send_all(sr);
    if (ops_deadlines_load(s, 0, stats_open_cb, sr) == 0) sr->pending++;
    else sr->failed = 1;
    stats_step(sr);
}

void ops_stats_register(sp_service *s) {
    sp_http_route_scoped(s->http, "GET", "/v1/stats/timeliness", "ops:read casework:write",
                         handle_timeliness, s);
}
