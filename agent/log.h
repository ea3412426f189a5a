/* ag_log: one-line messages to stderr, "vigil-agent: LEVEL: text", filtered by --log-level. */
#ifndef AG_LOG_H
#define AG_LOG_H

#include "config.h"

void ag_log_set_level(enum ag_log_level level);
void ag_log(enum ag_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
