/* json_escape.h - text inside a JSON string, escaped as cJSON escapes it.
 *
 * Timers and ops write their hottest events and entries as text by hand
 * rather than through a cJSON tree (docs/performance.md), yet their output
 * must stay byte for byte what cJSON_PrintUnformatted made before: " and \
 * and the five short control escapes (\b \f \n \r \t) as two characters,
 * every other byte below 0x20 as \u00xx in lower-case hex, and every other
 * byte (UTF-8 included) as it is. Nothing here allocates. */
#ifndef SP_JSON_ESCAPE_H
#define SP_JSON_ESCAPE_H

#include <stddef.h>

/* The n bytes at s escaped, without quotes, into out, which holds cap bytes;
 * nothing is written past cap and no NUL is added. Returns the escaped
 * length, as snprintf does: a result above cap means out was too small and
 * its contents are unspecified. out may be NULL with cap 0 to measure. */
size_t sp_json_escape(char *out, size_t cap, const char *s, size_t n);

#endif
