/*
 * ag_loop: the agent's one event loop (epoll). Everything that produces events plugs in here as
 * a file descriptor: the BPF ring buffers (ring_buffer__epoll_fd() of agent/bpf.h), the 1 s
 * timerfd, the signalfd. Callbacks run on the loop thread, one at a time.
 */
#ifndef AG_LOOP_H
#define AG_LOOP_H

#include <stdint.h>

struct ag_loop;

/* Called when fd is readable (or has an error/hang-up: events says which). Return 0 to go on,
 * a negative errno to stop the loop with that error. */
typedef int (*ag_loop_fn)(struct ag_loop *loop, int fd, uint32_t events, void *ctx);

int ag_loop_create(struct ag_loop **out);
/* Does not close the registered fds: their owners do. */
void ag_loop_destroy(struct ag_loop *loop);

/* Watches fd for input; the loop does not own fd. 0 or a negative errno. */
int ag_loop_add_fd(struct ag_loop *loop, int fd, ag_loop_fn fn, void *ctx);
/* Safe from inside any callback, for any fd (its own included). */
int ag_loop_del_fd(struct ag_loop *loop, int fd);

/* A periodic timer (timerfd, CLOCK_MONOTONIC) owned by the loop. 0 or a negative errno. */
int ag_loop_add_timer(struct ag_loop *loop, unsigned interval_ms, ag_loop_fn fn, void *ctx);

/* Runs until ag_loop_stop() or a callback fails; returns 0 or that callback's error. */
int ag_loop_run(struct ag_loop *loop);
void ag_loop_stop(struct ag_loop *loop);

#endif
