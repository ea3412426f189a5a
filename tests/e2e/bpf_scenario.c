/* bpf_scenario.c — the watched processes of test_bpf_loader: a server (A) and a client (B) in
 * strict ping-pong over 127.0.0.1, so that each message is one syscall on each side. */
#include "bpf_scenario.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h> /* splice */
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <bpf/bpf.h>

static int report_fd = -1; /* read end of B's report pipe */

uint64_t request_bytes(void)
{
    return strlen(REQ1) + strlen(REQ2) + strlen(REQ3) + BIG_LEN;
}

uint64_t response_bytes(void)
{
    return strlen(RESP1) + strlen(RESP2) + strlen(RESP3) + strlen(RESP4);
}

void fill_big(uint8_t *big)
{
    for (int i = 0; i < BIG_LEN; i++)
        big[i] = (uint8_t)(i * 7 % 251);
}

/* Reads exactly n bytes with read(); exits the child on failure. */
static void read_all(int fd, char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, buf + got, n - got);

        if (k <= 0)
            _exit(10);
        got += (size_t)k;
    }
}

static void must(int ok, int code)
{
    if (!ok)
        _exit(code);
}

static void server(int lfd)
{
    char buf[8192], small[10];
    struct iovec iov[2] = {{small, sizeof(small)}, {buf, sizeof(buf)}};
    struct iovec out[2] = {{RESP2_P1, strlen(RESP2_P1)}, {RESP2_P2, strlen(RESP2_P2)}};
    struct msghdr msg = {.msg_iov = out, .msg_iovlen = 2};
    int fd = accept4(lfd, NULL, NULL, 0);

    must(fd >= 0, 20);
    must(read(fd, buf, sizeof(buf)) == (ssize_t)strlen(REQ1), 21);
    must(write(fd, RESP1, strlen(RESP1)) == (ssize_t)strlen(RESP1), 22);
    must(readv(fd, iov, 2) == (ssize_t)strlen(REQ2), 23);
    must(sendmsg(fd, &msg, 0) == (ssize_t)strlen(RESP2), 24);
    must(recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL) == (ssize_t)strlen(REQ3), 25);
    must(write(fd, RESP3, strlen(RESP3)) == (ssize_t)strlen(RESP3), 26);
    read_all(fd, buf, BIG_LEN);
    must(write(fd, RESP4, strlen(RESP4)) == (ssize_t)strlen(RESP4), 27);
    must(read(fd, buf, sizeof(buf)) == 0, 28); /* B closed */
    close(fd);
    close(lfd);
}

static void client(const struct sockaddr_in *addr, int report)
{
    struct iovec req2[3] = {
        {REQ2_P1, strlen(REQ2_P1)}, {REQ2_P2, strlen(REQ2_P2)}, {REQ2_P3, strlen(REQ2_P3)}};
    char buf[8192], small[7];
    struct iovec in3[2] = {{small, sizeof(small)}, {buf, sizeof(buf)}};
    struct iovec in4 = {buf, sizeof(buf)};
    struct msghdr msg = {.msg_iov = &in4, .msg_iovlen = 1};
    struct scenario_result r = {0};
    socklen_t len = sizeof(r.b_local);
    uint8_t big[BIG_LEN];
    pid_t g;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    fill_big(big);
    must(fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0, 30);
    r.fd_b = fd;
    getsockname(fd, (struct sockaddr *)&r.b_local, &len);
    len = sizeof(r.b_peer);
    getpeername(fd, (struct sockaddr *)&r.b_peer, &len);
    must(write(fd, REQ1, strlen(REQ1)) == (ssize_t)strlen(REQ1), 31);
    read_all(fd, buf, strlen(RESP1));
    must(writev(fd, req2, 3) == (ssize_t)strlen(REQ2), 32);
    /* The peek sees the same bytes as the read after it: only the read is a transfer. */
    must(recvfrom(fd, buf, sizeof(buf), MSG_PEEK, NULL, NULL) == (ssize_t)strlen(RESP2), 33);
    must(recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL) == (ssize_t)strlen(RESP2), 34);
    must(sendto(fd, REQ3, strlen(REQ3), 0, NULL, 0) == (ssize_t)strlen(REQ3), 35);
    must(readv(fd, in3, 2) == (ssize_t)strlen(RESP3), 36);
    must(write(fd, big, BIG_LEN) == BIG_LEN, 37);
    must(recvmsg(fd, &msg, 0) == (ssize_t)strlen(RESP4), 38);
    for (int i = 0; i < N_GETPPID; i++)
        syscall(SYS_getppid);
    for (int i = 0; i < N_BADCLOSE; i++)
        syscall(SYS_close, -1);
    g = fork();
    if (g == 0) {
        for (int i = 0; i < N_GETSID; i++)
            syscall(SYS_getsid, 0);
        _exit(0);
    }
    must(g > 0 && waitpid(g, NULL, 0) == g, 39);
    r.pid_g = (uint32_t)g;
    close(fd);
    must(write(report, &r, sizeof(r)) == sizeof(r), 40);
}

/* Forks a child that signals `ready`, waits for `go`, then runs fn. */
static pid_t start_child(int ready, int go, void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    char c = 0;

    if (pid != 0)
        return pid;
    must(write(ready, &c, 1) == 1, 2);
    must(read(go, &c, 1) == 1, 3);
    fn(arg);
    _exit(0);
}

struct client_arg {
    struct sockaddr_in addr;
    int report;
};

static void run_server(void *arg)
{
    server(*(int *)arg);
}

static void run_client(void *arg)
{
    struct client_arg *c = arg;

    client(&c->addr, c->report);
}

/* Unwatched TCP traffic of the parent: must produce no event. */
static void parent_traffic(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;
    char buf[64];

    if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len) ||
        connect(c, (struct sockaddr *)&a, sizeof(a))) {
        perror("parent traffic");
        return;
    }
    s = accept(l, NULL, NULL);
    if (write(c, REQ1, strlen(REQ1)) < 0 || read(s, buf, sizeof(buf)) < 0)
        perror("parent traffic");
    close(s);
    close(c);
    close(l);
}

int run_scenario(struct ag_bpf *b, struct scenario_result *r, pid_t kids[2])
{
    struct client_arg ca = {
        .addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
    socklen_t len = sizeof(ca.addr);
    int ready[2], go[2], rep[2], lfd;
    char c = 0;

    memset(r, 0, sizeof(*r));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&ca.addr, sizeof(ca.addr)) || listen(lfd, 4) ||
        getsockname(lfd, (struct sockaddr *)&ca.addr, &len) || pipe(ready) || pipe(go) || pipe(rep))
        return -1;
    kids[0] = start_child(ready[1], go[0], run_server, &lfd);
    ca.report = rep[1];
    close(lfd); /* B must not hold the listener: its close would be a watched event */
    kids[1] = start_child(ready[1], go[0], run_client, &ca);
    close(rep[1]);
    report_fd = rep[0];
    for (int i = 0; i < 2; i++)
        if (read(ready[0], &c, 1) != 1)
            return -1;
    r->pid_a = (uint32_t)kids[0];
    r->pid_b = (uint32_t)kids[1];
    if (ag_bpf_watch(b, (uint32_t)kids[0], SVC_A) || ag_bpf_watch(b, (uint32_t)kids[1], SVC_B))
        return -1;
    if (write(go[1], "gg", 2) != 2)
        return -1;
    parent_traffic();
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    return 0;
}

int scenario_report(struct scenario_result *r)
{
    struct scenario_result got;

    if (read(report_fd, &got, sizeof(got)) != sizeof(got))
        return -1;
    close(report_fd);
    r->fd_b = got.fd_b;
    r->pid_g = got.pid_g;
    r->b_local = got.b_local;
    r->b_peer = got.b_peer;
    return 0;
}

/* Parent side of a spawned child: watch it as svc, let it go (go[1]), wait for a clean exit. */
static pid_t watch_go_wait(struct ag_bpf *b, pid_t pid, uint32_t svc, int go[2])
{
    char c = 0;
    int st;

    close(go[0]);
    if (pid < 0 || ag_bpf_watch(b, (uint32_t)pid, svc) || write(go[1], &c, 1) != 1)
        return -1;
    close(go[1]);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        return -1;
    return pid;
}

/* fork() for a child that must not start before it is watched: the child returns (0) only
 * once the parent's watch_go_wait() let it go; -1 when the pipe or fork failed. */
static pid_t fork_held(int go[2])
{
    char c = 0;
    pid_t pid;

    if (pipe(go)) {
        go[0] = go[1] = -1;
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        close(go[1]);
        must(read(go[0], &c, 1) == 1, 2);
    }
    return pid;
}

pid_t spawn_getppid_loop(struct ag_bpf *b, uint32_t svc, int n)
{
    int go[2];
    pid_t pid = fork_held(go);

    if (pid == 0) {
        for (int i = 0; i < n; i++)
            syscall(SYS_getppid);
        _exit(0);
    }
    return watch_go_wait(b, pid, svc, go);
}

pid_t spawn_ipv6_pair(struct ag_bpf *b, uint32_t svc, int n, uint16_t *port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof(a);
    int go[2], l = socket(AF_INET6, SOCK_STREAM, 0);
    char c = 0, buf[64];
    pid_t pid;

    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len) || pipe(go))
        return -1;
    *port = ntohs(a.sin6_port);
    pid = fork();
    if (pid == 0) {
        int cfd = socket(AF_INET6, SOCK_STREAM, 0), sfd;

        close(go[1]);
        must(read(go[0], &c, 1) == 1, 2);
        must(cfd >= 0 && connect(cfd, (struct sockaddr *)&a, sizeof(a)) == 0, 3);
        sfd = accept(l, NULL, NULL);
        must(sfd >= 0, 4);
        must(write(cfd, PING6, strlen(PING6)) == (ssize_t)strlen(PING6), 5);
        read_all(sfd, buf, strlen(PING6));
        for (int i = 0; i < n; i++)
            syscall(SYS_getppid);
        /* Marking close-on-exec closes nothing (no event); then close everything from fd 3. */
        must(syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) == 0, 6);
        must(syscall(SYS_close_range, 3u, ~0u, 0u) == 0, 7);
        _exit(0);
    }
    close(l);
    return watch_go_wait(b, pid, svc, go);
}

pid_t spawn_quiet_pair(struct ag_bpf *b, uint32_t svc, uint64_t *quiet_ino)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int go[2], l = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), sfd;
    char c = 0, buf[64];
    struct stat st;
    pid_t pid;

    if (l < 0 || cfd < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len) ||
        connect(cfd, (struct sockaddr *)&a, sizeof(a)) || (sfd = accept(l, NULL, NULL)) < 0 ||
        fstat(sfd, &st) || pipe(go))
        return -1;
    close(l);
    *quiet_ino = (uint64_t)st.st_ino;
    pid = fork();
    if (pid == 0) {
        close(go[1]);
        must(read(go[0], &c, 1) == 1, 2);
        must(write(cfd, QUIET_REQ, strlen(QUIET_REQ)) == (ssize_t)strlen(QUIET_REQ), 3);
        read_all(sfd, buf, strlen(QUIET_REQ));
        must(write(sfd, QUIET_RESP, strlen(QUIET_RESP)) == (ssize_t)strlen(QUIET_RESP), 4);
        read_all(cfd, buf, strlen(QUIET_RESP));
        _exit(0);
    }
    close(cfd);
    close(sfd);
    if (pid < 0 || ag_bpf_quiet(b, (uint32_t)pid, *quiet_ino)) {
        close(go[0]);
        close(go[1]);
        if (pid > 0)
            kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        return -1;
    }
    return watch_go_wait(b, pid, svc, go);
}

pid_t spawn_sendfile_splice(struct ag_bpf *b, uint32_t svc)
{
    int go[2];
    pid_t pid = fork_held(go);

    if (pid == 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int l = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), sfd, p[2];
        char path[] = "/tmp/vigil-sendfile-XXXXXX", buf[SENDFILE_BYTES];
        int file = mkstemp(path);
        off_t off = 0;

        must(l >= 0 && cfd >= 0 && file >= 0 && pipe(p) == 0, 3);
        unlink(path);
        memset(buf, 'x', sizeof(buf));
        must(write(file, buf, sizeof(buf)) == (ssize_t)sizeof(buf), 4);
        must(!bind(l, (struct sockaddr *)&a, sizeof(a)) && !listen(l, 1) &&
                 !getsockname(l, (struct sockaddr *)&a, &len) &&
                 !connect(cfd, (struct sockaddr *)&a, sizeof(a)),
             5);
        sfd = accept(l, NULL, NULL);
        must(sfd >= 0, 6);
        /* file -> client socket, socket -> pipe on the server end, pipe -> server socket back */
        while (off < SENDFILE_BYTES)
            must(sendfile(cfd, file, &off, (size_t)(SENDFILE_BYTES - off)) > 0, 7);
        for (ssize_t got = 0, k; got < SENDFILE_BYTES; got += k)
            must((k = splice(sfd, NULL, p[1], NULL, (size_t)(SENDFILE_BYTES - got), 0)) > 0, 8);
        for (ssize_t put = 0, k; put < SENDFILE_BYTES; put += k)
            must((k = splice(p[0], NULL, sfd, NULL, (size_t)(SENDFILE_BYTES - put), 0)) > 0, 9);
        read_all(cfd, buf, SENDFILE_BYTES);
        _exit(0);
    }
    return watch_go_wait(b, pid, svc, go);
}

/* ids of vg_* programs and maps that existed before the test (another agent's, say) */
static uint32_t before[512];
static size_t n_before;

static int was_before(uint32_t id)
{
    for (size_t i = 0; i < n_before; i++)
        if (before[i] == id)
            return 1;
    return 0;
}

/* Calls found(id) for every program (maps = 0) or map named vg_*; returns how many. */
static int scan(int maps, void (*found)(uint32_t id))
{
    uint32_t id = 0;
    int n = 0;

    while ((maps ? bpf_map_get_next_id(id, &id) : bpf_prog_get_next_id(id, &id)) == 0) {
        int fd = maps ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);
        struct bpf_prog_info pi = {0};
        struct bpf_map_info mi = {0};
        uint32_t len = maps ? sizeof(mi) : sizeof(pi);
        const char *name;

        if (fd < 0)
            continue; /* freed meanwhile */
        if (bpf_obj_get_info_by_fd(fd, maps ? (void *)&mi : (void *)&pi, &len) == 0) {
            name = maps ? mi.name : pi.name;
            if (!strncmp(name, "vg_", 3) && !was_before(id)) {
                n++;
                if (found)
                    found(id);
            }
        }
        close(fd);
    }
    return n;
}

static void remember(uint32_t id)
{
    if (n_before < sizeof(before) / sizeof(before[0]))
        before[n_before++] = id;
}

void vigil_objects_snapshot(void)
{
    scan(0, remember);
    scan(1, remember);
}

int vigil_objects_left(int timeout_ms)
{
    struct timespec pause = {0, 50 * 1000 * 1000};
    int n;

    for (int waited = 0;; waited += 50) {
        n = scan(0, NULL) + scan(1, NULL);
        if (n == 0 || waited >= timeout_ms)
            return n;
        nanosleep(&pause, NULL);
    }
}
