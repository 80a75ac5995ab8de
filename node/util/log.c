#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
log_line(const log_t *lg, log_level_t level, const char *fmt, ...)
{
    if (lg == NULL || lg->sink == NULL || level > lg->level) {
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lg->sink(lg->ud, level, line);
}

const char *
log_level_name(log_level_t level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    return (level >= LOG_LEVEL_ERROR && level <= LOG_LEVEL_DEBUG) ? names[level] : "?";
}

int
log_level_parse(const char *s)
{
    for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
        if (strcmp(s, log_level_name((log_level_t)l)) == 0) {
            return l;
        }
    }
    return -1;
}

void
log_stderr_sink(void *ud, log_level_t level, const char *line)
{
    (void)ud;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000L, log_level_name(level),
            line);
}
