/* HTTP/1.1 message framing over head/tail-captured transfers (RFC 9112 sections 2-7). */
#include "http1.h"

#include <string.h>

enum {
    H1_START,       /* between messages */
    H1_LINE,        /* start line */
    H1_HEADERS,     /* header lines up to the empty line */
    H1_BODY,        /* Content-Length body, skipped by count */
    H1_CHUNK_SIZE,  /* chunk-size [; ext] line */
    H1_CHUNK_DATA,  /* chunk data, skipped by count */
    H1_CHUNK_END,   /* the CRLF after chunk data */
    H1_TRAILERS,    /* trailer section after the last chunk */
    H1_UNTIL_CLOSE, /* response body delimited by connection close */
    H1_TUNNEL,      /* after 101 / CONNECT 2xx: no longer HTTP */
    H1_BLIND,       /* chunked body whose size lines fell into invisible bytes */
};

enum { EXPECT_PLAIN = 0, EXPECT_HEAD = 1, EXPECT_CONNECT = 2 };

#define LINE_LIMIT 65536u /* a "line" longer than this is not HTTP */

void ag_http1_init(struct ag_http1_state *st, enum ag_role role)
{
    memset(st, 0, sizeof(*st));
    st->role = (uint8_t)role;
}

static int ci_eq(const char *a, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n && lit[i]; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != lit[i])
            return 0;
    }
    return i == n && lit[i] == '\0';
}

static int ci_contains(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);

    for (size_t i = 0; i + m <= n; i++)
        if (ci_eq(s + i, m, lit))
            return 1;
    return 0;
}

static int is_tchar_upper(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

void ag_http1_expect(struct ag_http1_state *st, const struct ag_msg *req)
{
    unsigned kind = EXPECT_PLAIN, slot;

    if (strcmp(req->op, "HEAD") == 0)
        kind = EXPECT_HEAD;
    else if (strcmp(req->op, "CONNECT") == 0)
        kind = EXPECT_CONNECT;
    if (st->expect_count == AG_HTTP1_EXPECT) { /* forget the oldest rather than block */
        st->expect_first = (uint8_t)((st->expect_first + 1) % AG_HTTP1_EXPECT);
        st->expect_count--;
    }
    slot = (st->expect_first + st->expect_count) % AG_HTTP1_EXPECT;
    st->expect_bits &= ~(3ull << (2 * slot));
    st->expect_bits |= (uint64_t)kind << (2 * slot);
    st->expect_count++;
}

static unsigned expect_pop(struct ag_http1_state *st)
{
    unsigned kind;

    if (st->expect_count == 0)
        return EXPECT_PLAIN;
    kind = (unsigned)(st->expect_bits >> (2 * st->expect_first)) & 3u;
    st->expect_first = (uint8_t)((st->expect_first + 1) % AG_HTTP1_EXPECT);
    st->expect_count--;
    return kind;
}

static void begin_message(struct ag_http1_state *st, const struct ag_xfer *x)
{
    memset(&st->cur, 0, sizeof(st->cur));
    st->cur.proto = AG_PROTO_HTTP1;
    st->cur.ts_first_ns = x->ts_enter_ns;
    st->chunked = st->has_len = st->conn_close = st->no_body = st->tunnel_after = 0;
    st->remaining = 0;
    st->phase = H1_LINE;
}

static void complete(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    st->cur.ts_last_ns = x->ts_exit_ns;
    if (st->tunnel_after)
        st->cur.flags |= AG_MSG_F_TUNNEL;
    ag_out_emit(o, &st->cur);
    st->phase = st->tunnel_after ? H1_TUNNEL : H1_START;
}

/* Request target (RFC 9112 3.2) to a path without query or fragment. */
static void set_path(struct ag_msg *m, const char *t, size_t n)
{
    size_t len;

    if (n > 8 && (ci_eq(t, 7, "http://") || ci_eq(t, 8, "https://"))) {
        const char *a = memchr(t, '/', n);
        size_t skip = (size_t)(a - t) + 2; /* past "//" */
        const char *slash = memchr(t + skip, '/', n - skip);
        if (!slash) {
            ag_copy_str(m->target, sizeof(m->target), (const uint8_t *)"/", 1);
            return;
        }
        n -= (size_t)(slash - t);
        t = slash;
    }
    for (len = 0; len < n && t[len] != '?' && t[len] != '#'; len++)
        ;
    ag_copy_str(m->target, sizeof(m->target), (const uint8_t *)t, len);
}

/* One line, CRLF dropped: where it lies in the transfer, or the copy in st->line when it
 * spanned transfers. cut: the line was longer than st->line and this is its start. */
struct h1_line {
    const char *p;
    size_t len;
    int cut;
};

static int parse_start_line(struct ag_http1_state *st, const struct h1_line *ln)
{
    const char *l = ln->p;
    size_t n = ln->len, k = 0;
    int cut = ln->cut;

    if (n >= 12 && memcmp(l, "HTTP/1.", 7) == 0 && l[7] >= '0' && l[7] <= '9' && l[8] == ' ') {
        unsigned s = 0;
        for (int i = 9; i < 12; i++) {
            if (l[i] < '0' || l[i] > '9')
                return 0;
            s = s * 10 + (unsigned)(l[i] - '0');
        }
        if (s < 100 || s > 599 || (n > 12 && l[12] != ' '))
            return 0;
        st->cur.kind = AG_MSG_RESPONSE;
        st->cur.status = (uint16_t)s;
        return 1;
    }
    while (k < n && is_tchar_upper((uint8_t)l[k]))
        k++;
    if (k == 0 || k >= AG_OP_MAX || k >= n || l[k] != ' ')
        return 0;
    const char *t = l + k + 1;
    const char *sp = memchr(t, ' ', n - k - 1);
    size_t tlen = sp ? (size_t)(sp - t) : n - k - 1;
    if (tlen == 0)
        return 0;
    if (sp) { /* the version is there unless the line was cut inside it */
        size_t rest = n - (size_t)(sp + 1 - l);
        if (rest < 7 ? memcmp(sp + 1, "HTTP/1.", rest) != 0 || !cut
                     : memcmp(sp + 1, "HTTP/1.", 7) != 0)
            return 0;
    } else if (!cut) {
        return 0; /* HTTP/0.9 "GET /" is not spoken by anything we watch */
    }
    st->cur.kind = AG_MSG_REQUEST;
    ag_copy_str(st->cur.op, sizeof(st->cur.op), (const uint8_t *)l, k);
    set_path(&st->cur, t, tlen);
    return 1;
}

static int parse_header(struct ag_http1_state *st, const struct h1_line *ln)
{
    const char *l = ln->p, *colon;
    size_t n = ln->len, vlen;

    if (l[0] == ' ' || l[0] == '\t') /* obs-fold continuation (RFC 9112 5.2): nothing we use */
        return 1;
    colon = memchr(l, ':', n);
    if (!colon)
        return 0;
    const char *v = colon + 1;
    vlen = n - (size_t)(v - l);
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    size_t nlen = (size_t)(colon - l);
    if (ci_eq(l, nlen, "content-length")) {
        uint64_t len = 0;
        if (vlen == 0 || vlen > 18)
            return 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 0;
            len = len * 10 + (uint64_t)(v[i] - '0');
        }
        st->has_len = 1;
        st->remaining = len;
    } else if (ci_eq(l, nlen, "transfer-encoding")) {
        /* Chunked must be the final coding (RFC 9112 6.1); anything else delimits by close. */
        st->chunked = ci_contains(v, vlen, "chunked");
    } else if (ci_eq(l, nlen, "connection")) {
        st->conn_close |= (uint8_t)ci_contains(v, vlen, "close");
    }
    return 1;
}

/* The empty line: decide how the body is delimited (RFC 9112 6.3). */
static void end_headers(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    struct ag_msg *m = &st->cur;

    if (m->kind == AG_MSG_REQUEST) {
        /* A CONNECT request is followed by tunnel bytes, whatever the answer (RFC 9110 9.3.6). */
        st->tunnel_after = strcmp(m->op, "CONNECT") == 0;
        if (st->chunked) {
            st->phase = H1_CHUNK_SIZE;
        } else if (st->has_len && st->remaining > 0) {
            st->phase = H1_BODY;
        } else {
            complete(st, o, x); /* rule 7: a request without framing headers has no body */
        }
        return;
    }
    if (m->status < 200 && m->status != 101) {
        st->phase = H1_START; /* interim (1xx) responses are not final: wait for the real one */
        return;
    }
    unsigned req = expect_pop(st);
    if (m->status == 101 || (req == EXPECT_CONNECT && m->status < 300))
        st->tunnel_after = 1;
    if (req == EXPECT_HEAD || m->status == 204 || m->status == 304 || st->tunnel_after)
        complete(st, o, x); /* rules 1-2: no content, whatever the headers say */
    else if (st->chunked)
        st->phase = H1_CHUNK_SIZE;
    else if (st->has_len)
        st->remaining > 0 ? (void)(st->phase = H1_BODY) : complete(st, o, x);
    else
        st->phase = H1_UNTIL_CLOSE;
}

static int chunk_size(struct ag_http1_state *st, const struct h1_line *ln)
{
    uint64_t size = 0;
    size_t i = 0, n = ln->len;

    for (; i < n; i++) {
        char c = ln->p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (unsigned)((c | 0x20) - 'a' + 10);
        else
            break;
        if (i >= 15)
            return 0;
        size = size << 4 | d;
    }
    if (i == 0 || (i < n && ln->p[i] != ';' && ln->p[i] != ' ' && ln->p[i] != '\t'))
        return 0;
    st->remaining = size;
    st->phase = size ? H1_CHUNK_DATA : H1_TRAILERS;
    return 1;
}

static int on_line(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x,
                   const struct h1_line *ln)
{
    int empty = ln->len == 0 && !ln->cut;

    switch (st->phase) {
    case H1_LINE:
        if (!parse_start_line(st, ln))
            return 0;
        st->synced = 1;
        st->phase = H1_HEADERS;
        return 1;
    case H1_HEADERS:
        if (empty)
            end_headers(st, o, x);
        else if (!parse_header(st, ln))
            return 0;
        return 1;
    case H1_CHUNK_SIZE:
        return chunk_size(st, ln);
    case H1_CHUNK_END:
        st->phase = H1_CHUNK_SIZE;
        return empty;
    case H1_TRAILERS:
        if (empty)
            complete(st, o, x);
        return 1;
    }
    return 0;
}

/* Parses visible bytes; returns how many were used, and sets *bad when framing was
 * lost after them (a bad or overlong line, which may end exactly where the bytes do). */
static size_t consume(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x,
                      const uint8_t *p, size_t n, int *bad)
{
    size_t i = 0;

    while (i < n) {
        switch (st->phase) {
        case H1_START:
            if (p[i] == '\r' || p[i] == '\n') { /* RFC 9112 2.2: ignore CRLF before a message */
                i++;
                continue;
            }
            begin_message(st, x);
            st->line_len = 0;
            st->line_total = 0;
            continue;
        case H1_BODY:
        case H1_CHUNK_DATA: {
            uint64_t k = st->remaining < n - i ? st->remaining : n - i;
            st->remaining -= k;
            st->cur.bytes += k;
            i += (size_t)k;
            if (st->remaining == 0) {
                if (st->phase == H1_BODY)
                    complete(st, o, x);
                else
                    st->phase = H1_CHUNK_END;
            }
            continue;
        }
        case H1_UNTIL_CLOSE:
        case H1_TUNNEL:
        case H1_BLIND:
            st->cur.bytes += n - i;
            return n;
        default: { /* a line-oriented phase */
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t take = nl ? (size_t)(nl - (p + i)) : n - i;
            struct h1_line ln;

            st->cur.bytes += take + (nl != NULL);
            if (nl && st->line_total == 0 && take <= sizeof(st->line)) {
                /* The whole line is in view: parsed where it lies, not copied (the common
                 * case; the copy was a tenth of the agent's time). */
                ln.p = (const char *)p + i;
                ln.len = take;
                ln.cut = 0;
                i += take + 1;
            } else {
                st->line_len = (uint16_t)ag_line_keep(st->line, sizeof(st->line), st->line_len,
                                                      &st->line_total, p + i, take, LINE_LIMIT);
                i += take;
                if (st->line_total >= LINE_LIMIT) {
                    *bad = 1;
                    return i;
                }
                if (!nl)
                    return n;
                i++;
                ln.p = st->line;
                ln.len = st->line_len;
                ln.cut = st->line_total > st->line_len;
                st->line_len = 0;
                st->line_total = 0;
            }
            /* Drop the CR of CRLF; a bare LF is tolerated (RFC 9112 2.2). */
            if (ln.len > 0 && !ln.cut && ln.p[ln.len - 1] == '\r')
                ln.len--;
            if (!on_line(st, o, x, &ln)) {
                *bad = 1;
                return i;
            }
        }
        }
    }
    return n;
}

/* g bytes are invisible: fine inside a body skipped by count, lost anywhere else. */
static int gap(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t g,
               uint64_t *used)
{
    *used = 0;
    switch (st->phase) {
    case H1_UNTIL_CLOSE:
    case H1_TUNNEL:
    case H1_BLIND:
        st->cur.bytes += g;
        return 1;
    case H1_CHUNK_SIZE:
    case H1_CHUNK_END:
    case H1_TRAILERS:
    go_blind:
        /* Only the last chunk's "0\r\n\r\n" at the end of a transfer can end this body now. */
        st->phase = H1_BLIND;
        st->cur.bytes += g;
        return 1;
    case H1_BODY:
    case H1_CHUNK_DATA:
        if (g > st->remaining && st->phase == H1_CHUNK_DATA)
            goto go_blind;
        if (g >= st->remaining) {
            int exact = g == st->remaining;
            *used = st->remaining;
            st->cur.bytes += st->remaining;
            st->remaining = 0;
            if (st->phase == H1_CHUNK_DATA) {
                st->phase = H1_CHUNK_END;
                return 1;
            }
            complete(st, o, x); /* the body ended in the gap; unless exactly, more is unseen */
            return exact;
        }
        st->remaining -= g;
        st->cur.bytes += g;
        return 1;
    }
    return 0;
}

static int xfer_ends_with(const struct ag_xfer *x, const char *lit)
{
    size_t n = strlen(lit);

    if (x->total < n)
        return 0;
    if (x->head && x->head_len >= x->total)
        return memcmp(x->head + x->total - n, lit, n) == 0;
    return x->tail && x->tail_len >= n && memcmp(x->tail + x->tail_len - n, lit, n) == 0;
}

/* Framing was lost in the invisible middle of x while reading headers: an empty line at the
 * very end of the transfer still ends an oversized header section. */
static int tail_recover(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x,
                        uint64_t off)
{
    if (st->phase != H1_HEADERS || st->chunked || !xfer_ends_with(x, "\r\n\r\n"))
        return 0;
    st->cur.bytes += x->total - off;
    end_headers(st, o, x);
    st->stats.tail_syncs++;
    return 1;
}

static int lost(struct ag_http1_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t off)
{
    int in_msg = st->phase != H1_START && st->phase != H1_LINE;
    int interim = st->cur.kind == AG_MSG_RESPONSE && st->cur.status < 200 && st->cur.status != 101;

    st->stats.unparsed_bytes += x->total - off;
    if (!st->synced) {
        st->phase = H1_START;
        return AG_PARSE_NOT_MINE;
    }
    if (in_msg && !interim) {
        st->cur.flags |= AG_MSG_F_TRUNCATED;
        st->tunnel_after = 0;
        complete(st, o, x);
    }
    st->phase = H1_START;
    st->hunting = 1;
    st->stats.resyncs++;
    return AG_PARSE_RESYNC;
}

/* Could p[0..n) be the beginning of a message? Also true for a prefix too short to tell, so a
 * start line split over transfers is not refused. */
static int plausible(const uint8_t *p, size_t n)
{
    static const char http[] = "HTTP/1.";
    size_t k = 0;

    while (n && (*p == '\r' || *p == '\n'))
        p++, n--;
    if (n == 0)
        return 1;
    if (memcmp(p, http, n < 7 ? n : 7) == 0)
        return 1;
    while (k < n && is_tchar_upper(p[k]))
        k++;
    if (k == 0 || k >= AG_OP_MAX)
        return 0;
    if (k == n)
        return 1;
    if (p[k] != ' ' || (k + 1 < n && (p[k + 1] <= ' ' || p[k + 1] >= 0x7f)))
        return 0;
    const uint8_t *nl = memchr(p, '\n', n);
    if (!nl) /* target longer than what is visible */
        return 1;
    size_t len = (size_t)(nl - p);
    if (len && p[len - 1] == '\r')
        len--;
    return len >= 10 + k && memcmp(p + len - 9, " HTTP/1.", 8) == 0;
}

int ag_http1_feed(struct ag_http1_state *st, const struct ag_xfer *x, struct ag_msg *out,
                  int max_out, int *nout)
{
    struct ag_out o = {out, max_out, 0, &st->stats};
    struct ag_span sp[2];
    int nsp = ag_xfer_spans(x, sp), rc = -1, stop = 0;
    uint64_t off = 0;

    *nout = 0;
    if (x->total == 0)
        return st->phase == H1_START ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
    if (st->phase == H1_BLIND && nsp && sp[0].off == 0 && sp[0].len >= 12 &&
        plausible(sp[0].p, sp[0].len)) {
        /* A message starts here, so the blind chunked body ended unseen. */
        rc = lost(st, &o, x, x->total);
        st->hunting = 0;
    }
    if (st->phase == H1_START && (st->hunting || !st->synced)) {
        if (nsp == 0 || sp[0].off != 0 || !plausible(sp[0].p, sp[0].len)) {
            st->stats.unparsed_bytes += x->total;
            return st->synced ? AG_PARSE_NEED_MORE : AG_PARSE_NOT_MINE;
        }
        st->hunting = 0;
    }
    for (int i = 0; i <= nsp && !stop; i++) {
        uint64_t end = i < nsp ? sp[i].off : x->total;
        if (end > off) {
            uint64_t g_used;
            if (!gap(st, &o, x, end - off, &g_used)) {
                if (!(i < nsp && tail_recover(st, &o, x, off + g_used)))
                    rc = lost(st, &o, x, off + g_used);
                break;
            }
            off = end;
        }
        if (i == nsp)
            break;
        int bad = 0;
        size_t used = consume(st, &o, x, sp[i].p, sp[i].len, &bad);
        if (bad || used < sp[i].len) {
            rc = lost(st, &o, x, off + used);
            stop = 1;
        }
        off += sp[i].len;
    }
    if (st->phase == H1_BLIND && xfer_ends_with(x, "\r\n0\r\n\r\n")) {
        complete(st, &o, x); /* the last chunk, no trailers (RFC 9112 7.1) */
        st->stats.tail_syncs++;
    }
    *nout = o.n;
    if (rc >= 0)
        return rc;
    return st->phase == H1_START ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
}

int ag_http1_finish(struct ag_http1_state *st, uint64_t ts_ns, struct ag_msg *out)
{
    int interim = st->cur.kind == AG_MSG_RESPONSE && st->cur.status < 200 && st->cur.status != 101;

    if (st->phase == H1_START || st->phase == H1_LINE || st->phase == H1_TUNNEL || interim) {
        st->phase = H1_START;
        return 0;
    }
    if (st->phase != H1_UNTIL_CLOSE)
        st->cur.flags |= AG_MSG_F_TRUNCATED;
    st->cur.ts_last_ns = ts_ns;
    *out = st->cur;
    st->stats.msgs++;
    st->phase = H1_START;
    return 1;
}

int ag_http1_detect(const struct ag_xfer *x, enum ag_role *role)
{
    static const char *const methods[] = {"GET ",   "POST ",    "PUT ",     "DELETE ", "HEAD ",
                                          "PATCH ", "OPTIONS ", "CONNECT ", "TRACE "};
    const uint8_t *p = x->head;
    size_t n = x->head_len < x->total ? x->head_len : (size_t)x->total;

    if (!p)
        return 0;
    if (n >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ') {
        *role = AG_ROLE_RESPONSES;
        return 1;
    }
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t m = strlen(methods[i]);
        if (n > m && memcmp(p, methods[i], m) == 0 && plausible(p, n)) {
            *role = AG_ROLE_REQUESTS;
            return 1;
        }
    }
    return 0;
}
