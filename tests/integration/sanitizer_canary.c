/* sanitizer_canary.c - a program that makes one sanitizer report on purpose.
 *
 * Built only with -DSP_ASAN=ON. sanitizer_canary.py runs it under the
 * integration harness, as a service would be run, to show that the harness
 * notices each kind of report (and that a clean run is not flagged): a
 * harness that missed them would let every sanitizer run pass. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int sink;

/* Allocates and forgets, in a frame of its own so no live stack slot or
 * register still holds the pointer when LeakSanitizer looks at exit. */
__attribute__((noinline)) static void leak(void) {
    char *volatile p = malloc(64);
    p[0] = 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "clean";
    if (strcmp(mode, "overflow") == 0) {
        size_t n = strlen(mode); /* 8, out of the compiler's sight */
        char *volatile p = calloc(1, 8); /* volatile: only ASan may see it */
        sink = p[n]; /* one past the end */
        free(p);
    } else if (strcmp(mode, "leak") == 0) {
        leak();
    } else if (strcmp(mode, "undefined") == 0) {
        int big = INT_MAX - 9 + (int)strlen(mode); /* INT_MAX */
        sink = big + 1; /* signed overflow */
    }
    printf("canary %s done\n", mode);
    return 0;
}
