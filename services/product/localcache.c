#include "localcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 64 stripes of 64 chains: 4096 chains hold the bound of 4096 entries at a
 * load of one, and a stripe's lock covers few products. */
#define STRIPE_BITS 6
#define NSTRIPES    (1u << STRIPE_BITS)
#define CHAIN_BITS  6
#define NCHAINS     (1u << CHAIN_BITS)

struct localcache_entry {
    struct localcache_entry *next;
    long long id;
    long long expires_ms;
    /* One reference belongs to the table while the entry is linked, one to
     * each reader between localcache_get and localcache_put. */
    atomic_uint refs;
    size_t len;
    char body[];
};

struct stripe {
    pthread_rwlock_t lock;
    /* Moves on under the write lock at every invalidation of a key of this
     * stripe and at every flush; read without the lock by tickets. Shared by
     * the stripe's keys: an unrelated invalidation may refuse an insert,
     * which only costs one more Redis read, never a stale answer. */
    _Atomic uint64_t gen;
    size_t count;
    struct localcache_entry *chains[NCHAINS];
};

struct localcache {
    size_t stripe_cap;
    _Atomic long long lease_until_ms;
    struct stripe stripes[NSTRIPES];
};

/* Fibonacci hashing: consecutive ids, the catalogue's case, land far apart. */
static uint64_t id_hash(long long id)
{
    return (uint64_t)id * 0x9E3779B97F4A7C15ull;
}

static struct stripe *stripe_of(struct localcache *lc, long long id)
{
    return &lc->stripes[id_hash(id) >> (64 - STRIPE_BITS)];
}

static struct localcache_entry **chain_of(struct stripe *s, long long id)
{
    return &s->chains[(id_hash(id) >> (64 - STRIPE_BITS - CHAIN_BITS)) & (NCHAINS - 1)];
}

int localcache_create(size_t max_entries, struct localcache **out)
{
    struct localcache *lc;

    if (max_entries < NSTRIPES)
        return -EINVAL;
    lc = calloc(1, sizeof(*lc));
    if (!lc)
        return -ENOMEM;
    lc->stripe_cap = max_entries / NSTRIPES;
    for (unsigned i = 0; i < NSTRIPES; i++)
        pthread_rwlock_init(&lc->stripes[i].lock, NULL);
    *out = lc;
    return 0;
}

void localcache_put(struct localcache_entry *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        free(e);
}

/* Unlinks every entry of s onto *dropped (the caller puts them after unlocking). */
static void stripe_clear(struct stripe *s, struct localcache_entry **dropped)
{
    for (unsigned c = 0; c < NCHAINS; c++) {
        while (s->chains[c]) {
            struct localcache_entry *e = s->chains[c];
            s->chains[c] = e->next;
            e->next = *dropped;
            *dropped = e;
        }
    }
    s->count = 0;
}

static void put_list(struct localcache_entry *e)
{
    while (e) {
        struct localcache_entry *next = e->next;
        localcache_put(e);
        e = next;
    }
}

void localcache_destroy(struct localcache *lc)
{
    struct localcache_entry *dropped = NULL;

    if (!lc)
        return;
    for (unsigned i = 0; i < NSTRIPES; i++) {
        stripe_clear(&lc->stripes[i], &dropped);
        pthread_rwlock_destroy(&lc->stripes[i].lock);
    }
    put_list(dropped);
    free(lc);
}

static bool leased(struct localcache *lc, long long now_ms)
{
    return now_ms < atomic_load(&lc->lease_until_ms);
}

struct localcache_entry *localcache_get(struct localcache *lc, long long id, long long now_ms)
{
    struct stripe *s = stripe_of(lc, id);
    struct localcache_entry *e;

    if (!leased(lc, now_ms))
        return NULL;
    pthread_rwlock_rdlock(&s->lock);
    for (e = *chain_of(s, id); e; e = e->next) {
        if (e->id != id)
            continue;
        if (now_ms < e->expires_ms)
            atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        else
            e = NULL; /* expired: the next insert of id or its stripe reaps it */
        break;
    }
    pthread_rwlock_unlock(&s->lock);
    return e;
}

const char *localcache_body(const struct localcache_entry *e, size_t *len)
{
    *len = e->len;
    return e->body;
}

uint64_t localcache_ticket(struct localcache *lc, long long id)
{
    return atomic_load(&stripe_of(lc, id)->gen);
}

/* Unlinks id from s; returns the entry or NULL. Write lock held. */
static struct localcache_entry *stripe_unlink(struct stripe *s, long long id)
{
    for (struct localcache_entry **p = chain_of(s, id); *p; p = &(*p)->next) {
        struct localcache_entry *e = *p;
        if (e->id == id) {
            *p = e->next;
            s->count--;
            return e;
        }
    }
    return NULL;
}

/* Makes room in a full stripe: expired entries first, else the one nearest to
 * expiry (the cheapest to lose: Redis drops it soonest too). Write lock held;
 * unlinked entries go onto *dropped. */
static void stripe_make_room(struct stripe *s, size_t cap, long long now_ms,
                             struct localcache_entry **dropped)
{
    struct localcache_entry *victim = NULL;

    for (unsigned c = 0; c < NCHAINS; c++) {
        struct localcache_entry **p = &s->chains[c];
        while (*p) {
            struct localcache_entry *e = *p;
            if (e->expires_ms > now_ms) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            s->count--;
            e->next = *dropped;
            *dropped = e;
        }
    }
    if (s->count < cap)
        return;
    for (unsigned c = 0; c < NCHAINS; c++)
        for (struct localcache_entry *e = s->chains[c]; e; e = e->next)
            if (!victim || e->expires_ms < victim->expires_ms)
                victim = e;
    if (victim) {
        stripe_unlink(s, victim->id);
        victim->next = *dropped;
        *dropped = victim;
    }
}

int localcache_insert(struct localcache *lc, long long id, const char *body, size_t len,
                      long long expires_ms, long long now_ms, uint64_t ticket)
{
    struct stripe *s = stripe_of(lc, id);
    struct localcache_entry *e, *old, *dropped = NULL;
    int err = 0;

    if (expires_ms <= now_ms || !leased(lc, now_ms))
        return -EAGAIN;
    /* Allocated and filled before the lock: the stripe's readers never wait on malloc. */
    e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return -ENOMEM;
    e->id = id;
    e->expires_ms = expires_ms;
    atomic_init(&e->refs, 1);
    e->len = len;
    memcpy(e->body, body, len);
    e->body[len] = '\0';

    pthread_rwlock_wrlock(&s->lock);
    if (atomic_load(&s->gen) != ticket) {
        err = -ESTALE;
    } else {
        old = stripe_unlink(s, id);
        if (old) {
            old->next = dropped;
            dropped = old;
        }
        if (s->count >= lc->stripe_cap)
            stripe_make_room(s, lc->stripe_cap, now_ms, &dropped);
        e->next = *chain_of(s, id);
        *chain_of(s, id) = e;
        s->count++;
    }
    pthread_rwlock_unlock(&s->lock);
    put_list(dropped);
    if (err)
        free(e);
    return err;
}

void localcache_invalidate(struct localcache *lc, long long id)
{
    struct stripe *s = stripe_of(lc, id);
    struct localcache_entry *e;

    pthread_rwlock_wrlock(&s->lock);
    atomic_fetch_add(&s->gen, 1);
    e = stripe_unlink(s, id);
    pthread_rwlock_unlock(&s->lock);
    localcache_put(e);
}

void localcache_flush(struct localcache *lc)
{
    struct localcache_entry *dropped = NULL;

    for (unsigned i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &lc->stripes[i];
        pthread_rwlock_wrlock(&s->lock);
        atomic_fetch_add(&s->gen, 1);
        stripe_clear(s, &dropped);
        pthread_rwlock_unlock(&s->lock);
    }
    put_list(dropped);
}

void localcache_renew(struct localcache *lc, long long until_ms)
{
    atomic_store(&lc->lease_until_ms, until_ms);
}

void localcache_disable(struct localcache *lc)
{
    /* The lease ends first: a reader that gets past it after the flush finds
     * nothing, and an insert racing the flush holds a ticket the flush moved on. */
    atomic_store(&lc->lease_until_ms, 0);
    localcache_flush(lc);
}

size_t localcache_count(struct localcache *lc)
{
    size_t n = 0;

    for (unsigned i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &lc->stripes[i];
        pthread_rwlock_rdlock(&s->lock);
        n += s->count;
        pthread_rwlock_unlock(&s->lock);
    }
    return n;
}
