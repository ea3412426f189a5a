/* vg_log: plain log lines on stderr, one write(2) per line so that lines from
 * concurrent threads never interleave. Callers never pass passwords, session
 * tokens or card numbers: there is no redaction layer to rely on. */
#ifndef VG_LOG_H
#define VG_LOG_H

enum vg_log_level { VG_LOG_DEBUG, VG_LOG_INFO, VG_LOG_WARN, VG_LOG_ERROR };

/* Sets the name printed on every line; level from VIGIL_LOG_LEVEL (debug|info|warn|error). */
void vg_log_init(const char *service);
void vg_log(enum vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs at error level and exits with status 2 (configuration and start-up errors). */
void vg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)

#endif
