/* bpf.h — the agent's BPF data plane: loads ebpf/{syscalls,proc,tcp}.bpf.o, keeps the set of
 * watched processes, delivers ring-buffer events and reads the in-kernel counters.
 *
 * Separate skeletons, so that a program this kernel refuses fails only its own part (with
 * libbpf 1.1 one failing program fails its whole object); the sockio and syscalls parts share
 * one, the syscall dispatcher on the raw sys_enter/sys_exit tracepoints. They share three maps the
 * loader creates: the ring buffer, `watched` (tgid -> service index) and the per-cpu counters.
 * Nothing is pinned: ag_bpf_close() (or the process's exit) removes every program and map.
 *
 * Times in events are CLOCK_MONOTONIC ns; add ag_bpf_boot_offset_ns() for wall-clock ns.
 */
#ifndef AG_BPF_H
#define AG_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil_events.h"

/* Parts of the data plane (ag_bpf_conf.parts, ag_bpf_parts()). */
#define AG_BPF_SOCKIO   1u /* socket transfers and connections (raw sys_enter/sys_exit) */
#define AG_BPF_SYSCALLS 2u /* per-service syscall counts, errors, latency (raw tracepoints) */
#define AG_BPF_PROC     4u /* process exec/fork/exit, following new processes */
#define AG_BPF_TCP      8u /* TCP retransmits per service (tcp:* tracepoints; owners via sockio) */
#define AG_BPF_ALL      (AG_BPF_SOCKIO | AG_BPF_SYSCALLS | AG_BPF_PROC | AG_BPF_TCP)

struct ag_bpf_conf {
    unsigned parts;       /* AG_BPF_* to load; ag_bpf_open fails only if none of them loads */
    uint32_t head_cap;    /* payload bytes from the start of a transfer, <= VG_HEAD_MAX */
    uint32_t tail_cap;    /* payload bytes ending a transfer, <= VG_TAIL_MAX */
    uint32_t ring_bytes;  /* ring buffer size, rounded up to a power of two >= the page size */
    uint32_t watch_max;   /* capacity of the watched map (processes) */
    bool syscall_latency; /* false: counts and errors only (cheaper) */
    bool watch_all;       /* every new process is watched (VG_SVC_PENDING until named) */
    bool follow_children; /* a watched process's new children inherit its service index */
    uint32_t agent_tgid;  /* never watched by the kernel side; 0 means getpid() */
    const char *btf_path; /* NULL: the kernel's own /sys/kernel/btf/vmlinux */
    const uint64_t *lat_bounds_ns; /* NULL: DESIGN.md's 100 us .. 10 s */
    size_t n_lat_bounds;           /* <= VG_LAT_BOUNDS_MAX */
    bool verbose;                  /* libbpf debug output (verifier logs) on stderr */
};

/* Handlers for ag_bpf_poll/ag_bpf_consume; any may be NULL. An xfer record holds only
 * head_len + tail_len bytes of data: never read e->data beyond that. */
struct ag_bpf_handlers {
    void (*on_xfer)(void *ctx, const struct vg_xfer_event *e);
    void (*on_conn)(void *ctx, const struct vg_conn_event *e);
    void (*on_proc)(void *ctx, const struct vg_proc_event *e);
};

/* Events by source, drops by reason (summed over CPUs); see enum vg_counter. */
struct ag_bpf_counters {
    uint64_t events_xfer, events_conn, events_proc;
    uint64_t drop_xfer, drop_conn, drop_proc; /* ring buffer full */
    uint64_t drop_stats;                      /* syscall stats maps full */
    uint64_t drop_watch;                      /* watched map full: a new process not followed */
    uint64_t skip_unix, skip_other;           /* transfers on Unix / non-TCP inet sockets */
    uint64_t retrans_unowned;                 /* TCP retransmits on sockets of no watched process */
    uint64_t xfer_quiet;                      /* transfers on sockets marked by ag_bpf_quiet */
    uint64_t malformed;                       /* user space: records too short for their kind */
};

struct ag_bpf;

/* Defaults: all parts, head 512, tail 64, 8 MiB ring, latency on, follow children. */
void ag_bpf_conf_default(struct ag_bpf_conf *conf);

/* What loading needs from the host: the kernel BTF (btf_path, NULL for /sys/kernel/btf/vmlinux)
 * readable and parseable, tracefs and bpffs mounted (mounted here when missing). On failure one
 * line on stderr names the file or the mount command to run; returns 0 or a negative errno
 * (-ENOENT: a filesystem missing and not mountable). ag_bpf_open() calls it first; the agent
 * calls it before starting anything, to fail like a configuration error. */
int ag_bpf_check_host(const char *btf_path);

/* Checks the host (ag_bpf_check_host), then opens, loads and attaches each part. Errors are
 * reported on stderr, one line each ("vigil-agent: sockio: load: Permission denied"). Returns 0
 * when at least one requested part runs, or a negative errno; *out is set only on success. */
int ag_bpf_open(const struct ag_bpf_conf *conf, struct ag_bpf **out);

/* Detaches every program and frees every map (nothing pinned). NULL is accepted. */
void ag_bpf_close(struct ag_bpf *b);

/* The parts that loaded and attached (AG_BPF_*). */
unsigned ag_bpf_parts(const struct ag_bpf *b);

/* watched[tgid] = svc (svc < VG_SVC_NONE); returns 0 or a negative errno. */
int ag_bpf_watch(struct ag_bpf *b, uint32_t tgid, uint32_t svc);
/* Removes tgid; 0 also when it was not watched. */
int ag_bpf_unwatch(struct ag_bpf *b, uint32_t tgid);
/* From now on, transfers of process tgid on the socket with inode sock_ino send no record
 * (counted in xfer_quiet): for sockets whose bytes are not wanted. -ENOENT without the sockio
 * part. The map is LRU (VG_QUIET_MAX): nothing needs removing. */
int ag_bpf_quiet(struct ag_bpf *b, uint32_t tgid, uint64_t sock_ino);
/* *svc = watched[tgid]; -ENOENT when not watched. */
int ag_bpf_watched(struct ag_bpf *b, uint32_t tgid, uint32_t *svc);

/* Waits up to timeout_ms (-1: forever) for events and dispatches them all. Returns the number
 * of records handled, or a negative errno (-EINTR on a signal). */
int ag_bpf_poll(struct ag_bpf *b, int timeout_ms, const struct ag_bpf_handlers *h, void *ctx);
/* For the agent's own epoll loop: the fd turns readable when events are waiting; then call
 * ag_bpf_consume(), which dispatches what is there without blocking. */
int ag_bpf_epoll_fd(const struct ag_bpf *b);
int ag_bpf_consume(struct ag_bpf *b, const struct ag_bpf_handlers *h, void *ctx);

/* Calls cb once per (service, syscall number) with the sums over CPUs. Returns 0 or -errno. */
typedef void (*ag_bpf_sys_cb)(void *ctx, const struct vg_sys_key *key,
                              const struct vg_sys_stats *sum);
int ag_bpf_syscall_stats(struct ag_bpf *b, ag_bpf_sys_cb cb, void *ctx);
/* Calls cb once per (service, syscall number, errno) with the count over CPUs. */
typedef void (*ag_bpf_err_cb)(void *ctx, const struct vg_sys_err_key *key, uint64_t count);
int ag_bpf_syscall_errors(struct ag_bpf *b, ag_bpf_err_cb cb, void *ctx);
/* Deletes the syscall stats and errors of one service index (its series went stale). */
int ag_bpf_syscall_forget(struct ag_bpf *b, uint32_t svc);
/* The latency bucket bounds in effect (ns); returns their number. */
size_t ag_bpf_lat_bounds(const struct ag_bpf *b, const uint64_t **bounds);

int ag_bpf_counters(struct ag_bpf *b, struct ag_bpf_counters *out);

/* Calls cb once per service index with its TCP retransmits (sum over CPUs). -ENOENT when the
 * tcp part is not running. Retransmits are attributed only on sockets sockio saw a watched
 * process use (accept, connect, a transfer) after the agent started. */
typedef void (*ag_bpf_retrans_cb)(void *ctx, uint32_t svc, uint64_t count);
int ag_bpf_tcp_retransmits(struct ag_bpf *b, ag_bpf_retrans_cb cb, void *ctx);

/* Bytes the kernel has written to the ring buffer and user space not yet consumed, and the
 * ring's size: read from the ring's producer and consumer positions (libbpf 1.1 has no API for
 * it; the loader maps the two position pages read-only). Cheap: two loads. */
void ag_bpf_ring_fill(const struct ag_bpf *b, uint64_t *used, uint64_t *size);

/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, sampled now: event ts + offset = wall-clock ns.
 * The offset moves when the wall clock is stepped; the agent re-samples it periodically. */
int64_t ag_bpf_boot_offset_ns(void);

#endif
