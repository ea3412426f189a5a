/*
 * ag_conntrack: turns per-socket transfers into request records (struct ag_request).
 *
 * Pure: no BPF, no I/O, no clock. The event loop calls ag_ct_accept / ag_ct_connect / ag_ct_seed
 * / ag_ct_xfer / ag_ct_close for each kernel event, in the order the events happened on each
 * connection; the tracker finds the connection by (tgid, fd), detects its protocol on its first
 * transfers, runs one parser state per direction (agent/proto/), pairs requests with responses
 * FIFO and calls cfg.emit once per completed pair or one-shot event (AMQP).
 *
 * Identity. A connection is (tgid, fd) plus sock_id: any value unique per socket while it lives
 * and the same in every call (the socket inode suits both BPF events and /proc seeds; the kernel
 * sock pointer works too if seeds use it). A call whose sock_id differs from the stored one means
 * the fd was reused: the old connection is closed first. sock_id 0 matches anything.
 *
 * Roles. accept → server, connect → client. A seeded or first-seen connection with an unknown
 * role takes it from the first message a parser recognises: a request arriving on ingress (or a
 * response leaving on egress) makes us the server, the mirror makes us the client.
 *
 * Timing (DESIGN.md "Time and spans"): ts_start_ns is the ts_enter of the transfer that carried
 * the request's first byte, ts_end_ns the ts_exit of the transfer that completed the response —
 * the read and write of a server, the write and read of a client.
 *
 * Memory: a fixed table of max_conns connections allocated at create; per connection one block
 * (parser states and pending requests) allocated when its protocol is detected, freed at close.
 * Nothing is allocated per transfer. Not thread-safe: one thread (the event loop) calls it all,
 * and cfg.emit / cfg.unparsed must not call back into the tracker.
 */
#ifndef AG_CONNTRACK_H
#define AG_CONNTRACK_H

#include <stdint.h>

#include "proto/proto.h"
#include "proto/route_pattern.h"

#define AG_CT_MAX_CONNS_DEFAULT 65536
#define AG_CT_IDLE_NS_DEFAULT   (600ull * 1000000000ull) /* 10 minutes without a transfer */
#define AG_CT_PENDING           32  /* requests awaiting their response, per connection */
#define AG_CT_DETECT_XFERS      8   /* transfers seen before a connection is declared unparsed */
#define AG_CT_ROUTE_MAX         320 /* folding can grow a 127-byte path: "/1" -> "/{id}" */

enum ag_ct_role { AG_CT_UNKNOWN = 0, AG_CT_SERVER = 1, AG_CT_CLIENT = 2 };

struct ag_ct_id {
    uint32_t tgid;
    int32_t fd;
    uint64_t sock_id; /* 0: unknown, matches any */
};

/* Endpoints as this process sees them; same layout as ebpf/vigil_events.h and procnet.h. */
struct ag_ct_ep {
    uint16_t family;                /* AF_INET or AF_INET6; 0: not known */
    uint16_t local_port, peer_port; /* host byte order */
    uint8_t local_addr[16];         /* network byte order; AF_INET uses the first 4 bytes */
    uint8_t peer_addr[16];
};

/* One completed request/response pair, or one AMQP event. Only allow-listed fields (proto.h,
 * "Redaction"). Valid during the emit callback only. */
struct ag_request {
    uint32_t tgid;
    uint32_t tid;    /* server: thread that read the request; client: thread that wrote it */
    uint8_t role;    /* AG_CT_SERVER or AG_CT_CLIENT */
    uint8_t proto;   /* enum ag_proto */
    uint8_t error;   /* HTTP: >= 500 (server) / >= 400 (client); PG, Redis: error reply */
    uint8_t flags;   /* AG_MSG_F_TRUNCATED when either message's framing was lost */
    uint16_t status; /* HTTP status code; 0 elsewhere */
    char sqlstate[6];
    char op[AG_OP_MAX];              /* HTTP method, SQL verb, Redis command, AMQP operation */
    char route[AG_CT_ROUTE_MAX];     /* HTTP: folded path ("/products/{id}"), no query string */
    char destination[AG_TARGET_MAX]; /* AMQP: exchange, or queue for the default exchange */
    const char *db_system;           /* "postgresql", "redis" or NULL */
    const char *messaging_system;    /* "rabbitmq" or NULL */
    uint64_t ts_start_ns, ts_end_ns; /* kernel monotonic */
    uint64_t req_bytes, resp_bytes;  /* wire sizes (AMQP: the event's size in req_bytes) */
    struct ag_ct_ep ep;              /* family 0 when never learnt */
};

enum ag_ct_drop {
    AG_CT_DROP_REASSEMBLY_OVERFLOW = 0, /* more pending requests than AG_CT_PENDING, or more
                                           messages in one transfer than a feed can return */
    AG_CT_DROP_TABLE_FULL,              /* an event of a new connection found the table full */
    AG_CT_DROP_N
};

#define AG_CT_PROTO_N (AG_PROTO_AMQP + 1) /* index of per-protocol arrays: enum ag_proto */

struct ag_ct_stats {
    uint64_t conns_open;
    uint64_t conns_total;    /* connections ever created */
    uint64_t conns_unparsed; /* connections no parser claimed */
    uint64_t conns_quiet;    /* claimed, server side of a cfg.quiet_servers protocol */
    uint64_t conns_evicted;  /* by ag_ct_sweep (idle) */
    uint64_t requests;       /* records emitted (pairs and events) */
    uint64_t resyncs[AG_CT_PROTO_N];
    uint64_t unparsed_bytes; /* total of what cfg.unparsed was told */
    uint64_t drops[AG_CT_DROP_N];
    uint64_t unpaired_requests;  /* requests still pending when their connection ended */
    uint64_t unpaired_responses; /* responses to requests sent before we saw the connection */
};

struct ag_ct_config {
    uint32_t max_conns; /* 0: AG_CT_MAX_CONNS_DEFAULT */
    uint64_t idle_ns;   /* 0: AG_CT_IDLE_NS_DEFAULT */
    void (*emit)(void *ctx, const struct ag_request *r);
    /* Bytes no parser could attribute to a message, by process (vigil_unparsed_bytes_total):
     * traffic of unclaimed connections and bytes skipped while a parser resynchronises. */
    void (*unparsed)(void *ctx, uint32_t tgid, uint64_t bytes);
    void *ctx;
    /* HTTP routes: configured patterns first, then the built-in folding; NULL: folding only.
     * Borrowed: must outlive the tracker. */
    const struct ag_route_patterns *routes;
    /* Bits (1u << enum ag_proto): protocols whose server side is recognised but not parsed,
     * because nothing is reported from it (the database's own side of a query). Parsing it
     * was a sixth of the agent's time in the shop, for records the caller threw away. */
    uint32_t quiet_servers;
    /* Told once per connection that went quiet, so that its bytes can stop at the source
     * (ag_bpf_quiet); may be NULL. */
    void (*quiet)(void *ctx, const struct ag_ct_id *id);
};

struct ag_conntrack;

/* Returns 0 or -ENOMEM / -EINVAL (no emit callback); *out is set only on success. */
int ag_ct_create(const struct ag_ct_config *cfg, struct ag_conntrack **out);
/* Frees everything without emitting: pending requests are lost with the tracker. */
void ag_ct_destroy(struct ag_conntrack *ct);

/* ep may be NULL wherever it is not known; a later call with one fills it in. */
void ag_ct_accept(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                  uint64_t ts_ns);
void ag_ct_connect(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                   uint64_t ts_ns);
/* A socket found open at start-up (/proc); role_hint may be AG_CT_UNKNOWN. */
void ag_ct_seed(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                enum ag_ct_role role_hint);
/* One read- or write-side syscall that moved x->total bytes, on thread tid. */
void ag_ct_xfer(struct ag_conntrack *ct, const struct ag_ct_id *id, const struct ag_ct_ep *ep,
                uint32_t tid, const struct ag_xfer *x);
/* close(fd): a response delimited by the close completes; pending requests are counted unpaired. */
void ag_ct_close(struct ag_conntrack *ct, const struct ag_ct_id *id, uint64_t ts_ns);
/* close_range(first, last): ends tgid's connections on fds first..last as close() would. */
void ag_ct_close_range(struct ag_conntrack *ct, uint32_t tgid, uint32_t first, uint32_t last,
                       uint64_t ts_ns);
/* The process exited: ends all its connections as if closed. */
void ag_ct_forget_tgid(struct ag_conntrack *ct, uint32_t tgid);
/* Ends connections without a transfer for cfg.idle_ns before now (a missed close). */
void ag_ct_sweep(struct ag_conntrack *ct, uint64_t now_ns);

void ag_ct_stats(const struct ag_conntrack *ct, struct ag_ct_stats *out);

/* Label values: "reassembly_overflow", "table_full"; "http", "postgresql", "redis", "amqp". */
const char *ag_ct_drop_name(enum ag_ct_drop reason);
const char *ag_ct_proto_name(enum ag_proto proto);

#endif
