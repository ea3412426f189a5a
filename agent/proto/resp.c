/* Redis RESP2 framing over head/tail-captured transfers ("Redis serialization protocol
 * specification"): every element is a type line ending in CRLF; bulk strings carry their length. */
#include "resp.h"

#include <string.h>

enum { R_START, R_LINE, R_BULK };

#define BULK_MAX   (512u * 1024 * 1024) /* proto-max-bulk-len default */
#define LINE_LIMIT (64u * 1024)         /* PROTO_INLINE_MAX_SIZE */

void ag_resp_init(struct ag_resp_state *st, enum ag_role role)
{
    memset(st, 0, sizeof(*st));
    st->role = (uint8_t)role;
}

static void complete(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    st->cur.ts_last_ns = x->ts_exit_ns;
    ag_out_emit(o, &st->cur);
    st->phase = R_START;
    st->depth = 0;
    st->synced = 1;
}

/* One element is whole: it may finish its arrays, and the top level finishes the message. */
static void elem_done(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    while (st->depth > 0) {
        if (--st->left[st->depth - 1] > 0) {
            st->phase = R_LINE;
            return;
        }
        st->depth--;
    }
    complete(st, o, x);
}

static void upper_op(struct ag_msg *m)
{
    for (char *c = m->op; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 32);
}

static int parse_int(const char *s, size_t n, int64_t *v)
{
    int neg = n > 0 && s[0] == '-';
    int64_t r = 0;

    /* At most 18 digits: any of them fits in int64_t (19 nines would not), and no RESP length
     * or count comes near (found by fuzz_resp: 9999999989999999992 overflowed). */
    if (n == (size_t)neg || n - (size_t)neg > 18)
        return 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        r = r * 10 + (s[i] - '0');
    }
    *v = neg ? -r : r;
    return 1;
}

static int on_line(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    const char *l = st->line;
    size_t n = st->line_len;
    int cut = st->line_total > st->line_len;
    int64_t v;

    if (st->line_total == 0)
        return 0;
    /* Clients send only arrays of bulk strings (or inline commands at the top). */
    if (st->role == AG_ROLE_REQUESTS && st->depth > 0 && l[0] != '$')
        return 0;
    switch (l[0]) {
    case '*':
        if (cut || !parse_int(l + 1, n - 1, &v) || v < -1)
            return 0;
        if (v <= 0) {
            elem_done(st, o, x);
        } else {
            if (st->depth == AG_RESP_DEPTH)
                return 0;
            if (st->depth == 0)
                st->top_count = v;
            st->left[st->depth++] = v;
            st->phase = R_LINE;
        }
        return 1;
    case '$':
        if (cut || !parse_int(l + 1, n - 1, &v) || v < -1 || v > BULK_MAX)
            return 0;
        if (v == -1) {
            elem_done(st, o, x);
            return 1;
        }
        st->name_bulk =
            st->role == AG_ROLE_REQUESTS && st->depth == 1 && st->left[0] == st->top_count;
        st->bulk_len = (uint32_t)v;
        st->remaining = (uint64_t)v + 2;
        st->phase = R_BULK;
        return 1;
    case '-':
        if (st->depth == 0)
            st->cur.error = 1;
        /* fall through */
    case '+':
    case ':':
        if (st->role == AG_ROLE_REQUESTS)
            return 0;
        elem_done(st, o, x);
        return 1;
    }
    if (st->role != AG_ROLE_REQUESTS || st->depth != 0)
        return 0;
    /* An inline command: the first space-separated word names it. */
    size_t w = 0;
    while (w < n && l[w] != ' ')
        w++;
    ag_copy_str(st->cur.op, sizeof(st->cur.op), (const uint8_t *)l, w);
    upper_op(&st->cur);
    complete(st, o, x);
    return 1;
}

static void bulk_done(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    if (st->name_bulk) {
        upper_op(&st->cur);
        st->name_bulk = 0;
    }
    elem_done(st, o, x);
}

static size_t consume(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x,
                      const uint8_t *p, size_t n, int *bad)
{
    size_t i = 0;

    while (i < n) {
        if (st->phase == R_START) {
            if (st->role == AG_ROLE_REQUESTS && (p[i] == '\r' || p[i] == '\n')) {
                i++; /* empty inline lines are ignored by the server */
                continue;
            }
            memset(&st->cur, 0, sizeof(st->cur));
            st->cur.proto = AG_PROTO_RESP;
            st->cur.kind = st->role == AG_ROLE_REQUESTS ? AG_MSG_REQUEST : AG_MSG_RESPONSE;
            st->cur.ts_first_ns = x->ts_enter_ns;
            st->depth = 0;
            st->line_len = 0;
            st->line_total = 0;
            st->phase = R_LINE;
        } else if (st->phase == R_BULK) {
            uint64_t k = st->remaining < n - i ? st->remaining : n - i;
            if (st->name_bulk) {
                uint64_t at = (uint64_t)st->bulk_len + 2 - st->remaining;
                for (uint64_t j = 0; j < k && at + j < st->bulk_len && at + j < AG_OP_MAX - 1; j++)
                    st->cur.op[at + j] = (char)p[i + j];
            }
            st->remaining -= k;
            st->cur.bytes += k;
            i += (size_t)k;
            if (st->remaining == 0)
                bulk_done(st, o, x);
        } else {
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t take = nl ? (size_t)(nl - (p + i)) : n - i;
            st->line_len = (uint8_t)ag_line_keep(st->line, sizeof(st->line), st->line_len,
                                                 &st->line_total, p + i, take, LINE_LIMIT);
            st->cur.bytes += take + (nl != NULL);
            i += take;
            if (st->line_total >= LINE_LIMIT) {
                *bad = 1;
                return i;
            }
            if (!nl)
                return n;
            i++;
            if (st->line_total == st->line_len && st->line_len &&
                st->line[st->line_len - 1] == '\r')
                st->line_len--, st->line_total--;
            if (!on_line(st, o, x)) {
                *bad = 1;
                return i;
            }
            st->line_len = 0;
            st->line_total = 0;
        }
    }
    return n;
}

static int gap(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t g,
               uint64_t *used)
{
    *used = 0;
    if (st->phase != R_BULK)
        return 0;
    if (g < st->remaining) {
        st->remaining -= g;
        st->cur.bytes += g;
        return 1;
    }
    int exact = g == st->remaining;
    *used = st->remaining;
    st->cur.bytes += st->remaining;
    st->remaining = 0;
    bulk_done(st, o, x);
    return exact;
}

static int lost(struct ag_resp_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t off)
{
    st->stats.unparsed_bytes += x->total - off;
    if (!st->synced) {
        st->phase = R_START;
        return AG_PARSE_NOT_MINE;
    }
    if (st->depth > 0 || st->phase == R_BULK) { /* the message was seen to start: count it */
        upper_op(&st->cur);
        st->cur.flags |= AG_MSG_F_TRUNCATED;
        complete(st, o, x);
    }
    st->phase = R_START;
    st->hunting = 1;
    st->stats.resyncs++;
    return AG_PARSE_RESYNC;
}

/* A number line "[-]digits\r\n" from p[i]; returns the offset past it, n when cut short by the
 * end of what is visible, or -1. */
static long num_line(const uint8_t *p, size_t n, size_t i)
{
    size_t d = i;

    if (d < n && p[d] == '-')
        d++;
    while (d < n && p[d] >= '0' && p[d] <= '9' && d - i < 20)
        d++;
    if (d == n)
        return (long)n;
    if (d == i || p[d] != '\r')
        return -1;
    if (d + 1 == n)
        return (long)n;
    return p[d + 1] == '\n' ? (long)d + 2 : -1;
}

static int plausible(int role, int inline_ok, const uint8_t *p, size_t n)
{
    long e;

    if (n == 0)
        return 0;
    if (p[0] == '*') {
        e = num_line(p, n, 1);
        if (e < 0)
            return 0;
        return role != AG_ROLE_REQUESTS || (size_t)e == n || p[e] == '$';
    }
    if (role == AG_ROLE_REQUESTS) {
        size_t k = 0;
        while (k < n && k <= 16 && (((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z')))
            k++;
        return inline_ok && k > 0 && (k == n || p[k] == ' ' || p[k] == '\r');
    }
    if (p[0] == '$' || p[0] == ':')
        return num_line(p, n, 1) >= 0;
    if (p[0] == '+' || p[0] == '-') {
        for (size_t k = 1; k < n; k++) {
            if (p[k] == '\r')
                return k + 1 == n || p[k + 1] == '\n';
            if (p[k] < 0x20 && p[k] != '\t')
                return 0;
        }
        return 1;
    }
    return 0;
}

int ag_resp_feed(struct ag_resp_state *st, const struct ag_xfer *x, struct ag_msg *out, int max_out,
                 int *nout)
{
    struct ag_out o = {out, max_out, 0, &st->stats};
    struct ag_span sp[2];
    int nsp = ag_xfer_spans(x, sp), rc = -1, bad = 0;
    uint64_t off = 0;

    *nout = 0;
    if (x->total == 0)
        return st->phase == R_START ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
    if (st->phase == R_START && (st->hunting || !st->synced)) {
        if (nsp == 0 || sp[0].off != 0 || !plausible(st->role, !st->synced, sp[0].p, sp[0].len)) {
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
    return st->phase == R_START ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
}

int ag_resp_detect(const struct ag_xfer *x, enum ag_role *role)
{
    size_t n = x->head_len < x->total ? x->head_len : (size_t)x->total;

    if (!x->head || n < 4)
        return 0;
    if (x->head[0] == '*' && plausible(AG_ROLE_REQUESTS, 0, x->head, n)) {
        *role = AG_ROLE_REQUESTS;
        return 1;
    }
    if (memchr("+-:$", x->head[0], 4) && plausible(AG_ROLE_RESPONSES, 0, x->head, n)) {
        *role = AG_ROLE_RESPONSES;
        return 1;
    }
    return 0;
}
