/* vg-payment: the card-charging stand-in, called only by the order service
 * (docs/architecture.md, "Checkout"). PostgreSQL is its one hard dependency. */
#include "charge.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_pg.h"

#include <stddef.h>

/* Below the order service's 2 s upstream timeout, so an exhausted pool is a
 * clean 503 to the caller rather than its timeout. */
#define PG_ACQUIRE_TIMEOUT_MS 1000

static const struct vg_route routes[] = {
    {"POST", "/charges", pay_post_charge, VG_ROUTE_JSON, NULL},
    {"GET", "/charges/{id}", pay_get_charge, 0, NULL},
};

static enum vg_health health(void *ctx)
{
    struct pay_ctx *pay = ctx;

    return vg_pg_ping(pay->pool) ? VG_HEALTH_OK : VG_HEALTH_DOWN;
}

int main(void)
{
    struct pay_ctx pay = {0};
    struct vg_server *srv = NULL;
    struct vg_server_conf conf = {0};
    int sig;

    vg_signals_block(); /* before any thread exists, so only vg_signals_wait sees SIGTERM */
    vg_log_init("payment");
    vg_faults_init_from_env();

    pay.pool = vg_pg_pool_from_env(PG_ACQUIRE_TIMEOUT_MS);

    vg_server_conf_env(&conf, "payment", 8084);
    conf.routes = routes;
    conf.nroutes = sizeof(routes) / sizeof(routes[0]);
    conf.health = health;
    conf.ctx = &pay;
    if (vg_server_start(&conf, &srv)) {
        vg_pg_pool_destroy(pay.pool);
        return 1;
    }

    sig = vg_signals_wait();
    vg_info("signal %d: stopping", sig);
    vg_server_stop(srv); /* waits for running handlers, which hold pool connections */
    vg_pg_pool_destroy(pay.pool);
    return 0;
}
