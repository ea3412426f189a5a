/* ag_selfstats: process_* self metrics. */
#include "selfstats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct ag_selfstats {
    struct ag_family *cpu, *rss, *start;
};

int ag_selfstats_create(struct ag_registry *reg, struct ag_selfstats **out)
{
    struct ag_selfstats *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int err = ag_registry_add(reg,
                              &(struct ag_family_desc){
                                  .name = "process_cpu_seconds_total",
                                  .help = "Total user and system CPU time spent in seconds.",
                                  .type = AG_COUNTER,
                              },
                              &s->cpu);
    if (!err)
        err = ag_registry_add(reg,
                              &(struct ag_family_desc){
                                  .name = "process_resident_memory_bytes",
                                  .help = "Resident memory size in bytes.",
                                  .type = AG_GAUGE,
                              },
                              &s->rss);
    if (!err)
        err = ag_registry_add(reg,
                              &(struct ag_family_desc){
                                  .name = "process_start_time_seconds",
                                  .help = "Start time of the process since unix epoch in seconds.",
                                  .type = AG_GAUGE,
                              },
                              &s->start);
    if (err) {
        free(s);
        return err;
    }
    /* Created during start-up, so "now" is the start within milliseconds. */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    ag_gauge_set(s->start, NULL, (double)wall.tv_sec + (double)(wall.tv_nsec / 1000000) / 1e3);
    *out = s;
    ag_selfstats_update(s);
    return 0;
}

void ag_selfstats_destroy(struct ag_selfstats *s)
{
    free(s);
}

void ag_selfstats_update(struct ag_selfstats *s)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        ag_counter_set_total(s->cpu, NULL, cpu);
    }
    /* ru_maxrss is the peak; the current resident set is statm's second field, in pages. */
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long size, resident;
    if (f && fscanf(f, "%lu %lu", &size, &resident) == 2)
        ag_gauge_set(s->rss, NULL, (double)resident * (double)sysconf(_SC_PAGESIZE));
    if (f)
        fclose(f);
}
