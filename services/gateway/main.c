/* vg-gateway: the shop's only public entry (API.md). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "ratelimit.h"
#include "vg_client.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_log.h"
#include "vg_redis.h"

/* Session lookups are one GET each, so a small pool serves many connections; a request that
 * cannot get a connection within the timeout answers 503 rather than piling up. */
#define REDIS_POOL_SIZE  16
#define REDIS_TIMEOUT_MS 1000

/* Sessions live in Redis: without it no signed-in request can be served. */
static enum vg_health health(void *arg)
{
    struct gw_ctx *ctx = arg;

    return vg_redis_ping(ctx->redis) ? VG_HEALTH_OK : VG_HEALTH_DOWN;
}

/* Trailing slashes would double up with the /-prefixed paths appended to them. */
static const char *upstream_base(const char *var, const char *def)
{
    const char *v = vg_env_str(var, def);
    size_t n = strlen(v);

    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        vg_die("vg-gateway: %s=%s: not an http:// URL", var, v);
    if (n > 0 && v[n - 1] == '/')
        vg_die("vg-gateway: %s=%s: drop the trailing slash", var, v);
    return v;
}

static void setup_rate_limit(struct gw_ctx *ctx)
{
    double rps = vg_env_double("VIGIL_RATE_LIMIT_RPS", 200, 0, 1e9);
    double burst = vg_env_double("VIGIL_RATE_LIMIT_BURST", 400, 0, 1e9);

    if (rps == 0 || burst == 0) {
        vg_info("rate limiting is off");
        return;
    }
    if (burst < 1)
        vg_die("vg-gateway: VIGIL_RATE_LIMIT_BURST=%g: must be at least 1 (or 0 for off)", burst);
    if (gw_ratelimit_create(rps, burst, &ctx->ratelimit) != 0)
        vg_die("vg-gateway: out of memory for the rate-limit table");
}

int main(void)
{
    struct gw_ctx ctx = {0};
    struct vg_server_conf conf = {0};
    struct vg_server *srv = NULL;
    int err;

    vg_signals_block(); /* before any thread, so only vg_signals_wait sees SIGTERM */
    vg_log_init("gateway");
    if (sodium_init() < 0)
        vg_die("vg-gateway: libsodium failed to initialise");
    vg_client_global_init();
    vg_faults_init_from_env();

    gw_user_upstream.base_url = upstream_base("VIGIL_USER_URL", "http://127.0.0.1:8081");
    gw_product_upstream.base_url = upstream_base("VIGIL_PRODUCT_URL", "http://127.0.0.1:8082");
    gw_order_upstream.base_url = upstream_base("VIGIL_ORDER_URL", "http://127.0.0.1:8083");
    ctx.upstream_timeout_ms = (long)vg_env_int("VIGIL_UPSTREAM_TIMEOUT_MS", 2000, 1, 600000);
    ctx.trust_forwarded_for = vg_env_int("VIGIL_TRUST_FORWARDED_FOR", 0, 0, 1) == 1;
    setup_rate_limit(&ctx);
    ctx.static_root = gw_static_root(vg_env_str("VIGIL_STATIC_DIR", "services/storefront/dist"));

    ctx.redis = vg_redis_pool_from_env(REDIS_POOL_SIZE, REDIS_TIMEOUT_MS);

    vg_server_conf_env(&conf, "gateway", 8080);
    conf.routes = gw_routes;
    conf.nroutes = gw_nroutes;
    conf.authenticate = gw_authenticate;
    conf.before = gw_rate_limit_hook;
    conf.fallback = gw_static_serve;
    conf.health = health;
    conf.ctx = &ctx;
    err = vg_server_start(&conf, &srv);
    if (err == 0) {
        vg_signals_wait();
        vg_info("shutting down");
        vg_server_stop(srv); /* waits for running handlers: nothing below is in use after it */
    }
    vg_redis_pool_destroy(ctx.redis);
    gw_ratelimit_destroy(ctx.ratelimit);
    free(ctx.static_root);
    vg_client_global_cleanup();
    return err == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
