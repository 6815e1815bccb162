/* json_escape.c - JSON string escaping. See json_escape.h. */
#include <string.h>
#include "json_escape.h"

/* n bytes at *len in out when they fit; the length counts them either way. */
static void json_put(char *out, size_t cap, size_t *len, const char *s, size_t n) {
    if (out && *len <= cap && n <= cap - *len) memcpy(out + *len, s, n);
    *len += n;
}

size_t sp_json_escape(char *out, size_t cap, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t len = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, '0', '0', hex[c >> 4], hex[c & 15]};
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        /* Runs that need no escape are copied at once. */
        json_put(out, cap, &len, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        }
        if (esc[1]) {
            json_put(out, cap, &len, esc, 2);
        } else {
            esc[1] = 'u';
            json_put(out, cap, &len, esc, 6);
        }
    }
    json_put(out, cap, &len, s + run, n - run);
    return len;
}
