/* The agent's data path: BPF ring-buffer events → discovery and the connection tracker →
 * request records → RED metrics; the kernel's per-service syscall maps → syscall metrics.
 * Everything here runs on the event-loop thread. */
#include "pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "syscall_names.h"

/* The service name of a watched process; "unknown" for one discovery has not named. */
static const char *service_of(struct ag_agent *ag, uint32_t tgid)
{
    uint32_t svc = 0;
    const char *name = NULL;

    if (ag_discovery_lookup(ag->disc, (pid_t)tgid, &svc) == 1)
        name = ag_discovery_service_name(ag->disc, svc);
    return name ? name : "unknown";
}

/* vg_tuple (kernel) and ag_tuple (/proc seeds) name the local end s/l and the peer d/r. */
static void ep_from_tuple(const struct vg_tuple *t, struct ag_ct_ep *ep)
{
    ep->family = t->family;
    ep->local_port = t->sport;
    ep->peer_port = t->dport;
    memcpy(ep->local_addr, t->saddr, sizeof(ep->local_addr));
    memcpy(ep->peer_addr, t->daddr, sizeof(ep->peer_addr));
}

static void on_xfer(void *ctx, const struct vg_xfer_event *e)
{
    struct ag_agent *ag = ctx;
    struct ag_ct_id id = {.tgid = e->tgid, .fd = e->fd, .sock_id = e->ino};
    struct ag_ct_ep ep;
    struct ag_xfer x = {
        .dir = e->direction == VG_DIR_INGRESS ? AG_DIR_INGRESS : AG_DIR_EGRESS,
        .total = e->bytes > 0 ? (uint64_t)e->bytes : 0,
        .head = e->data,
        .head_len = e->head_len,
        .tail = e->data + e->head_len,
        .tail_len = e->tail_len,
        .ts_enter_ns = e->ts_enter_ns,
        .ts_exit_ns = e->ts_exit_ns,
    };

    /* Bytes scattered over more iovecs than the kernel side copies are not contiguous on
     * the wire: the parsers get the count only and skip or resynchronise. */
    if (e->truncated)
        x.head_len = x.tail_len = 0;
    ep_from_tuple(&e->tuple, &ep);
    ag_ct_xfer(ag->ct, &id, &ep, e->tid, &x);
}

static void on_conn(void *ctx, const struct vg_conn_event *e)
{
    struct ag_agent *ag = ctx;
    struct ag_ct_id id = {.tgid = e->tgid, .fd = e->fd, .sock_id = e->ino};
    struct ag_ct_ep ep;

    ep_from_tuple(&e->tuple, &ep);
    switch (e->type) {
    case VG_CONN_ACCEPT:
        ag_ct_accept(ag->ct, &id, &ep, e->ts_ns);
        break;
    case VG_CONN_CONNECT:
        ag_ct_connect(ag->ct, &id, &ep, e->ts_ns);
        break;
    case VG_CONN_CLOSE:
        ag_ct_close(ag->ct, &id, e->ts_ns);
        break;
    case VG_CONN_CLOSE_RANGE:
        ag_ct_close_range(ag->ct, e->tgid, (uint32_t)e->fd, e->fd_last, e->ts_ns);
        break;
    }
}

static void on_proc(void *ctx, const struct vg_proc_event *e)
{
    struct ag_agent *ag = ctx;
    uint32_t svc = 0;

    switch (e->type) {
    case VG_PROC_EXEC:
        /* The kernel side marked the process pending (watch-all) or inherited a service
         * (follow); discovery decides now, from its environment and executable. */
        if (ag_discovery_on_exec(ag->disc, (pid_t)e->tgid, &svc) == 1)
            ag_bpf_watch(ag->bpf, e->tgid, svc);
        else
            ag_bpf_unwatch(ag->bpf, e->tgid);
        break;
    case VG_PROC_FORK:
        if (ag_discovery_on_fork(ag->disc, (pid_t)e->ppid, (pid_t)e->tgid) != 1)
            ag_bpf_unwatch(ag->bpf, e->tgid);
        break;
    case VG_PROC_EXIT:
        /* Connections end with their process even when no close() was seen. */
        ag_ct_forget_tgid(ag->ct, e->tgid);
        ag_discovery_on_exit(ag->disc, (pid_t)e->tgid);
        break;
    }
}

static const struct ag_bpf_handlers handlers = {
    .on_xfer = on_xfer,
    .on_conn = on_conn,
    .on_proc = on_proc,
};

/* An address as a label: IPv4-mapped IPv6 shows as IPv4, as a person would write it. */
static void addr_label(const struct ag_ct_ep *ep, char *out, size_t outsz)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (ep->family == AF_INET)
        ag_format_ipv4(ep->peer_addr, out);
    else if (!memcmp(ep->peer_addr, v4mapped, sizeof(v4mapped)))
        ag_format_ipv4(ep->peer_addr + 12, out);
    else if (ep->family == AF_INET6)
        inet_ntop(AF_INET6, ep->peer_addr, out, (socklen_t)outsz);
    else
        snprintf(out, outsz, "unknown");
}

static void emit(void *ctx, const struct ag_request *r)
{
    struct ag_agent *ag = ctx;
    const char *service = service_of(ag, r->tgid);
    double seconds = (double)(r->ts_end_ns - r->ts_start_ns) / 1e9;
    /* ag_format_u64, not snprintf: snprintf was a twentieth of the agent's time under load. */
    char status[AG_U64_MAX], addr[INET6_ADDRSTRLEN], port[AG_U64_MAX];

    switch (r->proto) {
    case AG_PROTO_HTTP1:
        ag_format_u64(r->status, status);
        if (r->role == AG_CT_SERVER) {
            const char *v[] = {service, r->op, status, r->route};
            ag_hist_observe(ag->fam.http_server_duration, v, seconds);
        } else {
            addr_label(&r->ep, addr, sizeof(addr));
            ag_format_u64(r->ep.peer_port, port);
            const char *v[] = {service, r->op, status, r->route, addr, port};
            ag_hist_observe(ag->fam.http_client_duration, v, seconds);
        }
        break;
    case AG_PROTO_PGWIRE:
    case AG_PROTO_RESP:
        /* The database server's own side of the exchange is not a client operation. */
        if (r->role == AG_CT_CLIENT && r->db_system) {
            const char *v[] = {service, r->db_system, r->op[0] ? r->op : "unknown"};
            ag_hist_observe(ag->fam.db_client_duration, v, seconds);
        }
        break;
    case AG_PROTO_AMQP:
        if (r->role == AG_CT_CLIENT) {
            const char *v[] = {service, "rabbitmq", r->op, r->destination};
            ag_hist_observe(ag->fam.messaging_duration, v, seconds);
        }
        break;
    default:
        break;
    }
}

/* The kernel side stops sending this socket's transfers: a record it never writes costs neither
 * side anything (docs/agent.md has the figures). */
static void quiet(void *ctx, const struct ag_ct_id *id)
{
    struct ag_agent *ag = ctx;

    if (id->sock_id && ag_bpf_quiet(ag->bpf, id->tgid, id->sock_id) && !ag->quiet_warned) {
        ag->quiet_warned = true;
        ag_log(AG_LOG_WARN, "cannot mark a socket quiet in the kernel: its bytes keep coming");
    }
}

static void unparsed(void *ctx, uint32_t tgid, uint64_t bytes)
{
    struct ag_agent *ag = ctx;
    const char *v[] = {service_of(ag, tgid)};

    ag_counter_add(ag->fam.unparsed_bytes, v, (double)bytes);
}

static void watch_one(pid_t tgid, uint32_t svc, void *ctx)
{
    struct ag_agent *ag = ctx;

    if (ag_bpf_watch(ag->bpf, (uint32_t)tgid, svc))
        ag_log(AG_LOG_WARN, "cannot watch pid %d: the watched-process map is full", (int)tgid);
}

static void seed_connections(struct ag_agent *ag)
{
    for (size_t i = 0; i < ag->nseeds; i++) {
        const struct ag_seed_sock *s = &ag->seeds[i];
        struct ag_ct_id id = {.tgid = (uint32_t)s->tgid, .fd = s->fd, .sock_id = s->inode};
        struct ag_ct_ep ep = {
            .family = s->tuple.family, .local_port = s->tuple.lport, .peer_port = s->tuple.rport};

        if (s->side == AG_SIDE_LISTENER)
            continue;
        memcpy(ep.local_addr, s->tuple.laddr, sizeof(ep.local_addr));
        memcpy(ep.peer_addr, s->tuple.raddr, sizeof(ep.peer_addr));
        ag_ct_seed(ag->ct, &id, &ep, s->side == AG_SIDE_SERVER ? AG_CT_SERVER : AG_CT_CLIENT);
    }
}

/* The ring's unread bytes now; the tick exports the most seen since the previous tick. */
static void sample_ring_fill(struct ag_agent *ag)
{
    uint64_t used, size;

    ag_bpf_ring_fill(ag->bpf, &used, &size);
    if (used > ag->ring_fill_max)
        ag->ring_fill_max = used;
}

static int on_ring(struct ag_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct ag_agent *ag = ctx;
    int n;

    sample_ring_fill(ag); /* before consuming: the backlog this wake-up found */
    n = ag_bpf_consume(ag->bpf, &handlers, ag);

    if (n < 0 && n != -EINTR)
        ag_log(AG_LOG_WARN, "ring buffer: %s", strerror(-n));
    return 0;
}

#define DRAIN_INTERVAL_MS 10

int ag_pipeline_start(struct ag_agent *ag)
{
    struct ag_ct_config cc = {
        .emit = emit,
        .unparsed = unparsed,
        .ctx = ag,
        /* emit() reports databases and brokers from their clients' side only. */
        .quiet_servers = 1u << AG_PROTO_PGWIRE | 1u << AG_PROTO_RESP | 1u << AG_PROTO_AMQP,
        .quiet = quiet,
    };
    struct ag_bpf_conf bc;
    uint64_t bounds[VG_LAT_BOUNDS_MAX];
    int err;

    /* The configuration checked every pattern: compiling fails only on memory. */
    err = ag_route_patterns_compile((const char *const *)ag->conf->route_patterns,
                                    ag->conf->nroute_patterns, &ag->routes, NULL);
    if (err)
        return err;
    cc.routes = ag->routes;
    if ((err = ag_ct_create(&cc, &ag->ct)) != 0)
        return err;
    seed_connections(ag);

    ag_bpf_conf_default(&bc);
    bc.head_cap = ag->conf->head_bytes;
    bc.tail_cap = ag->conf->tail_bytes;
    bc.ring_bytes = ag->conf->ring_buffer_bytes;
    bc.btf_path = ag->conf->btf;
    bc.watch_all = ag->conf->watch.mode == AG_WATCH_ALL;
    bc.syscall_latency = ag->conf->syscalls_latency;
    if (!ag->conf->syscalls_enabled)
        bc.parts &= ~AG_BPF_SYSCALLS;
    /* The kernel buckets syscall latency itself, so it must use the registry's bounds. */
    if (ag->conf->nbuckets <= VG_LAT_BOUNDS_MAX) {
        for (size_t i = 0; i < ag->conf->nbuckets; i++)
            bounds[i] = (uint64_t)(ag->conf->buckets[i] * 1e9 + 0.5);
        bc.lat_bounds_ns = bounds;
        bc.n_lat_bounds = ag->conf->nbuckets;
    } else if (bc.syscall_latency) {
        ag_log(AG_LOG_WARN, "more than %d histogram buckets: syscall latency is off",
               VG_LAT_BOUNDS_MAX);
        bc.syscall_latency = false;
    }
    if ((err = ag_bpf_open(&bc, &ag->bpf)) != 0)
        return err; /* the loader said why */
    ag_discovery_foreach(ag->disc, watch_one, ag);
    if ((err = ag_loop_add_fd(ag->loop, ag_bpf_epoll_fd(ag->bpf), on_ring, ag)) != 0)
        return err;
    /* The kernel side wakes us only for a batch (vg_ring_flags in ebpf/vigil_common.bpf.h):
     * everything below that mark is drained here, so no record waits longer than this. */
    return ag_loop_add_timer(ag->loop, DRAIN_INTERVAL_MS, on_ring, ag);
}

/* What one tick gathers while walking the kernel's maps. */
struct tick {
    struct ag_agent *ag;
    uint64_t syscalls; /* every syscall the kernel counted, named services or not */
};

static void sys_stats(void *ctx, const struct vg_sys_key *key, const struct vg_sys_stats *sum)
{
    struct tick *t = ctx;
    struct ag_agent *ag = t->ag;
    const char *service = ag_discovery_service_name(ag->disc, key->svc);
    const char *name = ag_syscall_name((long)key->nr);
    char nr[16];

    t->syscalls += sum->count;
    /* A process between exec and naming has no name yet; an exited service's totals no longer
     * move, and re-creating its series here would undo the staleness sweep. */
    if (!service || !ag_discovery_service_procs(ag->disc, key->svc))
        return;
    if (!name) {
        snprintf(nr, sizeof(nr), "%u", key->nr);
        name = nr;
    }
    const char *v[] = {service, name};
    ag_counter_set_total(ag->fam.syscalls, v, (double)sum->count);
    if (ag->conf->syscalls_latency && ag->conf->nbuckets <= VG_LAT_BOUNDS_MAX) {
        uint64_t buckets[VG_LAT_BUCKETS]; /* __u64 is unsigned long long, uint64_t not */

        for (size_t i = 0; i < ag->conf->nbuckets; i++)
            buckets[i] = sum->lat[i];
        ag_hist_set_totals(ag->fam.syscall_duration, v, buckets, ag->conf->nbuckets, sum->count,
                           (double)sum->lat_sum_ns / 1e9);
    }
}

static void sys_errors(void *ctx, const struct vg_sys_err_key *key, uint64_t count)
{
    struct ag_agent *ag = ((struct tick *)ctx)->ag;
    const char *service = ag_discovery_service_name(ag->disc, key->svc);
    const char *name = ag_syscall_name((long)key->nr);
    const char *err = strerrorname_np((int)key->err);
    char nr[16], errbuf[16];

    if (!service || !ag_discovery_service_procs(ag->disc, key->svc))
        return;
    if (!name) {
        snprintf(nr, sizeof(nr), "%u", key->nr);
        name = nr;
    }
    if (!err) {
        snprintf(errbuf, sizeof(errbuf), "%u", key->err);
        err = errbuf;
    }
    const char *v[] = {service, name, err};
    ag_counter_set_total(ag->fam.syscall_errors, v, (double)count);
}

static void tcp_retransmits(void *ctx, uint32_t svc, uint64_t count)
{
    struct ag_agent *ag = ((struct tick *)ctx)->ag;
    const char *service = ag_discovery_service_name(ag->disc, svc);

    if (service && ag_discovery_service_procs(ag->disc, svc)) /* see sys_stats */
        ag_counter_set_total(ag->fam.tcp_retransmits, (const char *const[]){service},
                             (double)count);
}

/* The clock of bpf_ktime_get_ns(), which stamps every event. */
static uint64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ag_pipeline_tick(struct ag_agent *ag)
{
    struct ag_bpf_counters bc = {0};
    struct ag_ct_stats cs;
    struct tick t = {.ag = ag};
    uint64_t ring_size;

    if (!ag->bpf)
        return;
    /* The stats map's counts only grow (nothing deletes a key), so their sum is a total. */
    if (ag_bpf_syscall_stats(ag->bpf, sys_stats, &t) == 0)
        ag_counter_set_total(ag->fam.events, (const char *const[]){"syscall"}, (double)t.syscalls);
    ag_bpf_syscall_errors(ag->bpf, sys_errors, &t);
    ag_bpf_tcp_retransmits(ag->bpf, tcp_retransmits, &t);
    ag_bpf_counters(ag->bpf, &bc);
    ag_ct_stats(ag->ct, &cs);
    sample_ring_fill(ag);
    ag_bpf_ring_fill(ag->bpf, &(uint64_t){0}, &ring_size);
    ag_gauge_set(ag->fam.ringbuf_fill, NULL,
                 ring_size ? (double)ag->ring_fill_max / (double)ring_size : 0);
    ag->ring_fill_max = 0;

    ag_counter_set_total(ag->fam.events, (const char *const[]){"socket"},
                         (double)(bc.events_xfer + bc.events_conn));
    ag_counter_set_total(ag->fam.events, (const char *const[]){"process"}, (double)bc.events_proc);
    ag_counter_set_total(ag->fam.events_dropped, (const char *const[]){"ringbuf_full"},
                         (double)(bc.drop_xfer + bc.drop_conn + bc.drop_proc));
    ag_counter_set_total(ag->fam.events_dropped, (const char *const[]){"reassembly_overflow"},
                         (double)cs.drops[AG_CT_DROP_REASSEMBLY_OVERFLOW]);
    ag_counter_set_total(ag->fam.events_dropped, (const char *const[]){"table_full"},
                         (double)(cs.drops[AG_CT_DROP_TABLE_FULL] + bc.drop_watch + bc.drop_stats));
    for (int p = AG_PROTO_HTTP1; p <= AG_PROTO_AMQP; p++)
        ag_counter_set_total(ag->fam.parse_resyncs,
                             (const char *const[]){ag_ct_proto_name((enum ag_proto)p)},
                             (double)cs.resyncs[p]);
    ag_ct_sweep(ag->ct, monotonic_ns());
}

void ag_pipeline_stop(struct ag_agent *ag)
{
    /* The kernel side goes first, so that no event arrives into freed state. */
    if (ag->bpf && ag->loop)
        ag_loop_del_fd(ag->loop, ag_bpf_epoll_fd(ag->bpf));
    ag_bpf_close(ag->bpf);
    ag->bpf = NULL;
    ag_ct_destroy(ag->ct);
    ag->ct = NULL;
    ag_route_patterns_free(ag->routes); /* after the tracker that borrowed it */
    ag->routes = NULL;
}
