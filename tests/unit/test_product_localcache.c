/* Unit tests for the product service's local detail cache
 * (services/product/localcache.c): the lease, tickets, expiry and the bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/product/localcache.h"

#define NOW   1000000LL /* any monotonic instant */
#define LEASE (NOW + 3000)
#define TTL   (NOW + 60000)

static int setup(void **state)
{
    struct localcache *lc;

    if (localcache_create(4096, &lc) != 0)
        return -1;
    localcache_renew(lc, LEASE);
    *state = lc;
    return 0;
}

static int teardown(void **state)
{
    localcache_destroy(*state);
    return 0;
}

/* Inserts body for id with a fresh ticket; returns the insert's result. */
static int put_body(struct localcache *lc, long long id, const char *body)
{
    return localcache_insert(lc, id, body, strlen(body), TTL, NOW, localcache_ticket(lc, id));
}

/* Asserts what a lookup of id at now gives: want NULL for a miss. */
static void expect_body(struct localcache *lc, long long id, long long now, const char *want)
{
    struct localcache_entry *e = localcache_get(lc, id, now);
    const char *body;
    size_t len;

    if (!want) {
        if (e)
            fail_msg("product %lld: a hit, expected a miss", id);
        return;
    }
    if (!e)
        fail_msg("product %lld: a miss, expected \"%s\"", id, want);
    body = localcache_body(e, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(body, want, len);
    localcache_put(e);
}

static void test_insert_then_lookup(void **state)
{
    struct localcache *lc = *state;

    expect_body(lc, 1, NOW, NULL);
    assert_int_equal(put_body(lc, 1, "{\"id\":1}"), 0);
    assert_int_equal(put_body(lc, 2, "{\"id\":2}"), 0);
    expect_body(lc, 1, NOW, "{\"id\":1}");
    expect_body(lc, 2, NOW, "{\"id\":2}");
    expect_body(lc, 3, NOW, NULL);
    /* A second insert replaces the first. */
    assert_int_equal(put_body(lc, 1, "{\"id\":1,\"v\":2}"), 0);
    expect_body(lc, 1, NOW, "{\"id\":1,\"v\":2}");
    assert_int_equal(localcache_count(lc), 2);
}

static void test_invalidate_drops_one(void **state)
{
    struct localcache *lc = *state;

    for (long long id = 1; id <= 100; id++)
        assert_int_equal(put_body(lc, id, "x"), 0);
    localcache_invalidate(lc, 42);
    expect_body(lc, 42, NOW, NULL);
    expect_body(lc, 41, NOW, "x");
    expect_body(lc, 43, NOW, "x");
    assert_int_equal(localcache_count(lc), 99);
    localcache_invalidate(lc, 424242); /* never cached: harmless */
    assert_int_equal(localcache_count(lc), 99);
}

static void test_flush_drops_all(void **state)
{
    struct localcache *lc = *state;

    for (long long id = 1; id <= 720; id++)
        assert_int_equal(put_body(lc, id, "x"), 0);
    assert_int_equal(localcache_count(lc), 720);
    localcache_flush(lc);
    assert_int_equal(localcache_count(lc), 0);
    expect_body(lc, 7, NOW, NULL);
    /* The lease still runs: new inserts are served. */
    assert_int_equal(put_body(lc, 7, "y"), 0);
    expect_body(lc, 7, NOW, "y");
}

/* The race the tickets exist for: a reader fetches v1, the key changes and its
 * invalidation is applied, then the reader inserts v1. */
static void test_ticket_refuses_insert_after_invalidation(void **state)
{
    struct localcache *lc = *state;
    uint64_t ticket = localcache_ticket(lc, 5);

    localcache_invalidate(lc, 5);
    assert_int_equal(localcache_insert(lc, 5, "v1", 2, TTL, NOW, ticket), -ESTALE);
    expect_body(lc, 5, NOW, NULL);
    /* A read that starts after the invalidation may insert. */
    assert_int_equal(put_body(lc, 5, "v2"), 0);
    expect_body(lc, 5, NOW, "v2");
}

static void test_ticket_refuses_insert_after_flush(void **state)
{
    struct localcache *lc = *state;
    uint64_t ticket = localcache_ticket(lc, 6);

    localcache_flush(lc);
    assert_int_equal(localcache_insert(lc, 6, "v1", 2, TTL, NOW, ticket), -ESTALE);
    expect_body(lc, 6, NOW, NULL);
}

static void test_ticket_survives_unrelated_inserts(void **state)
{
    struct localcache *lc = *state;
    uint64_t ticket = localcache_ticket(lc, 8);

    /* Inserts move no generation: only invalidations and flushes do. */
    for (long long id = 1; id <= 64; id++)
        assert_int_equal(put_body(lc, id + 1000, "z"), 0);
    assert_int_equal(localcache_insert(lc, 8, "v", 1, TTL, NOW, ticket), 0);
    expect_body(lc, 8, NOW, "v");
}

static void test_lease(void **state)
{
    struct localcache *lc = *state;
    uint64_t ticket;

    assert_int_equal(put_body(lc, 9, "v"), 0);
    expect_body(lc, 9, LEASE - 1, "v");
    expect_body(lc, 9, LEASE, NULL); /* the channel went silent: not served */
    assert_int_equal(
        localcache_insert(lc, 10, "v", 1, LEASE + 60000, LEASE, localcache_ticket(lc, 10)),
        -EAGAIN);
    localcache_renew(lc, LEASE + 3000);
    expect_body(lc, 9, LEASE, "v");

    /* Disabled: nothing served, nothing accepted, and a ticket taken before
     * is stale once the lease comes back. */
    ticket = localcache_ticket(lc, 11);
    localcache_disable(lc);
    assert_int_equal(localcache_count(lc), 0);
    expect_body(lc, 9, NOW, NULL);
    assert_int_equal(put_body(lc, 11, "v"), -EAGAIN);
    localcache_flush(lc); /* what tracking does on resubscribing */
    localcache_renew(lc, LEASE);
    assert_int_equal(localcache_insert(lc, 11, "v", 1, TTL, NOW, ticket), -ESTALE);
    assert_int_equal(put_body(lc, 11, "v"), 0);
}

static void test_expiry(void **state)
{
    struct localcache *lc = *state;

    assert_int_equal(localcache_insert(lc, 12, "v", 1, NOW + 500, NOW, localcache_ticket(lc, 12)),
                     0);
    expect_body(lc, 12, NOW + 499, "v");
    expect_body(lc, 12, NOW + 500, NULL);
    /* Already expired when offered (PTTL said the key is gone). */
    assert_int_equal(localcache_insert(lc, 13, "v", 1, NOW, NOW, localcache_ticket(lc, 13)),
                     -EAGAIN);
    assert_int_equal(localcache_insert(lc, 13, "v", 1, 0, NOW, localcache_ticket(lc, 13)), -EAGAIN);
}

static void test_bound(void **state)
{
    struct localcache *lc;
    const size_t bounds[] = {64, 100, 128, 4096};

    (void)state;
    assert_int_equal(localcache_create(63, &lc), -EINVAL);
    for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
        assert_int_equal(localcache_create(bounds[b], &lc), 0);
        localcache_renew(lc, LEASE);
        for (long long id = 1; id <= 20000; id++) {
            assert_int_equal(
                localcache_insert(lc, id, "x", 1, TTL + id, NOW, localcache_ticket(lc, id)), 0);
            if (localcache_count(lc) > bounds[b])
                fail_msg("bound %zu: %zu entries after %lld inserts", bounds[b],
                         localcache_count(lc), id);
        }
        /* The newest insert always stays: eviction takes the nearest to expiry. */
        expect_body(lc, 20000, NOW, "x");
        localcache_destroy(lc);
    }
}

static void test_eviction_prefers_expired(void **state)
{
    struct localcache *lc;
    long long id;
    uint64_t ticket;

    (void)state;
    /* One entry per stripe: each insert into an occupied stripe evicts. */
    assert_int_equal(localcache_create(64, &lc), 0);
    localcache_renew(lc, LEASE + 100000);
    for (id = 1; id <= 64 * 8; id++)
        localcache_insert(lc, id, "a", 1, NOW + 10, NOW, localcache_ticket(lc, id));
    /* Later, everything cached has expired; new entries still go in. */
    ticket = localcache_ticket(lc, 99999);
    assert_int_equal(localcache_insert(lc, 99999, "b", 1, TTL, NOW + 20, ticket), 0);
    expect_body(lc, 99999, NOW + 20, "b");
    assert_true(localcache_count(lc) <= 64);
    localcache_destroy(lc);
}

static void test_reference_outlives_invalidation(void **state)
{
    struct localcache *lc = *state;
    struct localcache_entry *e;
    const char *body;
    size_t len;

    assert_int_equal(put_body(lc, 14, "held"), 0);
    e = localcache_get(lc, 14, NOW);
    assert_non_null(e);
    localcache_invalidate(lc, 14);
    localcache_flush(lc);
    /* The reader's copy stays readable (ASan checks) until it lets go. */
    body = localcache_body(e, &len);
    assert_memory_equal(body, "held", len);
    localcache_put(e);
    expect_body(lc, 14, NOW, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_then_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_drops_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_drops_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket_refuses_insert_after_invalidation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ticket_refuses_insert_after_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket_survives_unrelated_inserts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_eviction_prefers_expired),
        cmocka_unit_test_setup_teardown(test_reference_outlives_invalidation, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
