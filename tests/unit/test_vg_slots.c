/* Unit tests for services/common/vg_slots.c: the bounded slot table behind the pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "vg_slots.h"

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The opened() callback of the tests: ctx is an array of flags, one a slot. */
static bool flag_opened(void *ctx, int i)
{
    return ((const bool *)ctx)[i];
}

static void test_create_rejects_empty(void **state)
{
    struct vg_slots *slots = NULL;

    assert_int_equal(vg_slots_create(0, &slots), -EINVAL);
    assert_int_equal(vg_slots_create(-1, &slots), -EINVAL);
    assert_null(slots);
    vg_slots_destroy(NULL);
}

static void test_take_until_empty_then_give(void **state)
{
    struct vg_slots *slots = NULL;

    assert_int_equal(vg_slots_create(3, &slots), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), i);
    assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), -1);
    vg_slots_give(slots, 1);
    assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), 1);
    assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), -1);
    vg_slots_destroy(slots);
}

static void test_prefers_opened_slots(void **state)
{
    /* Slots 0 and 1 taken beforehand; which free slot does the next take get? */
    static const struct {
        bool opened[4];
        int want;
    } cases[] = {
        {{false, false, false, false}, 2}, /* none open: the first free */
        {{false, false, false, true}, 3},  /* an open one beats an earlier unopened one */
        {{false, false, true, true}, 2},   /* the first of the open ones */
        {{true, true, false, false}, 2},   /* open but taken slots do not count */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct vg_slots *slots = NULL;
        bool opened[4];

        memcpy(opened, cases[c].opened, sizeof(opened));
        assert_int_equal(vg_slots_create(4, &slots), 0);
        assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), 0);
        assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), 1);
        assert_int_equal(vg_slots_take(slots, 0, flag_opened, opened), cases[c].want);
        vg_slots_destroy(slots);
    }
}

static void test_times_out_when_exhausted(void **state)
{
    struct vg_slots *slots = NULL;
    long long t0;
    long long waited;

    assert_int_equal(vg_slots_create(1, &slots), 0);
    assert_int_equal(vg_slots_take(slots, 0, NULL, NULL), 0);
    t0 = now_ms();
    assert_int_equal(vg_slots_take(slots, 150, NULL, NULL), -1);
    waited = now_ms() - t0;
    assert_true(waited >= 140); /* clock granularity, not an early give-up */
    assert_true(waited < 5000);
    vg_slots_destroy(slots);
}

struct waiter {
    struct vg_slots *slots;
    atomic_int got; /* -2 while it waits */
};

static void *take_waiting(void *arg)
{
    struct waiter *w = arg;

    atomic_store(&w->got, vg_slots_take(w->slots, 10000, NULL, NULL));
    return NULL;
}

static void test_give_wakes_a_waiter(void **state)
{
    struct waiter w = {.got = -2};
    struct timespec pause = {0, 50 * 1000000L};
    pthread_t thread;
    long long t0;

    assert_int_equal(vg_slots_create(1, &w.slots), 0);
    assert_int_equal(vg_slots_take(w.slots, 0, NULL, NULL), 0);
    t0 = now_ms();
    assert_int_equal(pthread_create(&thread, NULL, take_waiting, &w), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.got), -2); /* still waiting: nothing was free */
    vg_slots_give(w.slots, 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(atomic_load(&w.got), 0);
    /* Woken by the give, not by its 10 s deadline. */
    assert_true(now_ms() - t0 < 5000);
    vg_slots_destroy(w.slots);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_empty),
        cmocka_unit_test(test_take_until_empty_then_give),
        cmocka_unit_test(test_prefers_opened_slots),
        cmocka_unit_test(test_times_out_when_exhausted),
        cmocka_unit_test(test_give_wakes_a_waiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
