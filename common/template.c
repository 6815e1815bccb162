/* template.c - GOV.UK Notify-style templates. See template.h.
 *
 * One scanner walks a text and reports literal runs and placeholders in
 * order; parsing uses it to collect and check placeholders, rendering uses it
 * to write output. Rendering therefore cannot disagree with parsing about
 * what is a placeholder. Output grows in a small buffer that remembers an
 * allocation failure, so the callers check once at the end. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template.h"

#define SUBJECT_PREFIX "Subject: "
#define TEMPLATE_SUFFIX ".txt"
#define TEMPLATE_FILE_MAX (256 * 1024)

/* ---- output buffer --------------------------------------------------------- */

typedef struct tbuf {
    char *p;
    size_t len, cap;
    int oom;
} tbuf;

static void tbuf_add(tbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* ---- scanning -------------------------------------------------------------- */

/* ph is NULL for a literal run (s, n), else the placeholder's name. Returns 0
 * to go on, -1 to stop (errstr filled). */
typedef int (*scan_cb)(void *ctx, const char *s, size_t n, const char *ph,
                       char *errstr, size_t size);

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int line_of(const char *text, const char *at, int first_line) {
    int line = first_line;
    for (const char *p = text; p < at; p++) line += (*p == '\n');
    return line;
}

/* Walks text; first_line numbers its first line in error messages. */
static int template_scan(const char *text, int first_line, scan_cb cb, void *ctx,
                         char *errstr, size_t size) {
    const char *p = text, *open;
    char name[SP_TEMPLATE_NAME_MAX + 1];
    while ((open = strstr(p, "((")) != NULL) {
        const char *n = open + 2, *e = n;
        while (name_char(*e)) e++;
        if (e == n || e[0] != ')' || e[1] != ')' || (size_t)(e - n) > SP_TEMPLATE_NAME_MAX) {
            snprintf(errstr, size, "line %d: '((' must open a placeholder "
                     "((name)) of lower-case letters, digits and '_'",
                     line_of(text, open, first_line));
            return -1;
        }
        memcpy(name, n, (size_t)(e - n));
        name[e - n] = '\0';
        if (cb(ctx, p, (size_t)(open - p), NULL, errstr, size) ||
            cb(ctx, NULL, 0, name, errstr, size))
            return -1;
        p = e + 2;
    }
    return cb(ctx, p, strlen(p), NULL, errstr, size);
}

/* ---- parsing --------------------------------------------------------------- */

static int collect_cb(void *ctx, const char *s, size_t n, const char *ph,
                      char *errstr, size_t size) {
    sp_template *t = ctx;
    if (!ph || sp_template_uses(t, ph)) return 0;
    char **list = realloc(t->placeholders, (t->nplaceholders + 1) * sizeof(*list));
    if (!list || !(list[t->nplaceholders] = strdup(ph))) {
        if (list) t->placeholders = list;
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    t->placeholders = list;
    t->nplaceholders++;
    return 0;
}

static int name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > SP_TEMPLATE_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i])) return 0;
    return 1;
}

/* Copies text without carriage returns. */
static char *text_clean(const char *text, size_t len) {
    char *out = malloc(len + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++)
        if (text[i] != '\r' && text[i] != '\0') *o++ = text[i];
    *o = '\0';
    return out;
}

/* Splits clean text into subject and body, in place. */
static int template_split(char *text, char **subject, char **body, char *errstr,
                          size_t size) {
    char *nl = strchr(text, '\n'), *end;
    if (strncmp(text, SUBJECT_PREFIX, strlen(SUBJECT_PREFIX)) != 0 || !nl) {
        snprintf(errstr, size, "line 1: must be \"Subject: ...\"");
        return -1;
    }
    *nl = '\0';
    *subject = text + strlen(SUBJECT_PREFIX);
    if ((*subject)[0] == '\0') {
        snprintf(errstr, size, "line 1: the subject is empty");
        return -1;
    }
    if (nl[1] != '\n') {
        snprintf(errstr, size, "line 2: must be blank");
        return -1;
    }
    *body = nl + 2;
    end = *body + strlen(*body);
    while (end > *body && (end[-1] == '\n' || end[-1] == ' ')) *--end = '\0';
    if (**body == '\0') {
        snprintf(errstr, size, "the body is empty");
        return -1;
    }
    return 0;
}

sp_template *sp_template_parse(const char *name, const char *text, size_t len,
                               char *errstr, size_t size) {
    char *clean = NULL, *subject, *body, err[200];
    sp_template *t = calloc(1, sizeof(*t));
    if (!t || !(clean = text_clean(text, len)) || !(t->name = strdup(name))) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    if (!name_valid(name)) {
        snprintf(err, sizeof(err), "the name must be lower-case letters, digits "
                 "and '_' (at most %d)", SP_TEMPLATE_NAME_MAX);
        goto fail;
    }
    if (template_split(clean, &subject, &body, err, sizeof(err))) goto fail;
    if (!(t->subject = strdup(subject)) || !(t->body = strdup(body))) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    if (template_scan(t->subject, 1, collect_cb, t, err, sizeof(err)) ||
        template_scan(t->body, 3, collect_cb, t, err, sizeof(err)))
        goto fail;
    free(clean);
    return t;
fail:
    snprintf(errstr, size, "template %s: %s", name, err);
    free(clean);
    sp_template_free(t);
    return NULL;
}

static char *file_read(const char *path, size_t *len, char *errstr, size_t size) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(errstr, size, "template %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(TEMPLATE_FILE_MAX + 1))) {
        snprintf(errstr, size, "out of memory");
    } else if ((*len = fread(buf, 1, TEMPLATE_FILE_MAX + 1, f)) > TEMPLATE_FILE_MAX ||
               ferror(f)) {
        snprintf(errstr, size, "template %s: unreadable or larger than %d bytes",
                 path, TEMPLATE_FILE_MAX);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

sp_template *sp_template_load(const char *path, char *errstr, size_t size) {
    char name[SP_TEMPLATE_NAME_MAX + 8];
    const char *base = strrchr(path, '/');
    size_t len, n;
    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > strlen(TEMPLATE_SUFFIX) &&
        strcmp(base + n - strlen(TEMPLATE_SUFFIX), TEMPLATE_SUFFIX) == 0)
        n -= strlen(TEMPLATE_SUFFIX);
    snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) - 1 ? n : sizeof(name) - 1),
             base);
    char *text = file_read(path, &len, errstr, size);
    if (!text) return NULL;
    sp_template *t = sp_template_parse(name, text, len, errstr, size);
    free(text);
    return t;
}

void sp_template_free(sp_template *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nplaceholders; i++) free(t->placeholders[i]);
    free(t->placeholders);
    free(t->name);
    free(t->subject);
    free(t->body);
    free(t);
}

int sp_template_uses(const sp_template *t, const char *name) {
    for (size_t i = 0; i < t->nplaceholders; i++)
        if (strcmp(t->placeholders[i], name) == 0) return 1;
    return 0;
}

int sp_template_check(const sp_template *t, const char *const *supplied, size_t n,
                      char *errstr, size_t size) {
    for (size_t i = 0; i < t->nplaceholders; i++) {
        size_t j = 0;
        while (j < n && strcmp(supplied[j], t->placeholders[i]) != 0) j++;
        if (j == n) {
            snprintf(errstr, size, "template %s uses ((%s)), which is not supplied",
                     t->name, t->placeholders[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------------- */

typedef struct render_ctx {
    tbuf out;
    const sp_template_var *vars;
    size_t n;
} render_ctx;

static int render_cb(void *ctx, const char *s, size_t n, const char *ph,
                     char *errstr, size_t size) {
    render_ctx *r = ctx;
    const char *value = NULL;
    if (!ph) {
        tbuf_add(&r->out, s, n);
        return 0;
    }
    for (size_t i = 0; i < r->n && !value; i++)
        if (strcmp(r->vars[i].name, ph) == 0) value = r->vars[i].value;
    if (!value) {
        snprintf(errstr, size, "no value for ((%s))", ph);
        return -1;
    }
    if (strstr(value, "((")) {
        snprintf(errstr, size, "the value for ((%s)) holds '(('", ph);
        return -1;
    }
    tbuf_add(&r->out, value, strlen(value));
    return 0;
}

/* Renders one text. Returns a new string, or NULL with errstr. */
static char *render_text(const sp_template *t, const char *text,
                         const sp_template_var *vars, size_t n, char *errstr,
                         size_t size) {
    render_ctx r = {{NULL, 0, 0, 0}, vars, n};
    char err[160];
    tbuf_add(&r.out, "", 0); /* an empty text renders as "", not NULL */
    if (template_scan(text, 1, render_cb, &r, err, sizeof(err))) {
        snprintf(errstr, size, "template %s: %s", t->name, err);
        free(r.out.p);
        return NULL;
    }
    if (r.out.oom) {
        snprintf(errstr, size, "out of memory");
        free(r.out.p);
        return NULL;
    }
    /* No value holds "((", but one can make it with its neighbour: a value
     * ending in '(' before a literal '(' or another value starting with
     * one. Checked on the whole output, so no join can slip past. */
    if (strstr(r.out.p, "((")) {
        snprintf(errstr, size, "template %s: a value next to '(' makes '(('", t->name);
        free(r.out.p);
        return NULL;
    }
    return r.out.p;
}

int sp_template_render(const sp_template *t, const sp_template_var *vars, size_t n,
                       char **subject, char **body, char *errstr, size_t size) {
    char *s = render_text(t, t->subject, vars, n, errstr, size), *b = NULL;
    if (!s) return -1;
    if (strpbrk(s, "\r\n")) {
        snprintf(errstr, size, "template %s: a value puts CR or LF into the subject",
                 t->name);
        free(s);
        return -1;
    }
    if (!(b = render_text(t, t->body, vars, n, errstr, size))) {
        free(s);
        return -1;
    }
    *subject = s;
    *body = b;
    return 0;
}

/* ---- a directory of templates ---------------------------------------------- */

static int template_cmp(const void *a, const void *b) {
    return strcmp((*(sp_template *const *)a)->name, (*(sp_template *const *)b)->name);
}

static int is_template_file(const char *name) {
    size_t n = strlen(name), s = strlen(TEMPLATE_SUFFIX);
    return name[0] != '.' && n > s && strcmp(name + n - s, TEMPLATE_SUFFIX) == 0;
}

static int templates_add(sp_templates *set, sp_template *t, char *errstr, size_t size) {
    sp_template **items = realloc(set->items, (set->count + 1) * sizeof(*items));
    if (!items) {
        snprintf(errstr, size, "out of memory");
        sp_template_free(t);
        return -1;
    }
    set->items = items;
    set->items[set->count++] = t;
    return 0;
}

int sp_templates_load_dir(sp_templates *set, const char *dir, char *errstr,
                          size_t size) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    int rc = 0;
    if (!d) {
        snprintf(errstr, size, "templates directory %s: %s", dir, strerror(errno));
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!is_template_file(e->d_name)) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        sp_template *t = sp_template_load(path, errstr, size);
        rc = t ? templates_add(set, t, errstr, size) : -1;
    }
    closedir(d);
    if (rc) {
        sp_templates_free(set);
        return -1;
    }
    if (set->count) qsort(set->items, set->count, sizeof(*set->items), template_cmp);
    return 0;
}

const sp_template *sp_templates_find(const sp_templates *set, const char *name) {
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i]->name, name) == 0) return set->items[i];
    return NULL;
}

void sp_templates_free(sp_templates *set) {
    for (size_t i = 0; i < set->count; i++) sp_template_free(set->items[i]);
    free(set->items);
    set->items = NULL;
    set->count = 0;
}
