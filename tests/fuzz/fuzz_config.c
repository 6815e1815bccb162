/* fuzz_config.c - the config file, as every service reads it at start.
 *
 * The input is the file. It is loaded against a table with a row of every
 * type (string, int with bounds, bool, enum, map), as "intake", so the
 * other-service, own-service and kafka.* pass-through paths all run. A
 * refused file says why; an accepted one has every int within its bounds
 * and every enum a valid index. The file is a memfd: libFuzzer inputs never
 * touch the disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "config.h"

typedef struct fuzz_conf {
    char *name;
    long long count;
    int flag;
    int mode;
    sp_conf_kvs template_ids;
} fuzz_conf;

static const char *const modes[] = {"real", "manual", NULL};

#define C(f) offsetof(fuzz_conf, f)
static const sp_conf_def fuzz_table[] = {
    {"name", SP_CONF_STRING, C(name), "x", 0, 0, NULL, "a string"},
    {"count", SP_CONF_INT, C(count), "3", 1, 100, NULL, "an int in 1..100"},
    {"flag", SP_CONF_BOOL, C(flag), "no", 0, 0, NULL, "a bool"},
    {"mode", SP_CONF_ENUM, C(mode), "real", 0, 0, modes, "an enum"},
    {"template.", SP_CONF_MAP, C(template_ids), NULL, 0, 0, NULL, "a map"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef C
static const sp_conf_def *const fuzz_tables[] = {fuzz_table, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    fuzz_conf conf = {0};
    sp_conf_kvs kafka = {0};
    char errstr[512] = "";

    if (fd < 0) {
        if ((fd = memfd_create("fuzz-config", 0)) < 0) abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    if (sp_config_load(&conf, fuzz_tables, "intake", path, &kafka, errstr,
                       sizeof(errstr)) == 0) {
        if (conf.count < 1 || conf.count > 100) abort();
        if (conf.mode < 0 || conf.mode > 1 || (conf.flag != 0 && conf.flag != 1)) abort();
        for (size_t i = 0; i < kafka.count; i++)
            if (!kafka.items[i].key || !kafka.items[i].value) abort();
    } else if (errstr[0] == '\0') {
        abort();
    }
    sp_config_free(&conf, fuzz_tables);
    sp_conf_kvs_free(&kafka);
    return 0;
}
