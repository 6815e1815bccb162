/* log.c - structured JSON logging. See log.h.
 *
 * Lines are assembled in a stack buffer and written with one write(2), so
 * concurrent processes sharing a terminal or a log file never interleave
 * within a line. A line that would not fit is truncated, never split. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

#define SP_LOG_LINE_MAX 4096

static char log_svc[64] = "sendpath";
static sp_log_level log_min = SP_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void sp_log_init(const char *svc, sp_log_level min) {
    snprintf(log_svc, sizeof(log_svc), "%s", svc);
    log_min = min;
}

void sp_log_set_level(sp_log_level min) { log_min = min; }

int sp_log_enabled(sp_log_level l) { return l >= log_min; }

int sp_log_level_parse(const char *s, sp_log_level *out) {
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (sp_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Appends s to buf at *pos as JSON string content (no quotes), escaping what
 * JSON requires. Stops quietly at the buffer's end. */
static void log_escape(char *buf, size_t size, size_t *pos, const char *s) {
    static const char hex[] = "0123456789abcdef";
    for (; *s && *pos + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c == '\n') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = 'n';
        } else if (c < 0x20) {
            memcpy(buf + *pos, "\\u00", 4);
            buf[*pos + 4] = hex[c >> 4];
            buf[*pos + 5] = hex[c & 15];
            *pos += 6;
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

static void log_append(char *buf, size_t size, size_t *pos, const char *s) {
    size_t n = strlen(s);
    if (*pos + n >= size) n = size - *pos - 1;
    memcpy(buf + *pos, s, n);
    *pos += n;
}

void sp_log_write(sp_log_level l, const char *case_id, const char *fmt, ...) {
    char msg[SP_LOG_LINE_MAX / 2], line[SP_LOG_LINE_MAX], ts[96];
    struct timespec now;
    struct tm tm;
    size_t pos = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);

    log_append(line, sizeof(line), &pos, "{\"ts\":\"");
    log_append(line, sizeof(line), &pos, ts);
    log_append(line, sizeof(line), &pos, "\",\"level\":\"");
    log_append(line, sizeof(line), &pos, level_names[l]);
    log_append(line, sizeof(line), &pos, "\",\"svc\":\"");
    log_escape(line, sizeof(line), &pos, log_svc);
    log_append(line, sizeof(line), &pos, "\",\"msg\":\"");
    log_escape(line, sizeof(line), &pos, msg);
    if (case_id) {
        log_append(line, sizeof(line), &pos, "\",\"case_id\":\"");
        log_escape(line, sizeof(line), &pos, case_id);
    }
    log_append(line, sizeof(line) - 1, &pos, "\"}");
    line[pos++] = '\n';
    /* A failed write to stderr has nowhere better to be reported. */
    if (write(STDERR_FILENO, line, pos) < 0) return;
}
