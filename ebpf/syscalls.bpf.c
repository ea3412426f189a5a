// SPDX-License-Identifier: GPL-2.0
/* syscalls.bpf.c — per-service syscall counts, errors by errno and latency.
 *
 * Classic raw tracepoints on sys_enter/sys_exit: on this machine they cost less per syscall than
 * the raw_syscalls:* tracepoints (issue 3, "Measured on this machine"), and tracing programs
 * (tp_btf, fentry) are not available. Raw tracepoint arguments are untyped: args[0] is the
 * struct pt_regs *, args[1] the syscall number at entry and the return value at exit.
 */
#include "vigil_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* 0: counts and errors only; the sys_enter program is then not even attached. */
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

/* Entry time and service of the thread's current syscall; ts == 0 when none is pending, so an
 * exit whose entry was not seen (attach in between, unwatched at entry) is only counted. */
struct sys_start {
    __u64 ts;
    __u32 svc;
    __u32 nr; /* saved here: reading pt_regs->orig_ax again at exit costs more */
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct sys_start);
} vg_sys_start SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int vg_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
    __u32 *svc = vg_watched();
    struct sys_start *s;

    if (!svc)
        return 0;
    s = bpf_task_storage_get(&vg_sys_start, bpf_get_current_task_btf(), 0,
                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (s) {
        s->svc = *svc;
        s->nr = (__u32)ctx->args[1];
        s->ts = bpf_ktime_get_ns();
    }
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

SEC("raw_tracepoint/sys_exit")
int vg_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    long ret = (long)ctx->args[1];
    struct vg_sys_stats *st;
    struct vg_sys_key key;
    struct sys_start *s = NULL;
    __u64 d = 0;

    if (latency) {
        /* The entry already filtered and stored the service: no watched lookup here. */
        s = bpf_task_storage_get(&vg_sys_start, bpf_get_current_task_btf(), 0, 0);
        if (!s || !s->ts)
            return 0;
        key.svc = s->svc;
        key.nr = s->nr;
        d = bpf_ktime_get_ns() - s->ts;
        s->ts = 0;
    } else {
        __u32 *svc = vg_watched();

        if (!svc)
            return 0;
        key.svc = *svc;
        key.nr = (__u32)BPF_CORE_READ(regs, orig_ax);
    }
    st = stats_of(&key);
    if (!st) {
        vg_count(VG_CNT_DROP_STATS, 1);
        return 0;
    }
    st->count++;
    if (ret < 0 && ret >= -4095) {
        st->errors++;
        count_errno(&key, ret);
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
    return 0;
}
