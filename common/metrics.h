/* metrics.h - Prometheus metrics: counters, gauges and histograms.
 *
 * A registry holds metric families (name, help, type) and, under each, series
 * with a fixed label set given at registration ("topic=\"x\",result=\"ok\"").
 * Registration allocates; updating a series is a plain add on a double, so the
 * hot path never allocates or looks anything up: keep the sp_metric pointer.
 *
 * Rendering writes the text exposition format 0.0.4, one HELP and TYPE per
 * family, every series under it. A collect callback runs just before each
 * render so a service can refresh gauges (lag, pending requests). Single
 * threaded: all calls on the service's loop thread. */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>

typedef struct sp_metrics sp_metrics;
typedef struct sp_metric sp_metric;

sp_metrics *sp_metrics_new(void);
void sp_metrics_free(sp_metrics *m);

/* name must be a valid Prometheus name; labels is NULL or the text between
 * the braces, e.g. "topic=\"sendpath.deadlines\"", values already escaped
 * (\\, \" and \n). Registering the same name and labels twice returns the
 * same series (for a histogram, with its first bounds). Strings are copied.
 * help may be NULL (no HELP line). Returns NULL only if name is invalid, the
 * labels are malformed (or repeat a name, or use "le" on a histogram), the
 * family exists with another type, the name clashes with a histogram's
 * _bucket/_sum/_count, or memory runs out. */
sp_metric *sp_metrics_counter(sp_metrics *m, const char *name, const char *help,
                              const char *labels);
sp_metric *sp_metrics_gauge(sp_metrics *m, const char *name, const char *help,
                            const char *labels);
/* bounds: finite, strictly ascending upper bounds (le), +Inf added (a last
 * +Inf given is ignored); otherwise NULL. Copied. */
sp_metric *sp_metrics_histogram(sp_metrics *m, const char *name, const char *help,
                                const char *labels, const double *bounds,
                                size_t nbounds);

/* Updates. All accept NULL (a failed registration) and do nothing with it.
 * inc/add/set apply to counters and gauges; a counter ignores negative (and
 * NaN) adds, since it must never go down; set on a counter is for mirroring
 * a total kept elsewhere. observe applies to histograms only. */
void sp_metric_inc(sp_metric *c);
void sp_metric_add(sp_metric *c, double v);
void sp_metric_set(sp_metric *g, double v);
void sp_metric_observe(sp_metric *h, double v);
/* A counter's or gauge's value; a histogram's count. */
double sp_metric_value(const sp_metric *c);

/* cb runs at the start of every render; a later call replaces it. */
typedef void (*sp_metrics_collect_cb)(sp_metrics *m, void *opaque);
void sp_metrics_on_collect(sp_metrics *m, sp_metrics_collect_cb cb, void *opaque);

/* Returns a new NUL-terminated text (free with free()); *len gets its length.
 * Families and series come in registration order. NULL if out of memory. */
char *sp_metrics_render(sp_metrics *m, size_t *len);

#endif
