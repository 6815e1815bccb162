/* proxy.c - trusted proxies and the client behind them. See proxy.h.
 *
 * Entries are kept as 16 bytes and a prefix length: IPv4 as an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d, prefix + 96), so one comparison serves both
 * families and a dual-stack peer matches its IPv4 entry. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proxy.h"

typedef struct proxy_net {
    unsigned char addr[16];
    int bits;
} proxy_net;

struct sp_proxies {
    proxy_net *nets;
    size_t n;
};

/* Parses one address into its 16-byte form. Returns 0 or -1. */
static int proxy_addr(const char *text, unsigned char out[16], int *v4) {
    struct in_addr a4;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = 1;
        return 0;
    }
    *v4 = 0;
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* "10.0.0.0/8", "::1", "fd00::/8". Returns 0 or -1. */
static int proxy_net_parse(const char *text, proxy_net *net) {
    char buf[64], *slash, *end;
    int v4;
    long bits;
    if (strlen(text) >= sizeof(buf)) return -1;
    snprintf(buf, sizeof(buf), "%s", text);
    slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    if (proxy_addr(buf, net->addr, &v4)) return -1;
    net->bits = 128;
    if (!slash) return 0;
    if (!isdigit((unsigned char)slash[1])) return -1;
    bits = strtol(slash + 1, &end, 10);
    if (*end || bits < 0 || bits > (v4 ? 32 : 128)) return -1;
    net->bits = (int)bits + (v4 ? 96 : 0);
    return 0;
}

static int proxy_net_has(const proxy_net *net, const unsigned char a[16]) {
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->addr, a, (size_t)full)) return 0;
    if (!rest) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (a[full] & mask);
}

sp_proxies *sp_proxies_parse(const char *text, char *errstr, size_t size) {
    sp_proxies *p = calloc(1, sizeof(*p));
    const char *s = text ? text : "";
    size_t cap = 0;
    char item[80];
    if (!p) goto oom;
    while (*s) {
        size_t n;
        s += strspn(s, ", \t");
        n = strcspn(s, ", \t");
        if (n == 0) break;
        snprintf(item, sizeof(item), "%.*s", (int)(n < sizeof(item) - 1 ? n : sizeof(item) - 1), s);
        if (p->n == cap) {
            proxy_net *nn = realloc(p->nets, (cap ? cap * 2 : 4) * sizeof(*nn));
            if (!nn) goto oom;
            p->nets = nn;
            cap = cap ? cap * 2 : 4;
        }
        if (n >= sizeof(item) || proxy_net_parse(item, &p->nets[p->n])) {
            snprintf(errstr, size, "'%s' is not an IP address or CIDR block", item);
            sp_proxies_free(p);
            return NULL;
        }
        p->n++;
        s += n;
    }
    return p;
oom:
    snprintf(errstr, size, "out of memory");
    sp_proxies_free(p);
    return NULL;
}

void sp_proxies_free(sp_proxies *p) {
    if (!p) return;
    free(p->nets);
    free(p);
}

size_t sp_proxies_count(const sp_proxies *p) { return p ? p->n : 0; }

int sp_proxies_trusted(const sp_proxies *p, const char *addr) {
    unsigned char a[16];
    int v4;
    if (!p || !addr || proxy_addr(addr, a, &v4)) return 0;
    for (size_t i = 0; i < p->n; i++)
        if (proxy_net_has(&p->nets[i], a)) return 1;
    return 0;
}

/* The entry of xff that ends at end (exclusive), trimmed, into item.
 * Returns where the entry starts. */
static const char *proxy_entry_before(const char *xff, const char *end, char *item,
                                      size_t size) {
    const char *start = end;
    while (start > xff && start[-1] != ',') start--;
    const char *a = start, *b = end;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    snprintf(item, size, "%.*s", (int)((size_t)(b - a) < size - 1 ? (size_t)(b - a) : size - 1), a);
    if ((size_t)(b - a) >= size) item[0] = '\0'; /* too long to be an address */
    return start;
}

const char *sp_proxies_client(const sp_proxies *p, const char *peer, const char *xff,
                              char *buf, size_t size) {
    char item[64];
    unsigned char a[16];
    int v4;
    const char *end;
    snprintf(buf, size, "%s", peer ? peer : "");
    if (!xff || !sp_proxies_trusted(p, peer)) return buf;
    end = xff + strlen(xff);
    while (end > xff) {
        const char *start = proxy_entry_before(xff, end, item, sizeof(item));
        end = start > xff ? start - 1 : xff;
        if (!item[0] && start > xff) continue; /* ", ," */
        if (proxy_addr(item, a, &v4)) return buf; /* forged or mangled: stop here */
        snprintf(buf, size, "%s", item);
        if (!sp_proxies_trusted(p, item)) return buf;
        if (start == xff) break;
    }
    return buf;
}
