/* proxy.h - which reverse proxies to believe, and who the client then is.
 *
 * Behind a reverse proxy every request comes from the proxy's address, so a
 * per-address rate limit would throttle everyone together and the access
 * log would name the proxy. Proxies say who their client was by appending
 * the peer they saw to X-Forwarded-For ("client, proxy1, proxy2"); anything
 * to the left of what a trusted proxy appended was written by the client
 * and may be forged. So, as nginx's real_ip_recursive does: when the peer is
 * a trusted proxy, walk X-Forwarded-For from the right, skipping trusted
 * proxies; the first address that is not one is the client. A request whose
 * peer is not trusted is its peer, whatever it says. An entry that is not an
 * address stops the walk at the last address known good (a trusted proxy):
 * such a request is counted against that proxy, never against a name the
 * client chose.
 *
 * The list is parsed once at start from http.trusted_proxies: IPv4 and IPv6
 * addresses and CIDR blocks, comma- or space-separated. IPv4-mapped IPv6
 * addresses (::ffff:10.0.0.1, a dual-stack socket's view of an IPv4 peer)
 * match IPv4 entries. */
#ifndef SP_PROXY_H
#define SP_PROXY_H

#include <stddef.h>

typedef struct sp_proxies sp_proxies;

/* Parses text (NULL or "" is an empty list). Returns a new list (free with
 * sp_proxies_free), or NULL with errstr naming the bad entry. */
sp_proxies *sp_proxies_parse(const char *text, char *errstr, size_t errstr_size);
void sp_proxies_free(sp_proxies *p);
size_t sp_proxies_count(const sp_proxies *p);
/* 1 if addr (text) is an address within the list. */
int sp_proxies_trusted(const sp_proxies *p, const char *addr);
/* The client of a request from peer carrying X-Forwarded-For xff (NULL if
 * none; several headers joined with ","), as above, written into buf
 * (INET6_ADDRSTRLEN is enough). Returns buf. */
const char *sp_proxies_client(const sp_proxies *p, const char *peer, const char *xff,
                              char *buf, size_t size);

#endif
