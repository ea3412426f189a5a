/* Connection table and lifecycle: lookup by (tgid, fd), fd reuse, recency for idle eviction.
 * Detection, parsing and pairing live in ct_pair.c. */
#include "ct_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ag_ct_create(const struct ag_ct_config *cfg, struct ag_conntrack **out)
{
    struct ag_conntrack *ct;
    uint32_t max, nslots = 16;

    if (!cfg || !cfg->emit)
        return -EINVAL;
    max = cfg->max_conns ? cfg->max_conns : AG_CT_MAX_CONNS_DEFAULT;
    if (max > (1u << 30))
        return -EINVAL;
    while (nslots < 2 * max) /* load factor <= 1/2 keeps linear probes short */
        nslots <<= 1;
    ct = calloc(1, sizeof(*ct));
    if (!ct)
        return -ENOMEM;
    ct->cfg = *cfg;
    ct->cfg.max_conns = max;
    if (!ct->cfg.idle_ns)
        ct->cfg.idle_ns = AG_CT_IDLE_NS_DEFAULT;
    /* calloc: the pages of a large, mostly idle table are only touched as it fills. */
    ct->conns = calloc(max, sizeof(*ct->conns));
    ct->slots = malloc(nslots * sizeof(*ct->slots));
    if (!ct->conns || !ct->slots) {
        ag_ct_destroy(ct);
        return -ENOMEM;
    }
    memset(ct->slots, 0xff, nslots * sizeof(*ct->slots));
    ct->slot_mask = nslots - 1;
    for (uint32_t i = 0; i < max; i++)
        ct->conns[i].lru_next = i + 1 < max ? i + 1 : CT_NIL;
    ct->free_head = 0;
    ct->lru_head = ct->lru_tail = CT_NIL;
    *out = ct; /* the caller owns ct: ag_ct_destroy() */
    return 0;
}

void ag_ct_destroy(struct ag_conntrack *ct)
{
    if (!ct)
        return;
    if (ct->conns)
        for (uint32_t i = 0; i < ct->cfg.max_conns; i++)
            ct_parse_free(&ct->conns[i]);
    free(ct->conns);
    free(ct->slots);
    free(ct);
}

static uint32_t key_hash(uint32_t tgid, int32_t fd)
{
    uint64_t k = (uint64_t)tgid << 32 | (uint32_t)fd;

    k ^= k >> 33; /* murmur3 fmix64: fds are small and dense, tgids close together */
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return (uint32_t)k;
}

/* The slot holding (tgid, fd), or the empty slot where it would go. */
static uint32_t slot_find(const struct ag_conntrack *ct, uint32_t tgid, int32_t fd)
{
    uint32_t s = key_hash(tgid, fd) & ct->slot_mask;

    for (;; s = (s + 1) & ct->slot_mask) {
        uint32_t i = ct->slots[s];
        if (i == CT_NIL || (ct->conns[i].tgid == tgid && ct->conns[i].fd == fd))
            return s;
    }
}

/* Backward-shift deletion: no tombstones, so probe lengths never degrade. */
static void slot_delete(struct ag_conntrack *ct, uint32_t s)
{
    uint32_t hole = s, j = s;

    for (;;) {
        j = (j + 1) & ct->slot_mask;
        uint32_t i = ct->slots[j];
        if (i == CT_NIL)
            break;
        uint32_t home = key_hash(ct->conns[i].tgid, ct->conns[i].fd) & ct->slot_mask;
        /* Move i into the hole unless its home lies cyclically in (hole, j]. */
        if (((j - home) & ct->slot_mask) >= ((j - hole) & ct->slot_mask)) {
            ct->slots[hole] = i;
            hole = j;
        }
    }
    ct->slots[hole] = CT_NIL;
}

static void lru_unlink(struct ag_conntrack *ct, uint32_t i)
{
    struct ct_conn *c = &ct->conns[i];

    if (c->lru_prev != CT_NIL)
        ct->conns[c->lru_prev].lru_next = c->lru_next;
    else
        ct->lru_head = c->lru_next;
    if (c->lru_next != CT_NIL)
        ct->conns[c->lru_next].lru_prev = c->lru_prev;
    else
        ct->lru_tail = c->lru_prev;
}

static void lru_push_front(struct ag_conntrack *ct, uint32_t i)
{
    struct ct_conn *c = &ct->conns[i];

    c->lru_prev = CT_NIL;
    c->lru_next = ct->lru_head;
    if (ct->lru_head != CT_NIL)
        ct->conns[ct->lru_head].lru_prev = i;
    ct->lru_head = i;
    if (ct->lru_tail == CT_NIL)
        ct->lru_tail = i;
}

static void touch(struct ag_conntrack *ct, struct ct_conn *c, uint64_t ts)
{
    uint32_t i = (uint32_t)(c - ct->conns);

    if (ts > ct->clock)
        ct->clock = ts;
    c->last_ts = ts ? ts : ct->clock;
    if (ct->lru_head != i) {
        lru_unlink(ct, i);
        lru_push_front(ct, i);
    }
}

static struct ct_conn *conn_find(struct ag_conntrack *ct, uint32_t tgid, int32_t fd)
{
    uint32_t i = ct->slots[slot_find(ct, tgid, fd)];

    return i == CT_NIL ? NULL : &ct->conns[i];
}

/* Ends c: flushes what the close completes, then returns it to the free list. */
static void conn_end(struct ag_conntrack *ct, struct ct_conn *c, uint64_t ts)
{
    uint32_t i = (uint32_t)(c - ct->conns);

    ct_finish(ct, c, ts);
    ct_parse_free(c);
    slot_delete(ct, slot_find(ct, c->tgid, c->fd));
    lru_unlink(ct, i);
    memset(c, 0, sizeof(*c));
    c->lru_next = ct->free_head;
    ct->free_head = i;
    ct->stats.conns_open--;
}

static struct ct_conn *conn_new(struct ag_conntrack *ct, const struct ag_ct_id *id,
                                const struct ag_ct_ep *ep, enum ag_ct_role role, uint64_t ts)
{
    uint32_t i = ct->free_head;
    struct ct_conn *c;

    if (i == CT_NIL) {
        ct->stats.drops[AG_CT_DROP_TABLE_FULL]++;
        return NULL;
    }
    c = &ct->conns[i];
    ct->free_head = c->lru_next;
    memset(c, 0, sizeof(*c));
    c->tgid = id->tgid;
    c->fd = id->fd;
    c->sock_id = id->sock_id;
    c->role = (uint8_t)role;
    c->phase = CT_DETECTING;
    if (ep)
        c->ep = *ep;
    ct->slots[slot_find(ct, id->tgid, id->fd)] = i;
    c->lru_next = c->lru_prev = CT_NIL;
    lru_push_front(ct, i);
    c->last_ts = ts;
    ct->stats.conns_open++;
    ct->stats.conns_total++;
    return c;
}

/* The connection for id, after ending a stale one the fd used to name (fd reuse). */
static struct ct_conn *conn_get(struct ag_conntrack *ct, const struct ag_ct_id *id, uint64_t ts)
{
    struct ct_conn *c = conn_find(ct, id->tgid, id->fd);

    if (c && id->sock_id && c->sock_id && c->sock_id != id->sock_id) {
        conn_end(ct, c, ts);
        return NULL;
    }
    if (c && !c->sock_id)
        c->sock_id = id->sock_id;
    return c;
}

/* accept/connect: a new socket for this fd. An entry already there under the same sock_id is
 * this socket (its first transfers overtook the accept event across CPUs) and keeps its state;
 * any other entry is a connection whose close we missed. A seed (ts 0) never ends one. */
static void conn_open(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                      enum ag_ct_role role, uint64_t ts)
{
    struct ct_conn *c;

    if (ts) {
        c = conn_find(ct, id->tgid, id->fd);
        if (c && !(id->sock_id && c->sock_id == id->sock_id)) {
            conn_end(ct, c, ts);
            c = NULL;
        }
    } else {
        c = conn_get(ct, id, ct->clock);
    }
    if (!c) {
        conn_new(ct, id, ep, role, ts);
        return;
    }
    if (c->role == AG_CT_UNKNOWN && c->phase == CT_DETECTING)
        c->role = (uint8_t)role;
    if (ep && !c->ep.family)
        c->ep = *ep;
    if (ts)
        touch(ct, c, ts);
}

void ag_ct_accept(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                  uint64_t ts_ns)
{
    conn_open(ct, id, ep, AG_CT_SERVER, ts_ns);
}

void ag_ct_connect(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                   uint64_t ts_ns)
{
    conn_open(ct, id, ep, AG_CT_CLIENT, ts_ns);
}

void ag_ct_seed(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                enum ag_ct_role role_hint)
{
    /* ts 0: a seed never ends a live connection; its idle clock starts at the next sweep. */
    conn_open(ct, id, ep, role_hint, 0);
}

void ag_ct_xfer(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                uint32_t tid, const struct ag_xfer *x)
{
    struct ct_conn *c = conn_get(ct, id, x->ts_enter_ns);

    if (!c) {
        c = conn_new(ct, id, ep, AG_CT_UNKNOWN, x->ts_exit_ns);
        if (!c) {
            ct_count_unparsed(ct, id->tgid, x->total); /* refused: its bytes are not parsed */
            return;
        }
    }
    touch(ct, c, x->ts_exit_ns);
    if (ep && !c->ep.family)
        c->ep = *ep;
    if (x->total)
        ct_xfer_parse(ct, c, tid, x);
}

void ag_ct_close(struct ag_conntrack *ct, const struct ag_ct_id *id, uint64_t ts_ns)
{
    struct ct_conn *c = conn_find(ct, id->tgid, id->fd);

    if (ts_ns > ct->clock)
        ct->clock = ts_ns;
    if (c)
        conn_end(ct, c, ts_ns); /* whatever socket the fd named is gone now */
}

void ag_ct_close_range(struct ag_conntrack *ct, uint32_t tgid, uint32_t first, uint32_t last,
                       uint64_t ts_ns)
{
    uint32_t i = ct->lru_head;

    if (ts_ns > ct->clock)
        ct->clock = ts_ns;
    /* A walk of every connection: close_range is rare (process spawners, before exec). */
    while (i != CT_NIL) {
        struct ct_conn *c = &ct->conns[i];
        uint32_t next = c->lru_next;
        if (c->tgid == tgid && (uint32_t)c->fd >= first && (uint32_t)c->fd <= last)
            conn_end(ct, c, ts_ns);
        i = next;
    }
}

void ag_ct_forget_tgid(struct ag_conntrack *ct, uint32_t tgid)
{
    ag_ct_close_range(ct, tgid, 0, UINT32_MAX, ct->clock);
}

void ag_ct_sweep(struct ag_conntrack *ct, uint64_t now_ns)
{
    uint32_t i = ct->lru_tail;

    if (now_ns > ct->clock)
        ct->clock = now_ns;
    while (i != CT_NIL) {
        struct ct_conn *c = &ct->conns[i];
        uint32_t prev = c->lru_prev;
        if (c->last_ts == 0) {
            touch(ct, c, now_ns); /* a seed: idle from now on */
        } else if (c->last_ts + ct->cfg.idle_ns <= now_ns) {
            ct->stats.conns_evicted++;
            conn_end(ct, c, c->last_ts);
        } else {
            break; /* everything closer to the head was used later */
        }
        i = prev;
    }
}

void ag_ct_stats(const struct ag_conntrack *ct, struct ag_ct_stats *out)
{
    *out = ct->stats;
}

const char *ag_ct_drop_name(enum ag_ct_drop reason)
{
    switch (reason) {
    case AG_CT_DROP_REASSEMBLY_OVERFLOW:
        return "reassembly_overflow";
    case AG_CT_DROP_TABLE_FULL:
        return "table_full";
    default:
        return "unknown";
    }
}

const char *ag_ct_proto_name(enum ag_proto proto)
{
    switch (proto) {
    case AG_PROTO_HTTP1:
        return "http";
    case AG_PROTO_PGWIRE:
        return "postgresql";
    case AG_PROTO_RESP:
        return "redis";
    case AG_PROTO_AMQP:
        return "amqp";
    default:
        return "unknown";
    }
}
