/* vg_slots: which of a bounded pool's slots are taken, with a blocking take that gives up at a
 * deadline. The pool keeps what a slot holds (a connection) in its own array indexed like the
 * slots; this module only hands indexes out and takes them back. */
#ifndef VG_SLOTS_H
#define VG_SLOTS_H

#include <stdbool.h>

struct vg_slots;

/* Returns 0, -EINVAL (size <= 0) or -ENOMEM; *out is set only on success. */
int vg_slots_create(int size, struct vg_slots **out);
void vg_slots_destroy(struct vg_slots *slots);

/* Takes a free slot, waiting up to timeout_ms (0: not at all) for one to be given back.
 * Returns its index, or -1 when none came free in time.
 *
 * Of the free slots, the first one opened(ctx, i) says holds an open connection wins, else the
 * first free one: a pool reuses what it has before it opens more. opened may be NULL (no slot
 * is open). It runs under the slots' lock and only for free slots, so it may read what slot i
 * holds without a lock of its own; it must not call back into vg_slots. */
int vg_slots_take(struct vg_slots *slots, int timeout_ms, bool (*opened)(void *ctx, int i),
                  void *ctx);

/* Gives slot i back and wakes one waiting vg_slots_take. Whatever the pool changed in what
 * slot i holds is seen by the next taker's opened(). */
void vg_slots_give(struct vg_slots *slots, int i);

#endif
