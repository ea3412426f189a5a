/* libFuzzer target: the connection tracker under random event sequences. Each 3-byte command
 * picks an event (accept, connect, seed, transfer, close, sweep, process exit), an fd and socket
 * out of a few (so fd reuse, unknown sockets and a full 3-connection table are common), and a
 * transfer's payload from the input that follows; transfers may claim more bytes than are
 * visible. Checked: every record is well-formed and durations are never negative, the counters
 * agree with what was emitted, and the table never holds more than its cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"

#define FZ_TGID 7

static uint64_t emitted;

static void check_str(const char *s, size_t n)
{
    if (!memchr(s, 0, n))
        abort();
}

static void on_emit(void *ctx, const struct ag_request *r)
{
    (void)ctx;
    check_str(r->op, sizeof(r->op));
    check_str(r->route, sizeof(r->route));
    check_str(r->destination, sizeof(r->destination));
    check_str(r->sqlstate, sizeof(r->sqlstate));
    if (r->role != AG_CT_SERVER && r->role != AG_CT_CLIENT)
        abort();
    if (r->proto < AG_PROTO_HTTP1 || r->proto > AG_PROTO_AMQP)
        abort();
    if (r->ts_start_ns > r->ts_end_ns || (r->tgid != FZ_TGID && r->tgid != FZ_TGID + 1))
        abort();
    emitted++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct ag_ct_config cfg = {.max_conns = 3, .emit = on_emit};
    struct ag_conntrack *ct;
    struct ag_ct_stats st;
    uint64_t t = 1;

    if (ag_ct_create(&cfg, &ct))
        return 0;
    emitted = 0;
    while (n >= 3) {
        uint8_t op = d[0], a = d[1], b = d[2];
        struct ag_ct_id id = {FZ_TGID + (a >> 7), a & 3, (a >> 2) & 3};
        struct ag_ct_ep ep = {(a & 0x40) ? 10 : 2, 8080, 40000, {127, 0, 0, 1}, {127, 0, 0, 1}};

        d += 3;
        n -= 3;
        t += 1 + (b & 15);
        switch (op & 7) {
        case 0:
            ag_ct_accept(ct, &id, &ep, t);
            break;
        case 1:
            ag_ct_connect(ct, &id, NULL, t);
            break;
        case 2:
            ag_ct_seed(ct, &id, &ep, (enum ag_ct_role)(b % 3));
            break;
        case 6:
            if (b & 0x80) /* close_range over fds [b & 3, (b >> 2) & 3] */
                ag_ct_close_range(ct, id.tgid, b & 3, (b >> 2) & 3, t);
            else
                ag_ct_close(ct, &id, t);
            break;
        case 7:
            if (b & 0x80)
                ag_ct_forget_tgid(ct, id.tgid);
            else
                ag_ct_sweep(ct, t + (b & 0x40 ? AG_CT_IDLE_NS_DEFAULT : 0));
            break;
        default: {
            /* len visible bytes; (op >> 3) * 997 more on the wire, invisible in the middle. */
            size_t len = b < n ? b : n;
            uint32_t cap = (a & 0x20) ? 512 : 16;
            uint32_t head = len < cap ? (uint32_t)len : cap;
            uint32_t tail = (uint32_t)(len - head < 64 ? len - head : 64);
            struct ag_xfer x = {(a & 0x10) ? AG_DIR_EGRESS : AG_DIR_INGRESS,
                                len + (uint64_t)(op >> 3) * 997,
                                d,
                                head,
                                d + len - tail,
                                tail,
                                t,
                                t + (b & 7)};
            ag_ct_xfer(ct, &id, (op & 8) ? &ep : NULL, a, &x);
            d += len;
            n -= len;
            t += b & 7;
        }
        }
    }
    ag_ct_stats(ct, &st);
    if (st.requests != emitted || st.conns_open > 3)
        abort();
    ag_ct_destroy(ct);
    return 0;
}
