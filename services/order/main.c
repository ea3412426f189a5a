/* vg-order: cart, checkout and order history (internal; reached only through the gateway),
 * plus two background threads: the outbox relay and the pending-order reconciler. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "order.h"
#include "vg_amqp.h"
#include "vg_client.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_redis.h"

#define DEFAULT_AMQP_URL "amqp://guest:guest@127.0.0.1:55672/"
/* How long a request waits for a pooled connection before answering 503: enough to ride out a
 * burst (200 checkouts each hold a connection for one short transaction), bounded so that an
 * exhausted pool answers instead of queueing without limit. */
#define POOL_ACQUIRE_TIMEOUT_MS 2000
#define REDIS_TIMEOUT_MS        1000
/* Redis carries several short commands per request (cart, idempotency, cache drops). */
#define REDIS_POOL_SIZE     16
#define RELAY_PERIOD_MS     1000
#define RECONCILE_PERIOD_MS 2000

/* A background thread calling tick every period until stopped; the wait is a condition
 * variable so that shutdown does not sit out a period. */
struct worker {
    const char *name;
    void (*tick)(struct order_ctx *ctx);
    long period_ms;
    struct order_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, started;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec deadline;

        pthread_mutex_unlock(&w->lock);
        w->tick(w->ctx);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += w->period_ms / 1000;
        deadline.tv_nsec += (w->period_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->lock);
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void worker_start(struct worker *w)
{
    pthread_condattr_t attr;

    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, worker_main, w))
        vg_die("vg-order: cannot start the %s thread", w->name);
    w->started = true;
}

static void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    w->started = false;
}

/* PostgreSQL (orders, stock) and Redis (carts, idempotency) are hard dependencies; RabbitMQ is
 * soft: without it orders are still taken and their outbox rows wait for the relay. */
static enum vg_health health(void *arg)
{
    struct order_ctx *ctx = arg;

    if (!vg_pg_ping(ctx->pg) || !vg_redis_ping(ctx->redis))
        return VG_HEALTH_DOWN;
    return outbox_broker_up(ctx) ? VG_HEALTH_OK : VG_HEALTH_DEGRADED;
}

static const struct vg_route routes[] = {
    {"GET", "/cart", handle_cart_get, VG_ROUTE_AUTH, NULL},
    {"PUT", "/cart/items/{id}", handle_cart_put, VG_ROUTE_AUTH | VG_ROUTE_JSON, NULL},
    {"DELETE", "/cart/items/{id}", handle_cart_delete, VG_ROUTE_AUTH, NULL},
    {"POST", "/orders", handle_order_create, VG_ROUTE_AUTH | VG_ROUTE_JSON, NULL},
    {"GET", "/orders", handle_orders_list, VG_ROUTE_AUTH, NULL},
    {"GET", "/orders/{id}", handle_order_get, VG_ROUTE_AUTH, NULL},
};

static const struct vg_amqp_binding binding = {VG_AMQP_EXCHANGE, VG_AMQP_NOTIFY_QUEUE,
                                               VG_AMQP_ORDER_PLACED};

static char *payment_url(void)
{
    char *url = strdup(vg_env_str("VIGIL_PAYMENT_URL", "http://127.0.0.1:8084"));
    size_t len;

    if (!url)
        vg_die("vg-order: out of memory");
    len = strlen(url);
    while (len > 0 && url[len - 1] == '/') /* paths are appended as "/charges" */
        url[--len] = '\0';
    if (len == 0)
        vg_die("vg-order: VIGIL_PAYMENT_URL is empty (e.g. http://127.0.0.1:8084)");
    return url;
}

int main(void)
{
    struct order_ctx ctx = {0};
    struct vg_server_conf conf = {0};
    struct vg_server *srv = NULL;
    struct worker relay = {.name = "outbox relay",
                           .tick = outbox_relay_tick,
                           .period_ms = RELAY_PERIOD_MS,
                           .ctx = &ctx};
    struct worker reconciler = {.name = "reconciler",
                                .tick = reconcile_tick,
                                .period_ms = RECONCILE_PERIOD_MS,
                                .ctx = &ctx};
    char *pay_url;
    int err;

    vg_signals_block(); /* before any thread, so only vg_signals_wait sees SIGTERM */
    vg_log_init("order");
    if (sodium_init() < 0)
        vg_die("vg-order: libsodium failed to initialise");
    vg_faults_init_from_env();
    vg_client_global_init();

    pay_url = payment_url();
    ctx.payment_url = pay_url;
    ctx.upstream_timeout_ms = (long)vg_env_int("VIGIL_UPSTREAM_TIMEOUT_MS", 2000, 1, 600000);
    ctx.reconcile_after_s = vg_env_int("VIGIL_RECONCILE_AFTER_S", 10, 1, 86400);

    ctx.pg = vg_pg_pool_from_env(POOL_ACQUIRE_TIMEOUT_MS);
    ctx.redis = vg_redis_pool_from_env(REDIS_POOL_SIZE, REDIS_TIMEOUT_MS);
    err = vg_amqp_pub_create(vg_env_str("VIGIL_AMQP_URL", DEFAULT_AMQP_URL), &binding, &ctx.amqp);
    if (err)
        vg_die("vg-order: cannot create the RabbitMQ publisher (check VIGIL_AMQP_URL)");

    vg_server_conf_env(&conf, "order", 8083);
    conf.routes = routes;
    conf.nroutes = sizeof(routes) / sizeof(routes[0]);
    conf.authenticate = vg_auth_internal_user;
    conf.health = health;
    conf.ctx = &ctx;
    err = vg_server_start(&conf, &srv);
    if (err == 0) {
        worker_start(&relay);
        worker_start(&reconciler);
        vg_signals_wait();
        vg_info("shutting down");
        /* Handlers first (they settle orders), then the threads that share the pools. */
        vg_server_stop(srv);
        worker_stop(&reconciler);
        worker_stop(&relay);
    }
    vg_amqp_pub_destroy(ctx.amqp);
    vg_redis_pool_destroy(ctx.redis);
    vg_pg_pool_destroy(ctx.pg);
    vg_client_global_cleanup();
    free(pay_url);
    return err == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
