// SPDX-License-Identifier: GPL-2.0
/* syscalls.bpf.c — the syscall dispatcher: every syscall of a watched thread passes here once at
 * entry and once at exit. Two jobs share the visit:
 *   - per-service syscall counts, errors by errno and latency (this file);
 *   - socket transfers and connections, for the syscalls sockio.bpf.h handles.
 *
 * One classic raw tracepoint pair instead of a program per syscall tracepoint: on this machine
 * an enabled syscalls:* tracepoint puts every syscall of every process on perf's tracepoint
 * path, and two programs per event (one per job) paid the watched lookup, the task storage and
 * the clock twice (issue 3, "Measured on this machine"; bench/RESULTS.md). Tracing programs
 * (tp_btf, fentry) are not available. Raw tracepoint arguments are untyped: args[0] is the
 * struct pt_regs *, args[1] the syscall number at entry and the return value at exit.
 */
#define VG_WANT_SOCK_SVC
#include "sockio.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The jobs this load does (the loader clears what the agent's configuration turned off). */
const volatile __u8 stats = 1; /* syscall counts and errors */
const volatile __u8 sockio = 1;
/* Syscall latency (with stats). Without latency and sockio, sys_enter is not even attached. */
const volatile __u8 latency = 1;
const volatile __u32 n_bounds = 16;
const volatile __u64 lat_bounds_ns[VG_LAT_BOUNDS_MAX] = {
    100000ULL,     250000ULL,     500000ULL,     1000000ULL,     2500000ULL,   5000000ULL,
    10000000ULL,   25000000ULL,   50000000ULL,   100000000ULL,   250000000ULL, 500000000ULL,
    1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL,
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct vg_sys_key);
    __type(value, struct vg_sys_stats);
} vg_sys_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct vg_sys_err_key);
    __type(value, __u64);
} vg_sys_errs SEC(".maps");

/* Per thread: its service, cached (gen, wsvc), and the syscall in progress from entry to exit.
 * ts == 0 when none is pending, so an exit whose entry was not seen (attach in between,
 * unwatched at entry) is left alone. Every thread that makes a syscall gets one (~300 bytes of
 * kernel memory with the storage's own overhead): for an unwatched thread it caches "no". */
struct vg_thread {
    __u64 ts;   /* entry time */
    __u32 nr;   /* syscall number: kept here, so the exit need not read pt_regs->orig_ax */
    __u32 gen;  /* vg_gen when wsvc was looked up */
    __u32 wsvc; /* watched[tgid] then, or VG_SVC_NONE (watched_thread() refreshes it) */
    __u32 pad;
    struct vg_io_args io;
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct vg_thread);
} vg_thread SEC(".maps");

/* The current thread's state if its process is watched, else NULL. */
static __always_inline struct vg_thread *watched_thread(void)
{
    __u32 zero = 0, *gen = bpf_map_lookup_elem(&vg_gen, &zero);
    struct vg_thread *t;

    if (!gen)
        return NULL;
    t = bpf_task_storage_get(&vg_thread, bpf_get_current_task_btf(), 0,
                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!t)
        return NULL;
    if (t->gen != *gen) {
        /* The generation first, then the lookup: a change after the lookup bumps it again. */
        __u32 g = *gen, *svc;

        barrier();
        svc = vg_watched();
        t->wsvc = svc ? *svc : VG_SVC_NONE;
        t->gen = g;
    }
    return t->wsvc == VG_SVC_NONE ? NULL : t;
}

SEC("raw_tracepoint/sys_enter")
int vg_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 nr = ctx->args[1];
    __u16 io = sockio ? vg_io_sys(nr) : 0;
    struct vg_thread *t;

    /* Counts only: the exit does it all, entry state is needed for socket syscalls alone. */
    if (!io && !(stats && latency))
        return 0;
    t = watched_thread();
    if (!t)
        return 0;
    t->nr = (__u32)nr;
    t->ts = bpf_ktime_get_ns();
    t->io.sys = 0;
    if (io)
        vg_io_enter(&t->io, io, vg_cast(struct pt_regs, ctx->args[0]), t->wsvc, t->ts);
    return 0;
}

static __always_inline struct vg_sys_stats *stats_of(struct vg_sys_key *key)
{
    struct vg_sys_stats *st = bpf_map_lookup_elem(&vg_sys_stats, key);
    struct vg_sys_stats zero = {};

    if (st)
        return st;
    bpf_map_update_elem(&vg_sys_stats, key, &zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(&vg_sys_stats, key);
}

static __always_inline void count_errno(struct vg_sys_key *key, long ret)
{
    struct vg_sys_err_key ek = {.svc = key->svc, .nr = key->nr, .err = (__u32)-ret};
    __u64 one = 1, *n = bpf_map_lookup_elem(&vg_sys_errs, &ek);

    if (n) {
        *n += 1;
        return;
    }
    if (!bpf_map_update_elem(&vg_sys_errs, &ek, &one, BPF_NOEXIST))
        return;
    /* -EEXIST: another CPU inserted the same key between our lookup and update (threads of
     * one service failing the same syscall the same way at once, e.g. EAGAIN). The key is
     * there now, with this CPU's slot at 0: count on it. Only a full map is a drop. */
    n = bpf_map_lookup_elem(&vg_sys_errs, &ek);
    if (n)
        *n += 1;
    else
        vg_count(VG_CNT_DROP_STATS, 1);
}

/* Counts one syscall of key that returned ret and took d ns (d unused without latency). */
static __always_inline void count_syscall(struct vg_sys_key *key, long ret, __u64 d)
{
    struct vg_sys_stats *st = stats_of(key);

    if (!st) {
        vg_count(VG_CNT_DROP_STATS, 1);
        return;
    }
    st->count++;
    if (ret < 0 && ret >= -4095) {
        st->errors++;
        count_errno(key, ret);
    }
    if (latency) {
        __u32 i;

        st->lat_sum_ns += d;
        for (i = 0; i < VG_LAT_BOUNDS_MAX; i++) {
            if (i >= n_bounds || d <= lat_bounds_ns[i])
                break;
        }
        if (i < VG_LAT_BUCKETS)
            st->lat[i]++;
    }
}

SEC("raw_tracepoint/sys_exit")
int vg_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
    long ret = (long)ctx->args[1];
    struct vg_thread *t = NULL;
    struct vg_sys_key key;
    __u64 now;

    if (stats && latency) {
        /* Every watched syscall had its entry stored: no watched lookup here. */
        t = bpf_task_storage_get(&vg_thread, bpf_get_current_task_btf(), 0, 0);
        if (!t || !t->ts)
            return 0;
        key.svc = t->wsvc;
        key.nr = t->nr;
    } else if (stats) {
        /* Counts only: entry state exists for socket syscalls alone, and may be stale (a thread
         * that never returned from its last one, as in exit_group): trust it only when it is
         * for this very syscall. */
        t = watched_thread();
        if (!t)
            return 0;
        key.svc = t->wsvc;
        key.nr = (__u32)vg_cast(struct pt_regs, ctx->args[0])->orig_ax;
        if (!t->ts || t->nr != key.nr)
            t = NULL;
    } else {
        t = bpf_task_storage_get(&vg_thread, bpf_get_current_task_btf(), 0, 0);
        if (!t || !t->ts)
            return 0;
    }
    now = t ? bpf_ktime_get_ns() : 0;
    if (stats)
        count_syscall(&key, ret, t && now > t->ts ? now - t->ts : 0);
    if (t) {
        __u64 ts = t->ts;

        t->ts = 0;
        if (t->io.sys)
            vg_io_exit(&t->io, ret, t->wsvc, ts, now);
    }
    return 0;
}
