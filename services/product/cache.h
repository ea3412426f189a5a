/* The product detail cache, two levels deep.
 *
 * Redis key product:<id> holds the exact JSON body the service answers, for
 * CACHE_TTL_S seconds. Writers of a product (the order service after it
 * changes stock) DEL the key; the TTL bounds what a read racing that DEL can
 * leave behind.
 *
 * In front of it, a copy in the process (localcache.c) answers hits without a
 * round trip. It is kept coherent by Redis's invalidation messages
 * (tracking.c), serves only while that channel is known to be alive, and no
 * copy outlives its Redis key. */
#ifndef PRODUCT_CACHE_H
#define PRODUCT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#define CACHE_TTL_S 60

struct product_cache;
struct vg_redis_pool;
struct vg_resp;

/* Starts the invalidation listener on host:port (the pool's Redis). Returns 0
 * or a negative errno. The caller keeps owning redis. */
int cache_create(struct vg_redis_pool *redis, const char *host, int port, int timeout_ms,
                 struct product_cache **out);
/* Stops the listener and frees the local copies; call after the server stopped. */
void cache_destroy(struct product_cache *cache);

/* On a hit answers 200 with the cached bytes, unparsed, and returns true.
 * A miss or an unreachable Redis returns false: the caller reads the database. */
bool cache_serve_product(struct product_cache *cache, long long id, struct vg_resp *resp);
/* Stores body under product:<id>; failures are logged, never answered. */
void cache_store_product(struct product_cache *cache, long long id, const char *body, size_t len);

#endif
