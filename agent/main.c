/* vigil-agent: configuration, metrics registry, HTTP endpoint, /proc discovery and the event
 * loop. Configuration errors, and a host BPF cannot run on (unusable BTF, tracefs or bpffs
 * missing and not mountable), exit 2 with one line before anything starts; runtime failures
 * exit 1. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "pipeline.h"

static void on_service_up(void *ctx, const char *service)
{
    struct ag_agent *ag = ctx;
    ag_registry_service_returned(ag->reg, service);
}

static void on_service_down(void *ctx, const char *service)
{
    struct ag_agent *ag = ctx;
    ag_registry_service_exited(ag->reg, service, ag_monotonic_seconds());
    ag_log(AG_LOG_DEBUG, "service %s has no process left; its series go stale in %gs", service,
           ag->conf->stale_after);
}

static void before_render(void *ctx)
{
    struct ag_agent *ag = ctx;
    ag_selfstats_update(ag->self);
}

static int on_tick(struct ag_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct ag_agent *ag = ctx;
    size_t removed = ag_registry_sweep(ag->reg, ag_monotonic_seconds());
    if (removed)
        ag_log(AG_LOG_DEBUG, "removed %zu stale series", removed);
    ag_selfstats_update(ag->self);
    ag_pipeline_tick(ag);
    return 0;
}

static int on_signal(struct ag_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ag_log(AG_LOG_INFO, "%s: shutting down", strsignal((int)si.ssi_signo));
    ag_loop_stop(loop);
    return 0;
}

/* SIGTERM and SIGINT arrive through a signalfd; blocked first, so the server thread (which
 * inherits the mask) never takes them. */
static int setup_signals(struct ag_agent *ag)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -EINVAL;
    signal(SIGPIPE, SIG_IGN);
    ag->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return ag->sigfd < 0 ? -errno : 0;
}

static int setup_metrics(struct ag_agent *ag)
{
    struct ag_registry_opts ro = {
        .series_limit = ag->conf->series_limit,
        .stale_after = ag->conf->stale_after,
        .buckets = ag->conf->buckets,
        .nbuckets = ag->conf->nbuckets,
    };
    int err = ag_registry_create(&ro, &ag->reg);
    if (!err)
        err = ag_families_register(ag->reg, &ag->fam);
    if (!err)
        err = ag_selfstats_create(ag->reg, &ag->self);
    return err;
}

static int discover(struct ag_agent *ag)
{
    struct ag_discovery_opts dopts = {
        .watch = &ag->conf->watch,
        .service_up = on_service_up,
        .service_down = on_service_down,
        .ctx = ag,
    };
    int err = ag_discovery_create(&dopts, &ag->disc);
    if (err)
        return err;
    int n = ag_discovery_scan(ag->disc);
    if (n < 0) {
        ag_log(AG_LOG_ERROR, "cannot scan /proc: %s", strerror(-n));
        return n;
    }
    err = ag_discovery_seed_sockets(ag->disc, &ag->seeds, &ag->nseeds);
    if (err) {
        ag_log(AG_LOG_ERROR, "cannot list existing sockets: %s", strerror(-err));
        return err;
    }
    ag_log(AG_LOG_INFO, "watching %d processes; %zu existing TCP sockets seeded", n, ag->nseeds);
    return 0;
}

static int run(struct ag_agent *ag)
{
    int err = setup_signals(ag);
    if (!err)
        err = setup_metrics(ag);
    if (!err)
        err = ag_loop_create(&ag->loop);
    if (!err)
        err = ag_loop_add_fd(ag->loop, ag->sigfd, on_signal, ag);
    if (!err)
        err = ag_loop_add_timer(ag->loop, 1000, on_tick, ag);
    if (err) {
        ag_log(AG_LOG_ERROR, "cannot start: %s", strerror(-err));
        return err;
    }
    struct ag_server_opts so = {
        .addr = (const struct sockaddr *)&ag->conf->listen_addr,
        .addr_len = ag->conf->listen_addr_len,
        .reg = ag->reg,
        .before_render = before_render,
        .ctx = ag,
    };
    if ((err = ag_server_start(&so, &ag->srv)) != 0)
        return err; /* the server printed which address */
    if ((err = discover(ag)) != 0)
        return err;
    if ((err = ag_pipeline_start(ag)) != 0) {
        ag_log(AG_LOG_ERROR, "cannot attach the BPF programs: %s", strerror(-err));
        return err;
    }
    free(ag->seeds);
    ag->seeds = NULL;
    ag_server_set_ready(ag->srv, true);
    ag_log(AG_LOG_INFO, "serving metrics on %s (port %u)", ag->conf->listen,
           ag_server_port(ag->srv));
    err = ag_loop_run(ag->loop);
    if (err)
        ag_log(AG_LOG_ERROR, "event loop: %s", strerror(-err));
    return err;
}

/* One cleanup path, in reverse order of creation. */
static void cleanup(struct ag_agent *ag)
{
    ag_pipeline_stop(ag); /* first, so that no event arrives into freed state */
    ag_server_stop(ag->srv);
    ag_loop_destroy(ag->loop);
    if (ag->sigfd >= 0)
        close(ag->sigfd);
    free(ag->seeds);
    ag_discovery_destroy(ag->disc);
    ag_selfstats_destroy(ag->self);
    ag_registry_destroy(ag->reg);
    ag_config_free(ag->conf);
}

int main(int argc, char **argv)
{
    struct ag_agent ag = {.sigfd = -1};
    switch (ag_config_from_args(argc, argv, stdout, stderr, &ag.conf)) {
    case AG_CONFIG_DONE:
        return 0;
    case AG_CONFIG_ERROR:
        return 2;
    case AG_CONFIG_RUN:
        break;
    }
    ag_log_set_level(ag.conf->log_level);
    /* Checked before the endpoint, discovery or any BPF object: the loader's one line is the
     * whole message, and nothing is loaded. */
    if (ag_bpf_check_host(ag.conf->btf) != 0) {
        ag_config_free(ag.conf);
        return 2;
    }
    int err = run(&ag);
    cleanup(&ag);
    return err ? 1 : 0;
}
