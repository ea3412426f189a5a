/*
 * struct ag_agent: what the running agent holds, for the modules wired in next.
 *
 * Hooks, in the order main.c calls them (each marked "HOOK" there):
 *   - BPF loader (agent/bpf.h): after the /proc scan, attach with conf's capture settings, fill
 *     the watched-pid map from ag_discovery_foreach(), then add each ring buffer's epoll fd with
 *     ag_loop_add_fd(); process exec/fork/exit events call ag_discovery_on_exec/_fork/_exit.
 *   - Connection tracker: takes seeds (ag_discovery_seed_sockets) before the first event, and
 *     reports into fam (struct ag_families).
 * /readyz turns 200 only after both.
 */
#ifndef AG_AGENT_H
#define AG_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"
#include "config.h"
#include "conntrack.h"
#include "discovery.h"
#include "families.h"
#include "loop.h"
#include "registry.h"
#include "selfstats.h"
#include "server.h"

struct ag_agent {
    struct ag_config *conf;
    struct ag_registry *reg;
    struct ag_families fam;
    struct ag_selfstats *self;
    struct ag_discovery *disc;
    struct ag_loop *loop;
    struct ag_server *srv;
    int sigfd;
    struct ag_seed_sock *seeds; /* until the connection tracker takes them */
    size_t nseeds;
    struct ag_bpf *bpf;               /* agent/bpf.h: the kernel side */
    struct ag_conntrack *ct;          /* agent/conntrack.h: connections → requests */
    struct ag_route_patterns *routes; /* conf's route patterns, compiled; borrowed by ct */
    uint64_t ring_fill_max;           /* ring buffer bytes waiting, most seen since the tick */
    bool quiet_warned;                /* ag_bpf_quiet failed once (logged once) */
};

#endif
