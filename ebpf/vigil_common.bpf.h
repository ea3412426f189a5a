/* vigil_common.bpf.h — maps and helpers every Vigil BPF object shares (kernel side only).
 *
 * Each object declares the shared maps with identical definitions; the loader creates them once
 * and hands the same fds to every skeleton (bpf_map__reuse_fd), so one ring buffer carries all
 * events in kernel order and one `watched` map filters every program.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "vigil_events.h"

#define VG_AF_INET     2
#define VG_AF_INET6    10
#define VG_AF_UNIX     1
#define VG_IPPROTO_TCP 6
#define VG_SOCK_STREAM 1
#define VG_S_IFMT      00170000
#define VG_S_IFSOCK    0140000
#define VG_EINPROGRESS 115
#define VG_MSG_PEEK    2

/* tgid -> service index. Filled by user space; proc.bpf.c adds new children itself. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u32);
} watched SEC(".maps");

/* Generation of `watched`, bumped after every change to it (user space in ag_bpf_watch/unwatch,
 * proc.bpf.c at exec). The syscall dispatcher caches each thread's lookup in its task storage
 * with the generation it read first: a plain load here instead of a hash lookup per syscall
 * (measured: 70 ns of a 220 ns counting path). Starts at 1 (the loader), so that zeroed
 * storage never matches. Mappable: user space bumps it with an atomic add, as the kernel does. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} vg_gen SEC(".maps");

static __always_inline void vg_gen_bump(void)
{
    __u32 zero = 0, *g = bpf_map_lookup_elem(&vg_gen, &zero);

    if (g)
        __sync_fetch_and_add(g, 1);
}

/* Replaced by the loader's ring buffer (size set at run time). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Unread bytes at which a record wakes the agent (the loader sets an eighth of the ring). A
 * wakeup per record is an interrupt per syscall, on a VM an exit to the hypervisor: measured,
 * it doubled the shop's CPU per request. Below the mark the agent drains the ring on its own
 * short timer (agent/pipeline.c), so a record waits at most that long. Only the record that
 * takes the unread bytes across the mark (or across four times the mark, should the first
 * wakeup have been lost to a race between CPUs) wakes the agent: once the agent is awake, more
 * wakeups are pure cost, and perf showed them as the single largest item (irq_work). */
const volatile __u64 wakeup_bytes = 32 * 1024;

static __always_inline __u64 vg_ring_flags(__u64 size)
{
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    __u64 after = avail + size + 8; /* + the record header */

    if ((avail < wakeup_bytes && after >= wakeup_bytes) ||
        (avail < 4 * wakeup_bytes && after >= 4 * wakeup_bytes))
        return BPF_RB_FORCE_WAKEUP;
    return BPF_RB_NO_WAKEUP;
}

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VG_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

#ifdef VG_WANT_SOCK_SVC
/* struct sock * -> service index (vigil_events.h): in the two objects that use it (sockio, tcp)
 * only, since libbpf creates every map an object declares. LRU: a destroy the tcp object missed
 * (it was not loaded, or attached late) ages out instead of filling the map. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, VG_SOCK_SVC_MAX);
    __type(key, __u64);
    __type(value, __u32);
} vg_sock_svc SEC(".maps");
#endif

static __always_inline void vg_count(__u32 idx, __u64 n)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &idx);

    if (c)
        *c += n;
}

static __always_inline __u32 vg_tgid(void)
{
    return bpf_get_current_pid_tgid() >> 32;
}

/* Service index of the current process, or NULL when it is not watched. */
static __always_inline __u32 *vg_watched(void)
{
    __u32 tgid = vg_tgid();

    return bpf_map_lookup_elem(&watched, &tgid);
}

#endif
