#include "vg_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Longer lines are cut: one write(2) per line is what keeps concurrent threads
 * from interleaving, and that needs a bounded buffer. */
#define VG_LOG_LINE_MAX 4096

static char log_service[32] = "vigil";
static enum vg_log_level log_min = VG_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void vg_log_init(const char *service)
{
    const char *level = getenv("VIGIL_LOG_LEVEL");

    if (service)
        snprintf(log_service, sizeof(log_service), "%s", service);
    if (!level || !*level)
        return;
    if (!strcasecmp(level, "debug"))
        log_min = VG_LOG_DEBUG;
    else if (!strcasecmp(level, "info"))
        log_min = VG_LOG_INFO;
    else if (!strcasecmp(level, "warn") || !strcasecmp(level, "warning"))
        log_min = VG_LOG_WARN;
    else if (!strcasecmp(level, "error"))
        log_min = VG_LOG_ERROR;
    else
        vg_die("VIGIL_LOG_LEVEL: not one of debug, info, warn, error: '%s'", level);
}

static void log_write(enum vg_log_level level, const char *fmt, va_list ap)
{
    char line[VG_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L,
                 level_names[level], log_service);
    if (r > 0)
        n += (size_t)r;
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (r > 0)
        n += (size_t)r;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    /* A message ending in a newline must not leave an empty line behind. */
    while (n > 0 && line[n - 1] == '\n')
        n--;
    line[n++] = '\n';
    /* stderr may be a pipe that went away: losing a log line must not kill us. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < log_min || level > VG_LOG_ERROR)
        return;
    va_start(ap, fmt);
    log_write(level, fmt, ap);
    va_end(ap);
}

void vg_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(VG_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(2);
}
