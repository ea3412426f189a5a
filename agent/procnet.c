/* procnet: /proc/net/tcp{,6} rows into 4-tuples; no I/O, no allocation. */
#include "procnet.h"

#include <string.h>
#include <sys/socket.h>

struct cursor {
    const char *p, *end;
};

static void skip_spaces(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Exactly n hex digits (n ≤ 16). */
static int hex_fixed(struct cursor *c, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if ((size_t)(c->end - c->p) < n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = c->p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    c->p += n;
    *out = v;
    return 0;
}

static int expect(struct cursor *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* ADDR:PORT, ADDR as 1 or 4 host-order 32-bit words. */
static int parse_endpoint(struct cursor *c, int is_v6, uint8_t addr[16], uint16_t *port)
{
    uint64_t v;
    memset(addr, 0, 16);
    for (int w = 0; w < (is_v6 ? 4 : 1); w++) {
        if (hex_fixed(c, 8, &v) < 0)
            return -1;
        uint32_t word = (uint32_t)v;
        memcpy(addr + 4 * w, &word, 4); /* the kernel printed the in-memory word as a u32 */
    }
    if (expect(c, ':') < 0 || hex_fixed(c, 4, &v) < 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int skip_field(struct cursor *c)
{
    skip_spaces(c);
    const char *start = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n')
        c->p++;
    return c->p > start ? 0 : -1;
}

static int parse_dec(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    skip_spaces(c);
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*c->p++ - '0');
    }
    *out = v;
    return c->p > start ? 0 : -1;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void ag_tuple_unmap(struct ag_tuple *t)
{
    if (t->family != AF_INET6 || memcmp(t->laddr, v4mapped_prefix, 12) != 0 ||
        memcmp(t->raddr, v4mapped_prefix, 12) != 0)
        return;
    memmove(t->laddr, t->laddr + 12, 4);
    memset(t->laddr + 4, 0, 12);
    memmove(t->raddr, t->raddr + 12, 4);
    memset(t->raddr + 4, 0, 12);
    t->family = AF_INET;
}

int ag_procnet_parse_line(const char *line, size_t len, int is_v6, struct ag_procnet_entry *e)
{
    struct cursor c = {line, line + len};
    uint64_t v;
    memset(e, 0, sizeof(*e));
    skip_spaces(&c);
    if (c.end - c.p >= 2 && memcmp(c.p, "sl", 2) == 0)
        return 0;
    /* "  12: local remote st tx:rx tr:when retrnsmt uid timeout inode ..." */
    if (parse_dec(&c, &v) < 0 || expect(&c, ':') < 0)
        return -1;
    skip_spaces(&c);
    if (parse_endpoint(&c, is_v6, e->tuple.laddr, &e->tuple.lport) < 0)
        return -1;
    skip_spaces(&c);
    if (parse_endpoint(&c, is_v6, e->tuple.raddr, &e->tuple.rport) < 0)
        return -1;
    skip_spaces(&c);
    if (hex_fixed(&c, 2, &v) < 0)
        return -1;
    e->state = (uint8_t)v;
    /* tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout */
    for (int i = 0; i < 5; i++)
        if (skip_field(&c) < 0)
            return -1;
    if (parse_dec(&c, &e->inode) < 0)
        return -1;
    e->tuple.family = is_v6 ? AF_INET6 : AF_INET;
    return 1;
}

int ag_procnet_parse(const char *buf, size_t len, int is_v6, ag_procnet_fn fn, void *ctx,
                     size_t *bad)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        struct ag_procnet_entry e;
        int rc = ag_procnet_parse_line(p, (size_t)(line_end - p), is_v6, &e);
        if (rc > 0) {
            int stop = fn(&e, ctx);
            if (stop)
                return stop;
        } else if (rc < 0 && bad && line_end > p) {
            (*bad)++;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int ag_addr_matches(uint8_t family, const uint8_t *wild, const uint8_t *addr)
{
    size_t n = family == AF_INET ? 4 : 16;
    static const uint8_t zero[16];
    return memcmp(wild, zero, n) == 0 || memcmp(wild, addr, n) == 0;
}
