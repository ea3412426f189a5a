/* Token buckets per client key in a fixed-size striped table (see ratelimit.h). Pure: no I/O,
 * the clock is the caller's, so tests drive time directly. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define RL_STRIPES 64  /* power of two; independent locks */
#define RL_SLOTS   512 /* entries per stripe: 32768 clients tracked at once */
#define RL_PROBE   16  /* linear-probe window inside a stripe */
#define RL_KEY_MAX 64  /* an IPv6 text address fits with room to spare */

struct rl_entry {
    uint64_t hash; /* 0: never used (hash values are forced odd) */
    uint64_t last_ns;
    double tokens;
    char key[RL_KEY_MAX];
};

/* Aligned to a cache line so that two stripes' locks never share one. */
struct rl_stripe {
    pthread_mutex_t lock;
    struct rl_entry slots[RL_SLOTS];
} __attribute__((aligned(64)));

struct gw_ratelimit {
    double rps;
    double burst;
    struct rl_stripe *stripes;
};

int gw_ratelimit_create(double rps, double burst, struct gw_ratelimit **out)
{
    struct gw_ratelimit *rl;

    if (rps <= 0 || burst < 1)
        return -EINVAL;
    rl = calloc(1, sizeof(*rl));
    if (!rl)
        return -ENOMEM;
    if (posix_memalign((void **)&rl->stripes, 64, RL_STRIPES * sizeof(struct rl_stripe))) {
        free(rl);
        return -ENOMEM;
    }
    memset(rl->stripes, 0, RL_STRIPES * sizeof(struct rl_stripe));
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_init(&rl->stripes[i].lock, NULL);
    rl->rps = rps;
    rl->burst = burst;
    *out = rl;
    return 0;
}

void gw_ratelimit_destroy(struct gw_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_destroy(&rl->stripes[i].lock);
    free(rl->stripes);
    free(rl);
}

/* FNV-1a: addresses are short, and an attacker choosing many source addresses to collide in one
 * stripe only evicts buckets, which costs them nothing they could not get by using fresh ones. */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h | 1;
}

static double refilled(const struct gw_ratelimit *rl, const struct rl_entry *e, uint64_t now_ns)
{
    double t = e->tokens;

    if (now_ns > e->last_ns)
        t += (double)(now_ns - e->last_ns) / 1e9 * rl->rps;
    return t < rl->burst ? t : rl->burst;
}

/* The entry for key, creating it (full bucket) when absent. Slots are never emptied, so a key
 * is always found before the first unused slot of its window. Called with the stripe locked. */
static struct rl_entry *entry_for(struct gw_ratelimit *rl, struct rl_stripe *s, const char *key,
                                  uint64_t h, uint64_t now_ns)
{
    size_t start = (size_t)(h % RL_SLOTS);
    struct rl_entry *victim = NULL;

    for (size_t i = 0; i < RL_PROBE; i++) {
        struct rl_entry *e = &s->slots[(start + i) % RL_SLOTS];

        if (e->hash == 0) {
            victim = e;
            break;
        }
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
        /* Prefer a bucket that is full again: replacing it is indistinguishable from keeping
         * it. Otherwise the one seen longest ago. */
        if (!victim || (refilled(rl, victim, now_ns) < rl->burst &&
                        (refilled(rl, e, now_ns) >= rl->burst || e->last_ns < victim->last_ns)))
            victim = e;
    }
    victim->hash = h;
    victim->tokens = rl->burst;
    victim->last_ns = now_ns;
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    return victim;
}

long gw_ratelimit_take(struct gw_ratelimit *rl, const char *key, uint64_t now_ns)
{
    uint64_t h = key_hash(key);
    struct rl_stripe *s = &rl->stripes[(h >> 58) & (RL_STRIPES - 1)];
    struct rl_entry *e;
    long wait_s = 0;

    pthread_mutex_lock(&s->lock);
    e = entry_for(rl, s, key, h, now_ns);
    e->tokens = refilled(rl, e, now_ns);
    e->last_ns = now_ns;
    if (e->tokens >= 1.0)
        e->tokens -= 1.0;
    else
        wait_s = (long)ceil((1.0 - e->tokens) / rl->rps);
    pthread_mutex_unlock(&s->lock);
    return wait_s; /* ceil of a positive number: >= 1 whenever refused */
}
