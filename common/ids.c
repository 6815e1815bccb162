/* ids.c - case ids. See ids.h. */
#include <string.h>
#include <sys/random.h>
#include "ids.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int sp_case_id_new(int64_t now_ms, char *buf, size_t size) {
    unsigned char rnd[10];
    uint64_t t = (uint64_t)now_ms;
    if (size < SP_CASE_ID_LEN + 1) return -1;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) return -1;
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
