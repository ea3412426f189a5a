/* AMQP 0-9-1 framing over head/tail-captured transfers (AMQP 0-9-1 specification, 4.2.3 and
 * the basic class of the XML spec). Integers are big-endian; a short string is a length octet
 * followed by that many bytes. */
#include "amqp.h"

#include <string.h>

enum { A_HDR, A_PAY, A_END };
enum { F_METHOD = 1, F_HEADER = 2, F_BODY = 3, F_HEARTBEAT = 8 };

#define FRAME_END   0xCE
#define FRAME_MAX   (64u * 1024 * 1024) /* sanity bound; RabbitMQ negotiates 128 KiB by default */
#define CLASS_BASIC 60

void ag_amqp_init(struct ag_amqp_state *st, enum ag_role role)
{
    memset(st, 0, sizeof(*st));
    st->role = (uint8_t)role;
}

static void emit(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    st->cur.ts_last_ns = x->ts_exit_ns;
    ag_out_emit(o, &st->cur);
    st->pending = 0;
}

static void begin(struct ag_amqp_state *st, const char *op)
{
    memset(&st->cur, 0, sizeof(st->cur));
    st->cur.proto = AG_PROTO_AMQP;
    st->cur.kind = AG_MSG_EVENT;
    st->cur.ts_first_ns = st->frame_ts;
    st->cur.bytes = 8 + (uint64_t)st->frame_size;
    ag_copy_str(st->cur.op, sizeof(st->cur.op), (const uint8_t *)op, strlen(op));
}

/* The short string at cap[*pos]: sets *s and *len to what was captured of it and advances *pos;
 * returns 0 when not even its length octet was captured. */
static int shortstr(const struct ag_amqp_state *st, size_t *pos, const uint8_t **s, size_t *len)
{
    size_t p = *pos;

    if (p >= st->cap_len)
        return 0;
    *s = st->cap + p + 1;
    *len = st->cap[p];
    if (p + 1 + *len > st->cap_len)
        *len = st->cap_len > p + 1 ? st->cap_len - p - 1 : 0;
    *pos = p + 1 + st->cap[p];
    return 1;
}

/* exchange and routing key at cap[pos]: the destination is the exchange, or for the default
 * exchange "" the routing key, which is the queue's name. */
static void set_destination(struct ag_amqp_state *st, size_t pos)
{
    const uint8_t *ex, *rk;
    size_t exlen, rklen;

    if (!shortstr(st, &pos, &ex, &exlen))
        return;
    if (exlen > 0)
        ag_copy_str(st->cur.target, sizeof(st->cur.target), ex, exlen);
    else if (shortstr(st, &pos, &rk, &rklen))
        ag_copy_str(st->cur.target, sizeof(st->cur.target), rk, rklen);
}

static void on_method(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    const uint8_t *s;
    size_t len, pos;

    if (st->cap_len < 4 || ag_be16(st->cap) != CLASS_BASIC)
        return;
    switch (ag_be16(st->cap + 2)) {
    case 40: /* publish: reserved-1 short, exchange, routing-key, mandatory/immediate bits */
        begin(st, "publish");
        set_destination(st, 6);
        st->pending = 1;
        break;
    case 60: /* deliver: consumer-tag, delivery-tag longlong, redelivered bit, exchange, key */
        begin(st, "receive");
        pos = 4;
        if (shortstr(st, &pos, &s, &len))
            set_destination(st, pos + 9);
        st->pending = 1;
        break;
    case 71: /* get-ok: delivery-tag, redelivered, exchange, routing-key, message-count */
        begin(st, "receive");
        set_destination(st, 13);
        st->pending = 1;
        break;
    case 80:
    case 90:
    case 120:
        begin(st, ag_be16(st->cap + 2) == 80   ? "ack"
                  : ag_be16(st->cap + 2) == 90 ? "reject"
                                               : "nack");
        emit(st, o, x);
        break;
    }
    st->have_size = 0;
}

static void on_frame(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    st->synced = 1;
    switch (st->ftype) {
    case F_METHOD:
        if (st->pending) { /* a content that never came: count the operation anyway */
            st->cur.flags |= AG_MSG_F_TRUNCATED;
            emit(st, o, x);
        }
        on_method(st, o, x);
        break;
    case F_HEADER: /* class-id, weight, body-size longlong, property flags, properties */
        if (!st->pending || st->cap_len < 12)
            break;
        st->body_left = (uint64_t)ag_be32(st->cap + 4) << 32 | ag_be32(st->cap + 8);
        st->have_size = 1;
        st->cur.bytes += 8 + (uint64_t)st->frame_size;
        if (st->body_left == 0)
            emit(st, o, x);
        break;
    case F_BODY:
        if (!st->pending || !st->have_size)
            break;
        st->cur.bytes += 8 + (uint64_t)st->frame_size;
        st->body_left -= st->frame_size < st->body_left ? st->frame_size : st->body_left;
        if (st->body_left == 0)
            emit(st, o, x);
        break;
    }
}

static int header_done(struct ag_amqp_state *st)
{
    if (st->hdr[0] == 'A') /* protocol header "AMQP" 0 0 9 1 (spec 4.2.2) */
        return memcmp(st->hdr, "AMQP", 4) == 0 ? (st->synced = 1, st->hdr_len = 0, 1) : 0;
    uint32_t size = ag_be32(st->hdr + 3);
    uint8_t t = st->hdr[0];
    if ((t != F_METHOD && t != F_HEADER && t != F_BODY && t != F_HEARTBEAT) || size > FRAME_MAX)
        return 0;
    st->ftype = t;
    st->frame_size = size;
    st->remaining = size;
    st->cap_len = 0;
    st->hdr_len = 0;
    st->phase = size ? A_PAY : A_END;
    return 1;
}

static size_t consume(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x,
                      const uint8_t *p, size_t n, int *bad)
{
    size_t i = 0;

    while (i < n) {
        if (st->phase == A_HDR) {
            uint8_t first = st->hdr_len ? st->hdr[0] : p[i];
            size_t need = first == 'A' ? 8 : 7;
            if (st->hdr_len == 0)
                st->frame_ts = x->ts_enter_ns;
            size_t k = need - st->hdr_len < n - i ? need - st->hdr_len : n - i;
            memcpy(st->hdr + st->hdr_len, p + i, k);
            st->hdr_len = (uint8_t)(st->hdr_len + k);
            i += k;
            if (st->hdr_len == need && !header_done(st)) {
                *bad = 1;
                return i - k;
            }
        } else if (st->phase == A_PAY) {
            uint64_t k = st->remaining < n - i ? st->remaining : n - i;
            if ((st->ftype == F_METHOD || st->ftype == F_HEADER) && st->cap_len < AG_AMQP_CAP) {
                size_t c = k < (uint64_t)(AG_AMQP_CAP - st->cap_len) ? (size_t)k
                                                                     : AG_AMQP_CAP - st->cap_len;
                memcpy(st->cap + st->cap_len, p + i, c);
                st->cap_len = (uint16_t)(st->cap_len + c);
            }
            st->remaining -= k;
            i += (size_t)k;
            if (st->remaining == 0)
                st->phase = A_END;
        } else {
            if (p[i] != FRAME_END) {
                *bad = 1;
                return i;
            }
            i++;
            st->phase = A_HDR;
            on_frame(st, o, x);
        }
    }
    return n;
}

static int gap(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t g,
               uint64_t *used)
{
    uint64_t g0 = g;

    *used = 0;
    if (st->phase == A_HDR)
        return 0;
    if (st->phase == A_PAY) {
        if (g < st->remaining) {
            st->remaining -= g;
            return 1;
        }
        g -= st->remaining;
        st->remaining = 0;
        st->phase = A_END;
        if (g == 0)
            return 1;
    }
    /* The frame-end octet is invisible: trust the size. */
    st->phase = A_HDR;
    on_frame(st, o, x);
    *used = g0 - g + 1;
    return g == 1;
}

static int lost(struct ag_amqp_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t off)
{
    st->stats.unparsed_bytes += x->total - off;
    st->hdr_len = 0;
    st->phase = A_HDR;
    if (!st->synced)
        return AG_PARSE_NOT_MINE;
    if (st->pending) {
        st->cur.flags |= AG_MSG_F_TRUNCATED;
        emit(st, o, x);
    }
    st->hunting = 1;
    st->stats.resyncs++;
    return AG_PARSE_RESYNC;
}

/* Frames from p[0] with sane types and sizes, and 0xCE wherever a frame end is visible. */
static int plausible(int header_ok, const uint8_t *p, size_t n)
{
    size_t q = 0;

    if (header_ok && n > 0 && p[0] == 'A')
        return memcmp(p, "AMQP\0\0\x09\x01", n < 8 ? n : 8) == 0;
    while (q < n) {
        uint8_t t = p[q];
        if (t != F_METHOD && t != F_HEADER && t != F_BODY && t != F_HEARTBEAT)
            return 0;
        if (n - q < 7)
            return 1;
        uint64_t size = ag_be32(p + q + 3);
        if (size > FRAME_MAX)
            return 0;
        if (q + 7 + size >= n)
            return 1;
        if (p[q + 7 + size] != FRAME_END)
            return 0;
        q += 8 + (size_t)size;
    }
    return 1;
}

int ag_amqp_feed(struct ag_amqp_state *st, const struct ag_xfer *x, struct ag_msg *out, int max_out,
                 int *nout)
{
    struct ag_out o = {out, max_out, 0, &st->stats};
    struct ag_span sp[2];
    int nsp = ag_xfer_spans(x, sp), rc = -1, bad = 0;
    uint64_t off = 0;

    *nout = 0;
    if (x->total == 0)
        return st->phase == A_HDR && st->hdr_len == 0 ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
    if (st->phase == A_HDR && st->hdr_len == 0 && (st->hunting || !st->synced)) {
        if (nsp == 0 || sp[0].off != 0 || !plausible(!st->synced, sp[0].p, sp[0].len)) {
            st->stats.unparsed_bytes += x->total;
            return st->synced ? AG_PARSE_NEED_MORE : AG_PARSE_NOT_MINE;
        }
        st->hunting = 0;
    }
    for (int i = 0; i <= nsp && rc < 0; i++) {
        uint64_t end = i < nsp ? sp[i].off : x->total;
        if (end > off) {
            uint64_t g_used;
            if (!gap(st, &o, x, end - off, &g_used)) {
                rc = lost(st, &o, x, off + g_used);
                break;
            }
            off = end;
        }
        if (i == nsp)
            break;
        size_t used = consume(st, &o, x, sp[i].p, sp[i].len, &bad);
        if (bad)
            rc = lost(st, &o, x, off + used);
        off += sp[i].len;
    }
    *nout = o.n;
    if (rc >= 0)
        return rc;
    return st->phase == A_HDR && st->hdr_len == 0 && !st->pending ? AG_PARSE_OK
                                                                  : AG_PARSE_NEED_MORE;
}

int ag_amqp_detect(const struct ag_xfer *x, enum ag_role *role)
{
    size_t n = x->head_len < x->total ? x->head_len : (size_t)x->total;

    if (!x->head || n < 8)
        return 0;
    if (memcmp(x->head, "AMQP\0\0\x09\x01", 8) == 0) {
        *role = AG_ROLE_REQUESTS;
        return 1;
    }
    /* A connection found open (seeded from /proc) is met mid-stream, at whatever frame comes
     * next: an idle consumer exchanges only heartbeats for minutes, and a read may start with a
     * content header or body. Claiming method frames only let AG_CT_DETECT_XFERS heartbeats
     * declare such a connection unparsed for good. So: any frame type, on a channel its type
     * allows (a heartbeat is exactly 08 00 00 00 00 00 00 CE, content never uses channel 0),
     * with its end octet visible and every later visible frame sane. */
    uint8_t t = x->head[0];
    uint16_t ch = ag_be16(x->head + 1);
    uint32_t size = ag_be32(x->head + 3);
    int ok = t == F_METHOD || ((t == F_HEADER || t == F_BODY) && ch != 0) ||
             (t == F_HEARTBEAT && ch == 0 && size == 0);
    if (!ok || (uint64_t)size + 8 > n || !plausible(0, x->head, n))
        return 0;
    *role = AG_ROLE_RESPONSES; /* frames look alike both ways: no role (see ct_pair.c) */
    return 1;
}
