/* ids.c - case ids. See ids.h.
 *
 * The random bits come from a pool per thread, refilled by one getrandom(2)
 * of 256 bytes (25 ids), not a syscall an id: intake draws ids until one's
 * partition is the child's (services/intake/submit.c), one draw per
 * partition on average, and a syscall a draw was 8-9% of intake's CPU at
 * 24 partitions on a virtual machine. A child of fork() starts with an
 * empty pool, so it never hands out ids its parent will. */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include "ids.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define IDS_POOL 256 /* getrandom(2) never returns less for up to 256 */

static __thread unsigned char pool[IDS_POOL];
static __thread size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_forget(void) { pool_left = 0; }
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_forget); }

static int random_bytes(unsigned char *out, size_t n) {
    pthread_once(&pool_once, pool_init);
    if (pool_left < n) {
        if (getrandom(pool, IDS_POOL, 0) != IDS_POOL) return -1;
        pool_left = IDS_POOL;
    }
    memcpy(out, pool + IDS_POOL - pool_left, n);
    pool_left -= n;
    return 0;
}

int sp_case_id_new(int64_t now_ms, char *buf, size_t size) {
    unsigned char rnd[10];
    uint64_t t = (uint64_t)now_ms;
    if (size < SP_CASE_ID_LEN + 1) return -1;
    if (random_bytes(rnd, sizeof(rnd))) return -1;
    buf[0] = 'c';
    buf[1] = '_';
    for (int i = 9; i >= 0; i--) { /* 10 chars of time, 50 bits (top 2 zero) */
        buf[2 + i] = crockford[t & 31];
        t >>= 5;
    }
    /* 80 random bits as 16 chars. */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)rnd[byte] << 8 | (byte + 1 < 10 ? rnd[byte + 1] : 0);
        buf[12 + i] = crockford[(v >> (11 - shift)) & 31];
    }
    buf[SP_CASE_ID_LEN] = '\0';
    return 0;
}

int sp_case_id_valid(const char *s) {
    if (strlen(s) != SP_CASE_ID_LEN || s[0] != 'c' || s[1] != '_') return 0;
    for (int i = 2; i < SP_CASE_ID_LEN; i++)
        if (!strchr(crockford, s[i])) return 0;
    return 1;
}
