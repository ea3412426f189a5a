/* Shared by the parser unit tests: feed a payload as transfers split every possible way, with
 * head/tail capture caps, and compare the messages that come out. Header-only, test code. */
#ifndef PROTO_HARNESS_H
#define PROTO_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"

#define PH_MAX_MSGS 64

/* One parser under test: a wrapper per protocol keeps the calls properly typed. */
struct ph_parser {
    void (*init)(void *st, enum ag_role role);
    int (*feed)(void *st, const struct ag_xfer *x, struct ag_msg *out, int max, int *n);
    size_t state_size;
};

struct ph_result {
    struct ag_msg msgs[PH_MAX_MSGS];
    int n;
    int resyncs;
    int not_mine;
};

/* Feeds payload[0..len) as transfers ending at cuts[0..ncuts) (the last one at len), each
 * captured with head_cap/tail_cap. */
static inline void ph_feed_cuts(const struct ph_parser *p, void *st, const uint8_t *payload,
                                const size_t *cuts, int ncuts, uint32_t head_cap, uint32_t tail_cap,
                                struct ph_result *r)
{
    size_t from = 0;

    for (int i = 0; i < ncuts; i++) {
        size_t total = cuts[i] - from;
        struct ag_msg out[AG_MSG_BATCH];
        int n = -1;
        struct ag_xfer x = {
            .dir = AG_DIR_INGRESS,
            .total = total,
            .head = payload + from,
            .head_len = (uint32_t)(total < head_cap ? total : head_cap),
            .tail = payload + cuts[i] - (total < tail_cap ? total : tail_cap),
            .tail_len = (uint32_t)(total < tail_cap ? total : tail_cap),
            .ts_enter_ns = 1000u * (uint64_t)(i + 1),
            .ts_exit_ns = 1000u * (uint64_t)(i + 1) + 500,
        };
        int rc = p->feed(st, &x, out, AG_MSG_BATCH, &n);
        assert_true(n >= 0 && n <= AG_MSG_BATCH);
        r->resyncs += rc == AG_PARSE_RESYNC;
        r->not_mine += rc == AG_PARSE_NOT_MINE;
        for (int k = 0; k < n && r->n < PH_MAX_MSGS; k++)
            r->msgs[r->n++] = out[k];
        from = cuts[i];
    }
}

static inline void ph_run(const struct ph_parser *p, enum ag_role role, const uint8_t *payload,
                          const size_t *cuts, int ncuts, uint32_t head_cap, uint32_t tail_cap,
                          struct ph_result *r)
{
    _Alignas(16) uint8_t st[16384];

    assert_true(p->state_size <= sizeof(st));
    memset(r, 0, sizeof(*r));
    p->init(st, role);
    ph_feed_cuts(p, st, payload, cuts, ncuts, head_cap, tail_cap, r);
}

/* Same messages, timestamps aside (they depend on where the cuts fall). */
static inline void ph_assert_same(const struct ph_result *want, const struct ph_result *got,
                                  const char *what, size_t at)
{
    if (want->n != got->n)
        fail_msg("%s at %zu: %d messages, want %d", what, at, got->n, want->n);
    for (int i = 0; i < want->n; i++) {
        const struct ag_msg *a = &want->msgs[i], *b = &got->msgs[i];
        if (a->kind != b->kind || a->status != b->status || a->error != b->error ||
            a->flags != b->flags || a->bytes != b->bytes || strcmp(a->op, b->op) ||
            strcmp(a->target, b->target) || strcmp(a->sqlstate, b->sqlstate))
            fail_msg("%s at %zu: message %d differs: op %s/%s target %s/%s status %u/%u "
                     "bytes %llu/%llu flags %u/%u",
                     what, at, i, b->op, a->op, b->target, a->target, b->status, a->status,
                     (unsigned long long)b->bytes, (unsigned long long)a->bytes, b->flags,
                     a->flags);
    }
    if (got->resyncs || got->not_mine)
        fail_msg("%s at %zu: %d resyncs, %d not-mine", what, at, got->resyncs, got->not_mine);
}

/* The whole payload in one transfer, fully visible; then every two-way split; then one byte per
 * transfer; then three-way splits around every offset with small caps that still see
 * everything. All must give the same messages. Returns the reference in *ref. */
static inline void ph_every_split(const struct ph_parser *p, enum ag_role role,
                                  const uint8_t *payload, size_t len, struct ph_result *ref)
{
    static size_t cuts[1 << 14];
    struct ph_result got;
    size_t whole = len;

    assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
    ph_run(p, role, payload, &whole, 1, (uint32_t)len, 0, ref);
    assert_int_equal(ref->resyncs, 0);
    for (size_t k = 1; k < len; k++) {
        size_t two[2] = {k, len};
        ph_run(p, role, payload, two, 2, (uint32_t)len, 0, &got);
        ph_assert_same(ref, &got, "two-way split", k);
        /* Visible only through head and tail caps that overlap: still everything. */
        ph_run(p, role, payload, two, 2, (uint32_t)(len / 2 + 1), (uint32_t)(len / 2 + 1), &got);
        ph_assert_same(ref, &got, "split with head+tail caps", k);
    }
    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    ph_run(p, role, payload, cuts, (int)len, 1, 0, &got);
    ph_assert_same(ref, &got, "byte by byte", 0);
}

#endif
