/* getppid_loop — the syscall-overhead benchmark's load (scripts/bench-agent.sh).
 *
 *   getppid_loop [-n CALLS] [-r ROUNDS] [-w FILE] [-x FILE]
 *
 * Times ROUNDS rounds of CALLS getppid() system calls each (raw syscall(2): no libc caching)
 * with CLOCK_MONOTONIC and prints one line:
 *   getppid_loop median_ns=M min_ns=m calls=N rounds=R ns=r1,r2,...
 * where each r is the mean ns per call of one round. With -w, it first polls (every ms) until
 * FILE exists, so that a tracer given its pid can attach before the timing starts; with -x, it
 * waits the same way for its FILE after printing, before exiting, so that an agent can be read
 * while the process still lives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_ROUNDS 64

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Polls every ms until path exists (NULL: returns at once). */
static int wait_for(const char *path)
{
    const struct timespec ms = {0, 1000000};
    struct stat sb;

    while (path && stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "getppid_loop: %s: %s\n", path, strerror(errno));
            return 1;
        }
        nanosleep(&ms, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long calls = 2000000;
    int rounds = 7, opt;
    const char *wait_file = NULL, *exit_file = NULL;
    double ns[MAX_ROUNDS], sorted[MAX_ROUNDS], median;

    while ((opt = getopt(argc, argv, "n:r:w:x:")) != -1) {
        switch (opt) {
        case 'n':
            calls = strtol(optarg, NULL, 10);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'w':
            wait_file = optarg;
            break;
        case 'x':
            exit_file = optarg;
            break;
        default:
            fprintf(stderr, "usage: getppid_loop [-n CALLS] [-r ROUNDS] [-w FILE] [-x FILE]\n");
            return 2;
        }
    }
    if (calls <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "getppid_loop: CALLS > 0 and 1 <= ROUNDS <= %d\n", MAX_ROUNDS);
        return 2;
    }
    if (wait_for(wait_file))
        return 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();

        for (long i = 0; i < calls; i++)
            syscall(SYS_getppid);
        ns[r] = (now_ns() - t0) / (double)calls;
    }
    memcpy(sorted, ns, sizeof(double) * (size_t)rounds);
    qsort(sorted, (size_t)rounds, sizeof(double), cmp_double);
    median = rounds % 2 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
    printf("getppid_loop median_ns=%.1f min_ns=%.1f calls=%ld rounds=%d ns=", median, sorted[0],
           calls, rounds);
    for (int r = 0; r < rounds; r++)
        printf("%s%.1f", r ? "," : "", ns[r]);
    putchar('\n');
    fflush(stdout);
    return wait_for(exit_file);
}
