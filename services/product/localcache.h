/* localcache: product detail bodies kept in the process, in front of the Redis
 * cache, so that a hit costs no round trip.
 *
 * A pure data structure: no I/O and no clock of its own (callers pass
 * monotonic milliseconds), so every rule below is unit-tested. Coherence with
 * Redis comes from tracking.c, through three rules:
 *
 *   lease   Entries are served, and accepted, only while now < the lease.
 *           tracking renews it each time it hears from Redis and ends it
 *           (localcache_disable) when the invalidation channel is lost: a
 *           local copy nobody can invalidate must not be served.
 *   ticket  A reader takes a ticket before it reads a value from Redis or
 *           PostgreSQL, and inserts with it. The insert is refused when the
 *           key was invalidated, or the cache flushed, since the ticket was
 *           taken: an invalidation that overtook the read would otherwise be
 *           undone by the insert of the value it invalidated.
 *   expiry  Each entry carries the deadline of its Redis key (at most 60 s).
 *
 * Bounded: at most max_entries bodies (rounded down to a multiple of the 64
 * lock stripes); a full stripe evicts its entry nearest to expiry.
 * Thread-safe; lookups of different products rarely share a lock, and lookups
 * of the same product share it for reading. */
#ifndef PRODUCT_LOCALCACHE_H
#define PRODUCT_LOCALCACHE_H

#include <stddef.h>
#include <stdint.h>

struct localcache;
struct localcache_entry;

/* Returns 0, -EINVAL (max_entries < 64) or -ENOMEM. The lease starts ended. */
int localcache_create(size_t max_entries, struct localcache **out);
/* Frees every entry; no reference from localcache_get may be outstanding. */
void localcache_destroy(struct localcache *lc);

/* A referenced entry when id is cached, unexpired and the lease runs; NULL
 * otherwise. The body stays valid, even if invalidated meanwhile, until
 * localcache_put: the hit path copies it without holding any lock. */
struct localcache_entry *localcache_get(struct localcache *lc, long long id, long long now_ms);
const char *localcache_body(const struct localcache_entry *e, size_t *len);
void localcache_put(struct localcache_entry *e);

/* The key's current generation: take it before reading the value elsewhere. */
uint64_t localcache_ticket(struct localcache *lc, long long id);
/* Copies body. Returns 0; -ESTALE when id was invalidated (or everything
 * flushed) since ticket; -EAGAIN when the lease has ended or expires_ms is not
 * after now_ms; -ENOMEM. */
int localcache_insert(struct localcache *lc, long long id, const char *body, size_t len,
                      long long expires_ms, long long now_ms, uint64_t ticket);

/* Drops id and moves its generation on (also when it was not cached: a read
 * in flight may be about to insert it). */
void localcache_invalidate(struct localcache *lc, long long id);
/* Drops everything and moves every generation on. */
void localcache_flush(struct localcache *lc);

/* Lets entries be served until until_ms. */
void localcache_renew(struct localcache *lc, long long until_ms);
/* Ends the lease, then flushes: nothing cached now or in flight is served. */
void localcache_disable(struct localcache *lc);

size_t localcache_count(struct localcache *lc);

#endif
