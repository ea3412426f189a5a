/* vg-notify: consumes order.placed and sends the confirmation email. Its HTTP
 * server carries only the built-in /healthz and /admin/faults. */
#include "consumer.h"
#include "vg_client.h"
#include "vg_config.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_pg.h"

#include <amqp.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_AMQP_URL      "amqp://guest:guest@127.0.0.1:55672/"
#define PG_ACQUIRE_TIMEOUT_MS 1000
#define BROKER_PROBE_MS       250

struct notify_service {
    struct vg_pg_pool *pool;
    char broker_host[256];
    char broker_port[8];
};

/* vg_amqp does not expose the consumer's connection state, so health asks the
 * question it can answer cheaply: does the broker accept TCP connections? */
static bool broker_reachable(const struct notify_service *svc)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    struct pollfd pfd = {.fd = -1, .events = POLLOUT};
    int err = 0;
    socklen_t errlen = sizeof(err);
    bool up = false;

    if (getaddrinfo(svc->broker_host, svc->broker_port, &hints, &ai) || !ai)
        return false;
    pfd.fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pfd.fd < 0)
        goto out;
    if (connect(pfd.fd, ai->ai_addr, ai->ai_addrlen) == 0)
        up = true;
    else if (errno == EINPROGRESS && poll(&pfd, 1, BROKER_PROBE_MS) == 1 &&
             getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 && err == 0)
        up = true;
out:
    if (pfd.fd >= 0)
        close(pfd.fd);
    freeaddrinfo(ai);
    return up;
}

static enum vg_health health(void *ctx)
{
    struct notify_service *svc = ctx;

    if (!vg_pg_ping(svc->pool))
        return VG_HEALTH_DOWN;
    return broker_reachable(svc) ? VG_HEALTH_OK : VG_HEALTH_DEGRADED;
}

/* Host and port of the broker for the health probe; a URL librabbitmq cannot
 * parse is a configuration error, fatal at start like every other. */
static void broker_address(const char *url, struct notify_service *svc)
{
    struct amqp_connection_info info;
    char *copy = strdup(url); /* amqp_parse_url writes into its argument */

    if (!copy)
        vg_die("out of memory");
    if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK)
        vg_die("VIGIL_AMQP_URL: not an amqp:// URL");
    snprintf(svc->broker_host, sizeof(svc->broker_host), "%s", info.host);
    snprintf(svc->broker_port, sizeof(svc->broker_port), "%d", info.port);
    free(copy);
}

int main(void)
{
    static volatile sig_atomic_t stop;
    struct notify_service svc = {0};
    struct notify_consumer consumer = {0};
    struct vg_server_conf conf = {0};
    struct vg_server *srv = NULL;
    pthread_t thread;
    int sig, err;

    vg_signals_block(); /* first: the consumer and server threads inherit the mask */
    vg_log_init("notification");
    vg_faults_init_from_env();
    vg_client_global_init(); /* curl_global_init before any thread uses libcurl */

    consumer.amqp_url = vg_env_str("VIGIL_AMQP_URL", DEFAULT_AMQP_URL);
    broker_address(consumer.amqp_url, &svc);
    consumer.mail.smtp_url = vg_env_str("VIGIL_SMTP_URL", "smtp://127.0.0.1:55025");
    consumer.mail.from = vg_env_str("VIGIL_MAIL_FROM", "shop@vigil.local");
    consumer.mail.timeout_ms = 10000;
    if (!notify_addr_valid(consumer.mail.from))
        vg_die("VIGIL_MAIL_FROM: not an email address");
    consumer.prefetch = 10;
    consumer.stop = &stop;
    svc.pool = vg_pg_pool_from_env(PG_ACQUIRE_TIMEOUT_MS);
    consumer.pool = svc.pool;

    vg_server_conf_env(&conf, "notification", 8085);
    conf.routes = NULL; /* only the built-in /healthz and /admin/faults */
    conf.nroutes = 0;
    conf.health = health;
    conf.ctx = &svc;
    if (vg_server_start(&conf, &srv))
        goto fail_pool;
    err = pthread_create(&thread, NULL, notify_consumer_run, &consumer);
    if (err) {
        vg_error("cannot start the consumer thread: %s", strerror(err));
        goto fail_server;
    }

    sig = vg_signals_wait();
    vg_info("signal %d: stopping", sig);
    stop = 1;
    /* The consumer finishes (or requeues) the message in hand, then returns. */
    pthread_join(thread, NULL);
    vg_server_stop(srv);
    vg_pg_pool_destroy(svc.pool);
    vg_client_global_cleanup();
    return 0;

fail_server:
    vg_server_stop(srv);
fail_pool:
    vg_pg_pool_destroy(svc.pool);
    vg_client_global_cleanup();
    return 1;
}
