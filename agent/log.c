/* ag_log: stderr only; the stack captures it to a file under .run/. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum ag_log_level current = AG_LOG_INFO;

void ag_log_set_level(enum ag_log_level level)
{
    current = level;
}

void ag_log(enum ag_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > current)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line: the HTTP thread may log too, and lines must not interleave. */
    fprintf(stderr, "vigil-agent: %s: %s\n", names[level], line);
}
