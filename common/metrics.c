/* metrics.c - a Prometheus registry rendering text format 0.0.4. See
 * metrics.h.
 *
 * Families and their series are singly linked lists kept in registration
 * order, so the exposition is stable and diffable between scrapes. All the
 * checking (names, label syntax, bucket bounds, name clashes between a
 * histogram's _bucket/_sum/_count and other families) happens at
 * registration, where a mistake is one NULL at start-up; rendering never
 * fails except for memory.
 *
 * A series is one allocation: the struct, then its histogram bounds and
 * bucket counts, then its label text. Buckets count observations per bound
 * (not cumulative) so an observation touches one bucket; the cumulative
 * counts the format wants are summed while rendering. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

static const char *const metric_type_names[] = {"counter", "gauge",
                                                "histogram"};

typedef struct metric_family metric_family;

struct sp_metric {
    sp_metric *next;
    metric_family *fam;
    double value;      /* counter, gauge */
    double sum;        /* histogram */
    uint64_t count;    /* histogram */
    size_t nbounds;
    double *bounds;    /* ascending upper bounds, +Inf implied */
    uint64_t *buckets; /* observations per bound, not cumulative */
    char *labels;      /* "" when none */
};

struct metric_family {
    metric_family *next;
    metric_type type;
    sp_metric *series, *last;
    char *help;
    char name[];
};

struct sp_metrics {
    metric_family *families, *last;
    sp_metrics_collect_cb collect;
    void *collect_opaque;
};

sp_metrics *sp_metrics_new(void) { return calloc(1, sizeof(sp_metrics)); }

void sp_metrics_free(sp_metrics *m) {
    metric_family *f, *fnext;
    sp_metric *s, *snext;

    if (!m) return;
    for (f = m->families; f; f = fnext) {
        fnext = f->next;
        for (s = f->series; s; s = snext) {
            snext = s->next;
            free(s);
        }
        free(f->help);
        free(f);
    }
    free(m);
}

/* ------------------------------------------------------------------------
 * Registration checks
 * ---------------------------------------------------------------------- */

static int metrics_name_valid(const char *s, int colon_ok) {
    if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || (colon_ok && c == ':')))
            return 0;
    }
    return 1;
}

/* Reads one label name at *p into name (at most size-1 chars). */
static int metrics_label_name(const char **p, char *name, size_t size) {
    size_t n = strspn(*p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789_");
    if (n == 0 || n >= size || ((*p)[0] >= '0' && (*p)[0] <= '9')) return 0;
    memcpy(name, *p, n);
    name[n] = '\0';
    *p += n;
    return 1;
}

/* Skips a quoted label value at *p; only \\, \" and \n may be escaped and
 * no raw newline may appear, as the format requires. */
static int metrics_label_value(const char **p) {
    const char *s = *p;
    if (*s++ != '"') return 0;
    for (; *s != '"'; s++) {
        if (*s == '\0' || *s == '\n') return 0;
        if (*s == '\\' && (*++s == '\0' || !strchr("\\\"n", *s))) return 0;
    }
    *p = s + 1;
    return 1;
}

/* Checks the text between the braces: name="value" pairs joined by commas,
 * no name twice, and no "le" on a histogram (it is ours). */
static int metrics_labels_valid(const char *labels, metric_type type) {
    char names[16][64];
    size_t n = 0;
    const char *p = labels;

    if (!p || !*p) return 1;
    for (;;) {
        if (n == 16 || !metrics_label_name(&p, names[n], sizeof(names[n])))
            return 0;
        if (type == METRIC_HISTOGRAM && strcmp(names[n], "le") == 0) return 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], names[n]) == 0) return 0;
        n++;
        if (*p++ != '=' || !metrics_label_value(&p)) return 0;
        if (*p == '\0') return 1;
        if (*p++ != ',') return 0;
    }
}

/* Bounds must be finite and strictly ascending; a last +Inf is dropped
 * (it is always added). Returns how many to keep, or -1 if invalid. */
static long metrics_bounds_check(const double *bounds, size_t n) {
    if (n > 0 && isinf(bounds[n - 1]) && bounds[n - 1] > 0) n--;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i])) return -1;
        if (i > 0 && !(bounds[i] > bounds[i - 1])) return -1;
    }
    return (long)n;
}

/* Does name with suffix equal other? */
static int metrics_is_suffixed(const char *other, const char *name,
                               const char *suffix) {
    size_t n = strlen(name);
    return strncmp(other, name, n) == 0 && strcmp(other + n, suffix) == 0;
}

/* A histogram "x" writes x_bucket, x_sum and x_count: no other family may
 * be called that, nor may a new histogram's names hit an existing family. */
static int metrics_clashes(const metric_family *f, const char *name,
                           metric_type type) {
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        if (f->type == METRIC_HISTOGRAM && metrics_is_suffixed(name, f->name, sfx[i]))
            return 1;
        if (type == METRIC_HISTOGRAM && metrics_is_suffixed(f->name, name, sfx[i]))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------- */

/* Finds or adds the family. Returns NULL if its type differs, its name clashes
 * or memory runs out. */
static metric_family *metrics_family(sp_metrics *m, const char *name,
                                     const char *help, metric_type type) {
    metric_family *f;
    size_t nlen = strlen(name);

    for (f = m->families; f; f = f->next) {
        if (strcmp(f->name, name) == 0) return f->type == type ? f : NULL;
        if (metrics_clashes(f, name, type)) return NULL;
    }
    f = calloc(1, sizeof(*f) + nlen + 1);
    if (!f) return NULL;
    f->help = strdup(help ? help : "");
    if (!f->help) {
        free(f);
        return NULL;
    }
    memcpy(f->name, name, nlen + 1);
    f->type = type;
    if (m->last) m->last->next = f;
    else m->families = f;
    m->last = f;
    return f;
}

static sp_metric *metrics_series_find(metric_family *f, const char *labels) {
    for (sp_metric *s = f->series; s; s = s->next)
        if (strcmp(s->labels, labels) == 0) return s;
    return NULL;
}

static sp_metric *metrics_series_add(metric_family *f, const char *labels,
                                     const double *bounds, size_t nbounds) {
    size_t llen = strlen(labels);
    size_t arrays = nbounds * (sizeof(double) + sizeof(uint64_t));
    sp_metric *s = calloc(1, sizeof(*s) + arrays + llen + 1);

    if (!s) return NULL;
    s->fam = f;
    s->nbounds = nbounds;
    s->bounds = (double *)(s + 1);
    s->buckets = (uint64_t *)(s->bounds + nbounds);
    s->labels = (char *)(s->buckets + nbounds);
    if (nbounds) memcpy(s->bounds, bounds, nbounds * sizeof(double));
    memcpy(s->labels, labels, llen + 1);
    if (f->last) f->last->next = s;
    else f->series = s;
    f->last = s;
    return s;
}

static sp_metric *metrics_register(sp_metrics *m, const char *name,
                                   const char *help, const char *labels,
                                   metric_type type, const double *bounds,
                                   size_t nbounds) {
    metric_family *f;
    sp_metric *s;

    if (!labels) labels = "";
    if (!m || !metrics_name_valid(name, 1) || !metrics_labels_valid(labels, type))
        return NULL;
    f = metrics_family(m, name, help, type);
    if (!f) return NULL;
    /* The first registration's bounds win: a series has one set. */
    if ((s = metrics_series_find(f, labels)) != NULL) return s;
    return metrics_series_add(f, labels, bounds, nbounds);
}

sp_metric *sp_metrics_counter(sp_metrics *m, const char *name, const char *help,
                              const char *labels) {
    return metrics_register(m, name, help, labels, METRIC_COUNTER, NULL, 0);
}

sp_metric *sp_metrics_gauge(sp_metrics *m, const char *name, const char *help,
                            const char *labels) {
    return metrics_register(m, name, help, labels, METRIC_GAUGE, NULL, 0);
}

sp_metric *sp_metrics_histogram(sp_metrics *m, const char *name, const char *help,
                                const char *labels, const double *bounds,
                                size_t nbounds) {
    long n = metrics_bounds_check(bounds, bounds ? nbounds : 0);
    if (n < 0) return NULL;
    return metrics_register(m, name, help, labels, METRIC_HISTOGRAM, bounds,
                            (size_t)n);
}

/* ------------------------------------------------------------------------
 * Updates: the hot path, no allocation, no lookup
 * ---------------------------------------------------------------------- */

void sp_metric_inc(sp_metric *c) { sp_metric_add(c, 1.0); }

void sp_metric_add(sp_metric *c, double v) {
    if (!c || c->fam->type == METRIC_HISTOGRAM) return;
    /* A counter only goes up: a decrease would read as a restart. */
    if (c->fam->type == METRIC_COUNTER && !(v >= 0)) return;
    c->value += v;
}

void sp_metric_set(sp_metric *g, double v) {
    if (!g || g->fam->type == METRIC_HISTOGRAM) return;
    g->value = v;
}

void sp_metric_observe(sp_metric *h, double v) {
    size_t i = 0;
    if (!h || h->fam->type != METRIC_HISTOGRAM) return;
    while (i < h->nbounds && !(v <= h->bounds[i])) i++;
    if (i < h->nbounds) h->buckets[i]++; /* else only +Inf, i.e. count */
    h->count++;
    h->sum += v;
}

double sp_metric_value(const sp_metric *c) {
    if (!c) return 0;
    return c->fam->type == METRIC_HISTOGRAM ? (double)c->count : c->value;
}

void sp_metrics_on_collect(sp_metrics *m, sp_metrics_collect_cb cb,
                           void *opaque) {
    m->collect = cb;
    m->collect_opaque = opaque;
}

/* ------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------- */

typedef struct metrics_buf {
    char *p;
    size_t len, cap;
    int oom;
} metrics_buf;

static void buf_append(metrics_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *np;
        while (cap < b->len + n + 1) cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_puts(metrics_buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* Formats v as the format wants: NaN, +Inf, -Inf, integers without a
 * fraction, anything else in the shortest form that reads back the same. */
static void metrics_fmt_double(char *out, size_t size, double v) {
    if (isnan(v)) {
        snprintf(out, size, "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, size, "%.0f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, size, "%.*g", prec, v);
            if (strtod(out, NULL) == v) break;
        }
    }
}

/* HELP text escapes backslash and newline, nothing else. */
static void metrics_put_help(metrics_buf *b, const char *help) {
    for (const char *s = help; *s; s++) {
        if (*s == '\\') buf_append(b, "\\\\", 2);
        else if (*s == '\n') buf_append(b, "\\n", 2);
        else buf_append(b, s, 1);
    }
}

/* One sample line: name+suffix, the labels (plus le for a bucket), value. */
static void metrics_put_sample(metrics_buf *b, const char *name,
                               const char *suffix, const char *labels,
                               const char *le, const char *value) {
    buf_puts(b, name);
    buf_puts(b, suffix);
    if (*labels || le) {
        buf_puts(b, "{");
        buf_puts(b, labels);
        if (le) {
            buf_puts(b, *labels ? ",le=\"" : "le=\"");
            buf_puts(b, le);
            buf_puts(b, "\"");
        }
        buf_puts(b, "}");
    }
    buf_puts(b, " ");
    buf_puts(b, value);
    buf_puts(b, "\n");
}

static void metrics_put_histogram(metrics_buf *b, const metric_family *f,
                                  const sp_metric *s) {
    char le[32], val[32];
    uint64_t cum = 0;

    for (size_t i = 0; i < s->nbounds; i++) {
        cum += s->buckets[i];
        metrics_fmt_double(le, sizeof(le), s->bounds[i]);
        snprintf(val, sizeof(val), "%llu", (unsigned long long)cum);
        metrics_put_sample(b, f->name, "_bucket", s->labels, le, val);
    }
    snprintf(val, sizeof(val), "%llu", (unsigned long long)s->count);
    metrics_put_sample(b, f->name, "_bucket", s->labels, "+Inf", val);
    metrics_fmt_double(le, sizeof(le), s->sum);
    metrics_put_sample(b, f->name, "_sum", s->labels, NULL, le);
    metrics_put_sample(b, f->name, "_count", s->labels, NULL, val);
}

static void metrics_put_family(metrics_buf *b, const metric_family *f) {
    char val[32];

    if (f->help[0]) {
        buf_puts(b, "# HELP ");
        buf_puts(b, f->name);
        buf_puts(b, " ");
        metrics_put_help(b, f->help);
        buf_puts(b, "\n");
    }
    buf_puts(b, "# TYPE ");
    buf_puts(b, f->name);
    buf_puts(b, " ");
    buf_puts(b, metric_type_names[f->type]);
    buf_puts(b, "\n");
    for (const sp_metric *s = f->series; s; s = s->next) {
        if (f->type == METRIC_HISTOGRAM) {
            metrics_put_histogram(b, f, s);
        } else {
            metrics_fmt_double(val, sizeof(val), s->value);
            metrics_put_sample(b, f->name, "", s->labels, NULL, val);
        }
    }
}

char *sp_metrics_render(sp_metrics *m, size_t *len) {
    metrics_buf b = {0};

    if (m->collect) m->collect(m, m->collect_opaque);
    buf_append(&b, "", 0); /* an empty registry still renders "" */
    for (const metric_family *f = m->families; f; f = f->next)
        metrics_put_family(&b, f);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.len;
    return b.p;
}
