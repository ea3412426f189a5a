/* vigil-trace — debug tool for the BPF data plane: loads agent/bpf.c's loader, watches the
 * given processes (or a command it starts, or every new process) and prints each event as one
 * text line; at the end, the syscall stats and the counters.
 *
 *   vigil-trace [-a] [-n] [-q] [-v] [-P parts] [-H head] [-T tail] [-d seconds]
 *               [-p pid[:svc]]... [-- cmd args]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bpf.h"

static volatile sig_atomic_t stop;
static pid_t cmd_pid;
static bool quiet;

static void on_signal(int sig)
{
    stop = sig;
}

static const char *sys_name(unsigned sys)
{
    static const char *const names[] = {
        "?",       "read",    "write",   "readv",    "writev", "recvfrom",
        "sendto",  "recvmsg", "sendmsg", "sendfile", "splice", "accept",
        "accept4", "connect", "close",   "dup2",     "dup3",   "close_range",
    };
    return sys < sizeof(names) / sizeof(names[0]) ? names[sys] : "?";
}

static void print_tuple(const struct vg_tuple *t)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int af = t->family == AF_INET6 ? AF_INET6 : AF_INET;

    inet_ntop(af, t->saddr, s, sizeof(s));
    inet_ntop(af, t->daddr, d, sizeof(d));
    printf(af == AF_INET6 ? " [%s]:%u->[%s]:%u" : " %s:%u->%s:%u", s, t->sport, d, t->dport);
}

static void print_bytes(const char *label, const uint8_t *p, unsigned n)
{
    printf(" %s=\"", label);
    for (unsigned i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

static void on_xfer(void *ctx, const struct vg_xfer_event *e)
{
    if (quiet)
        return;
    printf("xfer %s %s tgid=%u tid=%u svc=%d fd=%d bytes=%lld sock=0x%llx ino=%llu dur_ns=%llu",
           sys_name(e->syscall), e->direction == VG_DIR_INGRESS ? "in" : "out", e->tgid, e->tid,
           (int)e->svc, e->fd, (long long)e->bytes, (unsigned long long)e->sock,
           (unsigned long long)e->ino, (unsigned long long)(e->ts_exit_ns - e->ts_enter_ns));
    print_tuple(&e->tuple);
    print_bytes("head", e->data, e->head_len);
    if (e->tail_len)
        print_bytes("tail", e->data + e->head_len, e->tail_len);
    if (e->truncated)
        printf(" truncated");
    putchar('\n');
}

static void on_conn(void *ctx, const struct vg_conn_event *e)
{
    static const char *const types[] = {"?", "accept", "connect", "close", "close_range"};

    if (quiet)
        return;
    printf("conn %s %s tgid=%u tid=%u svc=%d fd=%d ret=%d sock=0x%llx ino=%llu",
           types[e->type < 5 ? e->type : 0], sys_name(e->syscall), e->tgid, e->tid, (int)e->svc,
           e->fd, e->ret, (unsigned long long)e->sock, (unsigned long long)e->ino);
    if (e->type == VG_CONN_CLOSE_RANGE)
        printf(" fd_last=%u", e->fd_last);
    print_tuple(&e->tuple);
    putchar('\n');
}

static void on_proc(void *ctx, const struct vg_proc_event *e)
{
    static const char *const types[] = {"?", "exec", "fork", "exit"};
    struct ag_bpf *b = ctx;

    /* The command's exec turns its watched entry to VG_SVC_PENDING: name it again. */
    if (e->type == VG_PROC_EXEC && cmd_pid && e->tgid == (uint32_t)cmd_pid)
        ag_bpf_watch(b, e->tgid, 1);
    if (quiet)
        return;
    printf("proc %s tgid=%u ppid=%u svc=%d comm=%.16s", types[e->type < 4 ? e->type : 0], e->tgid,
           e->ppid, (int)e->svc, e->comm);
    if (e->type == VG_PROC_EXEC)
        printf(" file=%.128s", e->filename);
    if (e->type == VG_PROC_EXIT)
        printf(" code=%d", e->exit_code);
    putchar('\n');
}

static void print_stats(void *ctx, const struct vg_sys_key *k, const struct vg_sys_stats *s)
{
    printf("sys svc=%d nr=%u count=%llu errors=%llu lat_sum_ns=%llu\n", (int)k->svc, k->nr,
           (unsigned long long)s->count, (unsigned long long)s->errors,
           (unsigned long long)s->lat_sum_ns);
}

static void print_errs(void *ctx, const struct vg_sys_err_key *k, uint64_t n)
{
    printf("errno svc=%d nr=%u errno=%u count=%llu\n", (int)k->svc, k->nr, k->err,
           (unsigned long long)n);
}

static void print_counters(struct ag_bpf *b)
{
    struct ag_bpf_counters c;

    if (ag_bpf_counters(b, &c))
        return;
    printf("counters xfer=%llu conn=%llu proc=%llu drop_xfer=%llu drop_conn=%llu drop_proc=%llu "
           "drop_stats=%llu drop_watch=%llu skip_unix=%llu skip_other=%llu quiet=%llu "
           "malformed=%llu\n",
           (unsigned long long)c.events_xfer, (unsigned long long)c.events_conn,
           (unsigned long long)c.events_proc, (unsigned long long)c.drop_xfer,
           (unsigned long long)c.drop_conn, (unsigned long long)c.drop_proc,
           (unsigned long long)c.drop_stats, (unsigned long long)c.drop_watch,
           (unsigned long long)c.skip_unix, (unsigned long long)c.skip_other,
           (unsigned long long)c.xfer_quiet, (unsigned long long)c.malformed);
}

/* Forks cmd stopped on a pipe, so that it is watched before its first instruction. */
static int start_cmd(struct ag_bpf *b, char **argv)
{
    int go[2];
    char c = 0;

    if (pipe(go))
        return -errno;
    cmd_pid = fork();
    if (cmd_pid < 0)
        return -errno;
    if (cmd_pid == 0) {
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "vigil-trace: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(go[0]);
    ag_bpf_watch(b, (uint32_t)cmd_pid, 1);
    if (write(go[1], &c, 1) != 1)
        return -errno;
    close(go[1]);
    return 0;
}

int main(int argc, char **argv)
{
    struct ag_bpf_handlers h = {on_xfer, on_conn, on_proc};
    struct ag_bpf_conf conf;
    struct ag_bpf *b = NULL;
    uint32_t pids[64], svcs[64];
    int npids = 0, opt, err, status = 0;
    double duration = 0;
    struct timespec t0, now;

    ag_bpf_conf_default(&conf);
    while ((opt = getopt(argc, argv, "anqvH:T:d:p:P:")) != -1) {
        switch (opt) {
        case 'a':
            conf.watch_all = true;
            break;
        case 'n':
            conf.syscall_latency = false;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            conf.verbose = true;
            break;
        case 'H':
            conf.head_cap = (uint32_t)atoi(optarg);
            break;
        case 'T':
            conf.tail_cap = (uint32_t)atoi(optarg);
            break;
        case 'P': /* parts mask: 1 sockio, 2 syscalls, 4 proc */
            conf.parts = (unsigned)atoi(optarg);
            break;
        case 'd':
            duration = atof(optarg);
            break;
        case 'p':
            if (npids < 64) {
                char *colon = strchr(optarg, ':');

                pids[npids] = (uint32_t)atoi(optarg);
                svcs[npids++] = colon ? (uint32_t)atoi(colon + 1) : 1;
            }
            break;
        default:
            fprintf(stderr, "usage: vigil-trace [-a] [-n] [-q] [-v] [-P parts] [-H head] [-T tail] "
                            "[-d seconds] [-p pid[:svc]]... [-- cmd args]\n");
            return 2;
        }
    }
    err = ag_bpf_open(&conf, &b);
    if (err)
        return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int i = 0; i < npids; i++)
        ag_bpf_watch(b, pids[i], svcs[i]);
    if (optind < argc && start_cmd(b, argv + optind)) {
        fprintf(stderr, "vigil-trace: cannot start %s\n", argv[optind]);
        ag_bpf_close(b);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop) {
        err = ag_bpf_poll(b, 100, &h, b);
        if (err < 0 && err != -EINTR) {
            fprintf(stderr, "vigil-trace: poll: %s\n", strerror(-err));
            break;
        }
        fflush(stdout);
        if (cmd_pid && waitpid(cmd_pid, &status, WNOHANG) == cmd_pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (duration > 0 &&
            (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
            break;
    }
    ag_bpf_poll(b, 0, &h, b);
    ag_bpf_syscall_stats(b, print_stats, NULL);
    ag_bpf_syscall_errors(b, print_errs, NULL);
    print_counters(b);
    fflush(stdout);
    ag_bpf_close(b);
    return cmd_pid && WIFEXITED(status) ? WEXITSTATUS(status) : 0;
}
