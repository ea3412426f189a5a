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

/* Replaced by the loader's ring buffer (size set at run time). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Unread bytes at which a record wakes the agent (the loader sets an eighth of the ring). A
 * wakeup per record is an interrupt per syscall, on a VM an exit to the hypervisor: measured,
 * it doubled the shop's CPU per request. Below the mark the agent drains the ring on its own
 * short timer (agent/pipeline.c), so a record waits at most that long. */
const volatile __u64 wakeup_bytes = 32 * 1024;

static __always_inline __u64 vg_ring_flags(void)
{
    return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                         : BPF_RB_NO_WAKEUP;
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

/* fd -> struct sock * of a TCP socket over IPv4/IPv6, else NULL. Walks task->files->fdt->fd[fd];
 * without kallsyms the socket file ops cannot be compared, so S_ISSOCK on the inode tells a
 * socket, and then file->private_data is its struct socket. */
static __always_inline struct sock *vg_fd_to_tcp(int fd, __u64 *ino)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    struct file **fds;
    struct file *file = NULL;
    struct inode *inode;
    struct socket *sock;
    struct sock *sk;
    __u16 family, proto, type;

    if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    fds = BPF_CORE_READ(fdt, fd);
    if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
        return NULL;
    inode = BPF_CORE_READ(file, f_inode);
    if ((BPF_CORE_READ(inode, i_mode) & VG_S_IFMT) != VG_S_IFSOCK)
        return NULL;
    sock = BPF_CORE_READ(file, private_data);
    sk = BPF_CORE_READ(sock, sk);
    if (!sk)
        return NULL;
    family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family == VG_AF_UNIX) {
        vg_count(VG_CNT_SKIP_UNIX, 1);
        return NULL;
    }
    proto = BPF_CORE_READ(sk, sk_protocol);
    type = BPF_CORE_READ(sk, sk_type);
    if ((family != VG_AF_INET && family != VG_AF_INET6) || proto != VG_IPPROTO_TCP ||
        type != VG_SOCK_STREAM) {
        vg_count(VG_CNT_SKIP_OTHER, 1);
        return NULL;
    }
    *ino = BPF_CORE_READ(inode, i_ino);
    return sk;
}

static __always_inline void vg_read_tuple(struct sock *sk, struct vg_tuple *t)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    __u16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);

    t->family = family;
    t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    t->dport = __builtin_bswap16(dport);
    if (family == VG_AF_INET) {
        BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_daddr);
    } else {
        BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
    }
}

#endif
