/* Protocol detection, the two parser states of a connection, FIFO pairing and emission. */
#include "ct_int.h"

#include <stdlib.h>
#include <string.h>

/* Typed wrappers: calling a parser through a pointer of another type would be undefined. */
#define CT_WRAP(name, member)                                                                      \
    static void name##_init(union ct_state *s, enum ag_role r)                                     \
    {                                                                                              \
        ag_##name##_init(&s->member, r);                                                           \
    }                                                                                              \
    static int name##_feed(union ct_state *s, const struct ag_xfer *x, struct ag_msg *o, int m,    \
                           int *n)                                                                 \
    {                                                                                              \
        return ag_##name##_feed(&s->member, x, o, m, n);                                           \
    }                                                                                              \
    static struct ag_parse_stats *name##_stats(union ct_state *s)                                  \
    {                                                                                              \
        return &s->member.stats;                                                                   \
    }

CT_WRAP(http1, http)
CT_WRAP(pgwire, pg)
CT_WRAP(resp, resp)
CT_WRAP(amqp, amqp)

static void http1_expect(union ct_state *s, const struct ag_msg *m)
{
    ag_http1_expect(&s->http, m);
}

static void pgwire_expect(union ct_state *s, const struct ag_msg *m)
{
    ag_pgwire_expect(&s->pg, m);
}

struct ct_ops {
    enum ag_proto proto;
    size_t size;
    int (*detect)(const struct ag_xfer *x, enum ag_role *role);
    void (*init)(union ct_state *s, enum ag_role role);
    int (*feed)(union ct_state *s, const struct ag_xfer *x, struct ag_msg *out, int max, int *n);
    void (*expect)(union ct_state *s, const struct ag_msg *req); /* NULL: framing needs no hint */
    struct ag_parse_stats *(*stats)(union ct_state *s);
};

/* Detection order: the most distinctive first. AMQP's 8-byte protocol header and framed methods
 * ending in 0xCE, then HTTP's method or status line, then RESP's type bytes; PostgreSQL last,
 * because its typed messages are the least specific (one letter and a length). */
static const struct ct_ops ops_table[] = {
    {AG_PROTO_AMQP, sizeof(struct ag_amqp_state), ag_amqp_detect, amqp_init, amqp_feed, NULL,
     amqp_stats},
    {AG_PROTO_HTTP1, sizeof(struct ag_http1_state), ag_http1_detect, http1_init, http1_feed,
     http1_expect, http1_stats},
    {AG_PROTO_RESP, sizeof(struct ag_resp_state), ag_resp_detect, resp_init, resp_feed, NULL,
     resp_stats},
    {AG_PROTO_PGWIRE, sizeof(struct ag_pgwire_state), ag_pgwire_detect, pgwire_init, pgwire_feed,
     pgwire_expect, pgwire_stats},
};
#define CT_NOPS (sizeof(ops_table) / sizeof(ops_table[0]))

static const struct ct_ops *ops_for(uint8_t proto)
{
    for (size_t i = 0; i < CT_NOPS; i++)
        if (ops_table[i].proto == proto)
            return &ops_table[i];
    return NULL;
}

static int req_dir(const struct ct_conn *c)
{
    /* An AMQP connection whose role is not known yet is parsed as a client: both directions
     * carry the same frames, so only the role reported on events depends on it. */
    return c->role == AG_CT_SERVER ? AG_DIR_INGRESS : AG_DIR_EGRESS;
}

void ct_count_unparsed(struct ag_conntrack *ct, uint32_t tgid, uint64_t bytes)
{
    if (!bytes)
        return;
    ct->stats.unparsed_bytes += bytes;
    if (ct->cfg.unparsed)
        ct->cfg.unparsed(ct->cfg.ctx, tgid, bytes);
}

void ct_parse_free(struct ct_conn *c)
{
    free(c->p);
    c->p = NULL;
}

#define CT_ALIGN(n) (((n) + 15) & ~(size_t)15)

/* One allocation per connection: the bookkeeping, two parser states and, for HTTP, the raw
 * request paths of pending requests (folded only when a pair is emitted). */
static int start_parsing(struct ct_conn *c, const struct ct_ops *ops)
{
    size_t base = CT_ALIGN(sizeof(struct ct_parse)), st = CT_ALIGN(ops->size);
    size_t paths = ops->proto == AG_PROTO_HTTP1 ? (size_t)AG_CT_PENDING * AG_TARGET_MAX : 0;
    uint8_t *mem = calloc(1, base + 2 * st + paths);
    struct ct_parse *p = (struct ct_parse *)mem;

    if (!mem)
        return 0;
    p->st[0] = (union ct_state *)(mem + base);
    p->st[1] = (union ct_state *)(mem + base + st);
    if (paths)
        p->targets = (char(*)[AG_TARGET_MAX])(mem + base + 2 * st);
    int rd = req_dir(c);
    ops->init(p->st[rd], AG_ROLE_REQUESTS);
    ops->init(p->st[!rd], AG_ROLE_RESPONSES);
    c->p = p;
    c->proto = (uint8_t)ops->proto;
    c->phase = CT_PARSING;
    return 1;
}

/* Finds a parser that claims x consistently with the role, if known; sets an unknown role from
 * what the parser saw: a request arriving (or a response leaving) means we serve. */
static int detect(struct ag_conntrack *ct, struct ct_conn *c, const struct ag_xfer *x)
{
    for (size_t i = 0; i < CT_NOPS; i++) {
        const struct ct_ops *ops = &ops_table[i];
        enum ag_role r;

        if (!ops->detect(x, &r))
            continue;
        int serving = (x->dir == AG_DIR_INGRESS) == (r == AG_ROLE_REQUESTS);
        if (ops->proto == AG_PROTO_AMQP && r == AG_ROLE_RESPONSES) {
            /* A frame, not the header: frames look alike both ways and tell no role. */
        } else if (c->role == AG_CT_UNKNOWN) {
            c->role = serving ? AG_CT_SERVER : AG_CT_CLIENT;
        } else if ((c->role == AG_CT_SERVER) != serving) {
            continue;
        }
        if (c->role == AG_CT_SERVER && (ct->cfg.quiet_servers & (1u << ops->proto))) {
            c->proto = (uint8_t)ops->proto;
            c->phase = CT_QUIET;
            ct->stats.conns_quiet++;
            if (ct->cfg.quiet) {
                struct ag_ct_id id = {.tgid = c->tgid, .fd = c->fd, .sock_id = c->sock_id};
                ct->cfg.quiet(ct->cfg.ctx, &id);
            }
            return 1;
        }
        return start_parsing(c, ops);
    }
    return 0;
}

static void rec_begin(const struct ct_conn *c, struct ag_request *r)
{
    memset(r, 0, sizeof(*r));
    r->tgid = c->tgid;
    r->role = c->role ? c->role : AG_CT_CLIENT;
    r->proto = c->proto;
    r->ep = c->ep;
    if (c->proto == AG_PROTO_PGWIRE)
        r->db_system = "postgresql";
    else if (c->proto == AG_PROTO_RESP)
        r->db_system = "redis";
    else if (c->proto == AG_PROTO_AMQP)
        r->messaging_system = "rabbitmq";
}

static void rec_emit(struct ag_conntrack *ct, const struct ag_request *r)
{
    ct->stats.requests++;
    ct->cfg.emit(ct->cfg.ctx, r);
}

static void emit_pair(struct ag_conntrack *ct, const struct ct_conn *c, uint32_t slot,
                      const struct ag_msg *resp)
{
    const struct ct_pending *e = &c->p->pend[slot];
    struct ag_request *r = &ct->rec;

    rec_begin(c, r);
    r->tid = e->tid;
    r->flags = (uint8_t)((e->flags | resp->flags) & AG_MSG_F_TRUNCATED);
    r->ts_start_ns = e->ts_first;
    /* A response that began before its request was seen (late attach, finished by a close)
     * would give a negative duration: report zero rather than poison a histogram. */
    r->ts_end_ns = resp->ts_last_ns > e->ts_first ? resp->ts_last_ns : e->ts_first;
    r->req_bytes = e->bytes;
    r->resp_bytes = resp->bytes;
    memcpy(r->op, e->op, sizeof(r->op));
    memcpy(r->sqlstate, resp->sqlstate, sizeof(r->sqlstate));
    r->error = resp->error;
    switch (c->proto) {
    case AG_PROTO_HTTP1:
        r->status = resp->status;
        /* OpenTelemetry HTTP semantics: a server errs at 5xx, a client at 4xx too. */
        r->error = resp->status >= (c->role == AG_CT_SERVER ? 500 : 400);
        if (ag_route_match(ct->cfg.routes, c->p->targets[slot], r->route, sizeof(r->route)) < 0)
            r->route[0] = '\0'; /* unreachable: AG_CT_ROUTE_MAX covers the worst growth */
        break;
    case AG_PROTO_PGWIRE:
        /* The Parse that named the statement predates us (late attach): CommandComplete's tag
         * still names the operation. */
        if (!r->op[0])
            memcpy(r->op, resp->op, sizeof(r->op));
        break;
    default:
        break;
    }
    rec_emit(ct, r);
}

static void emit_event(struct ag_conntrack *ct, struct ct_conn *c, uint32_t tid, int dir,
                       const struct ag_msg *m)
{
    struct ag_request *r = &ct->rec;

    /* basic.ack/nack arriving at a client are publisher confirms: the broker settling the
     * client's own publishes (already counted as "publish"), not a settlement the client made.
     * Only the consumer's outgoing acks are its "ack" operations. An unknown role is no client
     * here either: an ingress ack is then the broker's view of a consumer ack or a confirm. */
    if (c->role != AG_CT_SERVER && dir == AG_DIR_INGRESS &&
        (strcmp(m->op, "ack") == 0 || strcmp(m->op, "nack") == 0))
        return;
    /* A broker receives publishes and sends deliveries; its clients do the opposite. Acks go
     * both ways (consumer acks, publisher confirms), so they tell nothing. */
    if (c->role == AG_CT_UNKNOWN && strcmp(m->op, "publish") == 0)
        c->role = dir == AG_DIR_EGRESS ? AG_CT_CLIENT : AG_CT_SERVER;
    else if (c->role == AG_CT_UNKNOWN && strcmp(m->op, "receive") == 0)
        c->role = dir == AG_DIR_INGRESS ? AG_CT_CLIENT : AG_CT_SERVER;
    rec_begin(c, r);
    r->tid = tid;
    r->flags = m->flags & AG_MSG_F_TRUNCATED;
    r->error = m->error;
    r->ts_start_ns = m->ts_first_ns;
    r->ts_end_ns = m->ts_last_ns;
    r->req_bytes = m->bytes;
    memcpy(r->op, m->op, sizeof(r->op));
    memcpy(r->destination, m->target, sizeof(r->destination));
    rec_emit(ct, r);
}

static void pend_push(struct ag_conntrack *ct, struct ct_parse *p, uint32_t tid,
                      const struct ag_msg *m)
{
    uint32_t slot;
    struct ct_pending *e;

    if (p->pend_count == AG_CT_PENDING) {
        /* Keep the place of the lost request so that later responses still pair in order. */
        p->pend[(p->pend_first + p->pend_count - 1) % AG_CT_PENDING].phantoms_after++;
        ct->stats.drops[AG_CT_DROP_REASSEMBLY_OVERFLOW]++;
        return;
    }
    slot = (p->pend_first + p->pend_count) % AG_CT_PENDING;
    e = &p->pend[slot];
    e->ts_first = m->ts_first_ns;
    e->bytes = m->bytes;
    e->tid = tid;
    e->phantoms_after = 0;
    e->flags = m->flags;
    memcpy(e->op, m->op, sizeof(e->op));
    if (p->targets)
        memcpy(p->targets[slot], m->target, AG_TARGET_MAX);
    p->pend_count++;
}

static void on_response(struct ag_conntrack *ct, struct ct_conn *c, const struct ag_msg *m)
{
    struct ct_parse *p = c->p;
    uint32_t slot;

    if (p->head_phantoms) { /* the answer to a request the full FIFO could not hold */
        p->head_phantoms--;
        return;
    }
    if (!p->pend_count) {
        ct->stats.unpaired_responses++; /* its request was sent before we attached */
        return;
    }
    slot = p->pend_first;
    p->pend_first = (p->pend_first + 1) % AG_CT_PENDING;
    p->pend_count--;
    p->head_phantoms = p->pend[slot].phantoms_after;
    emit_pair(ct, c, slot, m); /* the slot is reused only by a later push */
}

static void on_msg(struct ag_conntrack *ct, struct ct_conn *c, const struct ct_ops *ops,
                   uint32_t tid, int dir, const struct ag_msg *m)
{
    int from_requester = dir == req_dir(c);

    switch (m->kind) {
    case AG_MSG_EVENT:
        emit_event(ct, c, tid, dir, m);
        return;
    case AG_MSG_MARK:
        if (from_requester && ops->expect)
            ops->expect(c->p->st[!dir], m);
        return;
    case AG_MSG_REQUEST:
        if (!from_requester) { /* HTTP takes the kind from the start line: a role mixup */
            ct->stats.unpaired_requests++;
            return;
        }
        if (ops->expect)
            ops->expect(c->p->st[!dir], m);
        pend_push(ct, c->p, tid, m);
        return;
    case AG_MSG_RESPONSE:
        if (from_requester) {
            ct->stats.unpaired_responses++;
            return;
        }
        on_response(ct, c, m);
        if (m->flags & AG_MSG_F_TUNNEL) {
            /* 101 Switching Protocols or CONNECT 2xx: what follows is not HTTP. */
            c->phase = CT_UNPARSED;
        }
        return;
    }
}

/* Reports what the parser counted during the last feed and has not been reported yet. */
static void account(struct ag_conntrack *ct, struct ct_conn *c, const struct ct_ops *ops, int dir)
{
    struct ag_parse_stats *s = ops->stats(c->p->st[dir]);
    struct ct_parse *p = c->p;

    if (s->unparsed_bytes != p->seen_unparsed[dir]) {
        ct_count_unparsed(ct, c->tgid, s->unparsed_bytes - p->seen_unparsed[dir]);
        p->seen_unparsed[dir] = s->unparsed_bytes;
    }
    if (s->dropped_msgs != p->seen_dropped[dir]) {
        ct->stats.drops[AG_CT_DROP_REASSEMBLY_OVERFLOW] += s->dropped_msgs - p->seen_dropped[dir];
        p->seen_dropped[dir] = s->dropped_msgs;
    }
}

void ct_xfer_parse(struct ag_conntrack *ct, struct ct_conn *c, uint32_t tid,
                   const struct ag_xfer *x)
{
    const struct ct_ops *ops;
    int dir = x->dir == AG_DIR_EGRESS ? AG_DIR_EGRESS : AG_DIR_INGRESS;
    int n = 0, rc;

    if (c->phase == CT_DETECTING && !detect(ct, c, x)) {
        ct_count_unparsed(ct, c->tgid, x->total);
        if (++c->detect_xfers >= AG_CT_DETECT_XFERS) {
            c->phase = CT_UNPARSED;
            ct->stats.conns_unparsed++;
        }
        return;
    }
    if (c->phase == CT_QUIET)
        return; /* claimed, so not unparsed bytes */
    if (c->phase != CT_PARSING) {
        ct_count_unparsed(ct, c->tgid, x->total);
        return;
    }
    ops = ops_for(c->proto);
    rc = ops->feed(c->p->st[dir], x, ct->msgs, AG_MSG_BATCH, &n);
    c->p->last_exit[dir] = x->ts_exit_ns;
    if (rc == AG_PARSE_RESYNC)
        ct->stats.resyncs[c->proto]++;
    account(ct, c, ops, dir);
    for (int i = 0; i < n && c->phase == CT_PARSING; i++)
        on_msg(ct, c, ops, tid, dir, &ct->msgs[i]);
}

void ct_finish(struct ag_conntrack *ct, struct ct_conn *c, uint64_t ts)
{
    struct ct_parse *p = c->p;

    if (!p)
        return;
    if (c->phase == CT_PARSING && c->proto == AG_PROTO_HTTP1) {
        int rd = !req_dir(c);
        struct ag_msg m;
        /* A body delimited by the close was complete when its last byte moved, not at close. */
        uint64_t end = p->last_exit[rd] ? p->last_exit[rd] : ts;

        if (ag_http1_finish(&p->st[rd]->http, end, &m) && m.kind == AG_MSG_RESPONSE)
            on_response(ct, c, &m);
    }
    ct->stats.unpaired_requests += p->pend_count;
    p->pend_count = 0;
}
