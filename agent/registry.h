/*
 * ag_registry: the agent's metric families and their series, rendered by expo.c.
 *
 * A family has a type, a frozen list of label names and (histograms) its buckets. A series is
 * found by its label values through a hash table; once it exists, updating it allocates nothing.
 * One thread updates (the event loop), another renders (the HTTP server): every call takes the
 * registry's mutex, so any thread may call any function.
 *
 * Series limit: each family holds at most series_limit series. An update that would create one
 * more is folded instead of dropped, so totals stay right:
 *   1. into the series whose values are all "other" except service_name, which keeps its value
 *      (per-service RED totals survive, and services are few: they are processes on one node);
 *   2. when the family already holds series_limit + series_limit/8 + 1 series (so service_name
 *      itself is what grows), into the series whose values are all "other".
 * Each folded update counts one in vigil_agent_series_overflow_total{metric="<family>"}.
 *
 * Staleness: a family with a service_name label ages by service. ag_registry_service_exited()
 * marks a service (call it when its last process exits); ag_registry_sweep() then removes that
 * service's series not updated for stale_after seconds. ag_registry_service_returned() un-marks.
 *
 * Label values must be UTF-8 (Prometheus rejects a whole scrape otherwise): a value that is not,
 * or is longer than AG_LABEL_VALUE_MAX bytes, is replaced by "invalid" before lookup.
 */
#ifndef AG_REGISTRY_H
#define AG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define AG_LABELS_MAX           8
#define AG_BUCKETS_MAX          64
#define AG_LABEL_VALUE_MAX      256
#define AG_SERIES_LIMIT_DEFAULT 10000
#define AG_STALE_AFTER_DEFAULT  300.0

enum ag_metric_type { AG_COUNTER, AG_GAUGE, AG_HISTOGRAM };

struct ag_registry;
struct ag_family;

struct ag_registry_opts {
    size_t series_limit;   /* per family; 0: AG_SERIES_LIMIT_DEFAULT */
    double stale_after;    /* seconds; 0: AG_STALE_AFTER_DEFAULT */
    const double *buckets; /* histogram upper bounds, increasing; NULL: the DESIGN.md set */
    size_t nbuckets;
};

struct ag_family_desc {
    const char *name; /* a counter's name ends in _total */
    const char *help; /* one line */
    enum ag_metric_type type;
    const char *const *labels; /* frozen label names, at most AG_LABELS_MAX */
    size_t nlabels;
    const double *buckets; /* histograms only; NULL: the registry's buckets */
    size_t nbuckets;
};

/* Returns 0 or a negative errno (-EINVAL for bad options); *out is set only on success. */
int ag_registry_create(const struct ag_registry_opts *opts, struct ag_registry **out);
void ag_registry_destroy(struct ag_registry *reg);

/* Registers a family; -EINVAL for a bad name, label or bucket list, -EEXIST for a duplicate.
 * The registry copies desc; *out stays valid until ag_registry_destroy(). A family without
 * labels gets its one series at 0 at once, so it is always present. */
int ag_registry_add(struct ag_registry *reg, const struct ag_family_desc *desc,
                    struct ag_family **out);
struct ag_family *ag_registry_find(struct ag_registry *reg, const char *name);

/* Hot path. values holds one string per label, in the family's order (NULL when it has none).
 * Each returns 0, -EINVAL (wrong family type or a negative counter increment) or -ENOMEM. */
int ag_counter_add(struct ag_family *fam, const char *const *values, double n);
/* For counters whose truth is elsewhere (a kernel map): sets the running total. */
int ag_counter_set_total(struct ag_family *fam, const char *const *values, double total);
int ag_gauge_set(struct ag_family *fam, const char *const *values, double v);
int ag_gauge_add(struct ag_family *fam, const char *const *values, double delta);
int ag_hist_observe(struct ag_family *fam, const char *const *values, double seconds);
/* Sets a histogram series to absolute totals kept elsewhere (the kernel's syscall latency
 * maps): per-bucket, non-cumulative counts for the family's nbuckets bounds; observations
 * above the last bound are in count only. The series is touched only when count changed. */
int ag_hist_set_totals(struct ag_family *fam, const char *const *values, const uint64_t *buckets,
                       size_t nbuckets, uint64_t count, double sum);
/* Creates the series at 0 if absent: for label values that must show before any event. */
int ag_series_touch(struct ag_family *fam, const char *const *values);

/* Staleness; now is CLOCK_MONOTONIC seconds, the same clock every call here uses. */
void ag_registry_service_exited(struct ag_registry *reg, const char *service_name, double now);
void ag_registry_service_returned(struct ag_registry *reg, const char *service_name);
/* Advances the registry's clock (series remember when they were last updated by it) and
 * removes stale series; returns how many it removed. Call it about once a second. */
size_t ag_registry_sweep(struct ag_registry *reg, double now);

size_t ag_registry_series_count(struct ag_registry *reg);
/* Reads one series' value (counter/gauge) or count (histogram); -ENOENT when absent. For tests
 * and for the agent's own checks, not for the hot path. */
int ag_registry_read(struct ag_family *fam, const char *const *values, double *value);

double ag_monotonic_seconds(void);

#endif
