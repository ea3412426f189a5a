/* ag_loop: epoll with one registration record per fd. */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct watch {
    struct watch *next;
    int fd;
    bool owned; /* timerfds the loop created and closes */
    bool is_timer;
    bool dead; /* removed during a batch: freed once the batch is done */
    ag_loop_fn fn;
    void *ctx;
};

struct ag_loop {
    int epfd;
    bool stop;
    struct watch *watches;
    struct watch *graveyard; /* removed watches a pending epoll batch may still point at */
};

static void bury(struct ag_loop *loop)
{
    for (struct watch *w = loop->graveyard, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    loop->graveyard = NULL;
}

int ag_loop_create(struct ag_loop **out)
{
    struct ag_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    *out = loop;
    return 0;
}

void ag_loop_destroy(struct ag_loop *loop)
{
    if (!loop)
        return;
    for (struct watch *w = loop->watches, *next; w; w = next) {
        next = w->next;
        if (w->owned)
            close(w->fd);
        free(w);
    }
    bury(loop);
    close(loop->epfd);
    free(loop);
}

static int add(struct ag_loop *loop, int fd, ag_loop_fn fn, void *ctx, bool owned)
{
    struct watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *w = (struct watch){
        .next = loop->watches, .fd = fd, .owned = owned, .is_timer = owned, .fn = fn, .ctx = ctx};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        free(w);
        return err;
    }
    loop->watches = w;
    return 0;
}

int ag_loop_add_fd(struct ag_loop *loop, int fd, ag_loop_fn fn, void *ctx)
{
    if (!loop || fd < 0 || !fn)
        return -EINVAL;
    return add(loop, fd, fn, ctx, false);
}

int ag_loop_del_fd(struct ag_loop *loop, int fd)
{
    for (struct watch **pp = &loop->watches; *pp; pp = &(*pp)->next) {
        struct watch *w = *pp;
        if (w->fd != fd)
            continue;
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        *pp = w->next;
        if (w->owned)
            close(w->fd);
        w->dead = true;
        w->next = loop->graveyard;
        loop->graveyard = w;
        return 0;
    }
    return -ENOENT;
}

int ag_loop_add_timer(struct ag_loop *loop, unsigned interval_ms, ag_loop_fn fn, void *ctx)
{
    if (!loop || !interval_ms || !fn)
        return -EINVAL;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct timespec ts = {.tv_sec = interval_ms / 1000,
                          .tv_nsec = (long)(interval_ms % 1000) * 1000000};
    struct itimerspec its = {.it_interval = ts, .it_value = ts};
    int err = timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : add(loop, fd, fn, ctx, true);
    if (err)
        close(fd);
    return err;
}

int ag_loop_run(struct ag_loop *loop)
{
    struct epoll_event evs[16];
    loop->stop = false;
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, evs, 16, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (int i = 0; i < n && !loop->stop; i++) {
            struct watch *w = evs[i].data.ptr;
            if (w->dead)
                continue;
            if (w->is_timer) {
                /* Drain the expiration count so a level-triggered timer fires once per tick. */
                uint64_t ticks;
                if (read(w->fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
                    continue;
            }
            int err = w->fn(loop, w->fd, evs[i].events, w->ctx);
            if (err < 0) {
                bury(loop);
                return err;
            }
        }
        bury(loop);
    }
    return 0;
}

void ag_loop_stop(struct ag_loop *loop)
{
    loop->stop = true;
}
