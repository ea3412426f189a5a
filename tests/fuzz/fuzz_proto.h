/* Shared driver for the protocol parser fuzz targets. The input's first bytes choose the role,
 * the head/tail capture caps, max_out and where the payload is cut into transfers; the rest is
 * the wire bytes. Invariants checked after every feed: the count is within max_out, every
 * string field is NUL-terminated inside its array, kinds/protocols/results are valid, timestamps
 * are ordered, and the stats add up. */
#ifndef FUZZ_PROTO_H
#define FUZZ_PROTO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

#define FZ_MAX_CUTS 8

struct fz_input {
    enum ag_role role;
    uint32_t head_cap, tail_cap;
    int max_out;
    size_t cuts[FZ_MAX_CUTS + 1];
    int ncuts;
    const uint8_t *payload;
    size_t len;
};

static inline int fz_parse(const uint8_t *d, size_t n, struct fz_input *in)
{
    if (n < 5)
        return 0;
    int nsplit = d[3] % (FZ_MAX_CUTS + 1);
    if (n < 5 + (size_t)nsplit)
        return 0;
    in->role = (d[0] & 1) ? AG_ROLE_RESPONSES : AG_ROLE_REQUESTS;
    in->max_out = 1 + (d[0] >> 1) % 16;
    in->head_cap = d[1] == 0 ? 512 : d[1]; /* small caps make invisible middles common */
    in->tail_cap = d[2] % 72;
    in->payload = d + 4 + nsplit;
    in->len = n - 4 - (size_t)nsplit;
    in->ncuts = 0;
    size_t at = 0;
    for (int i = 0; i < nsplit; i++) {
        at += d[4 + i] * (size_t)(1 + (d[0] >> 5)); /* larger steps when asked */
        if (at >= in->len)
            break;
        in->cuts[in->ncuts++] = at;
    }
    in->cuts[in->ncuts++] = in->len;
    return 1;
}

static inline void fz_check_str(const char *s, size_t n)
{
    if (!memchr(s, 0, n))
        abort();
}

static inline void fz_check(const struct ag_msg *out, int n, int max_out, int rc, uint8_t proto)
{
    if (n < 0 || n > max_out)
        abort();
    if (rc != AG_PARSE_OK && rc != AG_PARSE_NEED_MORE && rc != AG_PARSE_NOT_MINE &&
        rc != AG_PARSE_RESYNC)
        abort();
    for (int i = 0; i < n; i++) {
        const struct ag_msg *m = &out[i];
        fz_check_str(m->op, sizeof(m->op));
        fz_check_str(m->target, sizeof(m->target));
        fz_check_str(m->sqlstate, sizeof(m->sqlstate));
        if (m->proto != proto || m->kind < AG_MSG_REQUEST || m->kind > AG_MSG_MARK)
            abort();
        if (m->ts_first_ns > m->ts_last_ns)
            abort();
    }
}

/* Runs every transfer of in through feed; F is the state type, FEED the feed function. */
#define FZ_RUN(in, st, FEED, proto, emitted)                                                       \
    do {                                                                                           \
        size_t from_ = 0;                                                                          \
        for (int c_ = 0; c_ < (in)->ncuts; c_++) {                                                 \
            struct ag_msg out_[16];                                                                \
            size_t total_ = (in)->cuts[c_] - from_;                                                \
            uint32_t h_ = total_ < (in)->head_cap ? (uint32_t)total_ : (in)->head_cap;             \
            uint32_t t_ = total_ < (in)->tail_cap ? (uint32_t)total_ : (in)->tail_cap;             \
            struct ag_xfer x_ = {AG_DIR_INGRESS,                                                   \
                                 total_,                                                           \
                                 (in)->payload + from_,                                            \
                                 h_,                                                               \
                                 (in)->payload + (in)->cuts[c_] - t_,                              \
                                 t_,                                                               \
                                 10u * (uint64_t)c_ + 1,                                           \
                                 10u * (uint64_t)c_ + 2};                                          \
            int n_ = -1;                                                                           \
            int rc_ = FEED((st), &x_, out_, (in)->max_out, &n_);                                   \
            fz_check(out_, n_, (in)->max_out, rc_, (proto));                                       \
            (emitted) += (uint64_t)n_;                                                             \
            from_ = (in)->cuts[c_];                                                                \
        }                                                                                          \
    } while (0)

static inline void fz_check_stats(const struct ag_parse_stats *s, uint64_t emitted)
{
    if (s->msgs != emitted + s->dropped_msgs)
        abort();
}

#endif
