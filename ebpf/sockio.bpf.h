/* sockio.bpf.h — TCP socket transfers and connection lifecycle, the socket half of the syscall
 * dispatcher (syscalls.bpf.c), which calls it for the syscalls vg_io_sys() names.
 *
 * Entry: save the arguments in the thread's state (task storage, owned by the dispatcher).
 * Exit: if the syscall moved bytes, walk the fd to its struct sock (TCP over IPv4/IPv6 only),
 * copy a bounded head and tail of the payload and send one record through the shared ring.
 * No kprobes or fentry on this kernel, so the socket is found from the fd, not from tcp_sendmsg;
 * and no per-syscall tracepoints either: each one enabled puts every syscall of every process
 * on perf's tracepoint path, which cost more than the whole socket work (bench/RESULTS.md).
 */
#ifndef VIGIL_SOCKIO_BPF_H
#define VIGIL_SOCKIO_BPF_H

#include "vigil_common.bpf.h"

const volatile __u32 head_cap = VG_HEAD_DEFAULT;
const volatile __u32 tail_cap = VG_TAIL_DEFAULT;
/* 1 when tcp.bpf.c runs: record each socket's owner in vg_sock_svc for its retransmits. */
const volatile __u8 track_sock_svc = 0;

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). A raw tracepoint sees the
 * number, not the name; 32-bit (ia32) syscalls, whose numbers differ, are not socket-traced. */
#if defined(__TARGET_ARCH_x86)
#define VG_NR_READ        0
#define VG_NR_WRITE       1
#define VG_NR_CLOSE       3
#define VG_NR_READV       19
#define VG_NR_WRITEV      20
#define VG_NR_DUP2        33
#define VG_NR_SENDFILE    40
#define VG_NR_CONNECT     42
#define VG_NR_ACCEPT      43
#define VG_NR_SENDTO      44
#define VG_NR_RECVFROM    45
#define VG_NR_SENDMSG     46
#define VG_NR_RECVMSG     47
#define VG_NR_SPLICE      275
#define VG_NR_ACCEPT4     288
#define VG_NR_DUP3        292
#define VG_NR_CLOSE_RANGE 436
#else
#error "sockio.bpf.h: syscall numbers are only defined for x86_64"
#endif

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, VG_QUIET_MAX);
    __type(key, struct vg_quiet_key);
    __type(value, __u8);
} vg_quiet SEC(".maps");

/* Reads through kernel pointers are plain loads wherever the verifier knows the type (BTF):
 * from the current task down to the socket, each one a single instruction with an exception
 * fixup, where BPF_CORE_READ costs a bpf_probe_read_kernel call per field (measured: the walk
 * and the 4-tuple were 18 helper calls, a quarter of the socket half's time). Two hops lose
 * the type (a pointer to a pointer, a void *); bpf_rdonly_cast, which the verifier turns into a
 * register move, gives it back. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define vg_cast(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

/* fd -> struct sock * of a TCP socket over IPv4/IPv6, else NULL. Walks task->files->fdt->fd[fd];
 * without kallsyms the socket file ops cannot be compared, so S_ISSOCK on the inode tells a
 * socket, and then file->private_data is its struct socket. */
static __always_inline struct sock *vg_fd_to_tcp(int fd, __u64 *ino)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct fdtable *fdt = task->files->fdt;
    struct file *file = NULL;
    struct inode *inode;
    struct socket *sock;
    struct sock *sk;
    __u16 family;

    if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
        return NULL;
    if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
        return NULL;
    file = vg_cast(struct file, file);
    inode = file->f_inode;
    if ((inode->i_mode & VG_S_IFMT) != VG_S_IFSOCK)
        return NULL;
    sock = vg_cast(struct socket, file->private_data);
    sk = sock->sk;
    if (!sk)
        return NULL;
    family = sk->__sk_common.skc_family;
    if (family == VG_AF_UNIX) {
        vg_count(VG_CNT_SKIP_UNIX, 1);
        return NULL;
    }
    if ((family != VG_AF_INET && family != VG_AF_INET6) || sk->sk_protocol != VG_IPPROTO_TCP ||
        sk->sk_type != VG_SOCK_STREAM) {
        vg_count(VG_CNT_SKIP_OTHER, 1);
        return NULL;
    }
    *ino = inode->i_ino;
    return sk;
}

static __always_inline void vg_read_tuple(struct sock *sk, struct vg_tuple *t)
{
    struct sock_common *c = &sk->__sk_common;
    __u16 family = c->skc_family;

    t->family = family;
    t->sport = c->skc_num;
    t->dport = __builtin_bswap16(c->skc_dport);
    if (family == VG_AF_INET) {
        __builtin_memcpy(t->saddr, &c->skc_rcv_saddr, 4);
        __builtin_memcpy(t->daddr, &c->skc_daddr, 4);
    } else {
        __builtin_memcpy(t->saddr, &c->skc_v6_rcv_saddr, 16);
        __builtin_memcpy(t->daddr, &c->skc_v6_daddr, 16);
    }
}

/* A socket syscall's arguments, kept from entry to exit. */
struct vg_io_args {
    __u64 buf;    /* user buffer, or struct iovec array when is_iov */
    __u32 iovcnt; /* iovecs at buf */
    __s32 fd;
    __s32 fd2;   /* sendfile/splice: the other fd */
    __u16 sys;   /* enum vg_sys; 0 when no socket syscall is pending */
    __u8 is_iov; /* buf points at iovecs */
    __u8 pad;
    /* Not per syscall: the socket this thread last recorded as its service's (remember_owner),
     * so that a thread serving one keep-alive connection pays the owner map once. */
    __u64 owned_sk;
    __u32 owned_svc;
    __u32 pad2;
};

/* enum vg_sys of syscall nr, or 0 when the socket half has nothing to do with it. */
static __always_inline __u16 vg_io_sys(__u64 nr)
{
    switch (nr) {
    case VG_NR_READ:
        return VG_SYS_READ;
    case VG_NR_WRITE:
        return VG_SYS_WRITE;
    case VG_NR_CLOSE:
        return VG_SYS_CLOSE;
    case VG_NR_READV:
        return VG_SYS_READV;
    case VG_NR_WRITEV:
        return VG_SYS_WRITEV;
    case VG_NR_DUP2:
        return VG_SYS_DUP2;
    case VG_NR_SENDFILE:
        return VG_SYS_SENDFILE;
    case VG_NR_CONNECT:
        return VG_SYS_CONNECT;
    case VG_NR_ACCEPT:
        return VG_SYS_ACCEPT;
    case VG_NR_SENDTO:
        return VG_SYS_SENDTO;
    case VG_NR_RECVFROM:
        return VG_SYS_RECVFROM;
    case VG_NR_SENDMSG:
        return VG_SYS_SENDMSG;
    case VG_NR_RECVMSG:
        return VG_SYS_RECVMSG;
    case VG_NR_SPLICE:
        return VG_SYS_SPLICE;
    case VG_NR_ACCEPT4:
        return VG_SYS_ACCEPT4;
    case VG_NR_DUP3:
        return VG_SYS_DUP3;
    case VG_NR_CLOSE_RANGE:
        return VG_SYS_CLOSE_RANGE;
    default:
        return 0;
    }
}

/* The record is built in task storage, not in a per-cpu array: a per-cpu scratch could be
 * shared by two tasks if the program is ever preempted (syscall tracepoints are faultable since
 * 6.14). It is sent with bpf_ringbuf_output so that each record takes only the bytes it uses (a
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

/* &ev.data[dst] for dst <= VG_DATA_MAX. Compared bounds get lost when clang computes the address
 * from another register copy; an AND on the offset right at the access always reaches the
 * verifier, and the slack after ev.data covers mask + a copy of up to VG_DATA_MAX. */
static __always_inline __u8 *data_at(struct xfer_scratch *s, __u64 dst)
{
    barrier_var(dst);
    dst &= DST_MASK;
    return (__u8 *)s->ev.data + dst;
}

/* Copies transfer bytes [off, off + len) from a's iovecs to ev.data[dst..]; returns how many it
 * copied. */
static __always_inline __u32 copy_range(struct xfer_scratch *s, const struct vg_io_args *a,
                                        __u64 dst, __u64 off, __u64 len)
{
    struct iovec iov;
    __u64 pos = 0;
    __u32 done = 0;
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
 * costs no update (the value changes only when a pending process gets its service). Transfers
 * (cached) skip even the lookup when this thread recorded the same socket and service last; a
 * new connection (accept, connect) always writes, since a freed struct sock address may come
 * back for it after tcp.bpf.c removed the old entry. */
static __always_inline void remember_owner(struct vg_io_args *a, struct sock *sk, __u32 svc,
                                           int cached)
{
    __u64 key = (__u64)sk;
    __u32 *owner;

    if (!track_sock_svc)
        return;
    if (cached && a->owned_sk == key && a->owned_svc == svc)
        return;
    owner = bpf_map_lookup_elem(&vg_sock_svc, &key);
    if (!owner || *owner != svc)
        bpf_map_update_elem(&vg_sock_svc, &key, &svc, BPF_ANY);
    a->owned_sk = key;
    a->owned_svc = svc;
}

/* What a transfer record says besides its payload. */
struct xfer_meta {
    const struct vg_io_args *a;
    struct sock *sk;
    __u64 ino, ts_enter, ts_exit;
    __u64 pid_tgid; /* read once per transfer: the helper costs ~19 ns a call here */
    long ret;
    __u32 svc;
    int fd;
    __u8 dir;
};

static __always_inline void fill_xfer(struct vg_xfer_event *e, const struct xfer_meta *m)
{
    e->kind = VG_EV_XFER;
    e->svc = m->svc;
    e->tgid = (__u32)(m->pid_tgid >> 32);
    e->tid = (__u32)m->pid_tgid;
    e->fd = m->fd;
    e->syscall = m->a->sys;
    e->direction = m->dir;
    e->truncated = 0;
    e->sock = (__u64)m->sk;
    e->ino = m->ino;
    e->ts_enter_ns = m->ts_enter;
    e->ts_exit_ns = m->ts_exit;
    e->bytes = m->ret;
    e->head_len = 0;
    e->tail_len = 0;
    e->pad = 0;
    __builtin_memset(&e->tuple, 0, sizeof(e->tuple));
    vg_read_tuple(m->sk, &e->tuple);
}

/* A transfer from one flat user buffer (read, write, recvfrom, sendto; the common case): the
 * payload is copied straight into a ring record reserved at the largest size the caps allow,
 * a constant the verifier knows from rodata. Against building it in task storage and sending it
 * with bpf_ringbuf_output, that saves the storage lookup, the second copy, and hardened
 * usercopy's slab check on the destination (together 60 % of the socket exit, measured). The
 * record takes more ring space than it uses; the agent reads only head_len + tail_len. */
static __always_inline void emit_flat(const struct xfer_meta *m, int capture)
{
    __u32 hcap = head_cap, tcap = tail_cap, hl, tl = 0;
    struct vg_xfer_event *e;
    __u64 ret = (__u64)m->ret, buf = m->a->buf;

    if (hcap > VG_HEAD_MAX)
        hcap = VG_HEAD_MAX;
    if (tcap > VG_TAIL_MAX)
        tcap = VG_TAIL_MAX;
    e = bpf_ringbuf_reserve(&events, __builtin_offsetof(struct vg_xfer_event, data) + hcap + tcap,
                            0);
    if (!e) {
        vg_count(VG_CNT_DROP_XFER, 1);
        return;
    }
    fill_xfer(e, m);
    /* Without capture (sendfile, splice) the bytes came from a file or pipe: the count only. */
    hl = !capture ? 0 : ret < hcap ? (__u32)ret : hcap;
    if (hl > hcap)
        hl = hcap;
    if (hl && bpf_probe_read_user(e->data, hl, (void *)buf)) {
        hl = 0; /* the user buffer is gone (unmapped by another thread): bytes only */
        e->truncated = 1;
    } else if (capture && ret > hcap && tcap) {
        tl = ret - hcap < tcap ? (__u32)(ret - hcap) : tcap;
        if (tl > tcap)
            tl = tcap;
        if (bpf_probe_read_user(e->data + hcap, tl, (void *)(buf + ret - tl))) {
            tl = 0; /* a partial tail would not end the transfer: drop it */
            e->truncated = 1;
        }
    }
    e->head_len = hl;
    e->tail_len = tl;
    bpf_ringbuf_submit(e,
                       vg_ring_flags(__builtin_offsetof(struct vg_xfer_event, data) + hcap + tcap));
    vg_count(VG_CNT_XFER, 1);
}

/* A transfer over iovecs: built in task storage, gathered from up to VG_IOV_MAX iovecs, sent at
 * its used size. */
static __always_inline void emit_gathered(const struct xfer_meta *m)
{
    const struct vg_io_args *a = m->a;
    struct xfer_scratch *s;
    __u64 size, ret = (__u64)m->ret;
    __u32 hcap = head_cap, tcap = tail_cap, hl, tl = 0, want;

    s = bpf_task_storage_get(&vg_scratch, bpf_get_current_task_btf(), 0,
                             BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!s) {
        vg_count(VG_CNT_DROP_XFER, 1);
        return;
    }
    fill_xfer(&s->ev, m);
    if (hcap > VG_HEAD_MAX)
        hcap = VG_HEAD_MAX;
    if (tcap > VG_TAIL_MAX)
        tcap = VG_TAIL_MAX;
    want = ret < hcap ? (__u32)ret : hcap;
    hl = copy_range(s, a, 0, 0, want);
    if (hl < want)
        s->ev.truncated = 1;
    if (ret > hcap && tcap) {
        want = ret - hcap < tcap ? (__u32)(ret - hcap) : tcap;
        if (hl > VG_HEAD_MAX)
            hl = VG_HEAD_MAX;
        tl = copy_range(s, a, hl, ret - want, want);
        if (tl < want) { /* a partial tail would not end the transfer: drop it */
            tl = 0;
            s->ev.truncated = 1;
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
    if (bpf_ringbuf_output(&events, &s->ev, size, vg_ring_flags(size)))
        vg_count(VG_CNT_DROP_XFER, 1);
    else
        vg_count(VG_CNT_XFER, 1);
}

/* A transfer on fd, already walked to its socket sk (NULL: not TCP, nothing to send). */
static __always_inline void emit_xfer_sk(struct vg_io_args *a, struct sock *sk, __u64 ino,
                                         __u32 svc, __u64 ts_enter, __u64 ts_exit, long ret,
                                         __u8 dir, int fd, int capture)
{
    struct xfer_meta m = {.a = a,
                          .sk = sk,
                          .ino = ino,
                          .ts_enter = ts_enter,
                          .ts_exit = ts_exit,
                          .ret = ret,
                          .svc = svc,
                          .fd = fd,
                          .dir = dir};

    if (!sk)
        return;
    m.pid_tgid = bpf_get_current_pid_tgid();
    remember_owner(a, sk, svc, 1);
    /* A lookup on every transfer (~30 ns) to save a record (~450 ns here, ~300 in the agent)
     * on the quiet ones: Redis's own side is half the transfers of every cache lookup. */
    struct vg_quiet_key qk = {.ino = ino, .tgid = (__u32)(m.pid_tgid >> 32)};
    if (bpf_map_lookup_elem(&vg_quiet, &qk)) {
        vg_count(VG_CNT_XFER_QUIET, 1);
        return;
    }
    if (capture && a->is_iov)
        emit_gathered(&m);
    else
        emit_flat(&m, capture);
}

static __always_inline void emit_xfer(struct vg_io_args *a, __u32 svc, __u64 ts_enter,
                                      __u64 ts_exit, long ret, __u8 dir, int fd, int capture)
{
    __u64 ino = 0;
    struct sock *sk = vg_fd_to_tcp(fd, &ino);

    emit_xfer_sk(a, sk, ino, svc, ts_enter, ts_exit, ret, dir, fd, capture);
}

/* Reserves a connection event and fills what every kind has; NULL (counted) when full. */
static __always_inline struct vg_conn_event *conn_event(__u16 type, __u16 sys, int fd, __u32 svc,
                                                        __u64 ts)
{
    struct vg_conn_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e) {
        vg_count(VG_CNT_DROP_CONN, 1);
        return NULL;
    }
    __u64 id = bpf_get_current_pid_tgid();

    __builtin_memset(e, 0, sizeof(*e));
    e->kind = VG_EV_CONN;
    e->svc = svc;
    e->tgid = (__u32)(id >> 32);
    e->tid = (__u32)id;
    e->fd = fd;
    e->type = type;
    e->syscall = sys;
    e->ts_ns = ts;
    return e;
}

static __always_inline void submit_conn(struct vg_conn_event *e)
{
    bpf_ringbuf_submit(e, vg_ring_flags(sizeof(*e)));
    vg_count(VG_CNT_CONN, 1);
}

static __always_inline void emit_conn(struct vg_io_args *a, __u16 type, __u16 sys, int fd, long ret,
                                      __u32 svc, __u64 ts)
{
    struct vg_conn_event *e;
    struct sock *sk;
    __u64 ino = 0;

    sk = vg_fd_to_tcp(fd, &ino);
    if (!sk)
        return;
    if (type != VG_CONN_CLOSE)
        remember_owner(a, sk, svc, 0);
    e = conn_event(type, sys, fd, svc, ts);
    if (!e)
        return;
    e->ret = ret;
    e->sock = (__u64)sk;
    e->ino = ino;
    vg_read_tuple(sk, &e->tuple);
    submit_conn(e);
}

/* close_range(first, last, flags) closes every fd in the range (unless it only marks them
 * close-on-exec): one event for the range, not a walk of up to 2^32 fds here; the agent ends
 * the connections it tracks in it. */
#define VG_CLOSE_RANGE_CLOEXEC 4

static __always_inline void emit_close_range(__u32 first, __u32 last, __u32 svc, __u64 ts)
{
    struct vg_conn_event *e =
        conn_event(VG_CONN_CLOSE_RANGE, VG_SYS_CLOSE_RANGE, (int)first, svc, ts);

    if (!e)
        return;
    e->fd_last = last;
    submit_conn(e);
}

/* At entry of socket syscall sys (vg_io_sys()), with the registers holding its arguments: saves
 * what the exit needs in *a (a->sys stays 0 when the exit has nothing to do). close, dup2 and
 * dup3 are reported here, since after them the fd no longer leads to the socket; Linux releases
 * the fd even when close returns an error (EINTR, EIO), so the entry is the truth. */
static __always_inline void vg_io_enter(struct vg_io_args *a, __u16 sys, struct pt_regs *r,
                                        __u32 svc, __u64 ts)
{
    /* x86_64 syscall arguments: di, si, dx, r10, r8, r9 */
    int fd = (int)r->di;

    a->sys = 0;
    a->fd = fd;
    a->fd2 = -1;
    a->buf = 0;
    a->iovcnt = 0;
    a->is_iov = 0;
    switch (sys) {
    case VG_SYS_READ:
    case VG_SYS_WRITE:
    case VG_SYS_SENDTO:
        a->buf = r->si;
        break;
    case VG_SYS_RECVFROM:
        if (r->r10 & VG_MSG_PEEK) /* the bytes will be read again */
            return;
        a->buf = r->si;
        break;
    case VG_SYS_READV:
    case VG_SYS_WRITEV:
        a->buf = r->si;
        a->iovcnt = (__u32)r->dx;
        a->is_iov = 1;
        break;
    case VG_SYS_RECVMSG:
    case VG_SYS_SENDMSG: {
        /* The iovec array lives in the user's msghdr: read it now. */
        struct user_msghdr msg;

        if (sys == VG_SYS_RECVMSG && (r->dx & VG_MSG_PEEK))
            return;
        if (bpf_probe_read_user(&msg, sizeof(msg), (void *)r->si))
            __builtin_memset(&msg, 0, sizeof(msg));
        a->buf = (__u64)msg.msg_iov;
        a->iovcnt = (__u32)msg.msg_iovlen;
        a->is_iov = 1;
        break;
    }
    case VG_SYS_SENDFILE: /* sendfile(out_fd, in_fd, offset, count) */
        a->fd2 = (int)r->si;
        break;
    case VG_SYS_SPLICE: /* splice(fd_in, off_in, fd_out, off_out, len, flags) */
        a->fd = (int)r->dx;
        a->fd2 = fd;
        break;
    case VG_SYS_ACCEPT:
    case VG_SYS_ACCEPT4:
    case VG_SYS_CONNECT:
        break;
    case VG_SYS_CLOSE:
        emit_conn(a, VG_CONN_CLOSE, sys, fd, 0, svc, ts);
        return;
    case VG_SYS_CLOSE_RANGE:
        /* unsigned int arguments: the ABI leaves a register's upper half undefined (seen
         * under ASan), and the kernel reads the low 32 bits only; so must this. */
        if (!(r->dx & VG_CLOSE_RANGE_CLOEXEC) && (__u32)r->di <= (__u32)r->si)
            emit_close_range((__u32)r->di, (__u32)r->si, svc, ts);
        return;
    case VG_SYS_DUP2:
    case VG_SYS_DUP3:
        /* dup onto an open TCP socket fd closes it implicitly (nothing when oldfd == newfd; a
         * dup that then fails on a bad oldfd still reports). */
        if ((int)r->di != (int)r->si)
            emit_conn(a, VG_CONN_CLOSE, sys, (int)r->si, 0, svc, ts);
        return;
    default:
        return;
    }
    a->sys = sys;
}

/* At exit of the socket syscall saved in *a (a->sys != 0), which returned ret. */
static __always_inline void vg_io_exit(struct vg_io_args *a, long ret, __u32 svc, __u64 ts_enter,
                                       __u64 ts_exit)
{
    struct sock *sk;
    __u64 ino = 0;

    switch (a->sys) {
    case VG_SYS_READ:
    case VG_SYS_READV:
    case VG_SYS_RECVFROM:
    case VG_SYS_RECVMSG:
        if (ret > 0)
            emit_xfer(a, svc, ts_enter, ts_exit, ret, VG_DIR_INGRESS, a->fd, 1);
        break;
    case VG_SYS_WRITE:
    case VG_SYS_WRITEV:
    case VG_SYS_SENDTO:
    case VG_SYS_SENDMSG:
        if (ret > 0)
            emit_xfer(a, svc, ts_enter, ts_exit, ret, VG_DIR_EGRESS, a->fd, 1);
        break;
    case VG_SYS_SENDFILE:
    case VG_SYS_SPLICE:
        /* Counted (an event with the byte count, no payload): the data comes from a file or a
         * pipe, not a user buffer. Egress when the destination is a TCP socket, else ingress
         * from the source. */
        if (ret <= 0)
            break;
        sk = vg_fd_to_tcp(a->fd, &ino);
        if (sk)
            emit_xfer_sk(a, sk, ino, svc, ts_enter, ts_exit, ret, VG_DIR_EGRESS, a->fd, 0);
        else
            emit_xfer(a, svc, ts_enter, ts_exit, ret, VG_DIR_INGRESS, a->fd2, 0);
        break;
    case VG_SYS_ACCEPT:
    case VG_SYS_ACCEPT4:
        if (ret >= 0)
            emit_conn(a, VG_CONN_ACCEPT, a->sys, (int)ret, ret, svc, ts_exit);
        break;
    case VG_SYS_CONNECT:
        /* A non-blocking connect returns -EINPROGRESS with the SYN sent and the local port
         * bound: the connection exists for the process from here on. */
        if (ret == 0 || ret == -VG_EINPROGRESS)
            emit_conn(a, VG_CONN_CONNECT, VG_SYS_CONNECT, a->fd, ret, svc, ts_exit);
        break;
    default:
        break;
    }
}

#endif
