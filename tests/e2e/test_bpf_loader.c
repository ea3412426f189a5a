/* test_bpf_loader — e2e test of the BPF data plane (agent/bpf.c + the ebpf/ programs); needs root.
 *
 * A server child (A) and a client child (B) talk HTTP-like text over 127.0.0.1 with write,
 * writev, sendto, read, readv, recvfrom (with a MSG_PEEK first) and recvmsg; B then makes known
 * numbers of getppid() and failing close(-1) calls and forks a grandchild (G). The parent, not
 * watched, does its own TCP I/O. Checks: every transfer and connection event with its bytes,
 * head, tail and 4-tuple; syscall counts and errnos per service; process events; no event from
 * an unwatched process; counts-only mode; and that nothing named vg_* is left after close.
 * Exit 0 when every check passed, 1 otherwise (each failure printed), 77 when not root.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <bpf/bpf.h>

#include "bpf.h"
#include "bpf_scenario.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            putchar('\n');                                                                         \
        }                                                                                          \
    } while (0)

/* Everything the ring buffer delivered, copied out. */
struct seen {
    struct vg_xfer_event *xfer;
    size_t n_xfer;
    struct vg_conn_event conn[256];
    size_t n_conn;
    struct vg_proc_event proc[1024];
    size_t n_proc;
};

static void on_xfer(void *ctx, const struct vg_xfer_event *e)
{
    struct seen *s = ctx;
    struct vg_xfer_event *grown = realloc(s->xfer, (s->n_xfer + 1) * sizeof(*e));

    if (!grown)
        abort();
    s->xfer = grown;
    memset(&s->xfer[s->n_xfer], 0, sizeof(*e));
    memcpy(&s->xfer[s->n_xfer++], e,
           offsetof(struct vg_xfer_event, data) + e->head_len + e->tail_len);
}

static void on_conn(void *ctx, const struct vg_conn_event *e)
{
    struct seen *s = ctx;

    if (s->n_conn < 256)
        s->conn[s->n_conn++] = *e;
}

static void on_proc(void *ctx, const struct vg_proc_event *e)
{
    struct seen *s = ctx;

    if (s->n_proc < 1024)
        s->proc[s->n_proc++] = *e;
}

static const struct ag_bpf_handlers handlers = {on_xfer, on_conn, on_proc};

/* After a child exited: whatever its records are, they are in the ring by now. */
static void drain(struct ag_bpf *b, struct seen *s)
{
    for (int i = 0; i < 5; i++)
        ag_bpf_poll(b, 20, &handlers, s);
}

/* Syscall stats lookups for the checks. */
struct want_stat {
    uint32_t svc, nr;
    uint64_t count, errors, lat_sum, buckets;
    int found;
};

static void find_stat(void *ctx, const struct vg_sys_key *k, const struct vg_sys_stats *s)
{
    struct want_stat *w = ctx;

    if (k->svc == w->svc && k->nr == w->nr) {
        w->found = 1;
        w->count = s->count;
        w->errors = s->errors;
        w->lat_sum = s->lat_sum_ns;
        w->buckets = 0;
        for (int i = 0; i < VG_LAT_BUCKETS; i++)
            w->buckets += s->lat[i];
    }
}

static struct want_stat stat_of(struct ag_bpf *b, uint32_t svc, uint32_t nr)
{
    struct want_stat w = {.svc = svc, .nr = nr};

    ag_bpf_syscall_stats(b, find_stat, &w);
    return w;
}

struct want_err {
    uint32_t svc, nr, err;
    uint64_t count;
};

static void find_err(void *ctx, const struct vg_sys_err_key *k, uint64_t n)
{
    struct want_err *w = ctx;

    if (k->svc == w->svc && k->nr == w->nr && k->err == w->err)
        w->count = n;
}

static void other_svc(void *ctx, const struct vg_sys_key *k, const struct vg_sys_stats *s)
{
    if (k->svc != SVC_A && k->svc != SVC_B)
        (*(int *)ctx)++;
}

/* Polls until every child exited, then drains what is left. */
static void collect(struct ag_bpf *b, struct seen *s, pid_t *kids, int n)
{
    int left = n;

    while (left > 0) {
        int rc = ag_bpf_poll(b, 50, &handlers, s);

        CHECK(rc >= 0 || rc == -EINTR, "poll: %s", strerror(-rc));
        for (int i = 0; i < n; i++) {
            int st;

            if (kids[i] > 0 && waitpid(kids[i], &st, WNOHANG) == kids[i]) {
                CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %#x", kids[i], st);
                kids[i] = -kids[i];
                left--;
            }
        }
    }
    for (int i = 0; i < 5; i++)
        ag_bpf_poll(b, 20, &handlers, s);
}

static int tuple_is(const struct vg_tuple *t, const struct sockaddr_in *local,
                    const struct sockaddr_in *peer)
{
    return t->family == AF_INET && !memcmp(t->saddr, &local->sin_addr, 4) &&
           !memcmp(t->daddr, &peer->sin_addr, 4) && t->sport == ntohs(local->sin_port) &&
           t->dport == ntohs(peer->sin_port);
}

static const struct vg_xfer_event *nth_xfer(const struct seen *s, uint32_t tgid, uint8_t dir,
                                            size_t nth)
{
    for (size_t i = 0; i < s->n_xfer; i++)
        if (s->xfer[i].tgid == tgid && s->xfer[i].direction == dir && nth-- == 0)
            return &s->xfer[i];
    return NULL;
}

static void check_head(const struct vg_xfer_event *e, uint16_t sys, const char *want, size_t n)
{
    CHECK(e != NULL, "missing transfer event (sys %u)", sys);
    if (!e)
        return;
    CHECK(e->syscall == sys, "syscall %u, want %u", e->syscall, sys);
    CHECK(e->bytes == (int64_t)n, "bytes %lld, want %zu", (long long)e->bytes, n);
    CHECK(e->head_len == n && !memcmp(e->data, want, n), "head (%u bytes) differs from %.20s",
          e->head_len, want);
    CHECK(e->tail_len == 0, "tail_len %u for a short transfer", e->tail_len);
    CHECK(e->ts_enter_ns && e->ts_enter_ns <= e->ts_exit_ns, "times %llu..%llu",
          (unsigned long long)e->ts_enter_ns, (unsigned long long)e->ts_exit_ns);
}

static void check_transfers(const struct seen *s, const struct scenario_result *r)
{
    const struct vg_xfer_event *e;
    uint64_t a_in = 0, b_out = 0, a_out = 0, b_in = 0;
    size_t b_recvfrom = 0;

    for (size_t i = 0; i < s->n_xfer; i++) {
        e = &s->xfer[i];
        CHECK(e->tgid == r->pid_a || e->tgid == r->pid_b, "transfer from unwatched tgid %u",
              e->tgid);
        if (e->tgid == r->pid_b) {
            CHECK(e->svc == SVC_B && e->fd == r->fd_b && e->sock == r->sock_b,
                  "B transfer svc %u fd %d", e->svc, e->fd);
            CHECK(tuple_is(&e->tuple, &r->b_local, &r->b_peer), "B transfer tuple");
            if (e->direction == VG_DIR_EGRESS)
                b_out += e->bytes;
            else
                b_in += e->bytes;
            b_recvfrom += e->direction == VG_DIR_INGRESS && e->syscall == VG_SYS_RECVFROM;
        } else if (e->tgid == r->pid_a) {
            CHECK(e->svc == SVC_A && tuple_is(&e->tuple, &r->b_peer, &r->b_local),
                  "A transfer svc %u / tuple", e->svc);
            if (e->direction == VG_DIR_EGRESS)
                a_out += e->bytes;
            else
                a_in += e->bytes;
        }
    }
    CHECK(b_out == request_bytes() && a_in == request_bytes(), "request bytes B %llu A %llu",
          (unsigned long long)b_out, (unsigned long long)a_in);
    CHECK(a_out == response_bytes() && b_in == response_bytes(), "response bytes A %llu B %llu",
          (unsigned long long)a_out, (unsigned long long)b_in);
    CHECK(b_recvfrom == 1, "B recvfrom events %zu (the MSG_PEEK must not count)", b_recvfrom);

    /* B's requests in order: write, writev, sendto, write of BIG_LEN bytes. */
    check_head(nth_xfer(s, r->pid_b, VG_DIR_EGRESS, 0), VG_SYS_WRITE, REQ1, strlen(REQ1));
    check_head(nth_xfer(s, r->pid_b, VG_DIR_EGRESS, 1), VG_SYS_WRITEV, REQ2, strlen(REQ2));
    check_head(nth_xfer(s, r->pid_b, VG_DIR_EGRESS, 2), VG_SYS_SENDTO, REQ3, strlen(REQ3));
    e = nth_xfer(s, r->pid_b, VG_DIR_EGRESS, 3);
    CHECK(e && e->syscall == VG_SYS_WRITE && e->bytes == BIG_LEN, "big write event");
    if (e) {
        uint8_t big[BIG_LEN];

        fill_big(big);
        CHECK(e->head_len == HEAD_CAP && !memcmp(e->data, big, HEAD_CAP), "big head %u",
              e->head_len);
        CHECK(e->tail_len == TAIL_CAP &&
                  !memcmp(e->data + e->head_len, big + BIG_LEN - TAIL_CAP, TAIL_CAP),
              "big tail %u", e->tail_len);
    }
    /* A read them with read, readv (across iovecs), recvfrom. */
    check_head(nth_xfer(s, r->pid_a, VG_DIR_INGRESS, 0), VG_SYS_READ, REQ1, strlen(REQ1));
    check_head(nth_xfer(s, r->pid_a, VG_DIR_INGRESS, 1), VG_SYS_READV, REQ2, strlen(REQ2));
    check_head(nth_xfer(s, r->pid_a, VG_DIR_INGRESS, 2), VG_SYS_RECVFROM, REQ3, strlen(REQ3));
    /* B read the answers with read, recvfrom (after a peek), readv, recvmsg. */
    check_head(nth_xfer(s, r->pid_b, VG_DIR_INGRESS, 0), VG_SYS_READ, RESP1, strlen(RESP1));
    check_head(nth_xfer(s, r->pid_b, VG_DIR_INGRESS, 1), VG_SYS_RECVFROM, RESP2, strlen(RESP2));
    check_head(nth_xfer(s, r->pid_b, VG_DIR_INGRESS, 2), VG_SYS_READV, RESP3, strlen(RESP3));
    check_head(nth_xfer(s, r->pid_b, VG_DIR_INGRESS, 3), VG_SYS_RECVMSG, RESP4, strlen(RESP4));
    check_head(nth_xfer(s, r->pid_a, VG_DIR_EGRESS, 1), VG_SYS_SENDMSG, RESP2, strlen(RESP2));
}

static void check_conns(const struct seen *s, const struct scenario_result *r)
{
    int connects = 0, accepts = 0, b_closes = 0, a_closes = 0;

    for (size_t i = 0; i < s->n_conn; i++) {
        const struct vg_conn_event *e = &s->conn[i];

        CHECK(e->tgid == r->pid_a || e->tgid == r->pid_b, "conn event from unwatched tgid %u",
              e->tgid);
        if (e->type == VG_CONN_CONNECT) {
            connects++;
            CHECK(e->tgid == r->pid_b && e->svc == SVC_B && e->fd == r->fd_b && e->ret == 0,
                  "connect event tgid %u fd %d ret %d", e->tgid, e->fd, e->ret);
            CHECK(tuple_is(&e->tuple, &r->b_local, &r->b_peer), "connect tuple");
            CHECK(e->sock == r->sock_b, "connect sock differs from B's transfers");
        } else if (e->type == VG_CONN_ACCEPT) {
            accepts++;
            CHECK(e->tgid == r->pid_a && e->svc == SVC_A && e->syscall == VG_SYS_ACCEPT4,
                  "accept event tgid %u", e->tgid);
            CHECK(tuple_is(&e->tuple, &r->b_peer, &r->b_local), "accept tuple");
            CHECK(e->sock != r->sock_b && e->ino, "accept sock / ino");
        } else if (e->type == VG_CONN_CLOSE) {
            if (e->tgid == r->pid_b) {
                b_closes++;
                CHECK(e->fd == r->fd_b && e->sock == r->sock_b, "B close fd %d", e->fd);
            } else {
                a_closes++;
            }
        }
    }
    CHECK(connects == 1 && accepts == 1, "connects %d accepts %d", connects, accepts);
    CHECK(b_closes == 1 && a_closes == 2, "closes: B %d (want 1), A %d (connection+listener)",
          b_closes, a_closes);
}

static void check_procs(const struct seen *s, const struct scenario_result *r)
{
    int fork_g = 0, exits = 0;

    for (size_t i = 0; i < s->n_proc; i++) {
        const struct vg_proc_event *e = &s->proc[i];

        if (e->type == VG_PROC_FORK && e->tgid == r->pid_g) {
            fork_g++;
            CHECK(e->ppid == r->pid_b && e->svc == SVC_B, "G fork ppid %u svc %u", e->ppid, e->svc);
        }
        if (e->type == VG_PROC_EXIT &&
            (e->tgid == r->pid_a || e->tgid == r->pid_b || e->tgid == r->pid_g))
            exits++;
    }
    CHECK(fork_g == 1, "fork events of G: %d", fork_g);
    CHECK(exits == 3, "exit events of A, B, G: %d", exits);
}

static void check_syscalls(struct ag_bpf *b, const struct scenario_result *r)
{
    struct want_stat w = stat_of(b, SVC_B, SYS_getppid);
    struct want_err e = {.svc = SVC_B, .nr = SYS_close, .err = EBADF};
    int others = 0;

    CHECK(w.found && w.count == N_GETPPID && w.errors == 0, "B getppid count %llu",
          (unsigned long long)w.count);
    CHECK(w.buckets == w.count && w.lat_sum > 0, "latency buckets %llu sum %llu",
          (unsigned long long)w.buckets, (unsigned long long)w.lat_sum);
    w = stat_of(b, SVC_B, SYS_close);
    CHECK(w.errors == N_BADCLOSE, "B close errors %llu", (unsigned long long)w.errors);
    ag_bpf_syscall_errors(b, find_err, &e);
    CHECK(e.count == N_BADCLOSE, "B close EBADF %llu", (unsigned long long)e.count);
    /* G inherited B's service index at fork. */
    w = stat_of(b, SVC_B, SYS_getsid);
    CHECK(w.count == N_GETSID, "G getsid under B's service %llu", (unsigned long long)w.count);
    w = stat_of(b, SVC_A, SYS_getppid);
    CHECK(!w.found, "A made no getppid call, yet %llu", (unsigned long long)w.count);
    ag_bpf_syscall_stats(b, other_svc, &others);
    CHECK(others == 0, "%d syscall keys of unwatched services", others);
}

static void check_counters(struct ag_bpf *b, const struct seen *s)
{
    struct ag_bpf_counters c;

    CHECK(ag_bpf_counters(b, &c) == 0, "counters");
    CHECK(c.drop_xfer + c.drop_conn + c.drop_proc + c.drop_stats + c.drop_watch + c.malformed == 0,
          "drops");
    CHECK(c.events_xfer >= s->n_xfer && c.events_conn >= s->n_conn, "event counters %llu %llu",
          (unsigned long long)c.events_xfer, (unsigned long long)c.events_conn);
}

/* Counts-only mode: no sys_enter program, counts exact, latency zero. */
static void test_counts_only(void)
{
    struct ag_bpf_conf conf;
    struct ag_bpf *b = NULL;
    struct want_stat w;
    pid_t kid;

    ag_bpf_conf_default(&conf);
    conf.parts = AG_BPF_SYSCALLS;
    conf.syscall_latency = false;
    CHECK(ag_bpf_open(&conf, &b) == 0, "open counts-only");
    if (!b)
        return;
    kid = spawn_getppid_loop(b, SVC_A, N_GETPPID);
    CHECK(kid > 0, "spawn");
    w = stat_of(b, SVC_A, SYS_getppid);
    CHECK(w.count == N_GETPPID && w.lat_sum == 0 && w.buckets == 0,
          "counts-only getppid %llu lat %llu", (unsigned long long)w.count,
          (unsigned long long)w.lat_sum);
    ag_bpf_close(b);
}

/* The dispatcher with only some of its jobs: sockio alone, and sockio with counts but no
 * latency (its exit then trusts entry state only for the same syscall). The child talks over
 * [::1]: the IPv6 4-tuple must come out right. */
static void test_ipv6_and_parts(unsigned parts, bool latency)
{
    static const uint8_t loop6[16] = {[15] = 1};
    struct ag_bpf_conf conf;
    struct ag_bpf *b = NULL;
    struct seen s = {0};
    uint16_t port = 0;
    int out = 0, in = 0;
    pid_t kid;

    ag_bpf_conf_default(&conf);
    conf.parts = parts;
    conf.syscall_latency = latency;
    CHECK(ag_bpf_open(&conf, &b) == 0, "open parts %#x", parts);
    if (!b)
        return;
    CHECK(ag_bpf_parts(b) == parts, "parts %#x, want %#x", ag_bpf_parts(b), parts);
    kid = spawn_ipv6_pair(b, SVC_A, N_GETPPID, &port);
    CHECK(kid > 0, "spawn the IPv6 pair");
    drain(b, &s);
    for (size_t i = 0; i < s.n_xfer; i++) {
        const struct vg_xfer_event *e = &s.xfer[i];

        if (e->tgid != (uint32_t)kid)
            continue;
        CHECK(e->svc == SVC_A && e->tuple.family == AF_INET6 &&
                  !memcmp(e->tuple.saddr, loop6, 16) && !memcmp(e->tuple.daddr, loop6, 16),
              "IPv6 transfer svc %u family %u", e->svc, e->tuple.family);
        CHECK(e->bytes == (int64_t)strlen(PING6) && e->head_len == strlen(PING6) &&
                  !memcmp(e->data, PING6, strlen(PING6)),
              "IPv6 transfer bytes %lld", (long long)e->bytes);
        if (e->direction == VG_DIR_EGRESS) {
            out++;
            CHECK(e->tuple.dport == port && e->syscall == VG_SYS_WRITE, "client end: dport %u",
                  e->tuple.dport);
        } else {
            in++;
            CHECK(e->tuple.sport == port && e->syscall == VG_SYS_READ, "server end: sport %u",
                  e->tuple.sport);
        }
    }
    CHECK(out == 1 && in == 1, "IPv6 transfers: %d out, %d in (parts %#x)", out, in, parts);
    int ranges = 0;
    for (size_t i = 0; i < s.n_conn; i++) {
        const struct vg_conn_event *e = &s.conn[i];

        if (e->tgid != (uint32_t)kid || e->type != VG_CONN_CLOSE_RANGE)
            continue;
        ranges++;
        CHECK(e->fd == 3 && e->fd_last == ~0u && e->svc == SVC_A &&
                  e->syscall == VG_SYS_CLOSE_RANGE,
              "close_range event fd %d..%u svc %u", e->fd, e->fd_last, e->svc);
    }
    CHECK(ranges == 1, "close_range events: %d, want 1 (the CLOEXEC one closes nothing)", ranges);
    if (parts & AG_BPF_SYSCALLS) {
        struct want_stat w = stat_of(b, SVC_A, SYS_getppid);

        CHECK(w.count == N_GETPPID && (latency ? w.buckets == w.count : w.buckets == 0),
              "getppid %llu, buckets %llu (latency %d)", (unsigned long long)w.count,
              (unsigned long long)w.buckets, latency);
        w = stat_of(b, SVC_A, SYS_write);
        CHECK(w.count >= 1, "write count %llu", (unsigned long long)w.count);
    }
    ag_bpf_close(b);
    free(s.xfer);
}

/* A socket marked quiet sends no transfer record, and each of its transfers is counted; the
 * other end of the same connection is reported as ever. */
static void test_quiet(void)
{
    struct ag_bpf_conf conf;
    struct ag_bpf_counters c;
    struct ag_bpf *b = NULL;
    struct seen s = {0};
    uint64_t ino = 0;
    int out = 0, in = 0;
    pid_t kid;

    ag_bpf_conf_default(&conf);
    CHECK(ag_bpf_open(&conf, &b) == 0, "open for quiet");
    if (!b)
        return;
    kid = spawn_quiet_pair(b, SVC_A, &ino);
    CHECK(kid > 0, "spawn the quiet pair");
    drain(b, &s);
    for (size_t i = 0; i < s.n_xfer; i++) {
        const struct vg_xfer_event *e = &s.xfer[i];

        if (e->tgid != (uint32_t)kid)
            continue;
        CHECK(e->ino != ino, "a record from the quiet socket (%s)",
              e->direction == VG_DIR_EGRESS ? "egress" : "ingress");
        if (e->direction == VG_DIR_EGRESS)
            out += e->head_len == strlen(QUIET_REQ) && !memcmp(e->data, QUIET_REQ, e->head_len);
        else
            in += e->head_len == strlen(QUIET_RESP) && !memcmp(e->data, QUIET_RESP, e->head_len);
    }
    CHECK(out == 1 && in == 1, "the client end's transfers: %d out, %d in, want 1 and 1", out, in);
    CHECK(ag_bpf_counters(b, &c) == 0 && c.xfer_quiet == 2, "quiet transfers counted: %llu",
          (unsigned long long)c.xfer_quiet);
    ag_bpf_close(b);
    free(s.xfer);
}

/* sendfile and splice move bytes that never pass through a user buffer: each is reported as a
 * count (no head, no tail) in the direction of the socket end, the pipe or file end ignored. */
static void test_sendfile_splice(void)
{
    struct ag_bpf_conf conf;
    struct ag_bpf *b = NULL;
    struct seen s = {0};
    int64_t sent = 0, spliced_in = 0, spliced_out = 0, read_back = 0;
    pid_t kid;

    ag_bpf_conf_default(&conf);
    CHECK(ag_bpf_open(&conf, &b) == 0, "open for sendfile");
    if (!b)
        return;
    kid = spawn_sendfile_splice(b, SVC_A);
    CHECK(kid > 0, "spawn the sendfile/splice child");
    drain(b, &s);
    for (size_t i = 0; i < s.n_xfer; i++) {
        const struct vg_xfer_event *e = &s.xfer[i];

        if (e->tgid != (uint32_t)kid)
            continue;
        if (e->syscall == VG_SYS_SENDFILE || e->syscall == VG_SYS_SPLICE)
            CHECK(e->head_len == 0 && e->tail_len == 0, "%s carried payload (%u + %u bytes)",
                  e->syscall == VG_SYS_SENDFILE ? "sendfile" : "splice", e->head_len, e->tail_len);
        if (e->syscall == VG_SYS_SENDFILE && e->direction == VG_DIR_EGRESS)
            sent += e->bytes;
        else if (e->syscall == VG_SYS_SPLICE && e->direction == VG_DIR_INGRESS)
            spliced_in += e->bytes;
        else if (e->syscall == VG_SYS_SPLICE && e->direction == VG_DIR_EGRESS)
            spliced_out += e->bytes;
        else if (e->syscall == VG_SYS_READ && e->direction == VG_DIR_INGRESS)
            read_back += e->bytes;
        else
            CHECK(0, "unexpected transfer: syscall %u direction %u bytes %lld", e->syscall,
                  e->direction, (long long)e->bytes);
    }
    CHECK(sent == SENDFILE_BYTES && spliced_in == SENDFILE_BYTES && spliced_out == SENDFILE_BYTES &&
              read_back == SENDFILE_BYTES,
          "bytes: sendfile out %lld, splice in %lld, splice out %lld, read %lld; want %d each",
          (long long)sent, (long long)spliced_in, (long long)spliced_out, (long long)read_back,
          SENDFILE_BYTES);
    ag_bpf_close(b);
    free(s.xfer);
}

int main(void)
{
    struct ag_bpf_conf conf;
    struct ag_bpf *b = NULL;
    struct scenario_result r;
    struct seen s = {0};
    pid_t kids[2];

    if (geteuid() != 0) {
        printf("SKIP test_bpf_loader: needs root\n");
        return 77;
    }
    vigil_objects_snapshot();
    ag_bpf_conf_default(&conf);
    conf.head_cap = HEAD_CAP;
    conf.tail_cap = TAIL_CAP;
    if (ag_bpf_open(&conf, &b)) {
        printf("FAIL ag_bpf_open\n");
        return 1;
    }
    CHECK(ag_bpf_parts(b) == AG_BPF_ALL, "parts %#x", ag_bpf_parts(b));
    if (run_scenario(b, &r, kids) == 0) {
        collect(b, &s, kids, 2);
        CHECK(scenario_report(&r) == 0, "B's report");
        for (size_t i = 0; i < s.n_conn; i++)
            if (s.conn[i].type == VG_CONN_CONNECT && s.conn[i].tgid == r.pid_b)
                r.sock_b = s.conn[i].sock;
        printf("seen: %zu transfers, %zu connection events, %zu process events\n", s.n_xfer,
               s.n_conn, s.n_proc);
        check_transfers(&s, &r);
        check_conns(&s, &r);
        check_procs(&s, &r);
        check_syscalls(b, &r);
        check_counters(b, &s);
    } else {
        CHECK(0, "scenario did not start");
    }
    ag_bpf_close(b);
    CHECK(vigil_objects_left(3000) == 0, "vg_* programs or maps left after ag_bpf_close");
    test_counts_only();
    test_quiet();
    test_sendfile_splice();
    CHECK(vigil_objects_left(3000) == 0, "vg_* objects left after the counts-only run");
    test_ipv6_and_parts(AG_BPF_SOCKIO, false);
    test_ipv6_and_parts(AG_BPF_SOCKIO | AG_BPF_SYSCALLS, false);
    test_ipv6_and_parts(AG_BPF_SOCKIO | AG_BPF_SYSCALLS, true);
    CHECK(vigil_objects_left(3000) == 0, "vg_* objects left after the IPv6 runs");
    free(s.xfer);
    printf("%s test_bpf_loader (%d failures)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
