/* Unit tests for services/gateway/ratelimit.c: the token bucket table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../services/gateway/ratelimit.h"

#define SEC 1000000000ULL

static void test_burst_then_refill(void **state)
{
    struct gw_ratelimit *rl = NULL;

    assert_int_equal(gw_ratelimit_create(1, 3, &rl), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", 10 * SEC), 0);
    assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", 10 * SEC), 1);
    /* Half a second later half a token is back: still refused, still 1 s to wait. */
    assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", 10 * SEC + SEC / 2), 1);
    assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", 11 * SEC), 0);
    /* Refill stops at the burst: a long pause gives 3 requests, not more. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", 1000 * SEC), 0);
    assert_true(gw_ratelimit_take(rl, "127.0.0.2", 1000 * SEC) > 0);
    gw_ratelimit_destroy(rl);
}

static void test_retry_after_rounds_up(void **state)
{
    static const struct {
        double rps, burst;
        long wait;
    } cases[] = {
        {0.5, 1, 2},   /* one token every 2 s */
        {0.3, 1, 4},   /* 3.33 s → 4 */
        {200, 400, 1}, /* never less than 1 s */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_ratelimit *rl = NULL;
        long wait = 0;

        assert_int_equal(gw_ratelimit_create(cases[i].rps, cases[i].burst, &rl), 0);
        for (int n = 0; n <= (int)cases[i].burst && wait == 0; n++)
            wait = gw_ratelimit_take(rl, "::1", SEC);
        assert_int_equal(wait, cases[i].wait);
        gw_ratelimit_destroy(rl);
    }
}

static void test_clients_are_independent(void **state)
{
    struct gw_ratelimit *rl = NULL;

    assert_int_equal(gw_ratelimit_create(1, 1, &rl), 0);
    assert_int_equal(gw_ratelimit_take(rl, "127.0.0.2", SEC), 0);
    assert_true(gw_ratelimit_take(rl, "127.0.0.2", SEC) > 0);
    assert_int_equal(gw_ratelimit_take(rl, "127.0.0.3", SEC), 0);
    assert_int_equal(gw_ratelimit_take(rl, "2001:db8::1", SEC), 0);
    gw_ratelimit_destroy(rl);
}

/* Far more clients than slots: memory stays fixed, and a client that keeps sending is still
 * limited because the churn evicts full or older buckets before its drained one. */
static void test_table_is_bounded(void **state)
{
    struct gw_ratelimit *rl = NULL;
    char key[32];

    assert_int_equal(gw_ratelimit_create(1, 2, &rl), 0);
    for (unsigned i = 0; i < 200000; i++) {
        snprintf(key, sizeof(key), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        gw_ratelimit_take(rl, key, SEC + i);
        if (i % 1000 == 0)
            gw_ratelimit_take(rl, "192.0.2.1", SEC + i);
    }
    assert_true(gw_ratelimit_take(rl, "192.0.2.1", SEC + 200000) > 0);
    gw_ratelimit_destroy(rl);
}

static void test_rejects_bad_settings(void **state)
{
    struct gw_ratelimit *rl = NULL;

    assert_int_not_equal(gw_ratelimit_create(0, 10, &rl), 0);
    assert_int_not_equal(gw_ratelimit_create(10, 0.5, &rl), 0);
    assert_null(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_retry_after_rounds_up),
        cmocka_unit_test(test_clients_are_independent),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
