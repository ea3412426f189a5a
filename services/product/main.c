/* vg-product: the catalogue (internal; reached through the gateway).
 *
 *   GET /categories         {items: [{id, slug, name}]}
 *   GET /products           listing and full-text search (listing.c)
 *   GET /products/{id}      one product, read through the local and Redis caches
 *                           (catalog.c, cache.c, localcache.c, tracking.c)
 *
 * PostgreSQL holds the catalogue and Redis the detail cache; both are hard
 * dependencies of /healthz. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "product.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_redis.h"

/* How long a request waits for a pooled connection before answering 503. */
#define POOL_ACQUIRE_TIMEOUT_MS 1000
#define REDIS_TIMEOUT_MS        1000
/* Cache hits hold a Redis connection for one round trip only, but every
 * libmicrohttpd connection thread may want one at once. */
#define REDIS_POOL_DEFAULT 32

static enum vg_health health(void *arg)
{
    struct product_svc *svc = arg;

    return vg_pg_ping(svc->pg) && vg_redis_ping(svc->redis) ? VG_HEALTH_OK : VG_HEALTH_DOWN;
}

static const struct vg_route routes[] = {
    {"GET", "/categories", catalog_categories, 0, NULL},
    {"GET", "/products", listing_products, 0, NULL},
    {"GET", "/products/{id}", catalog_product, 0, NULL},
};

int main(void)
{
    struct product_svc svc = {0};
    struct vg_server_conf conf = {0};
    struct vg_server *srv = NULL;
    const char *redis_host;
    int redis_port, err;

    vg_signals_block(); /* before any thread, so only vg_signals_wait sees SIGTERM */
    vg_log_init("product");
    vg_faults_init_from_env();

    svc.pg = vg_pg_pool_from_env(POOL_ACQUIRE_TIMEOUT_MS);
    svc.redis = vg_redis_pool_from_env(REDIS_POOL_DEFAULT, REDIS_TIMEOUT_MS);
    /* The invalidation subscriber is a connection of its own, to the same server. */
    redis_host = vg_env_str("VIGIL_REDIS_HOST", "127.0.0.1");
    redis_port = (int)vg_env_int("VIGIL_REDIS_PORT", 56379, 1, 65535);
    err = cache_create(svc.redis, redis_host, redis_port, REDIS_TIMEOUT_MS, &svc.cache);
    if (err)
        vg_die("vg-product: cannot start the product cache: %s", strerror(-err));

    vg_server_conf_env(&conf, "product", 8082);
    conf.routes = routes;
    conf.nroutes = sizeof(routes) / sizeof(routes[0]);
    conf.health = health;
    conf.ctx = &svc;
    err = vg_server_start(&conf, &srv);
    if (err == 0) {
        vg_signals_wait();
        vg_info("shutting down");
        vg_server_stop(srv);
    }
    cache_destroy(svc.cache); /* no handler runs any more: no entry is referenced */
    vg_redis_pool_destroy(svc.redis);
    vg_pg_pool_destroy(svc.pg);
    return err == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
