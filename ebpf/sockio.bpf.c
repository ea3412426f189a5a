// SPDX-License-Identifier: GPL-2.0
/* sockio.bpf.c — TCP socket transfers and connection lifecycle from syscall tracepoints.
 *
 * Entry: watched? then save the arguments and the entry time in task storage. Exit: if the
 * syscall moved bytes, walk the fd to its struct sock (TCP over IPv4/IPv6 only), copy a bounded
 * head and tail of the payload and send one record through the shared ring buffer.
 * No kprobes or fentry on this kernel, so the socket is found from the fd, not from tcp_sendmsg.
 */
#define VG_WANT_SOCK_SVC
#include "vigil_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 head_cap = VG_HEAD_DEFAULT;
const volatile __u32 tail_cap = VG_TAIL_DEFAULT;
/* 1 when tcp.bpf.c runs: record each socket's owner in vg_sock_svc for its retransmits. */
const volatile __u8 track_sock_svc = 0;

/* Per-thread state between a syscall's entry and exit. */
struct sock_args {
    __u64 ts;
    __u64 buf; /* user buffer, or struct iovec array when iovcnt > 0 */
    __u32 iovcnt;
    __u32 svc;
    __s32 fd;
    __s32 fd2;   /* sendfile/splice: the other fd */
    __u16 sys;   /* enum vg_sys; 0 when no syscall is pending */
    __u8 is_iov; /* buf points at iovecs */
    __u8 pad;
    __u32 pad2;
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct sock_args);
} vg_args SEC(".maps");

/* The record is built in task storage, not in a per-cpu array: syscall tracepoints are
 * faultable since 6.14 and may be preempted, so a per-cpu scratch could be shared by two tasks.
 * It is sent with bpf_ringbuf_output so that each record takes only the bytes it uses (a
 * reserve needs a constant size). slack lets the verifier prove dst offset + length fit
 * with a mask, the one bound clang cannot move away from the access (see data_at). */
#define DST_MASK 2047 /* power of two - 1 >= VG_DATA_MAX */
struct xfer_scratch {
    struct vg_xfer_event ev;
    __u8 slack[DST_MASK + 1];
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct xfer_scratch);
} vg_scratch SEC(".maps");

static __always_inline int save_args(__u16 sys, int fd, __u64 buf, __u32 iovcnt, __u8 is_iov,
                                     int fd2)
{
    __u32 *svc = vg_watched();
    struct sock_args *a;

    if (!svc)
        return 0;
    a = bpf_task_storage_get(&vg_args, bpf_get_current_task_btf(), 0,
                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!a)
        return 0;
    a->ts = bpf_ktime_get_ns();
    a->buf = buf;
    a->iovcnt = iovcnt;
    a->is_iov = is_iov;
    a->svc = *svc;
    a->fd = fd;
    a->fd2 = fd2;
    a->sys = sys;
    return 0;
}

/* The pending arguments of this thread if its pending syscall is sys; consumes them. */
static __always_inline struct sock_args *take_args(__u16 sys)
{
    struct sock_args *a = bpf_task_storage_get(&vg_args, bpf_get_current_task_btf(), 0, 0);

    if (!a || a->sys != sys)
        return NULL;
    a->sys = 0;
    return a;
}

/* &ev.data[dst] for dst <= VG_DATA_MAX. Compared bounds get lost when clang computes the address
 * from another register copy; an AND on the offset right at the access always reaches the
 * verifier, and the slack after ev.data covers mask + a copy of up to VG_DATA_MAX. */
static __always_inline __u8 *data_at(struct xfer_scratch *s, __u64 dst)
{
    barrier_var(dst);
    dst &= DST_MASK;
    return (__u8 *)s->ev.data + dst;
}

/* Copies transfer bytes [off, off + len) to ev.data[dst..]; returns how many it copied. */
static __always_inline __u32 copy_range(struct xfer_scratch *s, struct sock_args *a, __u64 dst,
                                        __u64 off, __u64 len)
{
    struct iovec iov;
    __u64 pos = 0;
    __u32 done = 0;

    if (!a->is_iov) {
        if (dst > VG_DATA_MAX || len > VG_DATA_MAX)
            return 0;
        barrier_var(len);
        if (bpf_probe_read_user(data_at(s, dst), len, (void *)(a->buf + off)))
            return 0;
        return len;
    }
    for (int i = 0; i < VG_IOV_MAX; i++) {
        __u64 start, end, n, at;

        if (i >= a->iovcnt || done >= len)
            break;
        if (bpf_probe_read_user(&iov, sizeof(iov), (struct iovec *)a->buf + i))
            break;
        start = off + done; /* next wanted byte, in transfer offsets */
        end = pos + iov.iov_len;
        if (start < end) {
            n = end - start;
            if (n > len - done)
                n = len - done;
            at = dst + done;
            if (at > VG_DATA_MAX || n > VG_DATA_MAX)
                break;
            barrier_var(n);
            if (bpf_probe_read_user(data_at(s, at), n, (__u8 *)iov.iov_base + (start - pos)))
                break;
            done += n;
        }
        pos = end;
    }
    return done;
}

/* vg_sock_svc[sk] = svc. A lookup first: the common case, an owner already recorded, then
 * costs no update (the value changes only when a pending process gets its service). */
static __always_inline void remember_owner(struct sock *sk, __u32 svc)
{
    __u64 key = (__u64)sk;
    __u32 *owner;

    if (!track_sock_svc)
        return;
    owner = bpf_map_lookup_elem(&vg_sock_svc, &key);
    if (!owner || *owner != svc)
        bpf_map_update_elem(&vg_sock_svc, &key, &svc, BPF_ANY);
}

static __always_inline void emit_xfer(struct sock_args *a, long ret, __u8 dir, int fd, __u16 sys,
                                      int capture)
{
    struct xfer_scratch *s;
    struct sock *sk;
    __u64 ino = 0, size;
    __u32 hcap = head_cap, tcap = tail_cap, hl = 0, tl = 0;

    sk = vg_fd_to_tcp(fd, &ino);
    if (!sk)
        return;
    remember_owner(sk, a->svc);
    s = bpf_task_storage_get(&vg_scratch, bpf_get_current_task_btf(), 0,
                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!s) {
        vg_count(VG_CNT_DROP_XFER, 1);
        return;
    }
    s->ev.kind = VG_EV_XFER;
    s->ev.svc = a->svc;
    s->ev.tgid = vg_tgid();
    s->ev.tid = (__u32)bpf_get_current_pid_tgid();
    s->ev.fd = fd;
    s->ev.syscall = sys;
    s->ev.direction = dir;
    s->ev.truncated = 0;
    s->ev.sock = (__u64)sk;
    s->ev.ino = ino;
    s->ev.ts_enter_ns = a->ts;
    s->ev.ts_exit_ns = bpf_ktime_get_ns();
    s->ev.bytes = ret;
    __builtin_memset(&s->ev.tuple, 0, sizeof(s->ev.tuple));
    vg_read_tuple(sk, &s->ev.tuple);
    if (hcap > VG_HEAD_MAX)
        hcap = VG_HEAD_MAX;
    if (tcap > VG_TAIL_MAX)
        tcap = VG_TAIL_MAX;
    if (capture) {
        __u32 want = (__u64)ret < hcap ? (__u32)ret : hcap;

        hl = copy_range(s, a, 0, 0, want);
        if (hl < want)
            s->ev.truncated = 1;
        if ((__u64)ret > hcap && tcap) {
            want = (__u64)ret - hcap < tcap ? (__u32)((__u64)ret - hcap) : tcap;
            if (hl > VG_HEAD_MAX)
                hl = VG_HEAD_MAX;
            tl = copy_range(s, a, hl, (__u64)ret - want, want);
            if (tl < want) { /* a partial tail would not end the transfer: drop it */
                tl = 0;
                s->ev.truncated = 1;
            }
        }
    }
    if (hl > VG_HEAD_MAX)
        hl = VG_HEAD_MAX;
    if (tl > VG_TAIL_MAX)
        tl = VG_TAIL_MAX;
    s->ev.head_len = hl;
    s->ev.tail_len = tl;
    size = __builtin_offsetof(struct vg_xfer_event, data) + hl + tl;
    barrier_var(size);
    if (size > sizeof(s->ev))
        return;
    barrier_var(size);
    if (bpf_ringbuf_output(&events, &s->ev, size, vg_ring_flags()))
        vg_count(VG_CNT_DROP_XFER, 1);
    else
        vg_count(VG_CNT_XFER, 1);
}

static __always_inline int exit_xfer(long ret, __u16 sys, __u8 dir)
{
    struct sock_args *a = take_args(sys);

    if (!a || ret <= 0)
        return 0;
    emit_xfer(a, ret, dir, a->fd, sys, 1);
    return 0;
}

static __always_inline void emit_conn(__u16 type, __u16 sys, int fd, long ret, __u32 svc)
{
    struct vg_conn_event *e;
    struct sock *sk;
    __u64 ino = 0;

    sk = vg_fd_to_tcp(fd, &ino);
    if (!sk)
        return;
    if (type != VG_CONN_CLOSE)
        remember_owner(sk, svc);
    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        vg_count(VG_CNT_DROP_CONN, 1);
        return;
    }
    __builtin_memset(e, 0, sizeof(*e));
    e->kind = VG_EV_CONN;
    e->svc = svc;
    e->tgid = vg_tgid();
    e->tid = (__u32)bpf_get_current_pid_tgid();
    e->fd = fd;
    e->type = type;
    e->syscall = sys;
    e->ret = ret;
    e->sock = (__u64)sk;
    e->ino = ino;
    e->ts_ns = bpf_ktime_get_ns();
    vg_read_tuple(sk, &e->tuple);
    bpf_ringbuf_submit(e, vg_ring_flags());
    vg_count(VG_CNT_CONN, 1);
}

#define ENTER_BUF(name, sys, flag_arg)                                                             \
    SEC("tracepoint/syscalls/sys_enter_" #name)                                                    \
    int vg_en_##name(struct trace_event_raw_sys_enter *ctx)                                        \
    {                                                                                              \
        if ((flag_arg) >= 0 && (ctx->args[(flag_arg) >= 0 ? (flag_arg) : 0] & VG_MSG_PEEK))        \
            return 0;                                                                              \
        return save_args(sys, (int)ctx->args[0], ctx->args[1], 0, 0, -1);                          \
    }
#define ENTER_IOV(name, sys)                                                                       \
    SEC("tracepoint/syscalls/sys_enter_" #name)                                                    \
    int vg_en_##name(struct trace_event_raw_sys_enter *ctx)                                        \
    {                                                                                              \
        return save_args(sys, (int)ctx->args[0], ctx->args[1], (__u32)ctx->args[2], 1, -1);        \
    }
#define EXIT_XFER(name, sys, dir)                                                                  \
    SEC("tracepoint/syscalls/sys_exit_" #name)                                                     \
    int vg_ex_##name(struct trace_event_raw_sys_exit *ctx)                                         \
    {                                                                                              \
        return exit_xfer(ctx->ret, sys, dir);                                                      \
    }

ENTER_BUF(read, VG_SYS_READ, -1)
EXIT_XFER(read, VG_SYS_READ, VG_DIR_INGRESS)
ENTER_BUF(write, VG_SYS_WRITE, -1)
EXIT_XFER(write, VG_SYS_WRITE, VG_DIR_EGRESS)
ENTER_BUF(recvfrom, VG_SYS_RECVFROM, 3)
EXIT_XFER(recvfrom, VG_SYS_RECVFROM, VG_DIR_INGRESS)
ENTER_BUF(sendto, VG_SYS_SENDTO, -1)
EXIT_XFER(sendto, VG_SYS_SENDTO, VG_DIR_EGRESS)
ENTER_IOV(readv, VG_SYS_READV)
EXIT_XFER(readv, VG_SYS_READV, VG_DIR_INGRESS)
ENTER_IOV(writev, VG_SYS_WRITEV)
EXIT_XFER(writev, VG_SYS_WRITEV, VG_DIR_EGRESS)

/* recvmsg/sendmsg: the iovec array lives in the user's msghdr; read it at entry. */
static __always_inline int enter_msg(struct trace_event_raw_sys_enter *ctx, __u16 sys)
{
    struct user_msghdr msg;

    if (sys == VG_SYS_RECVMSG && (ctx->args[2] & VG_MSG_PEEK))
        return 0;
    if (!vg_watched())
        return 0;
    if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ctx->args[1]))
        __builtin_memset(&msg, 0, sizeof(msg));
    return save_args(sys, (int)ctx->args[0], (__u64)msg.msg_iov, (__u32)msg.msg_iovlen, 1, -1);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int vg_en_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
    return enter_msg(ctx, VG_SYS_RECVMSG);
}
EXIT_XFER(recvmsg, VG_SYS_RECVMSG, VG_DIR_INGRESS)

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int vg_en_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
    return enter_msg(ctx, VG_SYS_SENDMSG);
}
EXIT_XFER(sendmsg, VG_SYS_SENDMSG, VG_DIR_EGRESS)

/* sendfile and splice: counted (an event with the byte count, no payload); the data comes from
 * a file or pipe, not from a user buffer. */
static __always_inline int exit_count_only(long ret, __u16 sys)
{
    struct sock_args *a = take_args(sys);
    __u64 before;

    if (!a || ret <= 0)
        return 0;
    /* Egress when the destination is a TCP socket, else ingress from the source. */
    before = 0;
    if (vg_fd_to_tcp(a->fd, &before))
        emit_xfer(a, ret, VG_DIR_EGRESS, a->fd, sys, 0);
    else
        emit_xfer(a, ret, VG_DIR_INGRESS, a->fd2, sys, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int vg_en_sendfile(struct trace_event_raw_sys_enter *ctx)
{
    return save_args(VG_SYS_SENDFILE, (int)ctx->args[0], 0, 0, 0, (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int vg_ex_sendfile(struct trace_event_raw_sys_exit *ctx)
{
    return exit_count_only(ctx->ret, VG_SYS_SENDFILE);
}

/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
SEC("tracepoint/syscalls/sys_enter_splice")
int vg_en_splice(struct trace_event_raw_sys_enter *ctx)
{
    return save_args(VG_SYS_SPLICE, (int)ctx->args[2], 0, 0, 0, (int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_splice")
int vg_ex_splice(struct trace_event_raw_sys_exit *ctx)
{
    return exit_count_only(ctx->ret, VG_SYS_SPLICE);
}

/* Connections: the 4-tuple is read from the new (accept) or connecting socket at exit. */
#define ENTER_CONN(name, sys)                                                                      \
    SEC("tracepoint/syscalls/sys_enter_" #name)                                                    \
    int vg_en_##name(struct trace_event_raw_sys_enter *ctx)                                        \
    {                                                                                              \
        return save_args(sys, (int)ctx->args[0], 0, 0, 0, -1);                                     \
    }

ENTER_CONN(accept, VG_SYS_ACCEPT)
ENTER_CONN(accept4, VG_SYS_ACCEPT4)
ENTER_CONN(connect, VG_SYS_CONNECT)

static __always_inline int exit_accept(long ret, __u16 sys)
{
    struct sock_args *a = take_args(sys);

    if (a && ret >= 0)
        emit_conn(VG_CONN_ACCEPT, sys, (int)ret, ret, a->svc);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int vg_ex_accept(struct trace_event_raw_sys_exit *ctx)
{
    return exit_accept(ctx->ret, VG_SYS_ACCEPT);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int vg_ex_accept4(struct trace_event_raw_sys_exit *ctx)
{
    return exit_accept(ctx->ret, VG_SYS_ACCEPT4);
}

/* A non-blocking connect returns -EINPROGRESS with the SYN sent and the local port bound:
 * the connection exists for the process from here on. */
SEC("tracepoint/syscalls/sys_exit_connect")
int vg_ex_connect(struct trace_event_raw_sys_exit *ctx)
{
    struct sock_args *a = take_args(VG_SYS_CONNECT);
    long ret = ctx->ret;

    if (a && (ret == 0 || ret == -VG_EINPROGRESS))
        emit_conn(VG_CONN_CONNECT, VG_SYS_CONNECT, a->fd, ret, a->svc);
    return 0;
}

/* close: reported at entry, since after it the fd no longer leads to the socket. Linux releases
 * the fd even when close returns an error (EINTR, EIO), so the entry is the truth. */
SEC("tracepoint/syscalls/sys_enter_close")
int vg_en_close(struct trace_event_raw_sys_enter *ctx)
{
    __u32 *svc = vg_watched();

    if (svc)
        emit_conn(VG_CONN_CLOSE, VG_SYS_CLOSE, (int)ctx->args[0], 0, *svc);
    return 0;
}

/* dup2/dup3 onto an open TCP socket fd closes it implicitly; reported at entry like close
 * (when oldfd == newfd nothing is closed; a dup that then fails on a bad oldfd still reports). */
static __always_inline int enter_dup(struct trace_event_raw_sys_enter *ctx, __u16 sys)
{
    __u32 *svc = vg_watched();

    if (svc && ctx->args[0] != ctx->args[1])
        emit_conn(VG_CONN_CLOSE, sys, (int)ctx->args[1], 0, *svc);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int vg_en_dup2(struct trace_event_raw_sys_enter *ctx)
{
    return enter_dup(ctx, VG_SYS_DUP2);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int vg_en_dup3(struct trace_event_raw_sys_enter *ctx)
{
    return enter_dup(ctx, VG_SYS_DUP3);
}
