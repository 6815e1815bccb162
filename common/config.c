/* config.c - table-driven settings. See config.h.
 *
 * Loading reads the file once into a list of (key, value, line) entries,
 * checks every entry belongs to someone, then resolves each table row through
 * the lookup order in config.h and parses it by type. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

extern char **environ;

#define SVC_NAMES_COUNT 6
static const char *svc_names[SVC_NAMES_COUNT] = {
    "intake", "evidence", "timers", "notify", "ops", "broker"};

typedef struct file_entry {
    char *key, *value;
    int line;
} file_entry;

typedef struct file_entries {
    file_entry *items;
    size_t count;
} file_entries;

static void entries_free(file_entries *fe) {
    for (size_t i = 0; i < fe->count; i++) {
        free(fe->items[i].key);
        free(fe->items[i].value);
    }
    free(fe->items);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

/* Parses one "key = value" line into fe. Returns 0, or -1 with errstr. */
static int entries_add_line(file_entries *fe, char *raw, int lineno,
                            const char *path, char *errstr, size_t size) {
    char *line = trim(raw), *eq, *key, *val;
    if (*line == '\0' || *line == '#') return 0;
    if ((eq = strchr(line, '=')) == NULL) {
        snprintf(errstr, size, "%s:%d: expected 'key = value'", path, lineno);
        return -1;
    }
    *eq = '\0';
    key = trim(line);
    val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
        val[vl - 1] = '\0';
        val++;
    }
    if (*key == '\0') {
        snprintf(errstr, size, "%s:%d: empty key", path, lineno);
        return -1;
    }
    file_entry *n = realloc(fe->items, (fe->count + 1) * sizeof(*n));
    if (!n) {
        snprintf(errstr, size, "out of memory");
        return -1;
    }
    fe->items = n;
    n[fe->count].key = strdup(key);
    n[fe->count].value = strdup(val);
    n[fe->count].line = lineno;
    fe->count++;
    return 0;
}

/* Reads the file line by line, each whole however long (a fixed buffer
 * would split a long line into two, the second read as a line of its own),
 * and refuses a NUL byte, which would silently cut its line short. */
static int entries_read(file_entries *fe, const char *path, char *errstr,
                        size_t size) {
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    if (!f) {
        snprintf(errstr, size, "cannot open config file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        if (memchr(buf, '\0', (size_t)n)) {
            snprintf(errstr, size, "%s:%d: holds a NUL byte", path, lineno);
            rc = -1;
            break;
        }
        rc = entries_add_line(fe, buf, lineno, path, errstr, size);
    }
    free(buf);
    fclose(f);
    return rc;
}

static const char *entries_get(const file_entries *fe, const char *key,
                               int *line) {
    const char *v = NULL;
    for (size_t i = 0; i < fe->count; i++) { /* last one wins */
        if (strcmp(fe->items[i].key, key) == 0) {
            v = fe->items[i].value;
            *line = fe->items[i].line;
        }
    }
    return v;
}

/* The row named name in the latest table that has one, or NULL. A map
 * row ("x.") owns every name under it ("x.y"). */
static const sp_conf_def *tables_find(const sp_conf_def *const *tables,
                                      const char *name) {
    const sp_conf_def *found = NULL;
    for (size_t t = 0; tables[t]; t++)
        for (const sp_conf_def *d = tables[t]; d->name; d++) {
            size_t n = strlen(d->name);
            if (strcmp(d->name, name) == 0 ||
                (d->type == SP_CONF_MAP && strncmp(d->name, name, n) == 0 && name[n]))
                found = d;
        }
    return found;
}

static int is_other_service_key(const char *key, const char *svc) {
    for (int i = 0; i < SVC_NAMES_COUNT; i++) {
        size_t n = strlen(svc_names[i]);
        if (strcmp(svc_names[i], svc) != 0 && strncmp(key, svc_names[i], n) == 0 &&
            key[n] == '.')
            return 1;
    }
    return 0;
}

/* Strips "<svc>." from key if present. */
static const char *unprefix(const char *key, const char *svc) {
    size_t n = strlen(svc);
    if (strncmp(key, svc, n) == 0 && key[n] == '.') return key + n + 1;
    return key;
}

/* Checks every file key is known, and collects kafka.* settings: service
 * specific ones ("timers.kafka.x") after general ones so they win. */
static int entries_check(const file_entries *fe, const sp_conf_def *const *tables,
                         const char *svc, const char *path, sp_conf_kvs *kafka,
                         char *errstr, size_t size) {
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < fe->count; i++) {
            const char *key = fe->items[i].key, *k = unprefix(key, svc);
            int own = (k != key);
            if (is_other_service_key(key, svc)) continue;
            if (strncmp(k, "kafka.", 6) == 0) {
                if (own == pass && sp_conf_kvs_set(kafka, k + 6, fe->items[i].value)) {
                    snprintf(errstr, size, "out of memory");
                    return -1;
                }
                continue;
            }
            if (pass == 1) continue;
            if (strncmp(k, "topic.", 6) == 0) continue; /* read by topics users */
            if (!tables_find(tables, k)) {
                snprintf(errstr, size, "%s:%d: unknown config key '%s'", path,
                         fe->items[i].line, key);
                return -1;
            }
        }
    }
    return 0;
}

/* SENDPATH_KAFKA_<P> and SENDPATH_<SVC>_KAFKA_<P> set librdkafka property
 * <p>: lower-cased, '_' read as '.' ("SENDPATH_KAFKA_BOOTSTRAP_SERVERS" is
 * bootstrap.servers). Applied after the file, service-specific last. */
static int env_kafka(const char *svc, sp_conf_kvs *kafka) {
    char prefix[2][64], key[256];
    snprintf(prefix[0], sizeof(prefix[0]), "SENDPATH_KAFKA_");
    snprintf(prefix[1], sizeof(prefix[1]), "SENDPATH_%s_KAFKA_", svc);
    for (char *p = prefix[1]; *p; p++) *p = (char)toupper((unsigned char)*p);
    for (int pass = 0; pass < 2; pass++) {
        size_t plen = strlen(prefix[pass]);
        for (char **e = environ; *e; e++) {
            const char *eq = strchr(*e, '=');
            size_t n;
            if (!eq || strncmp(*e, prefix[pass], plen) != 0) continue;
            n = (size_t)(eq - *e) - plen;
            if (n == 0 || n >= sizeof(key)) continue;
            for (size_t i = 0; i < n; i++) {
                char c = (*e)[plen + i];
                key[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
            }
            key[n] = '\0';
            if (sp_conf_kvs_set(kafka, key, eq + 1)) return -1;
        }
    }
    return 0;
}

static void env_name(char *out, size_t size, const char *svc, const char *key) {
    size_t o = 0;
    const char *parts[2] = {svc, key};
    o += (size_t)snprintf(out, size, "SENDPATH_");
    for (int p = 0; p < 2; p++) {
        if (!parts[p]) continue;
        for (const char *s = parts[p]; *s && o + 2 < size; s++)
            out[o++] = (*s == '.' || *s == '-') ? '_' : (char)toupper((unsigned char)*s);
        if (p == 0 && o + 2 < size) out[o++] = '_';
    }
    out[o] = '\0';
}

/* Resolves one row's text value and a description of where it came from. */
static const char *resolve(const sp_conf_def *d, const char *svc,
                           const file_entries *fe, const char *path,
                           char *origin, size_t osize) {
    char name[256], fkey[256];
    const char *v;
    int line = 0;
    env_name(name, sizeof(name), svc, d->name);
    if ((v = getenv(name))) goto env;
    env_name(name, sizeof(name), NULL, d->name);
    if ((v = getenv(name))) goto env;
    snprintf(fkey, sizeof(fkey), "%s.%s", svc, d->name);
    if ((v = entries_get(fe, fkey, &line)) || (v = entries_get(fe, d->name, &line))) {
        snprintf(origin, osize, "%s:%d", path, line);
        return v;
    }
    snprintf(origin, osize, "default");
    return d->def;
env:
    snprintf(origin, osize, "environment %s", name);
    return v;
}

/* A map row: file keys under it (general ones first, "<svc>." ones after so
 * they win), then the environment's SENDPATH_<ROW>_<X> and
 * SENDPATH_<SVC>_<ROW>_<X>. Returns 0, or -1 (no memory). */
static int resolve_map(void *conf, const sp_conf_def *d, const char *svc,
                       const file_entries *fe) {
    sp_conf_kvs *kvs = (sp_conf_kvs *)((char *)conf + d->offset);
    size_t n = strlen(d->name);
    char prefix[2][256], key[256];
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < fe->count; i++) {
            const char *k = unprefix(fe->items[i].key, svc);
            if ((k != fe->items[i].key) != pass || strncmp(k, d->name, n) || !k[n])
                continue;
            if (sp_conf_kvs_set(kvs, k + n, fe->items[i].value)) return -1;
        }
    env_name(prefix[0], sizeof(prefix[0]), NULL, d->name);
    env_name(prefix[1], sizeof(prefix[1]), svc, d->name);
    for (int pass = 0; pass < 2; pass++) {
        size_t plen = strlen(prefix[pass]);
        for (char **e = environ; *e; e++) {
            const char *eq = strchr(*e, '=');
            size_t kl;
            if (!eq || strncmp(*e, prefix[pass], plen) != 0) continue;
            kl = (size_t)(eq - *e) - plen;
            if (kl == 0 || kl >= sizeof(key)) continue;
            for (size_t i = 0; i < kl; i++) key[i] = (char)tolower((unsigned char)(*e)[plen + i]);
            key[kl] = '\0';
            if (sp_conf_kvs_set(kvs, key, eq + 1)) return -1;
        }
    }
    return 0;
}

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Stores text value v into conf per row d. Returns 0, or -1 with errstr. */
static int store(void *conf, const sp_conf_def *d, const char *v,
                 const char *origin, char *errstr, size_t size) {
    char *field = (char *)conf + d->offset, *end;
    switch (d->type) {
    case SP_CONF_STRING:
        free(*(char **)field);
        *(char **)field = v ? strdup(v) : NULL;
        return 0;
    case SP_CONF_INT: {
        long long n;
        errno = 0;
        n = v ? strtoll(v, &end, 10) : 0;
        if (!v || errno || end == v || *end) {
            snprintf(errstr, size, "config key '%s' (%s): '%s' is not a whole number",
                     d->name, origin, v ? v : "");
            return -1;
        }
        if (n < d->min || n > d->max) {
            snprintf(errstr, size, "config key '%s' (%s): %lld is out of range %lld..%lld",
                     d->name, origin, n, d->min, d->max);
            return -1;
        }
        *(long long *)field = n;
        return 0;
    }
    case SP_CONF_BOOL:
        if (!v || parse_bool(v, (int *)field)) {
            snprintf(errstr, size, "config key '%s' (%s): '%s' is not yes or no",
                     d->name, origin, v ? v : "");
            return -1;
        }
        return 0;
    case SP_CONF_ENUM:
        for (int i = 0; v && d->choices[i]; i++) {
            if (strcmp(d->choices[i], v) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        snprintf(errstr, size, "config key '%s' (%s): '%s' is not one of the allowed values",
                 d->name, origin, v ? v : "");
        return -1;
    case SP_CONF_MAP: /* resolve_map() fills it */
        return 0;
    }
    return -1;
}

int sp_config_load(void *conf, const sp_conf_def *const *tables, const char *svc,
                   const char *path, sp_conf_kvs *kafka, char *errstr,
                   size_t errstr_size) {
    file_entries fe = {0};
    char origin[300];
    int rc = -1;

    if (path && entries_read(&fe, path, errstr, errstr_size)) goto done;
    if (entries_check(&fe, tables, svc, path ? path : "", kafka, errstr, errstr_size))
        goto done;
    if (env_kafka(svc, kafka)) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t t = 0; tables[t]; t++) {
        for (const sp_conf_def *d = tables[t]; d->name; d++) {
            if (tables_find(tables, d->name) != d) continue; /* overridden */
            if (d->type == SP_CONF_MAP) {
                if (resolve_map(conf, d, svc, &fe)) {
                    snprintf(errstr, errstr_size, "out of memory");
                    goto done;
                }
                continue;
            }
            const char *v = resolve(d, svc, &fe, path ? path : "", origin, sizeof(origin));
            if (store(conf, d, v, origin, errstr, errstr_size)) goto done;
        }
    }
    rc = 0;
done:
    entries_free(&fe);
    return rc;
}

void sp_config_free(void *conf, const sp_conf_def *const *tables) {
    for (size_t t = 0; tables[t]; t++) {
        for (const sp_conf_def *d = tables[t]; d->name; d++) {
            if (d->type == SP_CONF_MAP) {
                if (tables_find(tables, d->name) == d)
                    sp_conf_kvs_free((sp_conf_kvs *)((char *)conf + d->offset));
                continue;
            }
            if (d->type != SP_CONF_STRING) continue;
            char **field = (char **)((char *)conf + d->offset);
            free(*field);
            *field = NULL;
        }
    }
}

int sp_conf_kvs_set(sp_conf_kvs *kvs, const char *key, const char *value) {
    for (size_t i = 0; i < kvs->count; i++) {
        if (strcmp(kvs->items[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v) return -1;
            free(kvs->items[i].value);
            kvs->items[i].value = v;
            return 0;
        }
    }
    sp_conf_kv *n = realloc(kvs->items, (kvs->count + 1) * sizeof(*n));
    if (!n) return -1;
    kvs->items = n;
    n[kvs->count].key = strdup(key);
    n[kvs->count].value = strdup(value);
    if (!n[kvs->count].key || !n[kvs->count].value) return -1;
    kvs->count++;
    return 0;
}

const char *sp_conf_kvs_get(const sp_conf_kvs *kvs, const char *key) {
    for (size_t i = 0; i < kvs->count; i++)
        if (strcmp(kvs->items[i].key, key) == 0) return kvs->items[i].value;
    return NULL;
}

void sp_conf_kvs_free(sp_conf_kvs *kvs) {
    for (size_t i = 0; i < kvs->count; i++) {
        free(kvs->items[i].key);
        free(kvs->items[i].value);
    }
    free(kvs->items);
    kvs->items = NULL;
    kvs->count = 0;
}

static const char *type_name(const sp_conf_def *d) {
    static const char *names[] = {"string", "integer", "yes/no", "one of", "string"};
    return names[d->type];
}

void sp_config_print_help(const sp_conf_def *const *tables, const char *svc) {
    printf("| key | type | default | help |\n|---|---|---|---|\n");
    for (size_t t = 0; tables[t]; t++) {
        for (const sp_conf_def *d = tables[t]; d->name; d++) {
            if (tables_find(tables, d->name) != d) continue;
            printf("| `%s%s` | %s", d->name, d->type == SP_CONF_MAP ? "<name>" : "",
                   type_name(d));
            if (d->type == SP_CONF_INT) printf(" %lld..%lld", d->min, d->max);
            for (int i = 0; d->type == SP_CONF_ENUM && d->choices[i]; i++)
                printf("%s`%s`", i ? ", " : " ", d->choices[i]);
            printf(" | %s | %s |\n", d->def ? d->def : "(none)", d->help);
        }
    }
    printf("\nEnvironment: SENDPATH_%s_<KEY> or SENDPATH_<KEY>; librdkafka settings as "
           "`kafka.<property>`.\n", svc);
}
