/* gw_ratelimit: token buckets per client key in a bounded, thread-safe table.
 *
 * Memory is fixed at creation: when a stripe's probe window is full, the entry whose bucket has
 * refilled completely is replaced first (forgetting it changes nothing), else the least recently
 * seen. Locks are striped so that concurrent clients rarely contend. */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdint.h>

struct gw_ratelimit;

/* rps > 0, burst >= 1. Returns 0, or -ENOMEM. */
int gw_ratelimit_create(double rps, double burst, struct gw_ratelimit **out);
void gw_ratelimit_destroy(struct gw_ratelimit *rl);

/* Takes one token from key's bucket at now_ns (monotonic). Returns 0 when allowed, else the
 * whole seconds (>= 1) until a token will be available: the Retry-After value. */
long gw_ratelimit_take(struct gw_ratelimit *rl, const char *key, uint64_t now_ns);

#endif
