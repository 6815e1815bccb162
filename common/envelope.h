/* envelope.h - the CloudEvents 1.0 envelope every sendpath event travels in.
 *
 * Structured JSON mode: one JSON object with specversion, id, source, type,
 * time, subject, datacontenttype and data. subject is the case id and is also
 * the Kafka key, so a case's events share a partition and stay in order.
 *
 * Event ids are deterministic wherever the producer can make them so (case id
 * + kind + sequence): a replayed or re-fired event has the same id, and
 * consumers drop repeats by id. */
#ifndef SP_ENVELOPE_H
#define SP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#define SP_EVENT_SPECVERSION "1.0"

/* A parsed event. Strings are borrowed from root and valid until
 * sp_event_free(); data is owned by root. */
typedef struct sp_event {
    cJSON *root;
    const char *id;
    const char *source;
    const char *type;
    const char *subject;
    const char *time;  /* RFC 3339 as received */
    int64_t time_ms;
    cJSON *data;       /* an object; never NULL after a successful parse */
} sp_event;

/* Builds an envelope. Takes ownership of data (an object). Returns a new
 * object (free with cJSON_Delete), or NULL on allocation failure. */
cJSON *sp_event_build(const char *id, const char *source, const char *type,
                      int64_t time_ms, const char *subject, cJSON *data);
/* As sp_event_build, then serialised. Returns a new string (free with
 * cJSON_free), or NULL. */
char *sp_event_build_text(const char *id, const char *source, const char *type,
                          int64_t time_ms, const char *subject, cJSON *data);

/* Parses and checks an envelope: every required attribute present and a
 * string, specversion "1.0", time valid RFC 3339, data an object. Returns 0,
 * or -1 with errstr naming the bad attribute (ev is then empty). */
int sp_event_parse(const char *text, size_t len, sp_event *ev, char *errstr,
                   size_t errstr_size);
void sp_event_free(sp_event *ev);

/* Convenience readers for data fields: NULL / -1 when absent or mistyped. */
const char *sp_event_str(const sp_event *ev, const char *field);

#endif
