/* clock.c - real or manual time. See clock.h. */
#include <time.h>
#include "clock.h"

int64_t sp_clock_now_ms(const sp_clock *c) {
    struct timespec ts;
    if (c && c->manual) return c->manual_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sp_clock_set(sp_clock *c, int64_t ms) {
    if (!c->manual) return -1;
    c->manual_ms = ms;
    return 0;
}
