/*
 * ag_discovery: which processes are watched and which service each belongs to.
 *
 * Service name (DESIGN.md): OTEL_SERVICE_NAME from /proc/PID/environ, else the basename of the
 * /proc/PID/exe link, else (no permission to read the link) /proc/PID/comm. Each service gets a
 * small stable index, svc_idx ≥ 1, that the BPF side stores as a map value; 0 means "not
 * watched". Names are never forgotten, so an index never changes meaning while the agent runs.
 *
 * Selection: every process but the agent itself and kernel threads, or (mode list) those whose
 * executable name, cgroup path prefix or pid is listed. A forked child inherits its parent's
 * service; an exec re-resolves it.
 *
 * Service liveness for staleness: a service is up while it has at least one live process. The
 * service_up hook fires when it gains its first (a service that comes back), service_down when
 * it loses its last; main wires these to ag_registry_service_returned/_exited.
 */
#ifndef AG_DISCOVERY_H
#define AG_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "procnet.h"

#define AG_SERVICE_NAME_MAX 128

struct ag_discovery;

struct ag_discovery_opts {
    const struct ag_watch *watch; /* NULL: watch all; borrowed for the discovery's lifetime */
    const char *proc_root;        /* NULL: "/proc"; tests point it at a fake tree */
    pid_t self;                   /* never watched; 0: getpid() */
    void (*service_up)(void *ctx, const char *service);
    void (*service_down)(void *ctx, const char *service);
    void *ctx;
};

int ag_discovery_create(const struct ag_discovery_opts *opts, struct ag_discovery **out);
void ag_discovery_destroy(struct ag_discovery *d);

/* Walks /proc once and records every watched process; returns how many, or a negative errno. */
int ag_discovery_scan(struct ag_discovery *d);

/* 1 and *svc_idx set when tgid is watched, 0 when not. */
int ag_discovery_lookup(struct ag_discovery *d, pid_t tgid, uint32_t *svc_idx);
/* The name of a service index, or NULL. Valid until ag_discovery_destroy(). */
const char *ag_discovery_service_name(struct ag_discovery *d, uint32_t svc_idx);
size_t ag_discovery_process_count(struct ag_discovery *d);
/* Live watched processes of one service (0 once its last process exited). */
size_t ag_discovery_service_procs(struct ag_discovery *d, uint32_t svc_idx);
/* Calls fn for every watched process (to fill the BPF side's watched-pid map). */
void ag_discovery_foreach(struct ag_discovery *d,
                          void (*fn)(pid_t tgid, uint32_t svc_idx, void *ctx), void *ctx);

/* Event-loop notifications from sched:sched_process_exec/fork/exit.
 * on_exec: 1 (watched, *svc_idx set), 0 (not watched, removed if it was), negative errno.
 * on_fork: the child inherits the parent's service; 1 if watched, 0 if not.
 * on_exit: the service that lost its last process (valid until destroy), or NULL. */
int ag_discovery_on_exec(struct ag_discovery *d, pid_t tgid, uint32_t *svc_idx);
int ag_discovery_on_fork(struct ag_discovery *d, pid_t parent, pid_t child);
const char *ag_discovery_on_exit(struct ag_discovery *d, pid_t tgid);

/* Sockets that existed before the agent started, for the connection tracker. */
enum ag_sock_side {
    AG_SIDE_CLIENT,   /* connected out */
    AG_SIDE_SERVER,   /* accepted: its local port is one some process LISTENs on */
    AG_SIDE_LISTENER, /* the listening socket itself */
};

struct ag_seed_sock {
    pid_t tgid;
    int fd;
    uint32_t svc_idx;
    uint64_t inode;
    uint8_t state; /* AG_TCP_ESTABLISHED or AG_TCP_LISTEN */
    enum ag_sock_side side;
    struct ag_tuple tuple;
};

/* Lists the TCP sockets of every watched process, joining /proc/PID/fd with the net/tcp and
 * net/tcp6 tables of each process's network namespace. *out is malloc'd: free() it. */
int ag_discovery_seed_sockets(struct ag_discovery *d, struct ag_seed_sock **out, size_t *n);

/* Server or client, for an established row given the LISTEN rows of its namespace. */
enum ag_sock_side ag_infer_side(const struct ag_procnet_entry *e,
                                const struct ag_procnet_entry *listeners, size_t nlisteners);

/* Pure helpers, exposed for tests. */
/* Finds KEY=value in a NUL-separated environ block; 1 and *value, *vlen set, else 0. */
int ag_environ_get(const char *env, size_t len, const char *key, const char **value, size_t *vlen);
/* Whether any line of /proc/PID/cgroup ("0::/path" or "N:ctrl:/path") has path under prefix. */
bool ag_cgroup_matches(const char *cgroup, size_t len, const char *prefix);
/* The basename of an exe link target, without the " (deleted)" of a replaced binary. */
void ag_exe_basename(const char *target, char *out, size_t outsz);

#endif
