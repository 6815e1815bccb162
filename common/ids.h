/* ids.h - identifiers sendpath mints.
 *
 * Case ids are ULIDs prefixed "c_": 48 bits of milliseconds then 80 random
 * bits from getrandom(2), in Crockford base32. They sort by creation time,
 * need no coordination between intake instances, and carry no personal data,
 * so they are safe in logs, topic keys and email references. */
#ifndef SP_IDS_H
#define SP_IDS_H

#include <stddef.h>
#include <stdint.h>

#define SP_CASE_ID_LEN 28 /* "c_" + 26, without the NUL */

/* Writes a new case id and a NUL into buf (at least SP_CASE_ID_LEN + 1 bytes).
 * Returns 0, or -1 if the system's random source failed. */
int sp_case_id_new(int64_t now_ms, char *buf, size_t size);
/* 1 if s has the shape of a case id. */
int sp_case_id_valid(const char *s);

#endif
