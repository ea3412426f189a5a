/* empty_hooks — the floor under the agent's syscall cost (scripts/bench-agent.sh).
 *
 *   empty_hooks
 *
 * Attaches one BPF program that does nothing (r0 = 0; exit) to the raw tracepoints sys_enter
 * and sys_exit, as the agent's dispatcher is attached, prints "ready" and holds them until
 * SIGTERM or SIGINT. Whatever a workload loses with these attached, no program on those hooks
 * can avoid: it is the price of being called on every syscall of every process. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

int main(void)
{
    const struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    const char *tps[] = {"sys_enter", "sys_exit"};
    int prog;

    prog = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "vg_bench_empty", "GPL", insns,
                         sizeof(insns) / sizeof(insns[0]), NULL);
    if (prog < 0) {
        fprintf(stderr, "empty_hooks: loading the program: %s\n", strerror(-prog));
        return 1;
    }
    for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
        /* The link fd is left open: closing it, at exit, detaches. */
        int link = bpf_raw_tracepoint_open(tps[i], prog);

        if (link < 0) {
            fprintf(stderr, "empty_hooks: attaching to %s: %s\n", tps[i], strerror(-link));
            return 1;
        }
    }
    sigset_t block, old;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    while (!stop)
        sigsuspend(&old); /* signals are blocked between the test and the wait */
    return 0;
}
