/* log.h - structured JSON logging to stderr.
 *
 * One JSON object per line with fixed keys: ts, level, svc, msg and, when
 * given, case_id. The level is checked before anything is formatted, so a
 * disabled debug line costs one comparison. Logs carry case ids only: callers
 * must never pass a child's name, date of birth or address in msg.
 *
 * The logger is process-wide state (like Redis's serverLog): one service is one
 * process, and every module logs through it. */
#ifndef SP_LOG_H
#define SP_LOG_H

typedef enum {
    SP_LOG_DEBUG = 0,
    SP_LOG_INFO = 1,
    SP_LOG_WARN = 2,
    SP_LOG_ERROR = 3
} sp_log_level;

/* svc is copied. */
void sp_log_init(const char *svc, sp_log_level min);
void sp_log_set_level(sp_log_level min);
/* Parses "debug", "info", "warn" or "error". Returns 0 or -1. */
int sp_log_level_parse(const char *s, sp_log_level *out);
int sp_log_enabled(sp_log_level l);
/* Formats and writes one line. Use the sp_log() macros instead. */
void sp_log_write(sp_log_level l, const char *case_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sp_log(l, case_id, ...)                                               \
    do {                                                                      \
        if (sp_log_enabled(l)) sp_log_write(l, case_id, __VA_ARGS__);         \
    } while (0)
#define sp_debug(...) sp_log(SP_LOG_DEBUG, NULL, __VA_ARGS__)
#define sp_info(...) sp_log(SP_LOG_INFO, NULL, __VA_ARGS__)
#define sp_warn(...) sp_log(SP_LOG_WARN, NULL, __VA_ARGS__)
#define sp_error(...) sp_log(SP_LOG_ERROR, NULL, __VA_ARGS__)

#endif
