/* The product detail cache: Redis key product:<id> holds the exact JSON body
 * the service answers, for CACHE_TTL_S seconds. Writers of a product (the
 * order service after it changes stock) DEL the key; the TTL bounds what a
 * read racing that DEL can leave behind. */
#ifndef PRODUCT_CACHE_H
#define PRODUCT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#define CACHE_TTL_S 60

struct vg_redis_pool;
struct vg_resp;

/* On a hit answers 200 with the cached bytes, unparsed, and returns true.
 * A miss or an unreachable Redis returns false: the caller reads the database. */
bool cache_serve_product(struct vg_redis_pool *redis, long long id, struct vg_resp *resp);
/* Stores body under product:<id>; failures are logged, never answered. */
void cache_store_product(struct vg_redis_pool *redis, long long id, const char *body, size_t len);

#endif
