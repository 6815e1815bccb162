/* allocator.c - which malloc this process runs on. See allocator.h. */
#include <dlfcn.h>
#include <stdio.h>
#include "allocator.h"

/* jemalloc's control interface; looked up rather than declared, so this
 * file builds and links without jemalloc. */
typedef int (*mallctl_fn)(const char *name, void *oldp, size_t *oldlenp, void *newp,
                          size_t newlen);

const char *sp_allocator_name(char *buf, size_t size) {
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    const char *version = NULL;
    size_t len = sizeof(version);
    if (!size) return buf;
    if (!mallctl) snprintf(buf, size, "libc");
    else if (mallctl("version", &version, &len, NULL, 0) || !version)
        snprintf(buf, size, "jemalloc");
    else
        snprintf(buf, size, "jemalloc %s", version);
    return buf;
}
