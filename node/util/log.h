/* log: per-node logging through an injected sink. Library code never prints;
 * main chooses where lines go. Never pass secret material to a log call. */
#ifndef SAMIZDAT_LOG_H
#define SAMIZDAT_LOG_H

#include <stdarg.h>

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
} log_level_t;

/* Receives one formatted line (no newline). line borrowed for the call. */
typedef void (*log_sink_cb)(void *ud, log_level_t level, const char *line);

typedef struct {
    log_level_t level; /* lines above this level are dropped */
    log_sink_cb sink;  /* NULL: drop everything */
    void *ud;
} log_t;

void log_line(const log_t *lg, log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *log_level_name(log_level_t level);
/* Parses "error", "warn", "info", "debug". Returns -1 for anything else. */
int log_level_parse(const char *s);

/* A sink that writes "2026-11-22T23:10:05.123Z INFO line" to stderr. */
void log_stderr_sink(void *ud, log_level_t level, const char *line);

#endif
