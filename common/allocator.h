/* allocator.h - which malloc this process runs on.
 *
 * The service binaries link jemalloc (CMake's SP_MALLOC, docs/performance.md
 * "Allocator"); sanitizer and fuzz builds, and the unit tests, keep libc's,
 * which ASan and valgrind replace themselves. A linker that dropped the
 * library, or put it after libc, would leave libc's in place without a
 * word, so a service says which it got when it starts. */
#ifndef SP_ALLOCATOR_H
#define SP_ALLOCATOR_H

#include <stddef.h>

/* Writes "jemalloc <version>" or "libc" into buf (NUL-terminated, cut to
 * size) and returns buf. */
const char *sp_allocator_name(char *buf, size_t size);

#endif
