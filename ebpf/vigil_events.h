/* vigil_events.h — records and map layouts shared by the ebpf/ programs and user space.
 *
 * Fixed-width types only, so that the BPF object (built against vmlinux.h) and the agent (built
 * against the C library) agree on every offset. All times are CLOCK_MONOTONIC nanoseconds from
 * bpf_ktime_get_ns(); the agent converts them to wall-clock time.
 *
 * Every ring-buffer record starts with a __u32 kind (enum vg_event_kind) so that one ring buffer
 * can carry all three families in the order the kernel produced them.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Payload capture: compile-time maxima; the run-time caps are rodata tunables. */
#define VG_HEAD_MAX     1024
#define VG_TAIL_MAX     128
#define VG_DATA_MAX     (VG_HEAD_MAX + VG_TAIL_MAX)
#define VG_HEAD_DEFAULT 512
#define VG_TAIL_DEFAULT 64
/* readv/writev/recvmsg/sendmsg: iovecs looked at for head and tail (the byte count is exact). */
#define VG_IOV_MAX 8

#define VG_COMM_LEN     16
#define VG_FILENAME_LEN 128

/* Syscall latency histogram: bucket upper bounds in ns (rodata), plus one overflow bucket. */
#define VG_LAT_BOUNDS_MAX 16
#define VG_LAT_BUCKETS    (VG_LAT_BOUNDS_MAX + 1)

/* watched: value for a process the BPF side inserted itself (a new child, or any new process in
 * watch-all mode) before user space named its service. */
#define VG_SVC_PENDING 0xffffffffu
/* vg_proc_event.svc when the process is not (or no longer) in the watched map. */
#define VG_SVC_NONE 0xfffffffeu

enum vg_event_kind {
    VG_EV_XFER = 1, /* struct vg_xfer_event */
    VG_EV_CONN = 2, /* struct vg_conn_event */
    VG_EV_PROC = 3, /* struct vg_proc_event */
};

/* Which syscall produced a transfer or connection event (stable across architectures). */
enum vg_sys {
    VG_SYS_READ = 1,
    VG_SYS_WRITE,
    VG_SYS_READV,
    VG_SYS_WRITEV,
    VG_SYS_RECVFROM,
    VG_SYS_SENDTO,
    VG_SYS_RECVMSG,
    VG_SYS_SENDMSG,
    VG_SYS_SENDFILE,
    VG_SYS_SPLICE,
    VG_SYS_ACCEPT,
    VG_SYS_ACCEPT4,
    VG_SYS_CONNECT,
    VG_SYS_CLOSE,
    VG_SYS_DUP2, /* close event: dup2/dup3 replaced a TCP socket fd */
    VG_SYS_DUP3,
    VG_SYS_CLOSE_RANGE, /* close event for every fd in [fd, fd_last] */
};

enum vg_direction {
    VG_DIR_INGRESS = 1, /* data read by the process */
    VG_DIR_EGRESS = 2,  /* data written by the process */
};

/* A TCP connection's addresses as this process sees them: s* is the local end, d* the peer.
 * AF_INET uses the first 4 bytes of saddr/daddr; an AF_INET6 socket carrying IPv4 shows the
 * v4-mapped address (::ffff:a.b.c.d). Ports in host byte order. */
struct vg_tuple {
    __u8 saddr[16];
    __u8 daddr[16];
    __u16 sport;
    __u16 dport;
    __u16 family; /* AF_INET or AF_INET6 */
    __u16 pad;
};

/* One read-side or write-side syscall on a TCP socket that moved bytes (ret > 0).
 * Connection identity: (tgid, fd, sock); fds are reused, the sock address is not while the
 * connection lives. ino is the socket inode, as in /proc/PID/fd -> socket:[ino].
 * data holds head_len bytes from the start of the transfer, then tail_len bytes that end it;
 * tail_len is non-zero only when bytes > head cap (the two never overlap). The record in the
 * ring buffer is cut after the used data: its size is offsetof(data) + head_len + tail_len. */
struct vg_xfer_event {
    __u32 kind; /* VG_EV_XFER */
    __u32 svc;  /* service index from the watched map */
    __u32 tgid;
    __u32 tid;
    __s32 fd;
    __u16 syscall;  /* enum vg_sys */
    __u8 direction; /* enum vg_direction */
    __u8 truncated; /* 1 when iovecs beyond VG_IOV_MAX held part of head or tail */
    __u64 sock;     /* struct sock * */
    __u64 ino;      /* socket inode number */
    __u64 ts_enter_ns;
    __u64 ts_exit_ns;
    __s64 bytes; /* what the syscall returned */
    struct vg_tuple tuple;
    __u16 head_len;
    __u16 tail_len;
    __u32 pad;
    __u8 data[VG_DATA_MAX];
};

enum vg_conn_type {
    VG_CONN_ACCEPT = 1,  /* server role: accept/accept4 returned fd */
    VG_CONN_CONNECT = 2, /* client role: connect returned 0 or -EINPROGRESS */
    VG_CONN_CLOSE = 3,   /* close(fd) on a TCP socket (reported at entry: the fd is gone after) */
    VG_CONN_CLOSE_RANGE = 4, /* close_range(fd, fd_last): every fd in it, sockets or not; no
                              * sock, inode or tuple (the agent knows which are connections) */
};

struct vg_conn_event {
    __u32 kind; /* VG_EV_CONN */
    __u32 svc;
    __u32 tgid;
    __u32 tid;
    __s32 fd;
    __u16 type;    /* enum vg_conn_type */
    __u16 syscall; /* enum vg_sys */
    __s32 ret;     /* the syscall's result (connect: 0 or -EINPROGRESS) */
    __u32 fd_last; /* VG_CONN_CLOSE_RANGE: the last fd of the range */
    __u64 sock;
    __u64 ino;
    __u64 ts_ns;
    struct vg_tuple tuple;
};

enum vg_proc_type {
    VG_PROC_EXEC = 1,
    VG_PROC_FORK = 2, /* a new process (not a thread); tgid is the child, ppid the parent */
    VG_PROC_EXIT = 3, /* the last thread of the process exited */
};

struct vg_proc_event {
    __u32 kind; /* VG_EV_PROC */
    __u32 type; /* enum vg_proc_type */
    __u32 tgid;
    __u32 ppid;      /* parent's tgid */
    __u32 svc;       /* watched value after this event, or VG_SVC_NONE */
    __s32 exit_code; /* exit: the wait status (code << 8 | signal) */
    __u64 ts_ns;
    char comm[VG_COMM_LEN];
    char filename[VG_FILENAME_LEN]; /* exec only: the path given to execve */
};

/* Per-cpu counters (one array shared by every object), indexed by enum vg_counter. */
enum vg_counter {
    VG_CNT_XFER = 0,        /* transfer events submitted */
    VG_CNT_CONN,            /* connection events submitted */
    VG_CNT_PROC,            /* process events submitted */
    VG_CNT_DROP_XFER,       /* ring buffer full: transfer events lost */
    VG_CNT_DROP_CONN,       /* ring buffer full: connection events lost */
    VG_CNT_DROP_PROC,       /* ring buffer full: process events lost */
    VG_CNT_DROP_STATS,      /* syscall stats maps full: syscalls not counted */
    VG_CNT_DROP_WATCH,      /* watched map full: a new child could not be followed */
    VG_CNT_SKIP_UNIX,       /* transfers on Unix sockets (skipped) */
    VG_CNT_SKIP_OTHER,      /* transfers on non-TCP inet sockets (UDP, raw; skipped) */
    VG_CNT_RETRANS_UNOWNED, /* TCP retransmits on sockets no watched process was seen using */
    VG_CNT_XFER_QUIET,      /* transfers on sockets user space marked quiet (vg_quiet): no record */
    VG_CNT_MAX = 16,
};

/* syscalls.bpf.c: per-cpu hash keyed by (service index, syscall number). */
struct vg_sys_key {
    __u32 svc;
    __u32 nr;
};

struct vg_sys_stats {
    __u64 count;
    __u64 errors;
    __u64 lat_sum_ns;          /* 0 in counts-only mode */
    __u64 lat[VG_LAT_BUCKETS]; /* non-cumulative; last bucket is > the last bound */
};

/* tcp.bpf.c: TCP retransmits per service index (per-cpu hash, key __u32 svc, value __u64), found
 * through vg_sock_svc: struct sock * -> service index, which sockio.bpf.c fills when a watched
 * process accepts, connects or moves bytes on a socket, and tcp.bpf.c empties when the kernel
 * destroys the socket. */
#define VG_SOCK_SVC_MAX 65536
#define VG_RETRANS_MAX  4096

/* sockio: sockets whose transfers user space does not want (the server side of a database or
 * broker: recognised from its first bytes, reported from the client side only). Keyed by the
 * socket's inode and the process, not by struct sock *: an address is reused by the next socket,
 * an inode number with the same process practically never, so a stale entry (a close not seen,
 * a process gone) does no harm and ages out of the LRU map. */
#define VG_QUIET_MAX 16384

struct vg_quiet_key {
    __u64 ino;
    __u32 tgid;
    __u32 pad;
};

struct vg_sys_err_key {
    __u32 svc;
    __u32 nr;
    __u32 err; /* positive errno */
    __u32 pad;
};

#endif
