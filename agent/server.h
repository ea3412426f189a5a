/*
 * ag_server: the agent's HTTP endpoint (libmicrohttpd, one internal polling thread).
 *   GET /metrics  Prometheus text 0.0.4, or OpenMetrics 1.0 when Accept asks for it
 *   GET /healthz  200 once the server runs
 *   GET /readyz   200 once ag_server_set_ready(true): BPF attached and the /proc scan done
 *   anything else 404; methods other than GET and HEAD 405
 */
#ifndef AG_SERVER_H
#define AG_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "registry.h"

struct ag_server;

struct ag_server_opts {
    const struct sockaddr *addr;
    socklen_t addr_len;
    struct ag_registry *reg;
    /* Called on the server thread before each /metrics render (self stats); may be NULL. */
    void (*before_render)(void *ctx);
    void *ctx;
};

/* Binds and starts serving; on failure writes one line to stderr naming the address. */
int ag_server_start(const struct ag_server_opts *opts, struct ag_server **out);
void ag_server_stop(struct ag_server *srv);
void ag_server_set_ready(struct ag_server *srv, bool ready);
/* The bound port (useful with port 0). */
unsigned ag_server_port(struct ag_server *srv);

#endif
