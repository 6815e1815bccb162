/* config.h - settings from a file plus environment overrides, by table.
 *
 * Every setting is a row (name, type, offset into the service's config
 * struct, default, bounds, help), like Redis's config table: adding one is
 * adding a row, and `sendpath-<svc> --config-help` prints the reference that
 * docs/config.md is generated from.
 *
 * One file serves the whole stack. A key is looked up, first match wins, as:
 *   env SENDPATH_<SVC>_<KEY>, env SENDPATH_<KEY>, file "<svc>.<key>",
 *   file "<key>", the row's default
 * where <KEY> is the key upper-cased with '.' and '-' as '_'. Keys of other
 * services ("notify.x" read by timers) are skipped; "kafka.*" and
 * "<svc>.kafka.*" pass straight to librdkafka, as do the environment's
 * SENDPATH_KAFKA_<P> and SENDPATH_<SVC>_KAFKA_<P> (P upper-cased, '.' as '_');
 * any other unknown key in the
 * file is an error naming its line, so a typo cannot silently keep a default.
 *
 * Values are validated at load and errors name the key and where it came from.
 * Strings are copied into the struct; sp_config_free() frees them.
 *
 * A map row's name ends in '.' ("notify.template."): every key under it
 * ("notify.template.request_received") is one entry of an sp_conf_kvs, keyed
 * by the rest of the name, for settings whose names are data (a template
 * id per template). In the environment the rest is taken lower-cased with
 * '_' kept (SENDPATH_NOTIFY_NOTIFY_TEMPLATE_REQUEST_RECEIVED is the entry
 * "request_received"), so map entry names use '_', not '.'. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>

typedef enum {
    SP_CONF_STRING, /* char *      */
    SP_CONF_INT,    /* long long   */
    SP_CONF_BOOL,   /* int (0/1)   */
    SP_CONF_ENUM,   /* int: index into choices */
    SP_CONF_MAP     /* sp_conf_kvs: every key under the row's name */
} sp_conf_type;

typedef struct sp_conf_def {
    const char *name;
    sp_conf_type type;
    size_t offset;
    const char *def; /* default, as text; NULL for a string means NULL */
    long long min, max;
    const char *const *choices; /* SP_CONF_ENUM: NULL-terminated */
    const char *help;
} sp_conf_def;

/* A NULL-terminated list of key/value pairs (librdkafka settings). */
typedef struct sp_conf_kv {
    char *key;
    char *value;
} sp_conf_kv;

typedef struct sp_conf_kvs {
    sp_conf_kv *items;
    size_t count;
} sp_conf_kvs;

/* Loads conf from path (NULL: no file) and the environment. tables is a
 * NULL-terminated array of NULL-name-terminated tables; a row in a later table
 * replaces an earlier row of the same name (a service's own default for a
 * common key). svc is the service's short name ("timers"). kafka receives the
 * librdkafka pass-through settings (free with sp_conf_kvs_free). Returns 0, or
 * -1 with errstr filled and conf partly set: call sp_config_free either way. */
int sp_config_load(void *conf, const sp_conf_def *const *tables, const char *svc,
                   const char *path, sp_conf_kvs *kafka, char *errstr,
                   size_t errstr_size);
void sp_config_free(void *conf, const sp_conf_def *const *tables);
void sp_conf_kvs_free(sp_conf_kvs *kvs);
/* Appends (copies) key=value, replacing an existing key. Returns 0 or -1. */
int sp_conf_kvs_set(sp_conf_kvs *kvs, const char *key, const char *value);
const char *sp_conf_kvs_get(const sp_conf_kvs *kvs, const char *key);

/* Prints the tables as a Markdown reference to stdout. */
void sp_config_print_help(const sp_conf_def *const *tables, const char *svc);

#endif
