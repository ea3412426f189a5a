/* Internals of ag_registry shared with expo.c only (the exposition walks series directly so
 * that rendering 10,000 series stays a few milliseconds). Everyone else uses registry.h. */
#ifndef AG_REGISTRY_INT_H
#define AG_REGISTRY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "registry.h"

struct ag_series {
    struct ag_series *hnext;       /* hash chain */
    struct ag_series *prev, *next; /* the family's series in creation order */
    uint64_t hash;
    double touched;      /* registry clock at the last update */
    const char **values; /* nlabels raw values, the lookup key */
    const char *labels;  /* `a="x",b="y"`: escaped once, at creation */
    size_t labels_len;
    double value;      /* counter, gauge; histogram: the sum */
    uint64_t count;    /* histogram */
    uint64_t *buckets; /* histogram: per-bucket (not cumulative) counts, nbuckets */
    bool dead;         /* removed while a scrape streamed: out of the hash, still listed */
};

struct ag_family {
    struct ag_registry *reg;
    struct ag_family *next; /* registration order */
    char *name;             /* as registered, with _total for counters */
    char *help;
    enum ag_metric_type type;
    size_t nlabels;
    char *labels[AG_LABELS_MAX];
    int service_label; /* index of service_name, or -1 */
    size_t nbuckets;
    double *bounds;    /* upper bounds, increasing */
    char **bound_text; /* bounds as exposition text, e.g. "0.00025" */
    struct ag_series **table;
    size_t table_size; /* power of two */
    size_t nseries;
    struct ag_series *first, *last;
};

struct ag_exited {
    struct ag_exited *next;
    char *service;
    double since;
};

struct ag_registry {
    pthread_mutex_t lock;
    struct ag_family *families, *last_family;
    size_t series_limit;
    double stale_after;
    double now; /* set by ag_registry_sweep */
    double *buckets;
    size_t nbuckets;
    struct ag_family *overflow; /* vigil_agent_series_overflow_total{metric} */
    struct ag_exited *exited;
    /* Streamed scrapes in progress (ag_expo_begin .. ag_expo_end): while there are any, a
     * removed series stays in its family's list, marked dead, so that no cursor dangles. */
    unsigned streams;
    size_t ndead;
};

/* A streamed scrape started / ended; the last end frees the dead series. Caller holds the lock. */
void ag_registry_stream_begin(struct ag_registry *reg);
void ag_registry_stream_end(struct ag_registry *reg);

/* Unlinks and frees one series; the caller holds reg->lock. */
void ag_series_remove(struct ag_family *fam, struct ag_series *s);

#endif
