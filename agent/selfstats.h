/* ag_selfstats: the agent's own CPU and memory, in the standard process_* names that every
 * Prometheus client library exports, refreshed just before each scrape renders. */
#ifndef AG_SELFSTATS_H
#define AG_SELFSTATS_H

#include "registry.h"

struct ag_selfstats;

/* Registers process_cpu_seconds_total, process_resident_memory_bytes and
 * process_start_time_seconds in reg. */
int ag_selfstats_create(struct ag_registry *reg, struct ag_selfstats **out);
void ag_selfstats_destroy(struct ag_selfstats *s);
/* Reads getrusage() and /proc/self/statm into the registry; safe from any thread. */
void ag_selfstats_update(struct ag_selfstats *s);

#endif
