/* lg_stats: exact request counts by route and status, latency percentiles,
 * and the JSON report. Every finished request is recorded exactly once:
 * under its HTTP status, or as a transport error when no status arrived. */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stdint.h>
#include <stdio.h>

struct lg_stats;

struct lg_stats *lg_stats_new(void);
void lg_stats_free(struct lg_stats *st);

/* route is a folded label ("GET /api/products/{id}"); status is the HTTP
 * status, or 0 for a transport error described by err (curl's words).
 * Latency is kept for requests that got a status only.
 * Returns 0, or -ENOMEM (the request is then still counted). */
int lg_stats_record(struct lg_stats *st, const char *route, int status, const char *err,
                    uint64_t latency_us);
/* Counts one request of a shopper action (lg_action_names). */
void lg_stats_action(struct lg_stats *st, int action);

uint64_t lg_stats_total(const struct lg_stats *st);

struct lg_run_info {
    const char *url;
    const char *run_id;
    unsigned shoppers;
    unsigned concurrency;
    double rate;
    double elapsed_s;
    unsigned registered; /* shoppers that got an account */
};

/* Writes the report as one JSON document followed by a newline; returns 0 or -1. */
int lg_stats_write_json(struct lg_stats *st, const struct lg_run_info *info, FILE *out);

#endif
