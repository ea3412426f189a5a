/* Internal to conntrack.c (table, lifecycle) and ct_pair.c (detection, parsing, pairing). */
#ifndef AG_CT_INT_H
#define AG_CT_INT_H

#include "conntrack.h"
#include "proto/amqp.h"
#include "proto/http1.h"
#include "proto/pgwire.h"
#include "proto/resp.h"

#define CT_NIL UINT32_MAX

enum ct_phase {
    CT_FREE = 0,
    CT_DETECTING, /* no parser has claimed the connection yet */
    CT_PARSING,
    CT_UNPARSED, /* given up (or a tunnel): bytes are only counted */
    CT_QUIET,    /* claimed, but its side reports nothing (cfg.quiet_servers): not parsed */
};

union ct_state {
    struct ag_http1_state http;
    struct ag_pgwire_state pg;
    struct ag_resp_state resp;
    struct ag_amqp_state amqp;
};

/* A request waiting for its response. phantoms_after counts requests that arrived behind it
 * while the FIFO was full: their responses are skipped in order, so later pairs stay right. */
struct ct_pending {
    uint64_t ts_first;
    uint64_t bytes;
    uint32_t tid;
    uint32_t phantoms_after;
    uint8_t flags;
    char op[AG_OP_MAX];
};

/* Allocated when a protocol is detected; sized for that protocol (routes only for HTTP). */
struct ct_parse {
    uint32_t pend_first, pend_count;
    uint32_t head_phantoms;         /* skipped responses due before pend[pend_first] */
    char (*targets)[AG_TARGET_MAX]; /* HTTP: raw path per pending slot; else NULL */
    uint64_t seen_unparsed[2];      /* parser stats.unparsed_bytes already reported */
    uint64_t seen_dropped[2];       /* parser stats.dropped_msgs already counted */
    uint64_t last_exit[2];          /* ts_exit of the last transfer per direction */
    struct ct_pending pend[AG_CT_PENDING];
    union ct_state *st[2]; /* indexed by enum ag_dir */
};

struct ct_conn {
    uint32_t tgid;
    int32_t fd;
    uint64_t sock_id;
    uint64_t last_ts;            /* 0: seeded, not yet seen by a sweep */
    uint32_t lru_prev, lru_next; /* recency list; lru_next also chains the free list */
    uint8_t phase, role, proto, detect_xfers;
    struct ag_ct_ep ep;
    struct ct_parse *p;
};

struct ag_conntrack {
    struct ag_ct_config cfg;
    struct ag_ct_stats stats;
    struct ct_conn *conns; /* max_conns entries */
    uint32_t *slots;       /* open addressing, linear probing: conn index or CT_NIL */
    uint32_t slot_mask;
    uint32_t free_head;
    uint32_t lru_head, lru_tail; /* most / least recently used */
    uint64_t clock;              /* latest event time seen */
    struct ag_msg msgs[AG_MSG_BATCH];
    struct ag_request rec; /* scratch for emit: too large for a hot stack frame */
};

/* ct_pair.c */
void ct_xfer_parse(struct ag_conntrack *ct, struct ct_conn *c, uint32_t tid,
                   const struct ag_xfer *x);
/* Flushes a connection that ends at ts: close-delimited responses, unpaired requests. */
void ct_finish(struct ag_conntrack *ct, struct ct_conn *c, uint64_t ts);
void ct_parse_free(struct ct_conn *c);
void ct_count_unparsed(struct ag_conntrack *ct, uint32_t tgid, uint64_t bytes);

#endif
