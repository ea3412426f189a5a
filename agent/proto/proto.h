/* Vigil agent protocol parsers: the shared contract.
 *
 * What a parser sees. The kernel side does not deliver payloads: for every read/write-like
 * syscall on a socket the agent gets one transfer (struct ag_xfer): its direction, the byte count
 * the syscall returned (total), the first head_len bytes and the last tail_len bytes. Both caps
 * are tunables; parsers never assume their size. Bytes in [head_len, total - tail_len) exist on
 * the wire but are invisible.
 *
 * How parsers work. Each protocol has a fixed-size state per connection direction (the connection
 * tracker holds two, one per direction) and a feed function that consumes one transfer and may emit
 * several messages (pipelining) or none (a message split over many transfers). Framing is tracked
 * by byte counts (Content-Length, chunk sizes, PostgreSQL message lengths, RESP bulk lengths, AMQP
 * frame sizes), so an invisible body is skipped by count. When the start of a frame falls into
 * invisible bytes, or the bytes do not parse, framing is lost:
 *   1. a protocol-specific terminator at the end of the tail may restore it at once (a chunked
 *      body's "\r\n0\r\n\r\n", a PostgreSQL ReadyForQuery); stats.tail_syncs counts these;
 *   2. otherwise the feed returns AG_PARSE_RESYNC (once per loss; stats.resyncs counts the same
 *      events) and the state hunts: each later transfer whose head starts a plausible message
 *      restores framing; bytes of transfers skipped while hunting go to stats.unparsed_bytes.
 * A message whose start was seen when framing was lost is still emitted, flagged
 * AG_MSG_F_TRUNCATED, with ts_last at the transfer where framing was lost: counts stay exact and
 * request/response pairing stays in order even when a body could not be followed.
 *
 * Results of a feed: AG_PARSE_OK (in sync, at a message boundary), AG_PARSE_NEED_MORE (in sync
 * inside a message, or hunting), AG_PARSE_RESYNC (framing lost in this transfer),
 * AG_PARSE_NOT_MINE (the state never synced and this transfer does not look like the protocol:
 * the tracker should try another parser or count the connection as unparsed). *nout is always set.
 * Messages beyond max_out in one transfer are not written but counted in stats.dropped_msgs; size
 * out with AG_MSG_BATCH (a 512-byte head holds at most ~128 of the smallest RESP replies).
 *
 * Pairing. Request-direction states emit AG_MSG_REQUEST, response-direction states AG_MSG_RESPONSE,
 * one per request in the same order, so the tracker pairs them FIFO. Where the response framing
 * depends on the request (HTTP HEAD/CONNECT, PostgreSQL pipelines) the tracker hands each request
 * message to the response-direction state's *_expect() call before feeding responses. PostgreSQL
 * also emits AG_MSG_MARK (a Sync): not a request, only forwarded to ag_pgwire_expect(). AMQP emits
 * AG_MSG_EVENT: one-shot operations (publish, receive, ack) that pair with nothing.
 *
 * Redaction. Only allow-listed fields leave a parser: method/operation names, the request path
 * without query string, status codes, SQLSTATE, AMQP exchange/routing key. No body, header value,
 * SQL literal, parameter or Redis key/value is ever copied into an ag_msg.
 *
 * Parsers are pure: no I/O, no globals, no allocation; every state is a plain fixed-size struct
 * (zero it or call *_init) that may be copied or freed by its owner at any time. */
#ifndef AG_PROTO_H
#define AG_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum ag_dir { AG_DIR_INGRESS = 0, AG_DIR_EGRESS = 1 };

/* Which half of the conversation a state parses: what the client sends (requests), or what the
 * server sends (responses). The tracker knows it from connect/accept; detect functions infer it
 * for connections found already open. */
enum ag_role { AG_ROLE_REQUESTS = 0, AG_ROLE_RESPONSES = 1 };

enum ag_proto {
    AG_PROTO_UNKNOWN = 0,
    AG_PROTO_HTTP1,
    AG_PROTO_PGWIRE,
    AG_PROTO_RESP,
    AG_PROTO_AMQP
};

enum ag_parse { AG_PARSE_OK = 0, AG_PARSE_NEED_MORE, AG_PARSE_NOT_MINE, AG_PARSE_RESYNC };

enum ag_msg_kind { AG_MSG_REQUEST = 1, AG_MSG_RESPONSE, AG_MSG_EVENT, AG_MSG_MARK };

#define AG_OP_MAX     24  /* method / operation name, NUL included */
#define AG_TARGET_MAX 128 /* HTTP path (no query) or AMQP destination, NUL included */
#define AG_MSG_BATCH  128 /* a sensible max_out for one feed */

#define AG_MSG_F_TRUNCATED 0x01u /* framing lost inside the message; ts_last is approximate */
#define AG_MSG_F_SKIPPED   0x02u /* PostgreSQL: Execute skipped by the server after an error */
#define AG_MSG_F_TUNNEL    0x04u /* HTTP: 101 / CONNECT 2xx, the connection is no longer HTTP */
#define AG_MSG_F_INTERIM   0x08u /* reserved: 1xx responses are never emitted */

struct ag_xfer {
    enum ag_dir dir;
    uint64_t total;       /* bytes the syscall returned */
    const uint8_t *head;  /* bytes [0, head_len) */
    uint32_t head_len;    /* <= total */
    const uint8_t *tail;  /* bytes [total - tail_len, total); may overlap head */
    uint32_t tail_len;    /* <= total */
    uint64_t ts_enter_ns; /* syscall entry */
    uint64_t ts_exit_ns;  /* syscall exit */
};

struct ag_msg {
    uint64_t ts_first_ns; /* ts_enter of the transfer that carried the first byte */
    uint64_t ts_last_ns;  /* ts_exit of the transfer that completed the message */
    uint64_t bytes;       /* wire size of the message */
    uint32_t batch;       /* PostgreSQL: Sync group of a request (see pgwire.h) */
    uint16_t status;      /* HTTP status code; 0 elsewhere */
    uint8_t kind;         /* enum ag_msg_kind */
    uint8_t proto;        /* enum ag_proto */
    uint8_t error;      /* HTTP >= 500 is NOT set here (policy is the tracker's); protocol errors */
    uint8_t flags;      /* AG_MSG_F_* */
    char op[AG_OP_MAX]; /* HTTP method, SQL verb, Redis command, AMQP operation; may be "" */
    char target[AG_TARGET_MAX]; /* HTTP path without query (unfolded), AMQP destination */
    char sqlstate[6];           /* PostgreSQL ErrorResponse code */
};

struct ag_parse_stats {
    uint64_t msgs;           /* messages emitted (dropped ones included) */
    uint64_t resyncs;        /* framing losses (== AG_PARSE_RESYNC returns) */
    uint64_t unparsed_bytes; /* bytes that could not be attributed to a message */
    uint64_t dropped_msgs;   /* messages that did not fit in max_out */
    uint64_t tail_syncs;     /* framing restored from a terminator seen in the tail */
};

/* Route folding for metric labels: numeric segments, UUIDs and hex ids of 16+ digits become
 * "{id}". Returns the length written, or -1 when out is too small (out is then ""). */
int ag_route_fold(const char *path, char *out, size_t outsz);

/* ---- helpers shared by the parsers (not for the tracker) ---- */

/* A visible run of bytes of a transfer, at wire offset off. */
struct ag_span {
    const uint8_t *p;
    uint64_t off;
    uint32_t len;
};

/* The transfer's visible spans in wire order, without overlap: head, then the part of the tail
 * past the head. Returns 0..2. */
int ag_xfer_spans(const struct ag_xfer *x, struct ag_span sp[2]);

/* Where emitted messages go during one feed. */
struct ag_out {
    struct ag_msg *v;
    int max;
    int n;
    struct ag_parse_stats *stats;
};

void ag_out_emit(struct ag_out *o, const struct ag_msg *m);

/* Copies at most dstsz-1 bytes of src[0..n), always NUL-terminating. */
void ag_copy_str(char *dst, size_t dstsz, const uint8_t *src, size_t n);

/* A text line gathered across transfers (HTTP/1.x, RESP): appends the next take bytes at p to
 * line, keeping what fits in cap after the len bytes already kept, and counts all of them in
 * *total (each piece counted up to limit, so that *total cannot wrap). Returns the new kept
 * length. */
static inline size_t ag_line_keep(char *line, size_t cap, size_t len, uint32_t *total,
                                  const uint8_t *p, size_t take, uint32_t limit)
{
    size_t keep = take < cap - len ? take : cap - len;

    memcpy(line + len, p, keep);
    *total += (uint32_t)(take < limit ? take : limit);
    return len + keep;
}

static inline uint32_t ag_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t ag_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
