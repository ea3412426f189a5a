#include "vg_slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct vg_slots {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* signalled once per slot given back */
    int size;
    bool *taken;
};

int vg_slots_create(int size, struct vg_slots **out)
{
    struct vg_slots *slots;
    pthread_condattr_t attr;

    if (size <= 0)
        return -EINVAL;
    slots = calloc(1, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    slots->taken = calloc((size_t)size, sizeof(*slots->taken));
    if (!slots->taken) {
        free(slots);
        return -ENOMEM;
    }
    slots->size = size;
    pthread_mutex_init(&slots->lock, NULL);
    /* The deadline is on the monotonic clock: setting the wall clock must not stretch or cut
     * the wait. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&slots->freed, &attr);
    pthread_condattr_destroy(&attr);
    *out = slots;
    return 0;
}

void vg_slots_destroy(struct vg_slots *slots)
{
    if (!slots)
        return;
    pthread_cond_destroy(&slots->freed);
    pthread_mutex_destroy(&slots->lock);
    free(slots->taken);
    free(slots);
}

static struct timespec deadline_after(int timeout_ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Called with the lock held. */
static int pick_free(const struct vg_slots *slots, bool (*opened)(void *ctx, int i), void *ctx)
{
    int unopened = -1;

    for (int i = 0; i < slots->size; i++) {
        if (slots->taken[i])
            continue;
        if (opened && opened(ctx, i))
            return i;
        if (unopened < 0)
            unopened = i;
    }
    return unopened;
}

int vg_slots_take(struct vg_slots *slots, int timeout_ms, bool (*opened)(void *ctx, int i),
                  void *ctx)
{
    struct timespec deadline = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    int i;

    pthread_mutex_lock(&slots->lock);
    /* Spurious wake-ups, and a waiter that lost the freed slot to a new taker, look again. */
    while ((i = pick_free(slots, opened, ctx)) < 0) {
        if (pthread_cond_timedwait(&slots->freed, &slots->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (i >= 0)
        slots->taken[i] = true;
    pthread_mutex_unlock(&slots->lock);
    return i;
}

void vg_slots_give(struct vg_slots *slots, int i)
{
    pthread_mutex_lock(&slots->lock);
    slots->taken[i] = false;
    pthread_cond_signal(&slots->freed);
    pthread_mutex_unlock(&slots->lock);
}
