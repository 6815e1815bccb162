/* validate.c - field checks that collect errors, and limits on JSON
 * documents before they are parsed. See validate.h. */
#include <stdio.h>
#include <string.h>
#include "validate.h"

void sp_valid_init(sp_valid *v) { v->errors = cJSON_CreateArray(); }

cJSON *sp_valid_take(sp_valid *v) {
    cJSON *e = v->errors;
    v->errors = NULL;
    if (e && cJSON_GetArraySize(e) == 0) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

void sp_valid_free(sp_valid *v) {
    cJSON_Delete(v->errors);
    v->errors = NULL;
}

int sp_valid_ok(const sp_valid *v) { return cJSON_GetArraySize(v->errors) == 0; }

void sp_valid_error(sp_valid *v, const char *field, const char *reason) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddItemToArray(v->errors, e);
}

cJSON *sp_json_path(const cJSON *obj, const char *path) {
    char step[128];
    const char *p = path;
    cJSON *cur = (cJSON *)obj;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(step) || !cJSON_IsObject(cur)) return NULL;
        memcpy(step, p, n);
        step[n] = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, step);
        p += n + (p[n] == '.');
    }
    return cur;
}

/* Common head of every check: absent is an error only when required. */
static cJSON *field(sp_valid *v, const cJSON *obj, const char *path, int required) {
    cJSON *f = sp_json_path(obj, path);
    if ((!f || cJSON_IsNull(f)) && required) sp_valid_error(v, path, "is required");
    return cJSON_IsNull(f) ? NULL : f;
}

const char *sp_valid_string(sp_valid *v, const cJSON *obj, const char *path,
                            int required, size_t max_len) {
    char reason[64];
    cJSON *f = field(v, obj, path, required);
    if (!f) return NULL;
    if (!cJSON_IsString(f)) {
        sp_valid_error(v, path, "must be a string");
        return NULL;
    }
    size_t n = strlen(f->valuestring);
    if (n == 0 && required) {
        sp_valid_error(v, path, "must not be empty");
        return NULL;
    }
    if (n > max_len) {
        snprintf(reason, sizeof(reason), "must be at most %zu characters", max_len);
        sp_valid_error(v, path, reason);
        return NULL;
    }
    for (const char *c = f->valuestring; *c; c++) {
        if ((unsigned char)*c < 0x20 && *c != '\n') {
            sp_valid_error(v, path, "must not contain control characters");
            return NULL;
        }
    }
    return f->valuestring;
}

int sp_email_valid(const char *s) {
    const char *at = strchr(s, '@');
    size_t n = strlen(s);
    if (n < 3 || n > 254 || !at || at == s || strchr(at + 1, '@')) return 0;
    if (strpbrk(s, " \t\r\n<>,;\"()[]\\")) return 0;
    const char *dot = strrchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1] != '\0';
}

const char *sp_valid_email(sp_valid *v, const cJSON *obj, const char *path,
                           int required) {
    const char *s = sp_valid_string(v, obj, path, required, 254);
    if (s && !sp_email_valid(s)) {
        sp_valid_error(v, path, "must be an email address");
        return NULL;
    }
    return s;
}

const char *sp_valid_enum(sp_valid *v, const cJSON *obj, const char *path,
                          int required, const char *const *choices) {
    char reason[256];
    size_t o;
    const char *s = sp_valid_string(v, obj, path, required, 64);
    if (!s) return NULL;
    for (size_t i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) return choices[i];
    o = (size_t)snprintf(reason, sizeof(reason), "must be one of:");
    for (size_t i = 0; choices[i] && o < sizeof(reason); i++)
        o += (size_t)snprintf(reason + o, sizeof(reason) - o, "%s %s", i ? "," : "",
                              choices[i]);
    sp_valid_error(v, path, reason);
    return NULL;
}

sp_date sp_valid_date(sp_valid *v, const cJSON *obj, const char *path,
                      int required, sp_date min, sp_date max) {
    char a[16], b[16], reason[80];
    sp_date d;
    cJSON *f = field(v, obj, path, required);
    if (!f) return SP_DATE_INVALID;
    if (!cJSON_IsString(f) || sp_date_parse(f->valuestring, &d)) {
        sp_valid_error(v, path, "must be a date written YYYY-MM-DD");
        return SP_DATE_INVALID;
    }
    if (d < min || d > max) {
        snprintf(reason, sizeof(reason), "must be between %s and %s",
                 sp_date_iso(min, a, sizeof(a)), sp_date_iso(max, b, sizeof(b)));
        sp_valid_error(v, path, reason);
        return SP_DATE_INVALID;
    }
    return d;
}

int sp_valid_bool(sp_valid *v, const cJSON *obj, const char *path, int required) {
    cJSON *f = field(v, obj, path, required);
    if (!f) return -1;
    if (!cJSON_IsBool(f)) {
        sp_valid_error(v, path, "must be true or false");
        return -1;
    }
    return cJSON_IsTrue(f);
}

const cJSON *sp_valid_object(sp_valid *v, const cJSON *obj, const char *path,
                             int required) {
    cJSON *f = field(v, obj, path, required);
    if (f && !cJSON_IsObject(f)) {
        sp_valid_error(v, path, "must be an object");
        return NULL;
    }
    return f;
}

/* ---- documents within limits --------------------------------------------- */

/* The end of the string whose body starts at text + i: the index of its
 * closing quote, or len if it has none. Strings are most of an event's
 * bytes, so the quotes are found with memchr, not byte by byte (every
 * message consumed is scanned: 6% of timers's CPU while arming, byte by
 * byte). A quote is escaped when an odd run of backslashes precedes it;
 * the run cannot reach past the opening quote, which is no backslash. */
static size_t json_string_end(const char *text, size_t len, size_t i) {
    for (;;) {
        const char *q = memchr(text + i, '"', len - i);
        size_t at, run = 0;
        if (!q) return len;
        at = (size_t)(q - text);
        while (run < at - i && text[at - 1 - run] == '\\') run++;
        if (run % 2 == 0) return at;
        i = at + 1;
    }
}

int sp_json_text_depth(const char *text, size_t len, int stop_at) {
    int depth = 0, deepest = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') {
            i = json_string_end(text, len, i + 1);
        } else if (c == '{' || c == '[') {
            if (++depth > deepest && (deepest = depth) > stop_at) return deepest;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

/* At most max opening brackets in all of text, strings included, or more
 * (then -1)? Counted with memchr, which glibc runs 32 bytes at a time:
 * an event holds a handful, so this settles nearly every message without
 * the depth scan's pass over each byte. */
static int json_brackets_within(const char *text, size_t len, int max) {
    static const char open[] = "{[";
    int n = 0;
    for (const char *o = open; *o; o++) {
        const char *p = text, *end = text + len;
        while ((p = memchr(p, *o, (size_t)(end - p)))) {
            if (++n > max) return -1;
            p++;
        }
    }
    return n;
}

int sp_json_too_deep(const char *text, size_t len, int max) {
    if (json_brackets_within(text, len, max) >= 0) return 0;
    return sp_json_text_depth(text, len, max) > max;
}

cJSON *sp_json_parse_limited(const char *text, size_t len, const sp_json_limits *lim,
                             sp_json_refusal *refusal) {
    sp_json_refusal r = SP_JSON_OK;
    cJSON *doc = NULL;

    if (lim->max_bytes && len > lim->max_bytes)
        r = SP_JSON_TOO_BIG;
    else if (lim->max_depth > 0 && sp_json_too_deep(text, len, lim->max_depth))
        r = SP_JSON_TOO_DEEP;
    else if (!(doc = cJSON_ParseWithLength(text, len)))
        r = SP_JSON_INVALID;
    if (refusal) *refusal = r;
    return doc;
}

const char *sp_json_refusal_reason(sp_json_refusal r, const sp_json_limits *lim,
                                   char *buf, size_t size) {
    switch (r) {
    case SP_JSON_OK: snprintf(buf, size, "is within the limits"); break;
    case SP_JSON_TOO_BIG:
        snprintf(buf, size, "is larger than %zu bytes", lim->max_bytes);
        break;
    case SP_JSON_TOO_DEEP:
        snprintf(buf, size, "nests deeper than %d levels", lim->max_depth);
        break;
    case SP_JSON_INVALID: snprintf(buf, size, "is not valid JSON"); break;
    }
    return buf;
}
