/* bpf_scenario.h — the processes test_bpf_loader watches, and what they do. */
#ifndef BPF_SCENARIO_H
#define BPF_SCENARIO_H

#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "bpf.h"

#define SVC_A      11 /* the server child */
#define SVC_B      12 /* the client child (and its own child G, by inheritance) */
#define HEAD_CAP   512
#define TAIL_CAP   64
#define BIG_LEN    5000
#define N_GETPPID  1000
#define N_BADCLOSE 7
#define N_GETSID   13

#define REQ1     "GET /x HTTP/1.1\r\nHost: test\r\n\r\n"
#define REQ2_P1  "POST /y HTTP/1.1\r\n"
#define REQ2_P2  "Content-Length: 5\r\n\r\n"
#define REQ2_P3  "hello"
#define REQ2     REQ2_P1 REQ2_P2 REQ2_P3
#define REQ3     "GET /z HTTP/1.1\r\n\r\n"
#define RESP1    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define RESP2_P1 "HTTP/1.1 201 Created\r\n"
#define RESP2_P2 "Content-Length: 0\r\n\r\n"
#define RESP2    RESP2_P1 RESP2_P2
#define RESP3    "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
#define RESP4    "HTTP/1.1 204 No Content\r\n\r\n"

struct scenario_result {
    uint32_t pid_a, pid_b, pid_g;       /* tgids, as events carry them */
    int fd_b;                           /* B's connected socket */
    uint64_t sock_b;                    /* B's struct sock *, from its connect event */
    struct sockaddr_in b_local, b_peer; /* getsockname/getpeername in B */
};

uint64_t request_bytes(void);
uint64_t response_bytes(void);
void fill_big(uint8_t *big);

/* Starts A and B, watches them (SVC_A, SVC_B) and lets them run; fills r once they are done
 * (call after they exited: B reports through a pipe). kids[0..1] = A, B. Returns 0 or -1. */
int run_scenario(struct ag_bpf *b, struct scenario_result *r, pid_t kids[2]);
/* Reads B's report into r (after B exited). */
int scenario_report(struct scenario_result *r);

/* A watched child making n getppid() calls; returns its pid after it exited, or -1. */
pid_t spawn_getppid_loop(struct ag_bpf *b, uint32_t svc, int n);

/* A watched child that talks to itself over [::1]: connects to a listener the parent opened,
 * writes PING6 from the client end, reads it on the accepted end, makes n getppid() calls, then
 * close_range(3, ~0U) twice: first with CLOSE_RANGE_CLOEXEC (closes nothing), then for real.
 * Returns its pid after it exited (or -1); *port is the listener's port. */
#define PING6 "PING6 HTTP/1.1\r\n\r\n"
pid_t spawn_ipv6_pair(struct ag_bpf *b, uint32_t svc, int n, uint16_t *port);

/* A watched child on a 127.0.0.1 connection the parent made: the client end writes QUIET_REQ,
 * the accepted end reads it and answers QUIET_RESP, which the client end reads. The accepted
 * end is marked quiet (ag_bpf_quiet) before the child starts; *quiet_ino is its inode. Returns
 * the child's pid after it exited, or -1. */
#define QUIET_REQ  "*1\r\n$4\r\nPING\r\n"
#define QUIET_RESP "+PONG\r\n"
pid_t spawn_quiet_pair(struct ag_bpf *b, uint32_t svc, uint64_t *quiet_ino);

/* A watched child that sendfile()s SENDFILE_BYTES of a file to the client end of a 127.0.0.1
 * connection, splice()s them from the server end into a pipe and from the pipe back out of the
 * server end, and read()s them on the client end. Returns its pid after it exited, or -1. */
#define SENDFILE_BYTES 3000
pid_t spawn_sendfile_splice(struct ag_bpf *b, uint32_t svc);

/* Remembers the vg_* programs and maps that exist now (another agent's): not counted later. */
void vigil_objects_snapshot(void);
/* Programs and maps named vg_* that were not there at the first call, after waiting up to
 * timeout_ms for them to go (the kernel frees them after the last reference, asynchronously). */
int vigil_objects_left(int timeout_ms);

#endif
