/* vg-user: accounts and sessions (internal; reached only through the gateway). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "user.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_redis.h"

/* How long a request waits for a pooled connection before answering 503: long enough to ride
 * out a burst, short enough that clients are not left hanging when the pool is exhausted. */
#define POOL_ACQUIRE_TIMEOUT_MS 1000
#define REDIS_TIMEOUT_MS        1000

/* PostgreSQL holds the accounts and Redis the sessions: without either, nothing works. */
static enum vg_health health(void *arg)
{
    struct user_ctx *ctx = arg;

    return vg_pg_ping(ctx->pg) && vg_redis_ping(ctx->redis) ? VG_HEALTH_OK : VG_HEALTH_DOWN;
}

static const struct vg_route routes[] = {
    {"POST", "/users", handle_register, VG_ROUTE_JSON, NULL},
    {"GET", "/users/me", handle_me, VG_ROUTE_AUTH, NULL},
    {"POST", "/sessions", handle_login, VG_ROUTE_JSON, NULL},
    {"DELETE", "/sessions", handle_logout, VG_ROUTE_AUTH, NULL},
};

int main(void)
{
    struct user_ctx ctx = {0};
    struct vg_server_conf conf = {0};
    struct vg_server *srv = NULL;
    int pool_size, err;

    vg_signals_block(); /* before any thread, so only vg_signals_wait sees SIGTERM */
    vg_log_init("user");
    if (sodium_init() < 0)
        vg_die("vg-user: libsodium failed to initialise");
    vg_faults_init_from_env();

    ctx.session_ttl_s = vg_env_int("VIGIL_SESSION_TTL_S", 86400, 1, 365LL * 86400);
    pool_size = (int)vg_env_int("VIGIL_PG_POOL_SIZE", 8, 1, 1024);
    pw_init();

    ctx.pg = vg_pg_pool_from_env(POOL_ACQUIRE_TIMEOUT_MS);
    ctx.redis = vg_redis_pool_from_env(pool_size, REDIS_TIMEOUT_MS);

    vg_server_conf_env(&conf, "user", 8081);
    conf.routes = routes;
    conf.nroutes = sizeof(routes) / sizeof(routes[0]);
    conf.authenticate = vg_auth_internal_user;
    conf.health = health;
    conf.ctx = &ctx;
    err = vg_server_start(&conf, &srv);
    if (err == 0) {
        vg_signals_wait();
        vg_info("shutting down");
        vg_server_stop(srv);
    }
    vg_redis_pool_destroy(ctx.redis);
    vg_pg_pool_destroy(ctx.pg);
    return err == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
