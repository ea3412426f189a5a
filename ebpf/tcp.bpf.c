// SPDX-License-Identifier: GPL-2.0
/* tcp.bpf.c — TCP retransmits per service.
 *
 * tcp:tcp_retransmit_skb fires mostly from the retransmit timer, in softirq: the current pid is
 * whoever the CPU was running, not the socket's owner. The owner comes from the socket instead:
 * sockio.bpf.c records struct sock * -> service index (vg_sock_svc) when a watched process
 * accepts, connects or moves bytes on a TCP socket, and tcp:tcp_destroy_sock removes the entry
 * when the kernel frees the socket, so a recycled struct sock address never inherits an owner.
 * Retransmits on sockets without an entry (unwatched processes, or a watched process not yet
 * named) are not attributed: they are counted in VG_CNT_RETRANS_UNOWNED only.
 *
 * A separate object, so that a kernel without these tracepoints fails only this part.
 */
#define VG_WANT_SOCK_SVC
#include "vigil_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, VG_RETRANS_MAX);
    __type(key, __u32);
    __type(value, __u64);
} vg_retrans SEC(".maps");

SEC("tracepoint/tcp/tcp_retransmit_skb")
int vg_tcp_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
    __u64 sk = (__u64)ctx->skaddr, one = 1, *n;
    __u32 *owner = bpf_map_lookup_elem(&vg_sock_svc, &sk);
    __u32 svc;

    if (!owner || *owner >= VG_SVC_NONE) {
        vg_count(VG_CNT_RETRANS_UNOWNED, 1);
        return 0;
    }
    svc = *owner;
    n = bpf_map_lookup_elem(&vg_retrans, &svc);
    if (n)
        *n += 1;
    else if (bpf_map_update_elem(&vg_retrans, &svc, &one, BPF_NOEXIST)) {
        n = bpf_map_lookup_elem(&vg_retrans, &svc); /* another CPU inserted it meanwhile */
        if (n)
            *n += 1;
        else
            vg_count(VG_CNT_DROP_STATS, 1);
    }
    return 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int vg_tcp_destroy(struct trace_event_raw_tcp_event_sk *ctx)
{
    __u64 sk = (__u64)ctx->skaddr;

    bpf_map_delete_elem(&vg_sock_svc, &sk);
    return 0;
}
